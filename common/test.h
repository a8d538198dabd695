/* common/test.h: a tiny TAP harness for the unit tests (run by `prove`).
 *
 * Each CHECK is one TAP test point, so a file that checks nothing prints
 * "1..0" and prove reports it as a failure (see atv_test_done). Use:
 *     int main(void) { CHECK(x == 1); CHECK_STATUS(f(&e), ATV_E_PARSE); return atv_test_done(); }
 * Tests only: control-flow macros are fine here, never in production code.
 */
#ifndef ATV_COMMON_TEST_H
#define ATV_COMMON_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int atv_test_n;
static int atv_test_failed;

static void atv_test_point(int ok, const char *file, int line, const char *what)
{
    atv_test_n++;
    printf("%sok %d - %s:%d %s\n", ok ? "" : "not ", atv_test_n, file, line, what);
    if (!ok) {
        atv_test_failed++;
    }
    fflush(stdout);
}

/* Prints the plan; returns the process exit code: non-zero when a check
 * failed or when no check ran at all (a test that runs nothing is a defect). */
static int atv_test_done(void)
{
    printf("1..%d\n", atv_test_n);
    if (atv_test_n == 0) {
        printf("# no test point ran\n");
        return 1;
    }
    return atv_test_failed != 0 ? 1 : 0;
}

/* Path of a file under the shared folder ($ATV_SHARED, default ../shared). */
__attribute__((unused)) static const char *atv_test_shared(const char *rel)
{
    static char path[1024];
    const char *base = getenv("ATV_SHARED");
    int n = snprintf(path, sizeof path, "%s/%s", base != NULL ? base : "../shared", rel);
    if (n < 0 || (size_t)n >= sizeof path) {
        path[0] = '\0';
    }
    return path;
}

#define CHECK(cond) atv_test_point((cond) ? 1 : 0, __FILE__, __LINE__, #cond)
/* The condition is evaluated before the message is formatted, so the
 * message may show what the condition's calls produced. */
#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        int atv_ok_ = (cond) ? 1 : 0;                                                              \
        char atv_m_[512];                                                                          \
        if (snprintf(atv_m_, sizeof atv_m_, __VA_ARGS__) < 0) {                                    \
            atv_m_[0] = '\0';                                                                      \
        }                                                                                          \
        atv_test_point(atv_ok_, __FILE__, __LINE__, atv_m_);                                       \
    } while (0)
#define CHECK_EQ(a, b) CHECK((a) == (b))
#define CHECK_STR(a, b) CHECK_MSG(strcmp((a), (b)) == 0, "\"%s\" == \"%s\"", (a), (b))
#define CHECK_MEM_EQ(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)
/* Checks a call's status; on mismatch prints the error message as a diagnostic. */
#define CHECK_STATUS(call, want, errp)                                                             \
    do {                                                                                           \
        enum atv_status atv_got_ = (call);                                                         \
        CHECK_MSG(atv_got_ == (want), "%s == %s (got %s: %s)", #call, atv_status_name(want),       \
                  atv_status_name(atv_got_), (errp)->msg);                                         \
    } while (0)
#define DIAG(...)                                                                                  \
    do {                                                                                           \
        printf("# ");                                                                              \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
    } while (0)

#endif
