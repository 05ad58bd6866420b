/* terms.c — index keys and Bloom signatures of postings' terms (terms.h). */
#include "terms.h"

#include <stdlib.h>
#include <string.h>

#include "rules.h"

gx_err gx_keys_add(gx_keys *k, char tag, const char *p, size_t len)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->v[i].tag == tag && k->v[i].len == len && memcmp(k->v[i].p, p, len) == 0)
            return GX_OK;
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 16;
        gx_key *v = realloc(k->v, cap * sizeof *v);
        if (!v)
            return GX_ERR_NOMEM;
        k->v = v;
        k->cap = cap;
    }
    k->v[k->n++] = (gx_key){.p = p, .len = len, .tag = tag};
    return GX_OK;
}

const gx_rule gx_term_rules[GX_TERM_RULES] = {GX_RULE_PROCESS, GX_RULE_MATERIAL, GX_RULE_TECHNOLOGY};

const gx_strv *gx_terms_wanted(const gx_demand *d, gx_rule r, char *tag)
{
    *tag = r == GX_RULE_PROCESS ? 'p' : r == GX_RULE_MATERIAL ? 'm' : 'i';
    return r == GX_RULE_PROCESS ? &d->processes : r == GX_RULE_MATERIAL ? &d->materials : &d->ipc;
}

/* The family keys of d's terms under rule r: what an offer must hold one of to
 * pass r or to be a relevant near miss on it (gx_rules_near_relevant). */
gx_err gx_terms_family_keys(const gx_demand *d, gx_rule r, gx_keys *k)
{
    char tag;
    const gx_strv *sv = gx_terms_wanted(d, r, &tag);
    gx_err err = GX_OK;
    for (uint32_t i = 0; !err && i < sv->n; i++)
        err = gx_keys_add(k, tag, sv->v[i], gx_rules_family_len(r, sv->v[i]));
    return err;
}

/* The keys an offer is filed under, in each kind it serves: every dotted
 * prefix of its processes and materials (the term itself included), and the
 * 1-, 3- and 4-character prefixes (section, class, subclass) of its IPC
 * classes — every family key a demand it can serve may ask for. */
gx_err gx_terms_offer_keys(const gx_offer *o, gx_keys *k)
{
    gx_err err = GX_OK;
    const gx_strv *sv[2] = {&o->processes, &o->materials};
    static const char tags[2] = {'p', 'm'};
    for (int t = 0; t < 2; t++)
        for (uint32_t i = 0; i < sv[t]->n; i++)
            for (const char *s = sv[t]->v[i], *q = s;; q++) {
                if ((*q == '.' || *q == '\0') && (err = gx_keys_add(k, tags[t], s, (size_t)(q - s))))
                    return err;
                if (!*q)
                    break;
            }
    static const size_t lens[] = {1, 3, 4};
    for (uint32_t i = 0; i < o->ipc.n; i++)
        for (int j = 0; j < 3; j++)
            if (lens[j] <= strlen(o->ipc.v[i]) && (err = gx_keys_add(k, 'i', o->ipc.v[i], lens[j])))
                return err;
    return err;
}

/* The keys a demand is filed under: the family keys of its first term rule
 * that names any terms (processes, else materials, else IPC classes), or '*'. */
gx_err gx_terms_demand_keys(const gx_demand *d, gx_keys *k)
{
    for (size_t r = 0; r < sizeof gx_term_rules / sizeof *gx_term_rules; r++) {
        char tag;
        if (gx_terms_wanted(d, gx_term_rules[r], &tag)->n)
            return gx_terms_family_keys(d, gx_term_rules[r], k);
    }
    return gx_keys_add(k, '*', "", 0);
}

void gx_sig_add(gx_sig *sg, char tag, const char *p, size_t len)
{
    uint64_t h = (1469598103934665603ull ^ (unsigned char)tag) * 1099511628211ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    h ^= h >> 29;
    sg->w[(h >> 6) & 1] |= 1ull << (h & 63);
}

bool gx_sig_any(const gx_sig *a, const gx_sig *b)
{
    return ((a->w[0] & b->w[0]) | (a->w[1] & b->w[1])) != 0;
}

bool gx_sig_all(const gx_sig *need, const gx_sig *have)
{
    return ((need->w[0] & ~have->w[0]) | (need->w[1] & ~have->w[1])) == 0;
}

/* The signature of an offer: its index keys and its firm's certification
 * schemes (held, expired or not) and places — district ('d': both its zone and
 * its county, so that whichever is its district under any three-district list
 * is in, gx_rules_district), city ('t', the first four digits of the county)
 * and province ('v', the first two). */
void gx_terms_offer_sig(const gx_keys *k, const gx_firm *of, gx_sig *sg)
{
    memset(sg, 0, sizeof *sg);
    for (size_t i = 0; i < k->n; i++)
        gx_sig_add(sg, k->v[i].tag, k->v[i].p, k->v[i].len);
    for (uint32_t i = 0; of && i < of->n_certs; i++)
        if (of->certs[i].scheme)
            gx_sig_add(sg, 'c', of->certs[i].scheme, strlen(of->certs[i].scheme));
    if (!of)
        return;
    if (of->zone && of->zone[0])
        gx_sig_add(sg, 'd', of->zone, strlen(of->zone));
    size_t cl = strlen(of->county);
    gx_sig_add(sg, 'd', of->county, cl);
    if (cl >= 4)
        gx_sig_add(sg, 't', of->county, 4);
    if (cl >= 2)
        gx_sig_add(sg, 'v', of->county, 2);
}

/* The masks of demand d of firm df: family keys as in gx_terms_family_keys; term
 * keys are the terms themselves (an offer covers a process or material
 * exactly when the term is one of its keys) and, for IPC, the family key
 * again; the required schemes; the place its scope names (gx_rules' region
 * rule, demand side, with df's district under ro). */
void gx_terms_dmask(const gx_rules_opts *ro, const gx_demand *d, const gx_firm *df, gx_dmask *m)
{
    memset(m, 0, sizeof *m);
    for (uint32_t i = 0; i < d->certs.n; i++)
        gx_sig_add(&m->cert, 'c', d->certs.v[i], strlen(d->certs.v[i]));
    size_t cl = df ? strlen(df->county) : 0;
    const char *dist = df ? gx_rules_district(ro, df) : "";
    if (d->scope == GX_SCOPE_SAME_DISTRICT && dist[0]) {
        m->region_mode = 1;
        gx_sig_add(&m->region, 'd', dist, strlen(dist));
    } else if (d->scope == GX_SCOPE_THREE_DISTRICTS) {
        m->region_mode = 2;
    } else if (d->scope == GX_SCOPE_SAME_CITY && cl >= 4) {
        m->region_mode = 1;
        gx_sig_add(&m->region, 't', df->county, 4);
    } else if (d->scope == GX_SCOPE_SAME_PROVINCE && cl >= 2) {
        m->region_mode = 1;
        gx_sig_add(&m->region, 'v', df->county, 2);
    }
    for (size_t r = 0; r < 3; r++) {
        char tag;
        const gx_strv *sv = gx_terms_wanted(d, gx_term_rules[r], &tag);
        m->has[r] = sv->n > 0;
        for (uint32_t i = 0; i < sv->n; i++) {
            size_t fl = gx_rules_family_len(gx_term_rules[r], sv->v[i]);
            gx_sig_add(&m->fam[r], tag, sv->v[i], fl);
            gx_sig_add(&m->term[r], tag, sv->v[i], tag == 'i' ? fl : strlen(sv->v[i]));
        }
    }
}

/* False when the pair can be neither a match nor a near miss: the offer is
 * outside the family of some term rule, or certainly fails two rules. *fails
 * gets the rules it certainly fails (GX_BIT(gx_rule) set). */
bool gx_terms_plausible(const gx_sig *three, const gx_dmask *m, const gx_sig *sig, uint32_t *fails)
{
    unsigned n = 0;
    *fails = 0;
    if (!gx_sig_all(&m->cert, sig)) {
        *fails |= GX_BIT(GX_RULE_CERTIFICATION);
        n++;
    }
    if ((m->region_mode == 1 && !gx_sig_all(&m->region, sig)) ||
        (m->region_mode == 2 && !gx_sig_any(three, sig))) {
        *fails |= GX_BIT(GX_RULE_REGION);
        n++;
    }
    for (size_t r = 0; r < 3; r++) {
        if (!m->has[r])
            continue;
        if (!gx_sig_any(&m->fam[r], sig))
            return false;
        if (!gx_sig_all(&m->term[r], sig)) {
            *fails |= GX_BIT(gx_term_rules[r]);
            n++;
        }
    }
    return n < 2;
}

void gx_keys_fini(gx_keys *k)
{
    free(k->v);
    memset(k, 0, sizeof *k);
}
