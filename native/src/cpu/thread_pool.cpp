#include "cpu/thread_pool.h"

#include <memory>

namespace attnbench {

ThreadPool::ThreadPool(int num_threads) {
  for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

namespace {
thread_local bool t_inside_task = false;  // a task that calls parallel_for runs the inner loop inline
}

void ThreadPool::run_tasks() {
  t_inside_task = true;
  for (;;) {
    int i = next_task_.fetch_add(1);
    if (i >= num_tasks_) break;
    (*fn_.load())(i);
  }
  t_inside_task = false;
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_cv_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      ++busy_workers_;
    }
    run_tasks();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--busy_workers_ == 0) done_cv_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int num_tasks, const std::function<void(int)>& fn) {
  if (num_tasks <= 0) return;
  if (workers_.empty() || num_tasks == 1 || t_inside_task) {
    for (int i = 0; i < num_tasks; ++i) fn(i);
    return;
  }
  // Callers on different threads (two engines in one process) take turns.
  std::lock_guard<std::mutex> caller_lock(caller_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A worker that wakes late may still be inside run_tasks of the last round: with the counter
    // past the old count it claims nothing until the new count and function are in place.
    next_task_.store(1 << 30);
    fn_.store(&fn);
    num_tasks_.store(num_tasks);
    next_task_.store(0);
    ++generation_;
  }
  wake_cv_.notify_all();
  run_tasks();
  // Workers that woke late find no task left and leave at once; wait until none is inside run_tasks.
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return busy_workers_ == 0; });
}

static int g_requested_threads = 0;

void set_cpu_threads(int n) { g_requested_threads = n; }

ThreadPool& cpu_pool() {
  static std::unique_ptr<ThreadPool> pool = [] {
    int n = g_requested_threads > 0 ? g_requested_threads : (int)std::thread::hardware_concurrency();
    return std::make_unique<ThreadPool>(n > 0 ? n : 1);
  }();
  return *pool;
}

}  // namespace attnbench
