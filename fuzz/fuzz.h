/* fuzz/fuzz.h: what every harness shares.
 *
 * The libFuzzer entry points are declared here so the harnesses compile under
 * the project's -Wmissing-prototypes with gcc too (fuzz/replay.c links them
 * without libFuzzer). FZ_CHECK is an invariant of the code under test: when
 * it fails the harness aborts, which libFuzzer reports as a crash and the
 * replay runner as a failed test. */
#ifndef ATV_FUZZ_FUZZ_H
#define ATV_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FZ_CHECK(cond)                                                                          \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            (void)fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                            \
        }                                                                                       \
    } while (0)

/* A NUL-terminated copy of data (new: free). The copy stops at the first NUL
 * of the input, as a C string would; *len receives its length. Aborts when
 * memory runs out: a harness has no error path of its own. */
static inline char *fz_cstr(const uint8_t *data, size_t size, size_t *len)
{
    const uint8_t *nul = size > 0 ? memchr(data, 0, size) : NULL;
    size_t n = nul != NULL ? (size_t)(nul - data) : size;
    char *s = malloc(n + 1);
    FZ_CHECK(s != NULL);
    if (n > 0) {
        memcpy(s, data, n);
    }
    s[n] = '\0';
    if (len != NULL) {
        *len = n;
    }
    return s;
}

/* An exact-size heap copy of data[0..size) (new: free), so that a read one
 * byte past a view is caught by ASan and valgrind even where the input is a
 * slice of a larger buffer. */
static inline uint8_t *fz_dup(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size > 0 ? size : 1);
    FZ_CHECK(p != NULL);
    if (size > 0) {
        memcpy(p, data, size);
    }
    return p;
}

#endif
