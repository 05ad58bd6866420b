/* log.c — leveled logging to stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static gx_log_level s_level = GX_LOG_INFO;

void gx_log_set_level(gx_log_level level)
{
    s_level = level;
}

gx_log_level gx_log_get_level(void)
{
    return s_level;
}

const char *gx_log_level_name(gx_log_level level)
{
    switch (level) {
    case GX_LOG_ERR: return "err";
    case GX_LOG_WARNING: return "warning";
    case GX_LOG_NOTICE: return "notice";
    case GX_LOG_INFO: return "info";
    case GX_LOG_DEBUG: return "debug";
    }
    return "?";
}

bool gx_log_parse_level(const char *s, gx_log_level *out)
{
    static const gx_log_level all[] = {GX_LOG_ERR, GX_LOG_WARNING, GX_LOG_NOTICE, GX_LOG_INFO, GX_LOG_DEBUG};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(s, gx_log_level_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    if (s[0] >= '0' && s[0] <= '7' && s[1] == 0) {
        int v = s[0] - '0';
        *out = v < GX_LOG_ERR ? GX_LOG_ERR : (gx_log_level)v;
        return true;
    }
    return false;
}

void gx_log(gx_log_level level, const char *fmt, ...)
{
    if (level > s_level)
        return;
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char line[2048];
    int n = snprintf(line, sizeof line, "%s gongxud[%d] %s: ", ts, (int)getpid(), gx_log_level_name(level));
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line); /* one fprintf: lines from one process do not interleave */
}

int64_t gx_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
