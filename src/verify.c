/* verify.c — gongxud --verify. See verify.h. */
#include "verify.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "codec.h"
#include "fedseal.h"
#include "inbox.h"
#include "model.h"
#include "owned.h"
#include "store.h"

#define S_SHOW_MAX 20 /* problems named one by one; the rest are counted */
#define S_DOCK_LEN (8 + GX_FIRM_ID_LEN)
#define S_INBOX_KEY (GX_FIRM_ID_LEN + 8)
#define S_CURSOR_LEN 24
#define S_FIRST_LEN (8 + 8 + GX_COUNTY_LEN)
#define S_KEY_REC_MIN (GX_FIRM_ID_LEN + 1)

typedef struct s_ids {
    uint64_t *v; /* in increasing order: the store's key order */
    size_t n, cap;
} s_ids;

typedef struct s_firms {
    char *v;        /* n ids of GX_FIRM_ID_LEN bytes, in key order */
    uint16_t *home; /* and each one's home city (federation: 0 for this broker's own) */
    size_t n, cap, home_cap;
} s_firms;

typedef struct s_verify {
    FILE *out;
    gx_table table;                /* table being walked */
    uint64_t records[GX_T__COUNT]; /* per table */
    uint64_t bad[GX_T__COUNT];     /* records that do not decode or have the wrong shape */
    uint64_t broken;               /* references that do not resolve */
    unsigned shown;                /* problems printed */
    uint64_t counter;              /* META id:posting, the last posting id handed out */
    bool has_counter;
    s_firms firms;
    s_ids demands, offers;
    bool indexed;                  /* META owner_index: the owner index is kept */
    unsigned city;                 /* the city of the first outbox record (federation), 0: none yet */
    gx_table remote_table;         /* where remote_firm was last found with a record of its own */
    char remote_firm[GX_FIRM_ID_LEN];
    gx_txn *t;                     /* the walk's read transaction */
    bool oom;
} s_verify;

static void s_problem(s_verify *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_problem(s_verify *v, const char *fmt, ...)
{
    if (v->shown++ >= S_SHOW_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(v->out, "  %s: ", gx_store_table_name(v->table));
    vfprintf(v->out, fmt, ap);
    fputc('\n', v->out);
    va_end(ap);
}

/* A record of the wrong shape. */
static void s_bad(s_verify *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_bad(s_verify *v, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    v->bad[v->table]++;
    s_problem(v, "bad record: %s", msg);
}

static void s_push_id(s_verify *v, s_ids *ids, uint64_t id)
{
    if (gx_grow(&ids->v, &ids->cap, ids->n + 1, sizeof *ids->v)) {
        v->oom = true;
        return;
    }
    ids->v[ids->n++] = id;
}

static bool s_has_id(const s_ids *ids, uint64_t id)
{
    size_t lo = 0, hi = ids->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids->v[mid] == id)
            return true;
        if (ids->v[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* The firm's place in v->firms, or -1. */
static long s_find_firm(const s_verify *v, const void *id)
{
    size_t lo = 0, hi = v->firms.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(v->firms.v + mid * GX_FIRM_ID_LEN, id, GX_FIRM_ID_LEN);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static bool s_has_firm(const s_verify *v, const void *id)
{
    return s_find_firm(v, id) >= 0;
}

/* The home city of a firm that exists (0: this broker's own, or unknown). */
static unsigned s_home(const s_verify *v, const void *id)
{
    long i = s_find_firm(v, id);
    return i < 0 ? 0 : v->firms.home[i];
}

/* A firm of another city (federation) has no keys, inbox or cursor here:
 * its sessions and notices are its home broker's. */
static void s_not_remote(s_verify *v, const char *what, const void *firm)
{
    unsigned home = s_home(v, firm);
    /* an inbox's records follow one another: one problem per firm, not per notice */
    if (home && v->table == v->remote_table && memcmp(v->remote_firm, firm, GX_FIRM_ID_LEN) == 0)
        return;
    if (home) {
        v->remote_table = v->table;
        memcpy(v->remote_firm, firm, GX_FIRM_ID_LEN);
        v->broken++;
        s_problem(v, "%s is of firm %.18s, which is city %u's (a remote firm has no %s here)", what,
                  (const char *)firm, home,
                  v->table == GX_T_KEYS    ? "keys"
                  : v->table == GX_T_INBOX ? "inbox"
                                           : "inbox cursor");
    }
}

/* Reference checks: each names what refers, and to what. */
static void s_ref_firm(s_verify *v, const char *what, const void *firm)
{
    if (!s_has_firm(v, firm)) {
        v->broken++;
        s_problem(v, "%s names firm %.18s, which does not exist", what, (const char *)firm);
    }
}

static void s_ref_posting(s_verify *v, const char *what, const char *kind, const s_ids *ids, uint64_t id)
{
    if (id && !s_has_id(ids, id)) {
        v->broken++;
        s_problem(v, "%s names %s %llu, which does not exist", what, kind, (unsigned long long)id);
    }
}

static void s_check_id(s_verify *v, const char *what, uint64_t id)
{
    /* a remote posting (federation) carries its home city above bit 48 and another broker's counter below */
    if (v->has_counter && !GX_FED_CITY_OF(id) && id > v->counter) {
        v->broken++;
        s_problem(v, "%s is beyond the posting counter (%llu)", what, (unsigned long long)v->counter);
    }
}

static void s_meta(s_verify *v, const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
    if (klen == 6 && memcmp(key, "schema", 6) == 0) {
        if (vlen != 4)
            s_bad(v, "schema: %zu bytes, want 4", vlen);
    } else if (klen == 11 && memcmp(key, "owner_index", 11) == 0) {
        v->indexed = true;
    } else if (klen == 8 && memcmp(key, "store_id", 8) == 0) {
        if (vlen != GX_STORE_ID_LEN)
            s_bad(v, "store_id: %zu bytes, want %d", vlen, GX_STORE_ID_LEN);
    } else if (klen == 8 && memcmp(key, "snapshot", 8) == 0) {
        if (vlen != 8)
            s_bad(v, "snapshot mark: %zu bytes, want 8", vlen);
    } else if (klen > 3 && memcmp(key, "id:", 3) == 0) {
        if (vlen != 8) {
            s_bad(v, "counter %.*s: %zu bytes, want 8", (int)klen, (const char *)key, vlen);
        } else if (klen == 10 && memcmp(key, "id:posting", 10) == 0) {
            v->counter = gx_store_from_be64(val);
            v->has_counter = true;
        }
    }
}

static void s_firm(s_verify *v, const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
    gx_firm f;
    if (klen != GX_FIRM_ID_LEN) {
        s_bad(v, "key of %zu bytes, want %d", klen, GX_FIRM_ID_LEN);
        return;
    }
    if (gx_codec_decode_firm(val, vlen, &f) != GX_OK) {
        s_bad(v, "firm %.18s does not decode", (const char *)key);
        return;
    }
    if (memcmp(f.id, key, GX_FIRM_ID_LEN) != 0 || f.id[GX_FIRM_ID_LEN])
        s_bad(v, "firm %.18s holds the record of firm %s", (const char *)key, f.id);
    uint16_t home = f.home_city;
    gx_firm_fini(&f);
    if (gx_grow(&v->firms.v, &v->firms.cap, (v->firms.n + 1) * GX_FIRM_ID_LEN, 1) ||
        gx_grow(&v->firms.home, &v->firms.home_cap, v->firms.n + 1, sizeof *v->firms.home)) {
        v->oom = true;
        return;
    }
    v->firms.home[v->firms.n] = home;
    memcpy(v->firms.v + v->firms.n++ * GX_FIRM_ID_LEN, key, GX_FIRM_ID_LEN);
}

static uint8_t s_owned_kind(gx_table tb)
{
    return tb == GX_T_DEMANDS ? GX_OWNED_DEMAND : tb == GX_T_OFFERS ? GX_OWNED_OFFER : GX_OWNED_SUB;
}

/* A posting is listed under its owner, in the range of its state. */
static void s_owned_has(s_verify *v, const char *what, const char *owner, gx_table tb, gx_state state, uint64_t id)
{
    if (!v->indexed)
        return; /* an older build's store, indexed at its next start */
    uint8_t k[GX_OWNED_KEY_LEN];
    const void *val;
    size_t vlen;
    gx_owned_key(k, owner, s_owned_kind(tb), state != GX_STATE_OPEN, id);
    if (gx_store_get(v->t, GX_T_OWNED, k, sizeof k, &val, &vlen) != GX_OK) {
        v->broken++;
        s_problem(v, "%s (%s) is missing from its owner's index", what, gx_state_name(state));
    }
}

/* owned: firm id + kind + closed + posting id -> state; the posting must be
 * that firm's, of that kind, in that state. */
static void s_owned(s_verify *v, const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
    if (klen != GX_OWNED_KEY_LEN || vlen != 1 || key[GX_FIRM_ID_LEN] < GX_OWNED_DEMAND ||
        key[GX_FIRM_ID_LEN] > GX_OWNED_SUB || key[GX_FIRM_ID_LEN + 1] > 1) {
        s_bad(v, "key of %zu bytes and value of %zu, want %d and 1, kind 1..3, closed 0 or 1", klen, vlen,
              GX_OWNED_KEY_LEN);
        return;
    }
    static const gx_table tables[] = {0, GX_T_DEMANDS, GX_T_OFFERS, GX_T_SUBS};
    static const char *const kinds[] = {"", "demand", "offer", "subscription"};
    uint8_t kind = key[GX_FIRM_ID_LEN];
    bool closed = key[GX_FIRM_ID_LEN + 1];
    uint64_t id = gx_store_from_be64(key + GX_FIRM_ID_LEN + 2);
    uint8_t k8[8];
    gx_store_be64(k8, id);
    const void *rec;
    size_t rlen;
    char what[96];
    snprintf(what, sizeof what, "the index entry of %.18s for %s %llu", (const char *)key, kinds[kind],
             (unsigned long long)id);
    if (gx_store_get(v->t, tables[kind], k8, 8, &rec, &rlen) != GX_OK) {
        v->broken++;
        s_problem(v, "%s names a posting that does not exist", what);
        return;
    }
    gx_state state = GX_STATE_OPEN;
    char owner[GX_FIRM_ID_LEN + 1] = "";
    gx_err err;
    if (kind == GX_OWNED_DEMAND) {
        gx_demand d;
        if (!(err = gx_codec_decode_demand(rec, rlen, &d)))
            state = d.state, memcpy(owner, d.owner, sizeof owner), gx_demand_fini(&d);
    } else if (kind == GX_OWNED_OFFER) {
        gx_offer o;
        if (!(err = gx_codec_decode_offer(rec, rlen, &o)))
            state = o.state, memcpy(owner, o.owner, sizeof owner), gx_offer_fini(&o);
    } else {
        gx_sub s;
        if (!(err = gx_codec_decode_sub(rec, rlen, &s)))
            memcpy(owner, s.owner, sizeof owner), gx_sub_fini(&s);
    }
    if (err)
        return; /* counted as a bad record where it lives */
    if (memcmp(owner, key, GX_FIRM_ID_LEN) != 0 || closed != (state != GX_STATE_OPEN) ||
        *(const uint8_t *)val != (uint8_t)state) {
        v->broken++;
        s_problem(v, "%s disagrees with the posting (owner %s, %s)", what, owner, gx_state_name(state));
    }
}

static void s_posting(s_verify *v, const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
    static const char *const kinds[] = {
        [GX_T_DEMANDS] = "demand", [GX_T_OFFERS] = "offer", [GX_T_SUBS] = "subscription"};
    const char *kind = kinds[v->table];
    if (klen != 8) {
        s_bad(v, "key of %zu bytes, want 8", klen);
        return;
    }
    uint64_t id = gx_store_from_be64(key), got = 0;
    char owner[GX_FIRM_ID_LEN + 1] = "";
    gx_state state = GX_STATE_OPEN;
    gx_err err;
    if (v->table == GX_T_DEMANDS) {
        gx_demand d;
        if (!(err = gx_codec_decode_demand(val, vlen, &d))) {
            got = d.id;
            state = d.state;
            memcpy(owner, d.owner, sizeof owner);
            gx_demand_fini(&d);
        }
    } else if (v->table == GX_T_OFFERS) {
        gx_offer o;
        if (!(err = gx_codec_decode_offer(val, vlen, &o))) {
            got = o.id;
            state = o.state;
            memcpy(owner, o.owner, sizeof owner);
            gx_offer_fini(&o);
        }
    } else {
        gx_sub s;
        if (!(err = gx_codec_decode_sub(val, vlen, &s))) {
            got = s.id;
            memcpy(owner, s.owner, sizeof owner);
            gx_sub_fini(&s);
        }
    }
    owner[GX_FIRM_ID_LEN] = '\0';
    if (err) {
        s_bad(v, "%s %llu does not decode", kind, (unsigned long long)id);
        return;
    }
    if (got != id) {
        s_bad(v, "%s %llu holds the record of %s %llu", kind, (unsigned long long)id, kind,
              (unsigned long long)got);
        return;
    }
    char what[64];
    snprintf(what, sizeof what, "%s %llu", kind, (unsigned long long)id);
    if (strlen(owner) != GX_FIRM_ID_LEN) {
        v->broken++;
        s_problem(v, "%s has no owner", what);
    } else {
        s_ref_firm(v, what, owner);
        s_owned_has(v, what, owner, v->table, state, id);
        /* federation: a remote posting's owner is a firm of its city, a local one's is ours */
        unsigned home = s_home(v, owner), city = GX_FED_CITY_OF(id);
        if (s_has_firm(v, owner) && home != city) {
            v->broken++;
            if (city)
                s_problem(v, "%s is city %u's, but its owner %s is %s", what, city, owner,
                          home ? "another city's" : "this broker's own");
            else
                s_problem(v, "%s is this broker's own, but its owner %s is city %u's", what, owner, home);
        }
    }
    s_check_id(v, what, id);
    if (v->table == GX_T_DEMANDS)
        s_push_id(v, &v->demands, id);
    else if (v->table == GX_T_OFFERS)
        s_push_id(v, &v->offers, id);
}

static void s_inbox(s_verify *v, const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
    uint64_t d = 0, o = 0;
    if (klen != S_INBOX_KEY) {
        s_bad(v, "key of %zu bytes, want %d", klen, S_INBOX_KEY);
        return;
    }
    char what[64];
    snprintf(what, sizeof what, "notice %llu of %.18s",
             (unsigned long long)gx_store_from_be64(key + GX_FIRM_ID_LEN), (const char *)key);
    gx_fact f;
    if (gx_fact_is(val, vlen)) { /* a fact (inbox.h); older records are whole Envelopes */
        if (gx_fact_decode(val, vlen, &f) != GX_OK) {
            s_bad(v, "%s does not decode (a damaged fact of %zu bytes)", what, vlen);
            return;
        }
        d = f.demand_id;
        o = f.offer_id;
        if (f.fields & GX_FACT_FIRM)
            s_ref_firm(v, what, (const uint8_t *)f.firm);
    } else if (gx_codec_notice_refs(val, vlen, &d, &o) != GX_OK) {
        s_bad(v, "%s does not decode", what);
        return;
    }
    s_ref_firm(v, what, key);
    s_not_remote(v, what, key);
    s_ref_posting(v, what, "demand", &v->demands, d);
    s_ref_posting(v, what, "offer", &v->offers, o);
}

static void s_cursor(s_verify *v, const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
    if (klen != GX_FIRM_ID_LEN || vlen != S_CURSOR_LEN) {
        s_bad(v, "key of %zu bytes and value of %zu, want %d and %d", klen, vlen, GX_FIRM_ID_LEN,
              S_CURSOR_LEN);
        return;
    }
    const uint8_t *p = val;
    uint64_t head = gx_store_from_be64(p), acked = gx_store_from_be64(p + 8),
             pruned = gx_store_from_be64(p + 16);
    if (acked > head || pruned > head)
        s_bad(v, "inbox cursor of %.18s: head %llu, acked %llu, pruned %llu", (const char *)key,
              (unsigned long long)head, (unsigned long long)acked, (unsigned long long)pruned);
    char what[64];
    snprintf(what, sizeof what, "the inbox cursor of %.18s", (const char *)key);
    s_ref_firm(v, what, key);
    s_not_remote(v, what, key);
}

/* docking and told: demand id + firm id -> a few bytes */
static void s_pair(s_verify *v, const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
    bool dock = v->table == GX_T_DOCKING;
    size_t want = dock ? 9 : 2;
    if (klen != S_DOCK_LEN || vlen < want) {
        s_bad(v, "key of %zu bytes and value of %zu, want %d and at least %zu", klen, vlen, S_DOCK_LEN, want);
        return;
    }
    uint64_t d = gx_store_from_be64(key);
    char what[96];
    snprintf(what, sizeof what, "the %s row of demand %llu and %.18s", dock ? "docking" : "told",
             (unsigned long long)d, (const char *)key + 8);
    s_ref_posting(v, what, "demand", &v->demands, d ? d : UINT64_MAX);
    s_ref_firm(v, what, key + 8);
    if (dock)
        s_ref_posting(v, what, "offer", &v->offers, gx_store_from_be64((const uint8_t *)val + 1));
}

static void s_key(s_verify *v, const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
    if (klen != GX_KEY_LEN || vlen < S_KEY_REC_MIN) {
        s_bad(v, "key of %zu bytes and value of %zu, want %d and at least %d", klen, vlen, GX_KEY_LEN,
              S_KEY_REC_MIN);
        return;
    }
    char what[80];
    snprintf(what, sizeof what, "key %.40s", (const char *)key);
    s_ref_firm(v, what, val);
    s_not_remote(v, what, val);
}

static void s_first(s_verify *v, const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
    if (klen != 8 || vlen != S_FIRST_LEN) {
        s_bad(v, "key of %zu bytes and value of %zu, want 8 and %d", klen, vlen, S_FIRST_LEN);
        return;
    }
    uint64_t d = gx_store_from_be64(key);
    char what[64];
    snprintf(what, sizeof what, "the first match of demand %llu", (unsigned long long)d);
    s_ref_posting(v, what, "demand", &v->demands, d ? d : UINT64_MAX);
    s_ref_posting(v, what, "offer", &v->offers, gx_store_from_be64((const uint8_t *)val + 8));
}

/* A change log entry (store.h): txnid, a logged table and its key; a flag and
 * the record the key held before, which must decode as one of that table. */
static void s_change(s_verify *v, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    if (klen < 10 || !gx_store_logged((gx_table)key[8])) {
        s_bad(v, "change log key of %zu bytes names no logged table", klen);
        return;
    }
    if (vlen < 1 || val[0] > 1 || (val[0] == 0 && vlen != 1)) {
        s_bad(v, "change log entry of transaction %llu: a value of %zu bytes is not (flag, record)",
              (unsigned long long)gx_store_from_be64(key), vlen);
        return;
    }
    if (val[0] == 0)
        return;
    gx_firm f;
    gx_demand d;
    gx_offer o;
    gx_err err = key[8] == GX_T_FIRMS     ? gx_codec_decode_firm(val + 1, vlen - 1, &f)
                 : key[8] == GX_T_DEMANDS ? gx_codec_decode_demand(val + 1, vlen - 1, &d)
                                          : gx_codec_decode_offer(val + 1, vlen - 1, &o);
    if (err) {
        s_bad(v, "change log entry of transaction %llu: the %s it keeps does not decode",
              (unsigned long long)gx_store_from_be64(key), gx_store_table_name((gx_table)key[8]));
        return;
    }
    if (key[8] == GX_T_FIRMS)
        gx_firm_fini(&f);
    else if (key[8] == GX_T_DEMANDS)
        gx_demand_fini(&d);
    else
        gx_offer_fini(&o);
}

/* fed_outbox: sequence -> a FedMessage of this city waiting for JetStream,
 * about this broker's own firm and posting. The city is the first record's;
 * every record must be of the same. */
static void s_outbox(s_verify *v, const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
    if (klen != 8) {
        s_bad(v, "key of %zu bytes, want 8", klen);
        return;
    }
    uint64_t seq = gx_store_from_be64(key);
    gx_fed_msg m;
    if (gx_codec_decode_fed(val, vlen, &m) != GX_OK) {
        s_bad(v, "outbox record %llu does not decode as a FedMessage", (unsigned long long)seq);
        return;
    }
    const gx_demand *d = m.kind == GX_FED_DEMAND ? m.demand : NULL;
    const gx_offer *o = m.kind == GX_FED_OFFER ? m.offer : NULL;
    char county[5] = "";
    if (m.owner)
        snprintf(county, sizeof county, "%.4s", m.owner->county);
    if (!v->city && m.origin_city >= 1000 && m.origin_city <= 9999)
        v->city = m.origin_city;
    if (m.origin_city != v->city || m.origin_city < 1000)
        s_bad(v, "outbox record %llu is city %u's, not this broker's (city %u)", (unsigned long long)seq,
              m.origin_city, v->city);
    else if (m.kind == GX_FED_CITY_KEY) { /* this broker's public key, for every city */
        if (!m.has_key || m.dest_city)
            s_bad(v, "outbox record %llu: a city key without its 32-byte key or for one city",
                  (unsigned long long)seq);
    } else if (m.kind >= GX_FED_INTEREST && m.kind <= GX_FED_AWARDED) {
        /* docking (feddock.h): for one other city, about a demand, the rest
         * (the firm among it) sealed to that city's key: only the cities,
         * the demand id and the box can be checked here */
        if (m.dest_city < 1000 || m.dest_city > 9999 || m.dest_city == m.origin_city)
            s_bad(v, "outbox record %llu: docking message for city %u", (unsigned long long)seq, m.dest_city);
        else if (m.origin_id == 0 || m.origin_id >= GX_FED_LOCAL_MAX)
            s_bad(v, "outbox record %llu: docking message about demand %llu, out of range",
                  (unsigned long long)seq, (unsigned long long)m.origin_id);
        else if (m.sealed_len < GX_FEDSEAL_OVERHEAD)
            s_bad(v, "outbox record %llu: docking message without its sealed part", (unsigned long long)seq);
        else if (m.owner || m.demand || m.offer)
            s_bad(v, "outbox record %llu: docking message with a posting or profile in clear",
                  (unsigned long long)seq);
    } else if (m.kind < GX_FED_DEMAND || m.kind > GX_FED_FIRM || !m.owner ||
               (m.kind == GX_FED_DEMAND && !d) || (m.kind == GX_FED_OFFER && !o))
        s_bad(v, "outbox record %llu: kind %u without its posting or owner", (unsigned long long)seq, m.kind);
    else if ((unsigned)atoi(county) != m.origin_city || m.owner->home_city != m.origin_city)
        s_bad(v, "outbox record %llu: owner %s (county %s) is not a firm of city %u", (unsigned long long)seq,
              m.owner->id, m.owner->county, m.origin_city);
    else if (m.kind != GX_FED_FIRM && (m.origin_id == 0 || m.origin_id >= GX_FED_LOCAL_MAX ||
                                       strcmp(d ? d->owner : o->owner, m.owner->id) != 0))
        s_bad(v, "outbox record %llu: posting %llu is not this broker's posting of %s",
              (unsigned long long)seq, (unsigned long long)m.origin_id, m.owner->id);
    else {
        char what[64];
        snprintf(what, sizeof what, "outbox record %llu", (unsigned long long)seq);
        s_ref_firm(v, what, m.owner->id);
        if (s_home(v, m.owner->id)) {
            v->broken++;
            s_problem(v, "%s is about firm %s, which is city %u's", what, m.owner->id,
                      s_home(v, m.owner->id));
        }
    }
    gx_codec_fed_fini(&m);
}

/* fed_applied: stream name (letters, digits, - and _) -> u64 BE sequence. */
static void s_applied(s_verify *v, const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
    bool name = klen > 0 && klen <= 255;
    for (size_t i = 0; name && i < klen; i++)
        name = (key[i] >= '0' && key[i] <= '9') || (key[i] >= 'A' && key[i] <= 'Z') ||
               (key[i] >= 'a' && key[i] <= 'z') || key[i] == '-' || key[i] == '_';
    if (!name || vlen != 8)
        s_bad(v, "applied sequence: key of %zu bytes%s and value of %zu, want a stream name and 8", klen,
              name ? "" : " (not a stream name)", vlen);
}

static bool s_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    s_verify *v = ctx;
    v->records[v->table]++;
    switch (v->table) {
    case GX_T_META:
        s_meta(v, key, klen, val, vlen);
        break;
    case GX_T_FIRMS:
        s_firm(v, key, klen, val, vlen);
        break;
    case GX_T_DEMANDS:
    case GX_T_OFFERS:
    case GX_T_SUBS:
        s_posting(v, key, klen, val, vlen);
        break;
    case GX_T_INBOX:
        s_inbox(v, key, klen, val, vlen);
        break;
    case GX_T_CURSORS:
        s_cursor(v, key, klen, val, vlen);
        break;
    case GX_T_DOCKING:
    case GX_T_TOLD:
        s_pair(v, key, klen, val, vlen);
        break;
    case GX_T_KEYS:
        s_key(v, key, klen, val, vlen);
        break;
    case GX_T_FIRST:
        s_first(v, key, klen, val, vlen);
        break;
    case GX_T_OWNED:
        s_owned(v, key, klen, val, vlen);
        break;
    case GX_T_CHANGES:
        s_change(v, key, klen, val, vlen);
        break;
    case GX_T_OUTBOX:
        s_outbox(v, key, klen, val, vlen);
        break;
    case GX_T_FEDSEQ:
        s_applied(v, key, klen, val, vlen);
        break;
    default:
        break;
    }
    return !v->oom;
}

int gx_verify_dir(const char *dir, FILE *out)
{
    gx_store_opts o = {.dir = dir, .read_only = true};
    gx_store *s = NULL;
    gx_err err = gx_store_open(&o, &s);
    if (err == GX_ERR_MALFORMED) {
        fprintf(out, "DAMAGED: %s\n", gx_store_last_error(NULL));
        return GX_VERIFY_DAMAGED;
    }
    if (err) {
        fprintf(out, "cannot verify %s: %s\n", dir, gx_store_last_error(NULL));
        return GX_VERIFY_CANNOT;
    }
    s_verify v = {.out = out};
    gx_txn *t = NULL;
    int status = GX_VERIFY_HEALTHY;
    bool walk_failed = false;
    if ((err = gx_store_begin(s, false, &t))) {
        fprintf(out, "cannot verify %s: %s\n", dir, gx_store_last_error(s));
        status = GX_VERIFY_CANNOT;
        goto out;
    }
    v.t = t;
    const uint8_t *id = gx_store_id(s);
    size_t map = 0, used = 0;
    gx_store_usage(s, &map, &used);
    fprintf(out, "verifying %s: store identity ", dir);
    for (int i = 0; i < GX_STORE_ID_LEN; i++)
        fprintf(out, "%02x", id[i]);
    fprintf(out, "%s, transaction %llu, %zu bytes in use\n",
            memcmp(id, (const uint8_t[GX_STORE_ID_LEN]){0}, GX_STORE_ID_LEN) == 0
                ? " (none yet: an older build)"
                : "",
            (unsigned long long)gx_store_txnid(s), used);
    /* referenced tables before the ones that refer to them */
    static const gx_table order[] = {GX_T_META,  GX_T_FIRMS,   GX_T_DEMANDS, GX_T_OFFERS, GX_T_SUBS,
                                     GX_T_INBOX, GX_T_CURSORS, GX_T_DOCKING, GX_T_TOLD,   GX_T_KEYS,
                                     GX_T_FIRST, GX_T_OWNED,   GX_T_CHANGES, GX_T_OUTBOX, GX_T_FEDSEQ};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        v.table = order[i];
        err = gx_store_scan(t, v.table, NULL, 0, NULL, 0, s_visit, &v);
        if (v.oom) {
            fprintf(out, "cannot verify %s: out of memory\n", dir);
            status = GX_VERIFY_CANNOT;
            goto out;
        }
        if (err) {
            walk_failed = true;
            s_problem(&v, "the walk stopped after %llu records: %s", (unsigned long long)v.records[v.table],
                      gx_store_last_error(s));
        }
    }
    if (v.shown > S_SHOW_MAX)
        fprintf(out, "  ... and %u more problems\n", v.shown - S_SHOW_MAX);
    fprintf(out, "%-12s %12s %8s\n", "table", "records", "bad");
    uint64_t bad = 0;
    for (int i = 0; i < GX_T__COUNT; i++) {
        fprintf(out, "%-12s %12llu %8llu%s\n", gx_store_table_name((gx_table)i),
                (unsigned long long)v.records[i], (unsigned long long)v.bad[i],
                gx_store_table_missing(s, (gx_table)i) ? "  (no table: an older build)" : "");
        bad += v.bad[i];
    }
    fprintf(out, "cross-references: %llu broken\n", (unsigned long long)v.broken);
    if (bad || v.broken || walk_failed) {
        fprintf(out, "DAMAGED: %llu bad records, %llu broken references%s\n", (unsigned long long)bad,
                (unsigned long long)v.broken, walk_failed ? ", a table could not be read to its end" : "");
        status = GX_VERIFY_DAMAGED;
    } else {
        fprintf(out, "healthy: every record decodes and every reference resolves\n");
    }
out:
    gx_store_abort(&t);
    gx_store_close(&s);
    free(v.firms.v);
    free(v.firms.home);
    free(v.demands.v);
    free(v.offers.v);
    return status;
}
