/* log.h — leveled logging to stderr, syslog severities.
 *
 * Lines look like "2026-11-25T17:02:11Z gongxud[4711] warning: text". The
 * threshold is process-wide (the one global besides signal flags: every module
 * logs, and passing a logger through pure cores would be noise). */
#ifndef GX_LOG_H
#define GX_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum gx_log_level {
    GX_LOG_ERR = 3,
    GX_LOG_WARNING = 4,
    GX_LOG_NOTICE = 5,
    GX_LOG_INFO = 6,
    GX_LOG_DEBUG = 7,
} gx_log_level;

/* Sets the most verbose level written. Any thread. */
void gx_log_set_level(gx_log_level level);
gx_log_level gx_log_get_level(void);

/* Parses "err", "warning", "notice", "info", "debug" (or 0-7). */
bool gx_log_parse_level(const char *s, gx_log_level *out);
const char *gx_log_level_name(gx_log_level level);

/* Microseconds on CLOCK_MONOTONIC: the one clock for durations that are
 * logged or measured (start, snapshot, commits, reports, sd_notify). */
int64_t gx_mono_us(void);

/* Writes one line when level passes the threshold. */
void gx_log(gx_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
