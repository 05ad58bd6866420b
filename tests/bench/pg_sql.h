/* pg_sql.h — the PostgreSQL side of the comparison: schema, the posting
 * statements and the encoding of workload postings for libpq.
 *
 * What a competent platform team would build on PostgreSQL 15 for gongxu's
 * job: firms, firm_certs, demands, offers and matches tables; offers keep their
 * process, material and IPC sets expanded with every ancestor (a text[] with a
 * GIN index), so "the offer covers every required term" is an array
 * containment; one GIN index per offer on match_terms (its kinds, expanded
 * processes and expanded materials, tagged k:/p:/m:) answers "offers of this
 * kind covering all these terms" in one index scan; open demands have a GIN
 * index on their required processes for the reverse direction (containment
 * the other way: demand terms <@ offer terms). Posting is ONE statement (one
 * implicit transaction, one round trip): insert the posting, select the eligible
 * postings of the other side with the hard rules of DESIGN.md §3 / src/rules.c
 * written in SQL, insert a match row per eligible pair and pg_notify a small JSON
 * payload on channel "firm_<USCC>" of each firm concerned; the commit makes the
 * notices visible. Pure string building: no I/O. */
#ifndef GX_BENCH_PG_SQL_H
#define GX_BENCH_PG_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define PG_SHORTLIST_K 10 /* gongxu's default shortlist length */

/* A growable byte buffer. */
typedef struct pg_buf {
    char *p;    /* len bytes, NUL-terminated when len > 0 */
    size_t len; /* bytes used */
    size_t cap; /* allocated */
} pg_buf;

int pg_buf_put(pg_buf *b, const char *s, size_t n); /* 0, or -1 out of memory */
int pg_buf_puts(pg_buf *b, const char *s);
int pg_buf_printf(pg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pg_buf_free(pg_buf *b);

/* The schema: tables, indexes and the small SQL functions the rules use. */
extern const char pg_schema_sql[];

/* Statement texts, malloc'd, caller frees. post_demand takes PG_DEMAND_NPARAMS
 * parameters (pg_demand_params), post_offer PG_OFFER_NPARAMS; both return one
 * row: the new posting's id, the number of matches, of opportunity notices (to
 * offer firms) and of candidate notices (to demand firms). With notify false the
 * notices are built but not sent (gx_no_notify): what NOTIFY itself costs. */
#define PG_DEMAND_NPARAMS 27
#define PG_OFFER_NPARAMS 25
char *pg_sql_post_demand(bool notify);
char *pg_sql_post_offer(bool notify);

/* INSERT INTO matches for the open demands with lo <= id < hi against all open
 * offers, at time now (unix seconds) / today (days): the preload's bulk match. */
char *pg_sql_bulk_match(int64_t now, int32_t today, int64_t lo, int64_t hi);

/* Text parameters for one posting; v[i] point into buf. */
typedef struct pg_params {
    const char *v[32]; /* parameter values, NULL = SQL NULL */
    int n;             /* count */
    pg_buf buf;        /* storage */
} pg_params;

/* Fills p for post_demand / post_offer: ref is the client's reference (the
 * workload index), now the posting time, today its civil date (UTC+8). */
int pg_demand_params(pg_params *p, const gx_demand *d, uint64_t ref, int64_t now, int32_t today);
int pg_offer_params(pg_params *p, const gx_offer *o, uint64_t ref, int64_t now, int32_t today);
void pg_params_free(pg_params *p);

/* COPY text-format lines (with the trailing newline) appended to b, for
 *   COPY firms (PG_FIRM_COLS), COPY firm_certs (PG_CERT_COLS),
 *   COPY demands (PG_DEMAND_COLS), COPY offers (PG_OFFER_COLS). */
extern const char PG_FIRM_COLS[], PG_CERT_COLS[], PG_DEMAND_COLS[], PG_OFFER_COLS[];
int pg_copy_firm(pg_buf *b, const gx_firm *f);
int pg_copy_certs(pg_buf *b, const gx_firm *f);
int pg_copy_demand(pg_buf *b, const gx_demand *d, uint64_t ref, int64_t now);
int pg_copy_offer(pg_buf *b, const gx_offer *o, uint64_t ref, int64_t now);

#endif
