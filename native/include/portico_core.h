/*
 * Portico's compute core: the C ABI, declared once. backend/core.ts mirrors it
 * for koffi; keep the two in step.
 */
#ifndef PORTICO_CORE_H
#define PORTICO_CORE_H

#include <stdint.h>

#define PORTICO_API __attribute__((visibility("default")))

/* foo's accepted range: beyond it a call would take minutes (val 100000 is ~1 s). */
#define PORTICO_FOO_MIN_VAL 0
#define PORTICO_FOO_MAX_VAL 100000

#define PORTICO_OK 0
#define PORTICO_ERR_RANGE 1    /* val outside [PORTICO_FOO_MIN_VAL, PORTICO_FOO_MAX_VAL] */
#define PORTICO_ERR_NULL_OUT 2 /* out is NULL */

#ifdef __cplusplus
extern "C" {
#endif

/* Computes foo(val) into *out. Returns PORTICO_OK or an error code; *out is
 * untouched on error. Thread-safe: no global state, so calls may run in parallel. */
PORTICO_API int32_t portico_foo(int64_t val, double *out);

/* "MAJOR.MINOR.PATCH" of the core, in static storage. */
PORTICO_API const char *portico_version(void);

/* A human-readable message for an error code, in static storage; never NULL. */
PORTICO_API const char *portico_strerror(int32_t code);

#ifdef __cplusplus
}
#endif

#endif
