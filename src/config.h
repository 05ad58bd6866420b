/* config.h — gongxud configuration: one table of keys, validated before anything opens.
 *
 * Sources, later overriding earlier: built-in defaults, the config file
 * (`key = value` lines, `#` comments), then command-line overrides. Every key has a
 * type, bounds, a default and a reloadable flag; SIGHUP re-reads the file and
 * applies only reloadable keys (others are reported as needing a restart).
 * Pure: parsing does no I/O except gx_config_load_file reading its file. */
#ifndef GX_CONFIG_H
#define GX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

#define GX_CONFIG_STR_MAX 512

typedef struct gx_config {
    char listen[GX_CONFIG_STR_MAX];      /* client ROUTER endpoint */
    char monitor[GX_CONFIG_STR_MAX];     /* monitor PUB endpoint ("" = off) */
    char http_listen[GX_CONFIG_STR_MAX]; /* operator HTTP ADDRESS:PORT ("" = off) */
    bool http_allow_remote;              /* allow a non-loopback http_listen */
    int64_t events_replay;               /* /events replay buffer, events */
    char data_dir[GX_CONFIG_STR_MAX];    /* LMDB directory */
    char vocabulary[GX_CONFIG_STR_MAX];  /* vocabulary file ("" = embedded) */
    char log_level[16];                  /* err .. debug */
    int64_t map_size_mb;                 /* initial LMDB map size */
    int64_t map_max_mb;                  /* LMDB map growth limit */
    int64_t shortlist_k;                 /* shortlist length */
    int64_t near_miss_max;               /* near misses kept per demand */
    int64_t near_miss_tell_max;          /* near-miss notices told per request */
    double weight_industry;              /* score weights */
    double weight_process;
    double weight_distance;
    double weight_credit;
    double weight_capacity;
    double weight_lead_time;
    double weight_price;
    double weight_track_record;
    double distance_full_km;             /* distance term reaches 0 here */
    int64_t utc_offset_minutes;          /* time zone of "today" */
    int64_t default_validity_days;       /* when a posting gives no expires_at */
    int64_t max_frame_bytes;             /* ZMQ_MAXMSGSIZE on the client socket */
    int64_t max_string_bytes;            /* any short string field */
    int64_t max_text_bytes;              /* summary, details, messages */
    int64_t max_repeated;                /* any repeated field */
    int64_t batch_max;                   /* requests per group commit */
    int64_t expiry_interval_ms;          /* how often validity is checked */
    int64_t inbox_keep_acked;            /* acknowledged notices kept per firm */
    int64_t inbox_max;                   /* notices kept per firm, acknowledged or not */
    int64_t inbox_max_age_s;             /* notices older than this go, acknowledged or not (0 = keep) */
    int64_t retention_interval_ms;       /* how often the age sweep runs */
    int64_t delivery_window;             /* unacknowledged notices in flight per session */
    int64_t sessions_max;                /* connections bound to a firm */
    int64_t hwm;                         /* ZeroMQ send/receive high-water marks */
    bool no_sync;                        /* benchmarks only: LMDB without fsync (NOT durable) */
    bool engine_snapshot;                /* keep engine snapshots and the store's change log (persist.h) */
    int64_t snapshot_interval_s;         /* a snapshot while serving this often (0: at a clean stop only) */
    int64_t snapshot_changes;            /* or after this many logged changes (0: by time only) */
    int64_t snapshot_write_rate; /* demands/s a snapshot while serving writes (0: ~1 ms per loop turn) */
    int64_t start_progress_ms;           /* progress report interval while a start loads the engine */
    char server_key[GX_CONFIG_STR_MAX];  /* broker key file ("" = <data_dir>/broker.key) */
    char operator_keys[GX_CONFIG_STR_MAX]; /* operator public keys ("" = <data_dir>/operator_keys) */
    int64_t rate_per_firm;               /* requests per second per firm (token bucket) */
    int64_t rate_burst;                  /* bucket size */
    int64_t max_open_postings;           /* open demands + offers + subscriptions per firm */
    int64_t handshakes_per_second;       /* new CURVE connections admitted per second */
    int64_t frames_per_turn;             /* requests from one connection per loop turn */
    int64_t delivery_window_bytes;       /* notice bytes in flight per session */
    int64_t firm_window_bytes;           /* notice bytes in flight per firm */
    int64_t send_hwm;                    /* ZMQ_SNDHWM of the client ROUTER */
    int64_t io_threads;                  /* ZMQ_IO_THREADS of the context */
    char federation_url[GX_CONFIG_STR_MAX];  /* NATS servers, comma-separated ("" = no federation) */
    int64_t federation_city;                 /* this broker's city (4-digit GB/T 2260 prefix); 0 = none */
    char federation_user[GX_CONFIG_STR_MAX]; /* NATS user of this city */
    char federation_password_file[GX_CONFIG_STR_MAX]; /* file holding its password */
    char federation_stream[64];                       /* the JetStream stream ("GONGXU") */
    int64_t federation_replicas;                      /* the stream's replicas when gongxud creates it */
    bool insecure_dev;                   /* NOT a config key: only the --insecure-dev flag sets it */
} gx_config;

/* Fills c with every default. */
void gx_config_defaults(gx_config *c);

/* Sets one key from its text value. GX_ERR_CONFIG with a message in err
 * ("shortlist_k: 0 is below the minimum 1", "no such key: foo") otherwise. */
gx_err gx_config_set(gx_config *c, const char *key, const char *value, char *err, size_t errlen);

/* Parses config text (`key = value` lines); err gets "line N: ..." on failure. */
gx_err gx_config_parse(gx_config *c, const char *text, char *err, size_t errlen);

/* Reads and parses a file; GX_ERR_IO when it cannot be read. */
gx_err gx_config_load_file(gx_config *c, const char *path, char *err, size_t errlen);

/* Cross-key checks (map_max >= map_size, some weight > 0, log level). */
gx_err gx_config_validate(const gx_config *c, char *err, size_t errlen);

/* Copies reloadable keys from next into cur; writes into err the names of
 * non-reloadable keys that differ (they need a restart), or "" when none. */
void gx_config_apply_reload(gx_config *cur, const gx_config *next, char *err, size_t errlen);

/* Parses an http_listen value, "ADDRESS:PORT" (IPv4, "[IPv6]" or "localhost"),
 * into host and port; false with a message in err when malformed. Names other
 * than localhost are refused, so that what is bound is what the operator read. */
bool gx_config_parse_listen(const char *listen, char *host, size_t hostlen, uint16_t *port, char *err,
                            size_t errlen);

/* True when host (as gx_config_parse_listen gives it) is a loopback address. */
bool gx_config_is_loopback(const char *host);

/* Writes every key with its value, type, bounds and reloadability, one per
 * line, as a commented config file. */
void gx_config_dump(const gx_config *c, FILE *out);

/* Copies the comma-separated URLs (federation_url) into out (cap bytes) with
 * each password replaced by ***: nats://user:pass@host -> nats://user:***@host,
 * and a token alone before the host (token@host) becomes ***@host. A password
 * shorter than 3 bytes becomes as many *, an empty one stays empty: the result
 * is never longer than urls. For logs, errors and --dump-config. */
void gx_config_redact_urls(const char *urls, char *out, size_t cap);

#endif
