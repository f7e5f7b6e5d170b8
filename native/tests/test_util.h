// A tiny assertion helper: each CHECK prints "OK <what>" or "NOT OK <what> (file:line)"; the test's
// exit code is the number of failures (capped), so ctest reports them.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace attnbench_test {

inline int& failures() {
  static int n = 0;
  return n;
}
inline bool& verbose() {
  static bool v = false;  // OK lines only with ATTNBENCH_TEST_VERBOSE=1; NOT OK lines always
  return v;
}
inline void init() { verbose() = std::getenv("ATTNBENCH_TEST_VERBOSE") != nullptr; }

inline bool check(bool ok, const std::string& what, const char* file, int line) {
  if (!ok) {
    ++failures();
    std::printf("NOT OK %s (%s:%d)\n", what.c_str(), file, line);
  } else if (verbose()) {
    std::printf("OK %s\n", what.c_str());
  }
  return ok;
}

inline int finish(const char* name) {
  std::printf("%s %s (%d failure%s)\n", failures() ? "NOT OK" : "OK", name, failures(), failures() == 1 ? "" : "s");
  return failures() > 100 ? 100 : failures();
}

}  // namespace attnbench_test

#define CHECK(cond, what) ::attnbench_test::check((cond), (what), __FILE__, __LINE__)
#define CHECK_NEAR(a, b, tol, what)                                                                       \
  ::attnbench_test::check(std::fabs((double)(a) - (double)(b)) <= (tol),                                    \
                          std::string(what) + ": " + std::to_string(a) + " vs " + std::to_string(b), __FILE__, \
                          __LINE__)
