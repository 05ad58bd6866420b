/* codec.h — bytes <-> domain structs. The only module that sees *.pb-c.h types.
 *
 * Decoding turns one client frame into a gx_request (domain structs, owned
 * strings) after checking the envelope version, string lengths and repeated
 * counts; every protobuf-c struct is freed before the function returns.
 * Encoding builds replies, notices, monitor events and the stored records from
 * borrowed domain structs into a gx_buf the caller frees. Syntax only: codes
 * are checked against the vocabulary by validate.c, not here.
 * Pure: no I/O, no global state; any thread. */
#ifndef GX_CODEC_H
#define GX_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "model.h"
#include "vocab.h"

/* A malloc'd byte buffer. */
typedef struct gx_buf {
    uint8_t *data; /* owned */
    size_t len;    /* bytes in data */
} gx_buf;
void gx_buf_fini(gx_buf *b);

/* Caps applied while decoding (from configuration). */
typedef struct gx_limits {
    size_t max_string;   /* codes, names, units: bytes */
    size_t max_text;     /* summary, details, messages: bytes */
    size_t max_repeated; /* entries in any repeated field */
} gx_limits;

#define GX_FIND_CODES_DEFAULT 50 /* FindCodes.limit 0 */
#define GX_FIND_CODES_MAX 1000   /* the largest FindCodes.limit */
#define GX_LIST_DEFAULT 100      /* ListPostings.limit 0 */
#define GX_LIST_MAX 1000         /* the largest ListPostings.limit */

typedef enum gx_req_type {
    GX_REQ_NONE = 0,
    GX_REQ_HELLO,
    GX_REQ_REGISTER_FIRM,
    GX_REQ_GET_FIRM,
    GX_REQ_POST_DEMAND,
    GX_REQ_POST_OFFER,
    GX_REQ_UPDATE_DEMAND,
    GX_REQ_UPDATE_OFFER,
    GX_REQ_WITHDRAW,
    GX_REQ_SUBSCRIBE,
    GX_REQ_INTEREST,
    GX_REQ_ACCEPT,
    GX_REQ_DECLINE,
    GX_REQ_AWARD,
    GX_REQ_ACK,
    GX_REQ_RESUME,
    GX_REQ_GET_SHORTLIST,
    GX_REQ_GET_POSTING,
    GX_REQ_LIST_POSTINGS,
    GX_REQ_GET_STATS,
    GX_REQ_PING,
    GX_REQ_REGISTER_KEY,
    GX_REQ_REVOKE_KEY,
    GX_REQ_BACKUP,
    GX_REQ_FIND_CODES,
    GX_REQ__COUNT
} gx_req_type;

/* GetStats: what range and breakdown is asked for. */
typedef struct gx_stats_req {
    bool breakdown;         /* the table is wanted (set also by any filter) */
    int32_t from_day;       /* days since 1970-01-01, first included; 0 = open */
    int32_t to_day;         /* last day included; 0 = open */
    char *district;         /* NULL = all */
    char *industry;         /* NULL = all */
    gx_kind kind;           /* 0 = all */
} gx_stats_req;

/* One decoded request. Which fields are set depends on type. */
typedef struct gx_request {
    uint64_t request_id;                 /* echoed in the reply */
    gx_req_type type;                    /* which request */
    gx_firm firm;                        /* REGISTER_FIRM */
    gx_demand demand;                    /* POST/UPDATE_DEMAND */
    gx_offer offer;                      /* POST/UPDATE_OFFER */
    gx_sub sub;                          /* SUBSCRIBE */
    uint64_t id;                         /* demand/posting id; ACK: seq; RESUME: after_seq */
    uint64_t offer_id;                   /* INTEREST */
    char firm_id[GX_FIRM_ID_LEN + 1];    /* HELLO, GET_FIRM, ACCEPT, DECLINE, AWARD, REGISTER_KEY */
    char key[41];                        /* REGISTER_KEY, REVOKE_KEY: Z85 public key */
    bool evicted_ok;                     /* HELLO: understands an unasked ERR_EVICTED */
    bool flag;                           /* HELLO operator, REGISTER override_check,
                                            RESUME from_last_ack, LIST include_closed */
    char *text;                          /* HELLO client, INTEREST message, DECLINE reason, BACKUP dest,
                                            FIND_CODES text, LIST cursor (NULL: first page) */
    gx_vclass code_class;                /* FIND_CODES: GX_V__COUNT for every class */
    uint32_t limit;                      /* FIND_CODES: most entries wanted (1..GX_FIND_CODES_MAX);
                                            LIST: most postings (1..GX_LIST_MAX) */
    gx_stats_req stats;                  /* GET_STATS */
    double quantity;                     /* AWARD */
} gx_request;
void gx_request_fini(gx_request *r);

/* Static name of a request type ("post_demand"), for logs and metrics. */
const char *gx_req_name(gx_req_type t);

/* The Envelope's request_id (field 2) read straight off the wire, without
 * decoding the rest: for refusing a request before paying for its decode (a
 * rate-limited flood). False when the top-level fields do not parse; *id is 0
 * when the field is absent. */
bool gx_codec_peek_request_id(const void *buf, size_t len, uint64_t *id);

/* Decodes one frame. On failure returns the error and writes a message (and the
 * offending field, when known) for the error reply; out->request_id is set
 * whenever the envelope itself could be parsed, else 0. out is always safe to
 * gx_request_fini. */
gx_err gx_codec_decode_request(const void *buf, size_t len, const gx_limits *lim, gx_request *out,
                               char *msg, size_t msglen, char *field, size_t fieldlen);

/* ---- replies */

typedef struct gx_candidate_view {
    uint64_t offer_id;          /* the offer */
    const gx_firm *firm;        /* its firm */
    uint32_t rank;              /* 1-based */
    double score;               /* 0..100 */
    const gx_explain *expl;     /* may be NULL */
} gx_candidate_view;

/* One row of statistics by district column, industry chain and kind. */
typedef struct gx_stats_row {
    char district[65];                  /* column id */
    char chain[4];                      /* industry chain: section + division, "C36" */
    gx_kind kind;
    uint64_t demands_posted, demands_open, demands_matched, demands_matched_local, demands_awarded;
    uint64_t offers_posted, offers_open; /* an offer counts under each kind it serves */
    double fill_rate;                   /* matched / posted */
    double ttfm_sum_s, ttfm_mean_s, ttfm_p50_s; /* time to first match; -1 when none matched */
    const char *district_name, *chain_name; /* for people; may be NULL */
} gx_stats_row;

typedef struct gx_stats_view {
    int64_t at;                          /* when taken */
    const gx_engine_stats *engine;       /* engine counts */
    uint64_t notices, requests;          /* since start */
    const gx_stats_row *rows;            /* the table, n_rows (may be 0) */
    size_t n_rows;
    const char *from, *to;               /* the range asked, "" when open */
} gx_stats_view;

/* Who reads a demand, which decides the fields it shows (codec.c, s_demand_fields:
 * the one table of what each reader sees; the README's Security section prints it).
 * Values chosen so that a bool "with everything" converts to OWNER. */
typedef enum gx_view {
    GX_VIEW_PUBLIC = 0,  /* any registered firm: the public terms of the demand */
    GX_VIEW_OWNER = 1,   /* its owner or an operator (and the store's own record): every field */
    GX_VIEW_PARTNER = 2, /* a firm whose docking on it was accepted: public terms + details */
} gx_view;

typedef enum gx_reply_type {
    GX_REPLY_PONG = 1,
    GX_REPLY_POSTING,
    GX_REPLY_SHORTLIST,
    GX_REPLY_DEMAND,
    GX_REPLY_OFFER,
    GX_REPLY_SUB,
    GX_REPLY_LIST,
    GX_REPLY_RESUME,
    GX_REPLY_STATS,
    GX_REPLY_FIRM,
    GX_REPLY_ACKED,
    GX_REPLY_KEY,
    GX_REPLY_BACKUP,
    GX_REPLY_CODES,
} gx_reply_type;

/* A reply to encode; only the fields of its type are read. All borrowed. */
typedef struct gx_reply {
    gx_reply_type type;
    uint64_t request_id;
    uint64_t id;                              /* POSTING, SHORTLIST: posting id */
    uint32_t revision;                        /* POSTING, SHORTLIST */
    gx_state state;                           /* POSTING */
    uint32_t count;                           /* POSTING candidates; SHORTLIST eligible */
    const gx_candidate_view *cands;           /* SHORTLIST */
    size_t n_cands;
    const gx_candidate_view *set;             /* SHORTLIST proposed set */
    size_t n_set;
    double coverage;                          /* SHORTLIST */
    const gx_demand *demand;                  /* DEMAND */
    gx_view view;                             /* DEMAND: who asks (decides the fields shown) */
    bool with_details;                        /* FIRM: include the contact */
    const gx_offer *offer;                    /* OFFER */
    const gx_sub *sub;                        /* SUB */
    const gx_firm *firm;                      /* FIRM */
    const gx_demand *const *demands;          /* LIST (with details: own postings) */
    size_t n_demands;
    const gx_offer *const *offers;
    size_t n_offers;
    const gx_sub *const *subs;
    size_t n_subs;
    bool truncated;                           /* LIST: more postings follow */
    const char *next_cursor;                  /* LIST: the next page's cursor; NULL or "" on the last */
    uint64_t resumed_after, head;             /* RESUME */
    const gx_stats_view *stats;               /* STATS */
    uint64_t seq;                             /* ACKED */
    const char *key;                          /* KEY: Z85 public key */
    const char *key_firm;                     /* KEY: its firm */
    bool revoked;                             /* KEY */
    int64_t created_at;                       /* KEY; BACKUP: started at */
    const char *dest;                         /* BACKUP */
    uint64_t bytes;                           /* BACKUP */
    const gx_limits *limits;                  /* PONG to Hello and Ping: the caps to tell, else NULL */
    uint32_t max_frame;                       /* PONG with limits: max_frame_bytes */
    const gx_vocab_entry *entries;            /* CODES: n_entries found */
    size_t n_entries;
    uint32_t total;                           /* CODES: how many matched in all */
} gx_reply;

gx_err gx_codec_encode_reply(const gx_reply *r, gx_buf *out);

/* An error reply; message and field may be NULL. */
gx_err gx_codec_encode_error(uint64_t request_id, gx_err err, const char *message, const char *field,
                             gx_buf *out);

/* The same with Error.suggestions: n borrowed ids (the closest known codes to
 * an unknown one). */
gx_err gx_codec_encode_error_suggest(uint64_t request_id, gx_err err, const char *message, const char *field,
                                     const char *const *suggest, size_t n, gx_buf *out);

/* ---- notices */

typedef enum gx_notice_type {
    GX_N_CANDIDATE_ADDED = 10,
    GX_N_CANDIDATE_REMOVED = 11,
    GX_N_OPPORTUNITY = 12,
    GX_N_NEAR_MISS = 13,
    GX_N_INTEREST_RECEIVED = 14,
    GX_N_INTEREST_DECLINED = 15,
    GX_N_DETAILS_RELEASED = 16,
    GX_N_DEMAND_UPDATED = 17,
    GX_N_DEMAND_WITHDRAWN = 18,
    GX_N_DEMAND_AWARDED = 19,
    GX_N_DEMAND_EXPIRED = 20,
    GX_N_OFFER_EXPIRED = 21,
} gx_notice_type;

/* A notice to encode; only the fields its type uses are read. All borrowed. */
typedef struct gx_notice {
    gx_notice_type type;
    uint64_t seq;                  /* the recipient firm's sequence number */
    int64_t at;                    /* unix seconds */
    const gx_demand *demand;       /* summary source (OPPORTUNITY, NEAR_MISS, DEMAND_*) */
    const gx_firm *demand_firm;    /* its owner (name, district) */
    uint64_t demand_id;            /* CANDIDATE_*, INTEREST_*, DETAILS_RELEASED */
    uint64_t offer_id;
    uint64_t sub_id;               /* OPPORTUNITY from a subscription */
    const gx_firm *firm;           /* candidate / interested firm / counterpart */
    uint32_t rank;
    double score;
    double capacity;               /* CANDIDATE_ADDED: capacity until needed */
    const gx_explain *expl;        /* may be NULL */
    gx_reason reason;              /* CANDIDATE_REMOVED */
    gx_rule rule;                  /* NEAR_MISS */
    const char *text;              /* hint, interest message, decline reason, details */
    bool still_eligible;           /* DEMAND_UPDATED */
    const char *awarded_to;        /* DEMAND_AWARDED */
    double awarded_quantity;       /* DEMAND_AWARDED */
    gx_state state;                /* OFFER_EXPIRED */
    const char *changed;           /* Notice.changed_since; NULL or "" when nothing changed */
} gx_notice;

/* Encodes n as a complete Envelope (request_id 0, body notice). */
gx_err gx_codec_encode_notice(const gx_notice *n, gx_buf *out);

/* The `at` (unix seconds) of an encoded notice Envelope; GX_ERR_MALFORMED when
 * the bytes are not one. */
gx_err gx_codec_notice_at(const void *buf, size_t len, int64_t *at);

/* The postings a stored notice names (0 where it names none: a subscription's
 * opportunity has no offer), for gongxud --verify. GX_ERR_MALFORMED when the
 * bytes are not a notice Envelope. */
gx_err gx_codec_notice_refs(const void *buf, size_t len, uint64_t *demand_id, uint64_t *offer_id);

/* ---- monitor stream */

typedef struct gx_monitor_event {
    int64_t at;
    const char *type;       /* "demand", "offer", "match", "near_miss", "shortlist", "state", "docking" */
    uint64_t demand_id, offer_id;
    gx_kind kind;
    const char *industry;   /* may be NULL */
    const char *district;   /* may be NULL */
    double score;
    gx_rule rule;
    gx_state state;
    const char *detail;     /* may be NULL */
    const char *detail_zh;  /* detail in Chinese (a near miss's hint); may be NULL */
} gx_monitor_event;

gx_err gx_codec_encode_monitor(const gx_monitor_event *ev, gx_buf *out);

/* Decodes a MonitorEvent into *ev, whose strings point into *hold until
 * gx_codec_monitor_release(*hold). GX_ERR_MALFORMED on bad bytes. */
gx_err gx_codec_decode_monitor(const void *buf, size_t len, gx_monitor_event *ev, void **hold);
void gx_codec_monitor_release(void *hold);

/* ---- stored records (the wire messages Firm, Demand, Offer, Subscription) */

gx_err gx_codec_encode_firm(const gx_firm *f, gx_buf *out);
gx_err gx_codec_encode_demand(const gx_demand *d, gx_buf *out);
gx_err gx_codec_encode_offer(const gx_offer *o, gx_buf *out);
gx_err gx_codec_encode_sub(const gx_sub *s, gx_buf *out);

/* Decode a stored record into *out (zeroed first). GX_ERR_MALFORMED when the
 * bytes are not a valid record. No limits are applied: records were checked on
 * the way in. */
gx_err gx_codec_decode_firm(const void *buf, size_t len, gx_firm *out);
gx_err gx_codec_decode_demand(const void *buf, size_t len, gx_demand *out);
gx_err gx_codec_decode_offer(const void *buf, size_t len, gx_offer *out);
gx_err gx_codec_decode_sub(const void *buf, size_t len, gx_sub *out);

/* ---- federation (the internal FedMessage; federation.h, records.c) */

enum { GX_FED_DEMAND = 1, GX_FED_OFFER = 2, GX_FED_FIRM = 3 };
/* Docking between cities (feddock.h): each is for one city (dest_city). */
enum {
    GX_FED_INTEREST = 4, /* the SME's city: an SME's interest in a demand of dest (sealed: text) */
    GX_FED_ACCEPTED = 5, /* the demand's city: the interest accepted (sealed: name, contact, details) */
    GX_FED_DECLINED = 6, /* the demand's city: the interest declined (sealed: text) */
    GX_FED_CONTACT = 7,  /* the SME's city, after accepted: the SME's name and contact (sealed) */
    GX_FED_CITY_KEY = 8, /* a city's federation public key, for every city */
    GX_FED_AWARDED = 9,  /* the demand's city: an award to the SME (quantity) */
};

/* One change crossing to the other cities. Encoding borrows the pointers;
 * decoding allocates them (gx_codec_fed_fini frees). */
typedef struct gx_fed_msg {
    uint32_t origin_city; /* the publishing broker's city */
    uint32_t kind;        /* GX_FED_* */
    uint64_t origin_id;   /* the posting's id at home (0 for GX_FED_FIRM) */
    uint32_t revision;    /* the posting's revision */
    gx_state state;       /* and state */
    gx_demand *demand;    /* GX_FED_DEMAND */
    gx_offer *offer;      /* GX_FED_OFFER */
    gx_firm *owner;       /* the owner's public profile */
    /* docking (GX_FED_INTEREST .. GX_FED_AWARDED); origin_id is the demand's id at its home */
    uint32_t dest_city;               /* the one city it is for */
    char firm_id[GX_FIRM_ID_LEN + 1]; /* the SME */
    uint64_t offer_id;                /* INTEREST: the SME's offer at its home (0: none) */
    uint8_t *sealed;                  /* a sealed FedSealed (fedseal.h), or NULL */
    size_t sealed_len;
    uint8_t public_key[32]; /* CITY_KEY */
    bool has_key;           /* public_key was present with 32 bytes */
    double quantity;        /* AWARDED */
} gx_fed_msg;

/* Why a demand's broker declined an interest itself (gx_fed_sealed.reason). */
enum { GX_FED_REASON_CLOSED = 1, GX_FED_REASON_NOT_CROSSING = 2 };

/* What a docking message seals (borrowed when encoding, owned when decoded). */
typedef struct gx_fed_sealed {
    char *text;    /* the SME's message, or the decline reason */
    char *name;    /* the counterpart's name */
    char *contact; /* the counterpart's contact */
    char *details; /* the demand's confidential details */
    /* who docks with whom, bound to the carrying message (feddock.c compares them) */
    uint32_t kind;                    /* GX_FED_* of the message */
    uint32_t origin_city, dest_city;  /* the message's cities */
    uint64_t demand_id;               /* the message's origin_id */
    char firm_id[GX_FIRM_ID_LEN + 1]; /* the SME */
    uint64_t offer_id;                /* INTEREST: the SME's offer at its home (0: none) */
    double quantity;                  /* AWARDED */
    gx_firm *profile;                 /* INTEREST: the SME's public profile (encoded without contact) */
    uint32_t reason;                  /* DECLINED by the demand's broker: GX_FED_REASON_* (0: the anchor) */
} gx_fed_sealed;
gx_err gx_codec_encode_fed_sealed(const gx_fed_sealed *s, gx_buf *out);
/* GX_ERR_MALFORMED on bad bytes, invalid UTF-8 or a bad firm id or profile;
 * caps from lim (may be NULL; a sealed part received: the federation caps below). */
gx_err gx_codec_decode_fed_sealed(const void *buf, size_t len, const gx_limits *lim, gx_fed_sealed *out);
void gx_codec_fed_sealed_fini(gx_fed_sealed *s);

/* Encodes m; a demand's details, the owner's contact and language are left
 * out (they do not cross: docking seals what it must carry), and the owner is
 * marked home_city = origin. The owner's awards cross: its home city is the
 * authority on its track record. */
gx_err gx_codec_encode_fed(const gx_fed_msg *m, gx_buf *out);
/* The caps of a FedMessage received: the largest that any city's
 * configuration lets a request be (max_frame_bytes, max_string_bytes,
 * max_text_bytes and max_repeated at the top of their ranges, config.c), so
 * that whatever a home city accepted crosses and nothing larger is taken. */
#define GX_FED_MAX_BYTES ((size_t)64 << 20)
#define GX_FED_MAX_STRING 65536
#define GX_FED_MAX_TEXT ((size_t)1 << 20)
#define GX_FED_MAX_REPEATED 10000

/* Decodes a FedMessage (checked as a stored record is, within the caps above;
 * the caller checks ids and cities). GX_ERR_MALFORMED on bad bytes, a
 * message over GX_FED_MAX_BYTES or a field over its cap. */
gx_err gx_codec_decode_fed(const void *buf, size_t len, gx_fed_msg *out);
void gx_codec_fed_fini(gx_fed_msg *m);

#endif
