/* model.h — the domain: firms, demands, offers, subscriptions, explanations.
 *
 * Plain C structs shared by the matching engine, the codec and the broker; no
 * I/O and no foreign types. Enum values equal the wire enums of
 * proto/gongxu/v1/gongxu.proto so the codec maps them by range check only.
 *
 * Ownership: every char* and array inside a struct is owned by that struct and
 * released by its *_fini(), which zeroes the struct and tolerates a zeroed or
 * half-built one. Codes held here are canonical (aliases already resolved by the
 * vocabulary) so the engine compares them as plain strings. */
#ifndef GX_MODEL_H
#define GX_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define GX_FIRM_ID_LEN 18   /* Unified Social Credit Code */
#define GX_COUNTY_LEN 6     /* GB/T 2260 */

typedef enum gx_kind {
    GX_KIND_NONE = 0,
    GX_KIND_PARTS_SUPPLY = 1,
    GX_KIND_PROCESSING = 2,
    GX_KIND_INTERMEDIATE_GOODS = 3,
    GX_KIND_TECH_TRANSFER = 4,
    GX_KIND_SERVICE_OUTSOURCING = 5,
    GX_KIND__COUNT
} gx_kind;
#define GX_BIT(v) (1u << (unsigned)(v))   /* bitmask of kinds, roles, modes */

/* Lower is better; NONE means not graded. */
typedef enum gx_credit {
    GX_CREDIT_NONE = 0,
    GX_CREDIT_A = 1,
    GX_CREDIT_B = 2,
    GX_CREDIT_C = 3,
    GX_CREDIT_D = 4, /* joint-penalty list */
} gx_credit;

typedef enum gx_scope {
    GX_SCOPE_NONE = 0, /* treated as ANYWHERE */
    GX_SCOPE_SAME_DISTRICT = 1,
    GX_SCOPE_THREE_DISTRICTS = 2,
    GX_SCOPE_SAME_CITY = 3,
    GX_SCOPE_SAME_PROVINCE = 4,
    GX_SCOPE_ANYWHERE = 5,
} gx_scope;

typedef enum gx_mode {
    GX_MODE_NONE = 0,
    GX_MODE_LICENCE = 1,
    GX_MODE_ASSIGNMENT = 2,
    GX_MODE_JOINT_DEVELOPMENT = 3,
} gx_mode;

typedef enum gx_state {
    GX_STATE_NONE = 0,
    GX_STATE_OPEN = 1,
    GX_STATE_AWARDED = 2,
    GX_STATE_WITHDRAWN = 3,
    GX_STATE_EXPIRED = 4,
} gx_state;

typedef enum gx_role {
    GX_ROLE_NONE = 0,
    GX_ROLE_ANCHOR = 1,
    GX_ROLE_SME = 2,
    GX_ROLE_OPERATOR = 3,
} gx_role;

/* Hard rules, in explanation order (DESIGN.md §3). */
typedef enum gx_rule {
    GX_RULE_NONE = 0,
    GX_RULE_KIND = 1,
    GX_RULE_PROCESS = 2,
    GX_RULE_MATERIAL = 3,
    GX_RULE_TECHNOLOGY = 4,
    GX_RULE_CERTIFICATION = 5,
    GX_RULE_LEAD_TIME = 6,
    GX_RULE_MIN_ORDER = 7,
    GX_RULE_CAPACITY = 8,
    GX_RULE_REGION = 9,
    GX_RULE_DISTANCE = 10,
    GX_RULE_CREDIT = 11,
    GX_RULE_PRICE = 12,
    GX_RULE_VALIDITY = 13,
    GX_RULE__COUNT
} gx_rule;

/* Score terms, each valued 0..1 and weighted by configuration. */
typedef enum gx_term {
    GX_TERM_INDUSTRY = 0,
    GX_TERM_PROCESS,
    GX_TERM_DISTANCE,
    GX_TERM_CREDIT,
    GX_TERM_CAPACITY,
    GX_TERM_LEAD_TIME,
    GX_TERM_PRICE,
    GX_TERM_TRACK_RECORD,
    GX_TERM__COUNT
} gx_term;

/* Why an offer left a shortlist or a pair stopped matching. Wire RemovedReason. */
typedef enum gx_reason {
    GX_REASON_NONE = 0,
    GX_REASON_DISPLACED = 1,
    GX_REASON_OFFER_WITHDRAWN = 2,
    GX_REASON_OFFER_UPDATED = 3,
    GX_REASON_OFFER_EXPIRED = 4,
    GX_REASON_DEMAND_CHANGED = 5,
    GX_REASON_FIRM_CHANGED = 6,
} gx_reason;

/* A growable vector of owned strings. */
typedef struct gx_strv {
    char **v;   /* n owned strings */
    uint32_t n; /* count */
} gx_strv;

typedef struct gx_cert {
    char *scheme;        /* canonical vocabulary id, e.g. "IATF16949" */
    char *number;        /* certificate number, may be empty */
    int32_t valid_until; /* days since 1970-01-01, inclusive */
} gx_cert;

typedef struct gx_firm {
    char id[GX_FIRM_ID_LEN + 1];     /* USCC, NUL-terminated */
    char *name;                      /* display name */
    uint32_t roles;                  /* GX_BIT(gx_role) set */
    char county[GX_COUNTY_LEN + 1];  /* GB/T 2260 county code */
    char *zone;                      /* zone id, NULL when the firm is in none */
    bool has_location;               /* lat/lon valid */
    double lat, lon;                 /* WGS 84 degrees */
    gx_credit credit;                /* public credit grade */
    gx_cert *certs;                  /* n_certs owned certifications */
    uint32_t n_certs;                /* count of certs */
    char *contact;                   /* released only after docking; may be NULL */
    uint32_t awards;                 /* awards won: the track record */
    uint8_t lang;                    /* gx_lang (msg.h) its notices are written in; 0 = zh-CN */
    uint16_t home_city;              /* 0: this broker's firm; else the city whose broker it belongs to
                                        (federation: a remote posting's owner, public profile only) */
} gx_firm;

/* Federation ids: a posting from city C keeps its identity elsewhere as
 * C << 48 | its id there; local ids stay below 2^48, so id >> 48 is the
 * posting's home city, 0 for this broker's own. */
#define GX_FED_ID_SHIFT 48
#define GX_FED_LOCAL_MAX ((uint64_t)1 << GX_FED_ID_SHIFT)
#define GX_FED_CITY_OF(id) ((unsigned)((uint64_t)(id) >> GX_FED_ID_SHIFT))

typedef struct gx_demand {
    uint64_t id;                     /* broker-assigned */
    uint32_t revision;               /* 1 on post, +1 per update */
    gx_state state;                  /* OPEN until awarded/withdrawn/expired */
    char owner[GX_FIRM_ID_LEN + 1];  /* posting firm */
    gx_kind kind;                    /* what is needed */
    char *industry;                  /* GB/T 4754 code, e.g. "C3670" */
    gx_strv processes;               /* required process ids */
    gx_strv materials;               /* required material ids */
    gx_strv certs;                   /* required certification schemes */
    gx_strv ipc;                     /* TECH_TRANSFER: IPC classes */
    double quantity;                 /* remaining quantity */
    double original_quantity;        /* as first posted */
    char *unit;                      /* "pcs", "kg", ... */
    int32_t needed_by;               /* days since epoch */
    bool has_budget;                 /* budget_min/max valid */
    double budget_min, budget_max;   /* unit budget, CNY */
    gx_credit min_credit;            /* weakest acceptable supplier grade */
    gx_scope scope;                  /* region scope */
    double max_distance_km;          /* 0 = no limit */
    bool splittable;                 /* may go to several suppliers */
    uint32_t max_suppliers;          /* when splittable, 0 = no limit */
    uint32_t min_trl;                /* TECH_TRANSFER: 0 or 1..9 */
    uint32_t modes;                  /* TECH_TRANSFER: GX_BIT(gx_mode), 0 = any */
    char *title;                     /* public one-liner */
    char *summary;                   /* public */
    char *details;                   /* confidential until docking */
    int64_t expires_at;              /* unix seconds */
    int64_t created_at;              /* unix seconds */
} gx_demand;

typedef struct gx_offer {
    uint64_t id;                     /* broker-assigned */
    uint32_t revision;               /* 1 on post, +1 per update */
    gx_state state;                  /* OPEN until withdrawn/expired */
    char owner[GX_FIRM_ID_LEN + 1];  /* offering firm */
    uint32_t kinds;                  /* GX_BIT(gx_kind) set served */
    gx_strv industries;              /* GB/T 4754 codes */
    gx_strv processes;               /* process ids it can do */
    gx_strv materials;               /* material ids it works */
    gx_strv ipc;                     /* IPC classes it can transfer */
    double monthly_capacity;         /* units per 30 days */
    double min_order;                /* minimum order quantity */
    uint32_t lead_time_days;         /* days from order to delivery */
    bool has_price;                  /* price_min/max valid */
    double price_min, price_max;     /* unit price range, CNY */
    gx_scope service_scope;          /* where it serves, relative to its firm */
    double service_radius_km;        /* 0 = no limit */
    uint32_t trl;                    /* technology readiness 0 or 1..9 */
    uint32_t modes;                  /* GX_BIT(gx_mode) transfer modes offered */
    char *title;                     /* public one-liner */
    char *summary;                   /* public */
    int64_t expires_at;              /* unix seconds */
    int64_t created_at;              /* unix seconds */
} gx_offer;

typedef struct gx_sub {
    uint64_t id;                     /* broker-assigned */
    char owner[GX_FIRM_ID_LEN + 1];  /* subscribing firm */
    uint32_t kinds;                  /* GX_BIT(gx_kind); 0 = any */
    gx_strv industries;              /* industry code prefixes; empty = any */
    gx_strv processes;               /* process id prefixes; empty = any */
    gx_strv districts;               /* counties or zone ids; empty = any */
} gx_sub;

#define GX_DETAIL_MAX 200

/* One hard rule's verdict and the values it compared. */
typedef struct gx_check {
    bool pass;                    /* rule holds */
    char detail[GX_DETAIL_MAX];   /* e.g. "requires IATF16949; holds ISO9001" */
} gx_check;

/* The full reasoning for one demand/offer pair. */
typedef struct gx_explain {
    gx_check rules[GX_RULE__COUNT];  /* indexed by gx_rule; [0] unused */
    double terms[GX_TERM__COUNT];    /* each 0..1 */
    double weights[GX_TERM__COUNT];  /* weights used */
    double score;                    /* 0..100, weighted mean of terms */
    double distance_km;              /* -1 when either firm lacks a location */
    double capacity_until_needed;    /* capacity x days-to-needed / 30 */
    unsigned n_failed;               /* rules that fail */
    gx_rule failed;                  /* first failing rule when n_failed > 0 */
} gx_explain;

/* ---- string vectors */
gx_err gx_strv_push(gx_strv *sv, const char *s);   /* copies s */
bool gx_strv_has(const gx_strv *sv, const char *s);
gx_err gx_strv_copy(gx_strv *dst, const gx_strv *src); /* dst must be empty */
void gx_strv_fini(gx_strv *sv);

/* ---- deep copies (dst is overwritten, must be zeroed or fini'd) and release */
gx_err gx_firm_copy(gx_firm *dst, const gx_firm *src);
gx_err gx_demand_copy(gx_demand *dst, const gx_demand *src);
gx_err gx_offer_copy(gx_offer *dst, const gx_offer *src);
gx_err gx_sub_copy(gx_sub *dst, const gx_sub *src);
void gx_firm_fini(gx_firm *f);
void gx_firm_certs_clear(gx_firm *f); /* frees f's certifications; f keeps none */
void gx_demand_fini(gx_demand *d);
void gx_offer_fini(gx_offer *o);
void gx_sub_fini(gx_sub *s);

/* True when s (n bytes) is well-formed UTF-8: no overlong forms, no surrogates,
 * nothing above U+10FFFF. Protobuf strings must be; protobuf-c does not check. */
bool gx_utf8_valid(const char *s, size_t n);

/* The length of the longest prefix of s (n bytes) that is whole, valid UTF-8:
 * where to cut a message that must stay sendable. */
size_t gx_utf8_valid_prefix(const char *s, size_t n);

/* Where a firm is, as events, summaries and statistics name it: its zone if it
 * has one, else its county. Not the region rule's district, in which only the
 * three districts' zones count (gx_rules_district in rules.h). */
const char *gx_firm_district(const gx_firm *f);

/* Static lower-case names for logs and CLI text. Never NULL. */
const char *gx_kind_name(gx_kind k);       /* "parts_supply" ... */
const char *gx_state_name(gx_state s);     /* "open" ... */
const char *gx_rule_name(gx_rule r);       /* "certification" ... */
const char *gx_term_name(gx_term t);       /* "industry" ... */
const char *gx_credit_name(gx_credit c);   /* "A".."D", "-" */

/* Grows the array whose pointer is at pp (capacity *cap elements of size
 * bytes) to hold need elements, doubling; GX_ERR_NOMEM leaves it as it was. */
gx_err gx_grow(void *pp, size_t *cap, size_t need, size_t size);

/* FNV-1a, continuing from h (GX_FNV_SEED to begin): over n bytes at p, or
 * over the NUL-terminated string s. The hash of every in-memory table and of
 * the vocabulary and engine fingerprints. */
#define GX_FNV_SEED 1469598103934665603ull
uint64_t gx_fnv1a(uint64_t h, const void *p, size_t n);
uint64_t gx_fnv1a_str(uint64_t h, const char *s);

/* ---- dates: days since 1970-01-01 in the proleptic Gregorian calendar */

/* Parses "YYYY-MM-DD" (exactly) into *days. GX_ERR_INVALID on anything else,
 * including impossible dates such as 2027-02-30 and dates before 2000-01-01
 * (day 0 means "no date" in records, so 1970-01-01 must never be a date). */
gx_err gx_date_parse(const char *s, int32_t *days);
/* Writes "YYYY-MM-DD" into buf (at least 11 bytes). */
void gx_date_format(int32_t days, char buf[11]);
/* The civil date of instant `now` (unix seconds) at UTC offset `offset_min`. */
int32_t gx_date_of(int64_t now, int offset_min);

#endif
