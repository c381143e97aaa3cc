// The reference op of the seeds, made well defined: the seed summed in int/float
// and overflowed (undefined behaviour); here every term is a double computed
// from 64-bit integers, so the result is the same on every compiler.
#include "portico_core.h"

#include <cmath>

namespace {

double foo_sum(int64_t val) {
  double sum = 0.0;
  // 1000 rounds of the same sum: the work is the point (a CPU-bound call of a
  // known cost). Floating-point addition is not associative, so without
  // -ffast-math the compiler cannot fold the rounds into one.
  for (int round = 0; round < 1000; ++round) {
    for (int64_t i = 0; i < val; ++i) {
      const double x = static_cast<double>(i);
      sum += x + std::sqrt(x * x) + std::pow(x * x * x, 0.1);
    }
  }
  return sum;
}

}  // namespace

extern "C" {

int32_t portico_foo(int64_t val, double *out) {
  if (out == nullptr) return PORTICO_ERR_NULL_OUT;
  if (val < PORTICO_FOO_MIN_VAL || val > PORTICO_FOO_MAX_VAL) return PORTICO_ERR_RANGE;
  *out = foo_sum(val);
  return PORTICO_OK;
}

const char *portico_version(void) { return "1.0.0"; }

const char *portico_strerror(int32_t code) {
  switch (code) {
    case PORTICO_OK: return "ok";
    case PORTICO_ERR_RANGE: return "val is outside the accepted range 0..100000";
    case PORTICO_ERR_NULL_OUT: return "the output pointer is NULL";
    default: return "unknown error code";
  }
}

}  // extern "C"
