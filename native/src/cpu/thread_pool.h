// A small persistent thread pool for the CPU kernels. parallel_for hands out task indices from an
// atomic counter; every task writes disjoint outputs, so results never depend on the thread count.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace attnbench {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return (int)workers_.size() + 1; }
  // Runs fn(i) for i in [0, num_tasks); the calling thread takes part. Calls from inside a task run
  // inline; calls from several threads are serialised.
  void parallel_for(int num_tasks, const std::function<void(int)>& fn);

 private:
  void worker_loop();
  void run_tasks();

  std::vector<std::thread> workers_;
  std::mutex mu_, caller_mu_;
  std::condition_variable wake_cv_, done_cv_;
  std::atomic<const std::function<void(int)>*> fn_{nullptr};
  std::atomic<int> num_tasks_{0};
  std::atomic<int> next_task_{0};
  int busy_workers_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

// The process-wide pool used by the CPU runner and kernels; sized by set_cpu_threads() before first
// use (default: hardware concurrency).
ThreadPool& cpu_pool();
void set_cpu_threads(int n);

}  // namespace attnbench
