#include "engine/server_loop.h"

#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "protocol.h"

namespace attnbench {

namespace {

struct InputItem {
  enum Kind { Line, TooLong, Eof } kind = Line;
  ParsedLine parsed;  // Line: parsed on the reader thread
  size_t bytes = 0;
};

// Shared by the reader thread (which may outlive run_server, blocked in read) and the main loop.
struct InputQueue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<InputItem> items;
  void push(InputItem item) {
    {
      std::lock_guard<std::mutex> lock(mu);
      items.push_back(std::move(item));
    }
    cv.notify_one();
  }
};

// Splits the byte stream into lines and parses each one here, off the main thread: 128 adds of 256
// token ids take ~3-4 ms to parse, which used to sit between GPU steps. A line over kMaxLineBytes is
// dropped as it streams (never held whole in memory) and reported once; blank lines are not ops.
void reader_main(std::shared_ptr<InputQueue> q, int fd, int vocab_size) {
  auto push_line = [&](const std::string& line) {
    if (is_blank_line(line)) return;
    q->push({InputItem::Line, parse_op_line(line, vocab_size), 0});
  };
  std::string line;
  size_t dropped = 0;  // bytes of an oversize line seen so far
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      const char ch = buf[i];
      if (ch == '\n') {
        if (dropped) q->push({InputItem::TooLong, {}, dropped});
        else push_line(line);
        line.clear();
        dropped = 0;
      } else if (dropped) {
        ++dropped;
      } else if (line.size() >= kMaxLineBytes) {
        dropped = line.size() + 1;
        line.clear();
        line.shrink_to_fit();
      } else {
        line.push_back(ch);
      }
    }
  }
  if (dropped) q->push({InputItem::TooLong, {}, dropped});
  else if (!line.empty()) push_line(line);
  q->push({InputItem::Eof, {}, 0});
}

}  // namespace

int run_server(Engine& engine, int in_fd) {
  auto q = std::make_shared<InputQueue>();
  std::thread(reader_main, q, in_fd, engine.model_config().vocab_size).detach();
  engine.set_overlap_emit(true);
  std::deque<InputItem> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(q->mu);
      if (!engine.has_work()) q->cv.wait(lock, [&] { return !q->items.empty(); });
      batch.swap(q->items);
    }
    for (auto& item : batch) {
      if (item.kind == InputItem::Eof) {
        engine.shutdown();
      } else if (item.kind == InputItem::TooLong) {
        engine.report_error("line_too_long", "line of " + std::to_string(item.bytes) + " bytes exceeds the limit of " +
                                                 std::to_string(kMaxLineBytes) + "; it was skipped");
      } else {
        engine.handle_parsed(item.parsed);
      }
      if (engine.is_shut_down()) {
        engine.flush();
        return engine.is_fatal() ? 1 : 0;
      }
    }
    batch.clear();
    engine.flush();  // events of this batch of ops (errors, rejected adds) in one write
    if (engine.has_work()) engine.step();
    if (engine.is_shut_down()) return engine.is_fatal() ? 1 : 0;
  }
}

}  // namespace attnbench
