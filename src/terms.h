/* terms.h — the index keys and Bloom signatures of postings' terms.
 *
 * What the engine files postings under and how it rules out pairs before any
 * rule runs. An offer is filed, per kind it serves, under every dotted prefix
 * of its processes and materials and the section, class and subclass of its
 * IPC classes; a demand asks for the family keys of its terms
 * (gx_rules_family_len), which an offer holds exactly when it can pass that
 * rule or be a relevant near miss on it (gx_rules_near_relevant). A gx_sig
 * sets one of 128 bits per key (tag and text): a clear bit proves a key
 * absent, so every conclusion drawn from one is certain; a set bit proves
 * nothing. Pure: no I/O, no state; keys borrow the postings' strings. */
#ifndef GX_TERMS_H
#define GX_TERMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "rules.h"

/* One index key: a tag and a prefix of a posting's term (not NUL-terminated). */
typedef struct gx_key {
    const char *p; /* start, inside the posting */
    size_t len;    /* length */
    char tag;      /* 'p' process, 'm' material, 'i' IPC, '*' none */
} gx_key;

typedef struct gx_keys {
    gx_key *v;  /* n keys, distinct */
    size_t n;   /* used */
    size_t cap; /* allocated */
} gx_keys;

/* Adds (tag, p[0..len)) unless k holds it; GX_ERR_NOMEM. */
gx_err gx_keys_add(gx_keys *k, char tag, const char *p, size_t len);
void gx_keys_fini(gx_keys *k);

/* A 128-bit Bloom signature of index keys: a clear bit proves a key absent. */
typedef struct gx_sig {
    uint64_t w[2];
} gx_sig;

/* What a demand asks of an offer's signature. Per term rule (process,
 * material, technology): has[r] when it names terms; an offer lacking every
 * fam[r] key is neither a match nor a near miss; one lacking any term[r] key
 * fails r. An offer lacking any cert key fails CERTIFICATION; one lacking the
 * region key (region 1) or every three-district key (region 2) fails REGION. */
typedef struct gx_dmask {
    gx_sig fam[3], term[3];
    bool has[3];
    gx_sig cert, region; /* required schemes; the district, city or province */
    int region_mode;     /* 0 none, 1 region key required, 2 one of the three */
} gx_dmask;

/* The rules whose terms are indexed, in the order a demand is filed by. */
#define GX_TERM_RULES 3
extern const gx_rule gx_term_rules[GX_TERM_RULES];

/* What d wants under rule r (processes, materials or IPC classes); *tag is
 * that rule's key tag ('p', 'm', 'i'). */
const gx_strv *gx_terms_wanted(const gx_demand *d, gx_rule r, char *tag);

/* The family keys of d's terms under rule r (appended to k). */
gx_err gx_terms_family_keys(const gx_demand *d, gx_rule r, gx_keys *k);

/* The keys offer o is filed under, in each kind it serves. */
gx_err gx_terms_offer_keys(const gx_offer *o, gx_keys *k);

/* The keys demand d is filed under: the family keys of its first term rule
 * naming terms, or ('*', ""). */
gx_err gx_terms_demand_keys(const gx_demand *d, gx_keys *k);

void gx_sig_add(gx_sig *sg, char tag, const char *p, size_t len);
bool gx_sig_any(const gx_sig *a, const gx_sig *b);       /* some key of a may be in b */
bool gx_sig_all(const gx_sig *need, const gx_sig *have); /* every key of need may be in have */

/* The signature of an offer with keys k and firm of (may be NULL). */
void gx_terms_offer_sig(const gx_keys *k, const gx_firm *of, gx_sig *sg);

/* The mask of demand d of firm df (may be NULL), whose district is taken
 * under ro's three districts (gx_rules_district): recompute it when they
 * change. */
void gx_terms_dmask(const gx_rules_opts *ro, const gx_demand *d, const gx_firm *df, gx_dmask *m);

/* False when an offer of signature sig can be neither a match nor a near miss
 * of the demand of mask m: outside the family of one of its term rules, or
 * certainly failing two rules. *fails gets the rules it certainly fails
 * (GX_BIT(gx_rule) set). three: the signature of the three districts' keys. */
bool gx_terms_plausible(const gx_sig *three, const gx_dmask *m, const gx_sig *sig, uint32_t *fails);

#endif
