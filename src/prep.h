/* prep.h — postings and firms prepared for the rules: strings as ids.
 *
 * A prepared record holds what gx_rules_classify reads of a posting or a firm,
 * with every string replaced by its id in an intern table (intern.h), and
 * every question a rule asks of strings turned into "is this id in that
 * sorted set":
 *
 *   processes, materials  the offer holds the id of EVERY dotted prefix of
 *                         every term ("casting", "casting.die",
 *                         "casting.die.magnesium"), and apart the prefixes
 *                         some term extends (for the specificity score); a
 *                         wanted term is covered (gx_rules_term_covers)
 *                         exactly when its id is in the first set
 *   IPC                   the offer holds the id of every code that covers one
 *                         of its codes under gx_rules_ipc_covers: its first 1
 *                         to 4 characters (section, class, subclass), the main
 *                         group of a subgroup ("H01L 21/00" for "H01L
 *                         21/02"), the code itself
 *   near misses           a demand keeps, per wanted term, the id of its
 *                         family prefix (gx_rules_family_len), which lies in
 *                         the offer's sets exactly when gx_rules_near_relevant
 *                         finds a term in that family
 *   industry              the offer holds every prefix of its codes; the
 *                         demand the prefixes of its code that the industry
 *                         term scores (whole, 4, 3, 1 characters)
 *   certificates          a firm keeps (scheme id, latest valid_until) sorted
 *                         by scheme: valid today is then one comparison
 *   places                a firm keeps the ids of its district (under opts'
 *                         three districts), of the first 4 and 2 characters of
 *                         its county (city, province) and whether its district
 *                         is one of the three
 *
 * What a record depends on, so when to build it again: a demand's and an
 * offer's only on the posting (rebuild on every update); a firm's on the firm
 * AND on opts->three_districts (rebuild every firm's when the three districts
 * change, e.g. a configuration reload). None depends on the time: "today"
 * comes with each call. The intern table must outlive its records, and every
 * record compared must come from the same table.
 *
 * Builders overwrite *out (which needs no init) and fail only with
 * GX_ERR_NOMEM, leaving *out zeroed; *_fini releases and zeroes, tolerating
 * a zeroed record. Lookups are pure; any thread, while nobody rebuilds. */
#ifndef GX_PREP_H
#define GX_PREP_H

#include <stdbool.h>
#include <stdint.h>

#include "intern.h"
#include "model.h"
#include "rules.h"

/* One wanted term of a demand. */
typedef struct gx_prep_want {
    uint32_t id;  /* the term's id; 0 for an empty term (covered by nothing) */
    uint32_t fam; /* its family prefix's id; 0 when it has no family */
} gx_prep_want;

/* A demand's lists of wanted terms (gx_prep_demand.want). */
typedef enum gx_prep_wlist {
    GX_PREP_W_PROCESS = 0, /* required processes */
    GX_PREP_W_MATERIAL,    /* required materials */
    GX_PREP_W_IPC,         /* required IPC codes */
    GX_PREP_W_CERT,        /* required certificate schemes (fam 0) */
    GX_PREP_W__COUNT
} gx_prep_wlist;

struct gx_prep_demand {
    gx_dfig fig;                    /* every figure the rules read */
    gx_prep_want *want;             /* the lists back to back, each in posting order */
    uint32_t end[GX_PREP_W__COUNT]; /* list l is want[l ? end[l-1] : 0 .. end[l]) */
    uint32_t industry[4];           /* ids of its code: whole, first 4, 3, 1 characters
                                       (0 where shorter); all 0 when it names none */
};

/* An offer's sets of ids (gx_prep_offer.ids), each sorted, no duplicates. */
typedef enum gx_prep_oset {
    GX_PREP_O_PROCESS = 0, /* every dotted prefix of every process */
    GX_PREP_O_PROCESS_SUB, /* those some process extends (shorter than it) */
    GX_PREP_O_MATERIAL,    /* the same for materials */
    GX_PREP_O_MATERIAL_SUB,
    GX_PREP_O_IPC,      /* every code covering one of its IPC codes */
    GX_PREP_O_INDUSTRY, /* every prefix of every industry code */
    GX_PREP_O__COUNT
} gx_prep_oset;

struct gx_prep_offer {
    gx_ofig fig;                    /* every figure the rules read */
    uint32_t *ids;                  /* the sets back to back */
    uint32_t end[GX_PREP_O__COUNT]; /* set s is ids[s ? end[s-1] : 0 .. end[s]) */
};

/* A scheme a firm holds and until when. */
typedef struct gx_prep_cert {
    uint32_t scheme;     /* the scheme's id */
    int32_t valid_until; /* the latest valid_until among its certificates of that scheme */
} gx_prep_cert;

struct gx_prep_firm {
    gx_ffig fig;         /* credit, awards, location */
    uint32_t id;         /* id of the firm's USCC */
    uint32_t district;   /* id of gx_rules_district under the opts it was built with; 0 when empty */
    uint32_t city;       /* id of the county's first 4 characters; 0 when shorter */
    uint32_t province;   /* id of its first 2; 0 when shorter */
    bool in_three;       /* its district is one of the three districts */
    gx_prep_cert *certs; /* n_certs, sorted by scheme, one per scheme */
    uint32_t n_certs;    /* count of certs */
};

/* Build the prepared record of a demand, an offer, or a firm (the last under
 * opts' three districts), adding their strings to t. GX_ERR_NOMEM. */
gx_err gx_prep_demand_build(gx_intern *t, const gx_demand *d, gx_prep_demand *out);
gx_err gx_prep_offer_build(gx_intern *t, const gx_offer *o, gx_prep_offer *out);
gx_err gx_prep_firm_build(gx_intern *t, const gx_rules_opts *opts, const gx_firm *f, gx_prep_firm *out);
void gx_prep_demand_fini(gx_prep_demand *pd);
void gx_prep_offer_fini(gx_prep_offer *po);
void gx_prep_firm_fini(gx_prep_firm *pf);

/* ---- the questions the rules ask (gx_rules_classify_prep) */

/* The PROCESS or MATERIAL rule: every wanted term covered. TECHNOLOGY: every
 * wanted IPC code covered (TRL and modes are figures, not asked here). */
bool gx_prep_terms_ok(const gx_prep_demand *pd, const gx_prep_offer *po, gx_rule r);

/* CERTIFICATION: every wanted scheme held by firm pf valid on day today. */
bool gx_prep_certs_ok(const gx_prep_demand *pd, const gx_prep_firm *pf, int32_t today);

/* Whether firm other lies within scope measured from firm home (one side of
 * the REGION rule). */
bool gx_prep_in_scope(gx_scope scope, const gx_prep_firm *home, const gx_prep_firm *other);

/* gx_rules_near_relevant and gx_rules_excluded on prepared records. */
bool gx_prep_near_relevant(const gx_prep_demand *pd, const gx_prep_offer *po, gx_rule failed);
bool gx_prep_excluded(const gx_prep_firm *df, const gx_prep_firm *of);

/* The industry score term, and the process score term (the specificity of
 * processes and materials), as rules.c computes them from the strings. */
double gx_prep_term_industry(const gx_prep_demand *pd, const gx_prep_offer *po);
double gx_prep_term_process(const gx_prep_demand *pd, const gx_prep_offer *po);

#endif
