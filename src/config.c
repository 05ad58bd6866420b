/* config.c — the table of configuration keys and its parser. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef enum { S_STR, S_INT, S_DBL, S_BOOL } s_type;

typedef struct s_key {
    const char *name;   /* key as written in the file */
    s_type type;        /* value type */
    size_t offset;      /* offset of the field in gx_config */
    size_t size;        /* S_STR: buffer size */
    double min, max;    /* bounds for numbers */
    const char *def;    /* default, as text */
    bool reloadable;    /* applied on SIGHUP */
    const char *help;   /* one line for the dump and the README */
} s_key;

#define STR(f) S_STR, offsetof(gx_config, f), sizeof(((gx_config *)0)->f)
#define INT(f) S_INT, offsetof(gx_config, f), 0
#define DBL(f) S_DBL, offsetof(gx_config, f), 0
#define BOOL(f) S_BOOL, offsetof(gx_config, f), 0

static const s_key s_keys[] = {
    {"listen", STR(listen), 0, 0, "tcp://127.0.0.1:7450", false, "client endpoint (ZeroMQ ROUTER)"},
    {"monitor", STR(monitor), 0, 0, "tcp://127.0.0.1:7451", false,
     "operator monitor stream (ZeroMQ PUB); empty disables"},
    {"http_listen", STR(http_listen), 0, 0, "127.0.0.1:7452", false,
     "operator HTTP (dashboard, /metrics, /healthz, /readyz, /api/snapshot, /events) as ADDRESS:PORT; empty "
     "disables"},
    {"http_allow_remote", BOOL(http_allow_remote), 0, 0, "false", false,
     "let http_listen bind a non-loopback address (the HTTP side has no authentication: put a proxy with TLS "
     "and auth in front)"},
    {"events_replay", INT(events_replay), 16, 1000000, "4096", false,
     "match-flow events kept for /events Last-Event-ID replay"},
    {"data_dir", STR(data_dir), 0, 0, "./var/gongxu", false, "LMDB data directory"},
    {"vocabulary", STR(vocabulary), 0, 0, "", true, "vocabulary file; empty means the embedded default"},
    {"log_level", STR(log_level), 0, 0, "info", true, "err, warning, notice, info or debug"},
    {"map_size_mb", INT(map_size_mb), 1, 1 << 20, "256", false, "initial LMDB map size, MiB"},
    {"map_max_mb", INT(map_max_mb), 1, 1 << 24, "16384", false,
     "LMDB map growth limit, MiB; writes get STORAGE_FULL beyond"},
    {"shortlist_k", INT(shortlist_k), 1, 1000, "10", true, "candidates in each demand's shortlist"},
    {"near_miss_max", INT(near_miss_max), 0, 10000, "50", true, "near misses kept per demand"},
    {"near_miss_tell_max", INT(near_miss_tell_max), 0, 10000, "5", true,
     "near-miss notices told per request, best-scored first; the rest are only recorded"},
    {"weight_industry", DBL(weight_industry), 0, 1000, "15", true, "score weight: industry-code closeness"},
    {"weight_process", DBL(weight_process), 0, 1000, "15", true, "score weight: process specificity"},
    {"weight_distance", DBL(weight_distance), 0, 1000, "20", true, "score weight: distance"},
    {"weight_credit", DBL(weight_credit), 0, 1000, "15", true, "score weight: credit grade"},
    {"weight_capacity", DBL(weight_capacity), 0, 1000, "10", true, "score weight: capacity headroom"},
    {"weight_lead_time", DBL(weight_lead_time), 0, 1000, "10", true, "score weight: lead-time slack"},
    {"weight_price", DBL(weight_price), 0, 1000, "10", true, "score weight: price fit"},
    {"weight_track_record", DBL(weight_track_record), 0, 1000, "5", true, "score weight: awards won"},
    {"distance_full_km", DBL(distance_full_km), 1, 20000, "100", true,
     "distance at which the distance term reaches 0"},
    {"utc_offset_minutes", INT(utc_offset_minutes), -720, 840, "480", false,
     "time zone of 'today' for dates (480 = China)"},
    {"default_validity_days", INT(default_validity_days), 1, 3650, "90", true,
     "validity of an offer that gives no expires_at (a demand without one stays open until the end of its "
     "needed-by day)"},
    {"max_frame_bytes", INT(max_frame_bytes), 1024, 64 << 20, "262144", false,
     "largest accepted message in bytes, as the client wrote it (before CURVE adds 33); a larger one drops "
     "the connection"},
    {"max_string_bytes", INT(max_string_bytes), 16, 65536, "256", true,
     "longest short string field (codes, names, units)"},
    {"max_text_bytes", INT(max_text_bytes), 64, 1 << 20, "16384", true,
     "longest text field (summary, details, messages)"},
    {"max_repeated", INT(max_repeated), 1, 10000, "64", true, "most entries in any repeated field"},
    {"batch_max", INT(batch_max), 1, 65536, "512", true, "most requests committed in one LMDB transaction"},
    {"expiry_interval_ms", INT(expiry_interval_ms), 10, 3600000, "1000", true,
     "how often posting validity is enforced"},
    {"inbox_keep_acked", INT(inbox_keep_acked), 0, 1000000, "100", true,
     "acknowledged notices kept per firm"},
    {"inbox_max", INT(inbox_max), 100, 100000000, "100000", true,
     "notices kept per firm even if never acknowledged; older ones go (a resume from before them gets "
     "RESUME_GAP)"},
    {"inbox_max_age_s", INT(inbox_max_age_s), 0, 3650LL * 86400, "2592000", true,
     "notices older than this many seconds go, acknowledged or not (0 keeps them); default 30 days"},
    {"retention_interval_ms", INT(retention_interval_ms), 10, 86400000, "60000", true,
     "how often notices past inbox_max_age_s are swept"},
    {"delivery_window", INT(delivery_window), 1, 1000000, "1000", true,
     "unacknowledged notices in flight per connection"},
    {"sessions_max", INT(sessions_max), 1, 1000000, "10000", false, "connections bound to a firm at once"},
    {"hwm", INT(hwm), 10, 10000000, "100000", false,
     "ZeroMQ high-water marks of the broker's sockets other than the client send queue (send_hwm)"},
    {"engine_snapshot", BOOL(engine_snapshot), 0, 0, "true", false,
     "keep the engine's lists in <data_dir>/engine.snap (while serving and at a clean stop) and a change log "
     "in the store, so that a start, even after a crash, restores them and replays only what changed since"},
    {"snapshot_interval_s", INT(snapshot_interval_s), 0, 86400, "300", true,
     "while serving, write an engine snapshot this often when anything changed (0: only at a clean stop)"},
    {"snapshot_changes", INT(snapshot_changes), 0, 100000000, "20000", true,
     "also write one once this many changes to firms and postings were logged since the last (0: by time "
     "only); at most one per 10 s"},
    {"snapshot_write_rate", INT(snapshot_write_rate), 0, 100000000, "0", true,
     "demands per second a snapshot while serving writes (0: as fast as about 1 ms of each turn of the loop "
     "allows); a lower rate spreads its work and its disk writes thinner"},
    {"start_progress_ms", INT(start_progress_ms), 100, 3600000, "5000", false,
     "while a start loads the engine, how often it logs its progress and tells systemd (STATUS, "
     "EXTEND_TIMEOUT_USEC)"},
    {"no_sync", BOOL(no_sync), 0, 0, "false", false, "benchmarks only: commit without fsync (NOT durable)"},
    {"server_key", STR(server_key), 0, 0, "", false,
     "broker CURVE key file; empty means <data_dir>/broker.key, created on first start"},
    {"operator_keys", STR(operator_keys), 0, 0, "", true,
     "file of operator public keys; empty means <data_dir>/operator_keys (first one created on first start)"},
    {"rate_per_firm", INT(rate_per_firm), 1, 1000000, "500", true,
     "requests per second one firm may make (token bucket); RATE_LIMITED beyond"},
    {"rate_burst", INT(rate_burst), 1, 10000000, "1000", true,
     "requests one firm may make at once (bucket size)"},
    {"max_open_postings", INT(max_open_postings), 1, 100000000, "10000", true,
     "open demands, offers and subscriptions per firm"},
    {"handshakes_per_second", INT(handshakes_per_second), 1, 100000, "200", true,
     "new CURVE connections admitted per second (a handshake costs CPU)"},
    {"frames_per_turn", INT(frames_per_turn), 1, 65536, "8", true,
     "most requests taken from one connection per loop turn; the rest wait for the next turn, so a busy "
     "connection cannot hold up the others"},
    {"delivery_window_bytes", INT(delivery_window_bytes), 4096, 1LL << 30, "4194304", true,
     "notice bytes in flight per connection; with delivery_window, whichever is reached first"},
    {"firm_window_bytes", INT(firm_window_bytes), 4096, 1LL << 34, "33554432", true,
     "notice bytes in flight over all connections of one firm"},
    {"send_hwm", INT(send_hwm), 10, 10000000, "10000", false,
     "messages queued to one client connection (ZMQ_SNDHWM); a connection whose queue is full when its reply "
     "is due is closed"},
    {"io_threads", INT(io_threads), 1, 64, "2", false,
     "ZeroMQ I/O threads (CURVE encryption and socket I/O), connections spread over them; one flooding "
     "connection then holds up only those on its thread"},
    {"federation_url", STR(federation_url), 0, 0, "", false,
     "NATS servers of the province's federation, comma-separated nats:// URLs; empty: this broker runs "
     "alone"},
    {"federation_city", INT(federation_city), 0, 9999, "0", false,
     "this broker's city, the first four digits of its counties' GB/T 2260 codes (4106 Hebi); required with "
     "federation_url, and every firm registered here must be in it"},
    {"federation_user", STR(federation_user), 0, 0, "", false, "this city's NATS user"},
    {"federation_password_file", STR(federation_password_file), 0, 0, "", false,
     "file holding this city's NATS password (first line)"},
    {"federation_stream", STR(federation_stream), 0, 0, "GONGXU", false,
     "JetStream stream the cities share (subjects gx.>; created when missing)"},
    {"federation_replicas", INT(federation_replicas), 1, 5, "3", false,
     "replicas of the stream when this broker creates it (1 only for a single nats-server)"},
};
#define S_NKEYS (sizeof s_keys / sizeof s_keys[0])

static const s_key *s_find(const char *name)
{
    for (size_t i = 0; i < S_NKEYS; i++)
        if (strcmp(s_keys[i].name, name) == 0)
            return &s_keys[i];
    return NULL;
}

static gx_err s_set(gx_config *c, const s_key *k, const char *value, char *err, size_t errlen)
{
    char *field = (char *)c + k->offset;
    char *end = NULL;
    switch (k->type) {
    case S_STR:
        if (strlen(value) >= k->size) {
            snprintf(err, errlen, "%s: value longer than %zu bytes", k->name, k->size - 1);
            return GX_ERR_CONFIG;
        }
        memcpy(field, value, strlen(value) + 1);
        return GX_OK;
    case S_INT: {
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) {
            snprintf(err, errlen, "%s: '%s' is not an integer", k->name, value);
            return GX_ERR_CONFIG;
        }
        if ((double)v < k->min || (double)v > k->max) {
            snprintf(err, errlen, "%s: %lld is outside %.0f..%.0f", k->name, v, k->min, k->max);
            return GX_ERR_CONFIG;
        }
        *(int64_t *)field = v;
        return GX_OK;
    }
    case S_DBL: {
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(v)) {
            snprintf(err, errlen, "%s: '%s' is not a number", k->name, value);
            return GX_ERR_CONFIG;
        }
        if (v < k->min || v > k->max) {
            snprintf(err, errlen, "%s: %g is outside %g..%g", k->name, v, k->min, k->max);
            return GX_ERR_CONFIG;
        }
        *(double *)field = v;
        return GX_OK;
    }
    case S_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1")) {
            *(bool *)field = true;
        } else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0")) {
            *(bool *)field = false;
        } else {
            snprintf(err, errlen, "%s: '%s' is not true or false", k->name, value);
            return GX_ERR_CONFIG;
        }
        return GX_OK;
    }
    return GX_ERR_CONFIG;
}

void gx_config_defaults(gx_config *c)
{
    char err[128];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < S_NKEYS; i++) {
        gx_err rc = s_set(c, &s_keys[i], s_keys[i].def, err, sizeof err);
        (void)rc; /* defaults are constants of this file: a bad one is a programming error */
    }
}

gx_err gx_config_set(gx_config *c, const char *key, const char *value, char *err, size_t errlen)
{
    const s_key *k = s_find(key);
    if (!k) {
        snprintf(err, errlen, "no such key: %s", key);
        return GX_ERR_CONFIG;
    }
    return s_set(c, k, value, err, errlen);
}

static char *s_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

gx_err gx_config_parse(gx_config *c, const char *text, char *err, size_t errlen)
{
    char line[4096], msg[512];
    unsigned lineno = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (n >= sizeof line) {
            snprintf(err, errlen, "line %u: longer than %zu bytes", lineno, sizeof line - 1);
            return GX_ERR_CONFIG;
        }
        memcpy(line, p, n);
        line[n] = 0;
        p += n + (nl ? 1 : 0);
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = s_trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "line %u: expected 'key = value'", lineno);
            return GX_ERR_CONFIG;
        }
        *eq = 0;
        char *key = s_trim(s), *value = s_trim(eq + 1);
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') { /* "quoted" keeps spaces and '' */
            value[vl - 1] = 0;
            value++;
        }
        if (gx_config_set(c, key, value, msg, sizeof msg)) {
            snprintf(err, errlen, "line %u: %s", lineno, msg);
            return GX_ERR_CONFIG;
        }
    }
    return GX_OK;
}

gx_err gx_config_load_file(gx_config *c, const char *path, char *err, size_t errlen)
{
    gx_err rc = GX_OK;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return GX_ERR_IO;
    }
    enum { CAP = 1 << 20 };
    buf = malloc(CAP + 1);
    if (!buf) {
        rc = GX_ERR_NOMEM;
        goto out;
    }
    size_t n = fread(buf, 1, CAP + 1, f);
    if (ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = GX_ERR_IO;
        goto out;
    }
    if (n > CAP) {
        snprintf(err, errlen, "%s: larger than 1 MiB", path);
        rc = GX_ERR_CONFIG;
        goto out;
    }
    buf[n] = 0;
    if (memchr(buf, 0, n)) {
        snprintf(err, errlen, "%s: contains a NUL byte", path);
        rc = GX_ERR_CONFIG;
        goto out;
    }
    char msg[512];
    rc = gx_config_parse(c, buf, msg, sizeof msg);
    if (rc)
        snprintf(err, errlen, "%s: %s", path, msg);
out:
    free(buf);
    fclose(f);
    return rc;
}

bool gx_config_parse_listen(const char *listen, char *host, size_t hostlen, uint16_t *port, char *err, size_t errlen)
{
    const char *colon, *h = listen;
    size_t n;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':') {
            snprintf(err, errlen, "'%s': an IPv6 address is written [ADDRESS]:PORT", listen);
            return false;
        }
        h = listen + 1;
        n = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon || colon == listen) {
            snprintf(err, errlen, "'%s' is not ADDRESS:PORT", listen);
            return false;
        }
        n = (size_t)(colon - listen);
    }
    char *end = NULL;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || errno || *end || p < 0 || p > 65535) {
        snprintf(err, errlen, "'%s': the port must be a number 0..65535", listen);
        return false;
    }
    if (n == 0 || n >= hostlen) {
        snprintf(err, errlen, "'%s': bad address", listen);
        return false;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    struct in_addr a4;
    struct in6_addr a6;
    if (strcmp(host, "localhost") != 0 && inet_pton(AF_INET, host, &a4) != 1 && inet_pton(AF_INET6, host, &a6) != 1) {
        snprintf(err, errlen, "'%s': the address must be numeric (or localhost)", listen);
        return false;
    }
    *port = (uint16_t)p;
    return true;
}

bool gx_config_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (strcmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

gx_err gx_config_validate(const gx_config *c, char *err, size_t errlen)
{
    gx_log_level lvl;
    if (!gx_log_parse_level(c->log_level, &lvl)) {
        snprintf(err, errlen, "log_level: '%s' is not one of err, warning, notice, info, debug", c->log_level);
        return GX_ERR_CONFIG;
    }
    if (c->map_max_mb < c->map_size_mb) {
        snprintf(err, errlen, "map_max_mb (%lld) is below map_size_mb (%lld)", (long long)c->map_max_mb,
                 (long long)c->map_size_mb);
        return GX_ERR_CONFIG;
    }
    double w = c->weight_industry + c->weight_process + c->weight_distance + c->weight_credit +
               c->weight_capacity + c->weight_lead_time + c->weight_price + c->weight_track_record;
    if (w <= 0) {
        snprintf(err, errlen, "every score weight is 0: at least one must be positive");
        return GX_ERR_CONFIG;
    }
    if (c->http_listen[0]) {
        char host[64], why[256];
        uint16_t port;
        if (!gx_config_parse_listen(c->http_listen, host, sizeof host, &port, why, sizeof why)) {
            snprintf(err, errlen, "http_listen: %s", why);
            return GX_ERR_CONFIG;
        }
        if (!c->http_allow_remote && !gx_config_is_loopback(host)) {
            snprintf(err, errlen,
                     "http_listen: %s is not a loopback address, and the operator HTTP side has no authentication; "
                     "set http_allow_remote = true to bind it anyway (behind a proxy with TLS and auth)",
                     c->http_listen);
            return GX_ERR_CONFIG;
        }
    }
    if (!c->listen[0] || !c->data_dir[0]) {
        snprintf(err, errlen, "%s must not be empty", !c->listen[0] ? "listen" : "data_dir");
        return GX_ERR_CONFIG;
    }
    if (c->max_string_bytes > c->max_frame_bytes || c->max_text_bytes > c->max_frame_bytes) {
        snprintf(err, errlen, "max_string_bytes and max_text_bytes must not exceed max_frame_bytes");
        return GX_ERR_CONFIG;
    }
    if (c->federation_url[0]) {
        if (c->federation_city < 1000) {
            snprintf(err, errlen,
                     "federation_city: federation_url is set, so name this broker's city (4 digits, "
                     "e.g. 4106)");
            return GX_ERR_CONFIG;
        }
        /* every URL of the list (split as federation.c splits it), not only the first */
        bool urls_ok = true, any = false;
        for (const char *p = c->federation_url; *p && urls_ok;) {
            p += strspn(p, ", ");
            size_t n = strcspn(p, ", ");
            if (!n)
                break;
            any = true;
            urls_ok = (n > 7 && strncmp(p, "nats://", 7) == 0) || (n > 6 && strncmp(p, "tls://", 6) == 0);
            p += n;
        }
        if (!urls_ok || !any) {
            char shown[GX_CONFIG_STR_MAX]; /* its password never printed */
            gx_config_redact_urls(c->federation_url, shown, sizeof shown);
            snprintf(err, errlen, "federation_url: '%s' is not a list of nats:// URLs", shown);
            return GX_ERR_CONFIG;
        }
        for (const char *p = c->federation_stream; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-') {
                snprintf(err, errlen, "federation_stream: '%s' may hold only letters, digits, - and _",
                         c->federation_stream);
                return GX_ERR_CONFIG;
            }
        if (!c->federation_stream[0]) {
            snprintf(err, errlen, "federation_stream must not be empty");
            return GX_ERR_CONFIG;
        }
        if (c->federation_password_file[0] && !c->federation_user[0]) {
            snprintf(err, errlen, "federation_password_file is set without federation_user");
            return GX_ERR_CONFIG;
        }
    } else if (c->federation_city) {
        snprintf(err, errlen, "federation_city is set without federation_url");
        return GX_ERR_CONFIG;
    }
    return GX_OK;
}

static bool s_equal(const gx_config *a, const gx_config *b, const s_key *k)
{
    const char *fa = (const char *)a + k->offset, *fb = (const char *)b + k->offset;
    switch (k->type) {
    case S_STR: return strcmp(fa, fb) == 0;
    case S_INT: return *(const int64_t *)fa == *(const int64_t *)fb;
    case S_DBL: return *(const double *)fa == *(const double *)fb;
    case S_BOOL: return *(const bool *)fa == *(const bool *)fb;
    }
    return true;
}

void gx_config_apply_reload(gx_config *cur, const gx_config *next, char *err, size_t errlen)
{
    size_t used = 0;
    err[0] = 0;
    for (size_t i = 0; i < S_NKEYS; i++) {
        const s_key *k = &s_keys[i];
        if (s_equal(cur, next, k))
            continue;
        if (k->reloadable) {
            size_t sz = k->type == S_STR ? k->size : k->type == S_BOOL ? sizeof(bool) : 8;
            memcpy((char *)cur + k->offset, (const char *)next + k->offset, sz);
        } else if (used + strlen(k->name) + 2 < errlen) {
            used += (size_t)snprintf(err + used, errlen - used, "%s%s", used ? " " : "", k->name);
        }
    }
}

void gx_config_dump(const gx_config *c, FILE *out)
{
    fprintf(out, "# gongxud configuration: key = value; '#' starts a comment.\n"
                 "# (reload) marks keys applied on SIGHUP; the others need a restart.\n");
    for (size_t i = 0; i < S_NKEYS; i++) {
        const s_key *k = &s_keys[i];
        const char *f = (const char *)c + k->offset;
        fprintf(out, "\n# %s%s", k->help, k->reloadable ? " (reload)" : "");
        if (k->type == S_INT)
            fprintf(out, "; %.0f..%.0f", k->min, k->max);
        else if (k->type == S_DBL)
            fprintf(out, "; %g..%g", k->min, k->max);
        fprintf(out, "; default %s\n", k->def[0] ? k->def : "\"\"");
        switch (k->type) {
        case S_STR:
            if (f == (const char *)c->federation_url) { /* its password never printed */
                char shown[GX_CONFIG_STR_MAX];
                gx_config_redact_urls(f, shown, sizeof shown);
                fprintf(out, "%s = \"%s\"\n", k->name, shown);
            } else
                fprintf(out, "%s = \"%s\"\n", k->name, f);
            break;
        case S_INT: fprintf(out, "%s = %lld\n", k->name, (long long)*(const int64_t *)f); break;
        case S_DBL: fprintf(out, "%s = %g\n", k->name, *(const double *)f); break;
        case S_BOOL: fprintf(out, "%s = %s\n", k->name, *(const bool *)f ? "true" : "false"); break;
        }
    }
}

void gx_config_redact_urls(const char *urls, char *out, size_t cap)
{
    size_t o = 0;
    if (!cap)
        return;
    for (const char *p = urls; *p && o + 1 < cap;) {
        /* in each URL, a password is what lies between "user:" and "@" */
        const char *scheme = strstr(p, "://");
        const char *end = p + strcspn(p, ",");
        /* without a scheme (a mistyped URL) the authority starts the URL */
        const char *auth = scheme && scheme < end ? scheme + 3 : p;
        /* the last @ before the next URL: a password may hold / or @ */
        const char *host_end = auth + strcspn(auth, ",");
        const char *at = NULL;
        for (const char *q = auth; q < host_end; q++)
            if (*q == '@')
                at = q;
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        /* user:password@ keeps the user; a token alone (token@) goes whole */
        const char *secret = colon ? colon + 1 : at ? auth : NULL;
        while (p < end && o + 1 < cap) {
            if (secret && p == secret) {
                /* *** for any password of 3 bytes or more, one * a byte for a shorter
                 * one: the result is never longer than the list, so it fits wherever
                 * the list did and a dump reads back as it was written */
                size_t stars = (size_t)(at - secret) < 3 ? (size_t)(at - secret) : 3;
                for (; stars && o + 1 < cap; stars--)
                    out[o++] = '*';
                p = at;
                secret = NULL; /* once: an empty password (user:@host) leaves p where it was */
                continue;
            }
            out[o++] = *p++;
        }
        if (*p == ',' && o + 1 < cap)
            out[o++] = *p++;
    }
    out[o] = 0;
}
