/* gxtest.h — the smallest unit-test harness that reports like a test runner.
 *
 * CHECK(cond) records a failure and carries on; REQUIRE(cond) stops the test.
 * TEST(name) defines a test, RUN(name) runs it; gx_test_done() prints
 * "N passed, N failed" and returns the process exit code. */
#ifndef GX_TEST_H
#define GX_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int gx_t_failed_checks, gx_t_passed, gx_t_failed, gx_t_cur_failed;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);    \
            gx_t_failed_checks++;                                                         \
            gx_t_cur_failed = 1;                                                          \
        }                                                                                 \
    } while (0)
#define REQUIRE(cond)                                                                     \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "  %s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);  \
            gx_t_failed_checks++;                                                         \
            gx_t_cur_failed = 1;                                                          \
            return;                                                                       \
        }                                                                                 \
    } while (0)
#define CHECK_EQ_INT(a, b)                                                                \
    do {                                                                                  \
        long long gx_a_ = (long long)(a), gx_b_ = (long long)(b);                         \
        if (gx_a_ != gx_b_) {                                                             \
            fprintf(stderr, "  %s:%d: CHECK %s == %s failed: %lld != %lld\n", __FILE__,   \
                    __LINE__, #a, #b, gx_a_, gx_b_);                                      \
            gx_t_failed_checks++;                                                         \
            gx_t_cur_failed = 1;                                                          \
        }                                                                                 \
    } while (0)
#define CHECK_STR(a, b)                                                                   \
    do {                                                                                  \
        const char *gx_a_ = (a), *gx_b_ = (b);                                            \
        if (!gx_a_ || !gx_b_ || strcmp(gx_a_, gx_b_) != 0) {                              \
            fprintf(stderr, "  %s:%d: CHECK %s == \"%s\" failed: got \"%s\"\n", __FILE__, \
                    __LINE__, #a, gx_b_ ? gx_b_ : "(null)", gx_a_ ? gx_a_ : "(null)");    \
            gx_t_failed_checks++;                                                         \
            gx_t_cur_failed = 1;                                                          \
        }                                                                                 \
    } while (0)

#define TEST(name) static void name(void)
#define RUN(name)                                                                         \
    do {                                                                                  \
        gx_t_cur_failed = 0;                                                              \
        name();                                                                           \
        if (gx_t_cur_failed) {                                                            \
            gx_t_failed++;                                                                \
            fprintf(stderr, "FAIL %s\n", #name);                                          \
        } else {                                                                          \
            gx_t_passed++;                                                                \
            printf("ok   %s\n", #name);                                                   \
        }                                                                                 \
    } while (0)

static inline int gx_test_done(void)
{
    printf("%d passed, %d failed\n", gx_t_passed, gx_t_failed);
    return gx_t_failed ? 1 : 0;
}

/* A fresh empty directory under $GX_TEST_TMP (or /tmp) for this test; static buffer. */
static inline const char *gx_test_dir(const char *tag)
{
    static char buf[512];
    const char *base = getenv("GX_TEST_TMP");
    if (!base)
        base = "/tmp";
    char cmd[2 * sizeof buf + 64];
    snprintf(buf, sizeof buf, "%s/%s.%d", base, tag, (int)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", buf, buf);
    if (system(cmd) != 0)
        abort();
    return buf;
}

#endif
