// Unit tests of the core through its C ABI, run by `npm test` against the
// normal build and an AddressSanitizer + UBSan build of the same source.
#include "portico_core.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

static int passed = 0;
static int failed = 0;

#define CHECK(cond)                                                    \
  do {                                                                 \
    if (cond) {                                                        \
      ++passed;                                                        \
    } else {                                                           \
      ++failed;                                                        \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                  \
  } while (0)

// The definition, written plainly, to compare against.
static double reference(int64_t val) {
  double sum = 0.0;
  for (int r = 0; r < 1000; ++r)
    for (int64_t i = 0; i < val; ++i) {
      double x = static_cast<double>(i);
      sum += x + std::sqrt(x * x) + std::pow(x * x * x, 0.1);
    }
  return sum;
}

static double foo(int64_t val) {
  double out = -1.0;
  int32_t code = portico_foo(val, &out);
  CHECK(code == PORTICO_OK);
  return out;
}

int main() {
  // Hand-checkable values: foo(1) = 1000 * (0 + 0 + 0^0.3) = 0; foo(2) adds 1000 * (1 + 1 + 1).
  CHECK(foo(0) == 0.0);
  CHECK(foo(1) == 0.0);
  CHECK(foo(2) == 3000.0);
  // val 3: adds i = 2: 2 + 2 + 8^0.1 per round.
  CHECK(std::fabs(foo(3) - (3000.0 + 1000.0 * (4.0 + std::pow(8.0, 0.1)))) < 1e-6);
  CHECK(foo(500) == reference(500));

  // Out of range: refused with a readable code, output untouched.
  for (int64_t bad : {int64_t{-1}, int64_t{100001}, INT64_MIN, INT64_MAX}) {
    double out = 42.0;
    CHECK(portico_foo(bad, &out) == PORTICO_ERR_RANGE);
    CHECK(out == 42.0);
  }
  CHECK(portico_foo(10, nullptr) == PORTICO_ERR_NULL_OUT);

  // The upper bound is accepted (and finite); skipped under sanitizers where it takes minutes.
#ifndef PORTICO_SANITIZED
  double top = 0.0;
  CHECK(portico_foo(PORTICO_FOO_MAX_VAL, &top) == PORTICO_OK);
  CHECK(std::isfinite(top) && top > 0.0);
#endif

  for (int32_t code : {0, 1, 2, 3, -1, 1 << 30}) {
    const char *message = portico_strerror(code);
    CHECK(message != nullptr && std::strlen(message) > 0);
  }
  CHECK(std::strcmp(portico_strerror(PORTICO_ERR_RANGE), "unknown error code") != 0);

  int major = -1, minor = -1, patch = -1;
  CHECK(std::sscanf(portico_version(), "%d.%d.%d", &major, &minor, &patch) == 3 && major >= 1);

  // Thread safety: concurrent calls give the sequential results.
  const std::vector<int64_t> vals = {100, 200, 300, 400};
  std::vector<double> parallel(vals.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < vals.size(); ++i)
    threads.emplace_back([&, i] { portico_foo(vals[i], &parallel[i]); });
  for (auto &t : threads) t.join();
  for (size_t i = 0; i < vals.size(); ++i) CHECK(parallel[i] == reference(vals[i]));

  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
