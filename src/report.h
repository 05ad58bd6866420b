/* report.h — what operators read (report.c): Prometheus metrics, health, the
 * dashboard's JSON snapshot and statistics by date range. Below the broker:
 * reads the context (records.h: engine, store, figures) and changes nothing
 * but its caches; broker.h's gx_broker_http_page and gx_broker_render_event
 * call into it. */
#ifndef GX_REPORT_H
#define GX_REPORT_H

#include "records.h"

/* Statistics by date range: postings created in [from, to), grouped by
 * district column, industry chain and kind. */
typedef struct gx_stats_filter {
    int64_t from, to; /* unix seconds; 0 = open end */
    const char
        *district; /* a column id ("410611", "hebi.etdz", "city", "other") or a firm district; NULL = all */
    const char *industry; /* GB/T 4754 prefix; NULL = all */
    gx_kind kind;         /* 0 = all */
    bool kind_only;       /* group by kind alone (district and chain "*") */
} gx_stats_filter;

/* Scans the store for statistics (a read transaction of its own); rows sorted
 * by district, chain, kind. Costs a pass over every stored posting. */
gx_err gx_report_range(gx_ctx *b, const gx_stats_filter *f, gx_stats_table *out);
void gx_stats_table_fini(gx_stats_table *t);
/* Fills each row's district and chain names (borrowed from the vocabulary). */
void gx_report_names(const gx_ctx *b, gx_stats_table *t);
/* Counts a committed event into the minute flow. */
void gx_report_flow(gx_obs *o, const char *topic, int64_t now);
/* Sets up the histograms' bounds. */
void gx_report_init(gx_obs *o, int64_t now_ms);
/* Counts one observation into h. */
void gx_hist_observe(gx_hist *h, double v);

/* The operator pages and the /events rendering behind broker.h's
 * gx_broker_http_page and gx_broker_render_event (same contracts). */
bool gx_report_page(gx_ctx *b, const char *path, int *status, const char **type, char **body, size_t *len);
size_t gx_report_render_event(gx_ctx *b, uint64_t id, const char *type, const void *data, size_t len,
                              char *out, size_t cap);

#endif
