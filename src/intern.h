/* intern.h — strings to small stable integer ids.
 *
 * An intern table gives every distinct byte string it is shown one id, 1, 2,
 * 3, ... in order of first sight; the same bytes always get the same id, and
 * an id never changes or goes away while the table lives (nothing is ever
 * removed: it grows with the distinct strings seen, which for the matching
 * engine are vocabulary codes, IPC codes, districts and firm ids). 0 is never
 * an id, so callers may use it for "none". Ids compare as the strings do for
 * equality only (not order). The table owns copies of its strings.
 *
 * Embedded by its owner (init/fini); no global state. Not thread-safe: one
 * owner calls it, or callers hold the owner's lock. Lookups hash the bytes
 * (FNV-1a) into an open-addressed table kept at most half full. */
#ifndef GX_INTERN_H
#define GX_INTERN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct gx_intern {
    char *bytes;    /* the strings back to back, each NUL-terminated */
    size_t len;     /* bytes used */
    size_t cap;     /* bytes allocated */
    size_t *off;    /* off[id]: where string id starts in bytes ([0] unused) */
    uint32_t *hash; /* hash[id]: its hash, low 32 bits (rehash without rereading) */
    size_t id_cap;  /* entries allocated in off and hash */
    uint32_t n;     /* ids handed out: 1..n */
    uint32_t *slot; /* open-addressed table of ids, 0 = empty */
    size_t n_slot;  /* slots, a power of two (0 before the first id) */
} gx_intern;

/* An empty table (no allocation until the first id). */
void gx_intern_init(gx_intern *t);

/* Releases everything; t is left empty and may be init'ed again. Tolerates
 * a zeroed table. */
void gx_intern_fini(gx_intern *t);

/* The id of bytes p[0..len) (p may be NULL when len is 0), adding them when
 * new. GX_ERR_NOMEM (the table unchanged) when memory runs out or the table
 * already holds UINT32_MAX - 1 strings. */
gx_err gx_intern_id(gx_intern *t, const char *p, size_t len, uint32_t *id);

/* The id of p[0..len) when the table holds it, else 0. Never adds. */
uint32_t gx_intern_find(const gx_intern *t, const char *p, size_t len);

/* The string of id (NUL-terminated; *len its length when len is not NULL),
 * or NULL for 0 or an id not handed out. Valid until the next gx_intern_id
 * (which may move the strings) or fini. */
const char *gx_intern_str(const gx_intern *t, uint32_t id, size_t *len);

/* Ids handed out so far. */
uint32_t gx_intern_count(const gx_intern *t);

#endif
