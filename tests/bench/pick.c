/* pick.c — see pick.h. */
#include "pick.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "rules.h"

static const char *const s_three[] = {"410611", "hebi.etdz", "hebi.urdz"};

static int s_cmp_firm(const void *a, const void *b)
{
    return strcmp(((const gx_firm *)a)->id, ((const gx_firm *)b)->id);
}

static const gx_firm *s_firm(const gx_firm *v, size_t n, const char *id)
{
    gx_firm key;
    memset(&key, 0, sizeof key);
    snprintf(key.id, sizeof key.id, "%s", id);
    return bsearch(&key, v, n, sizeof *v, s_cmp_firm);
}

bool gxl_quick(const gx_demand *d, const gx_offer *o)
{
    if (d->kind <= GX_KIND_NONE || d->kind >= GX_KIND__COUNT || !(o->kinds & GX_BIT(d->kind)))
        return false;
    for (uint32_t i = 0; i < d->processes.n; i++) {
        bool ok = false;
        for (uint32_t j = 0; !ok && j < o->processes.n; j++)
            ok = gx_rules_term_covers(o->processes.v[j], d->processes.v[i]);
        if (!ok)
            return false;
    }
    for (uint32_t i = 0; i < d->materials.n; i++) {
        bool ok = false;
        for (uint32_t j = 0; !ok && j < o->materials.n; j++)
            ok = gx_rules_term_covers(o->materials.v[j], d->materials.v[i]);
        if (!ok)
            return false;
    }
    return true;
}

int gxl_pick(const gx_wl_opts *wl, uint64_t preload, uint64_t count, uint64_t *out)
{
    uint64_t half = preload / 2;
    if (half == 0) {
        fprintf(stderr, "gxload: picking demands needs a preload of at least 2\n");
        return -1;
    }
    gx_rules_opts ro;
    gx_rules_opts_default(&ro);
    ro.three_districts = s_three;
    ro.n_three_districts = sizeof s_three / sizeof s_three[0];
    gx_firm *firms = calloc(wl->firms, sizeof *firms);
    gx_offer *offers = calloc(half, sizeof *offers);
    int rc = -1;
    uint64_t got = 0, i = half, looked = 0;
    if (!firms || !offers)
        goto out;
    for (size_t f = 0; f < wl->firms; f++)
        if (gx_wl_firm(wl, f, &firms[f]) != GX_OK)
            goto out;
    qsort(firms, wl->firms, sizeof *firms, s_cmp_firm);
    for (uint64_t j = 0; j < half; j++)
        if (gx_wl_offer(wl, j, &offers[j]) != GX_OK)
            goto out;
    time_t note = time(NULL) + 3;
    /* bounded: give up when not one demand in a million qualifies */
    for (; got < count && looked < count * 1000 + 1000000; i++, looked++) {
        gx_demand d = {0};
        if (gx_wl_demand(wl, i, &d) != GX_OK)
            goto out;
        const gx_firm *df = s_firm(firms, wl->firms, d.owner);
        for (uint64_t j = 0; df && j < half; j++) {
            if (!gxl_quick(&d, &offers[j]))
                continue;
            const gx_firm *of = s_firm(firms, wl->firms, offers[j].owner);
            if (!of || gx_rules_excluded(df, of))
                continue;
            gx_explain x;
            gx_rules_evaluate(&ro, &d, df, &offers[j], of, wl->now, false, &x);
            if (x.n_failed == 0) {
                out[got++] = i;
                break;
            }
        }
        gx_demand_fini(&d);
        if (time(NULL) >= note) {
            fprintf(stderr, "gxload pick: %" PRIu64 " of %" PRIu64 " demands (%" PRIu64 " looked at)\n", got,
                    count, looked + 1);
            note = time(NULL) + 3;
        }
    }
    if (got < count)
        fprintf(stderr, "gxload: only %" PRIu64 " of %" PRIu64 " demands qualify\n", got, count);
    else
        rc = 0;
out:
    if (rc && got < count && looked == 0)
        fprintf(stderr, "gxload: the workload could not be generated\n");
    for (size_t f = 0; firms && f < wl->firms; f++)
        gx_firm_fini(&firms[f]);
    for (uint64_t j = 0; offers && j < half; j++)
        gx_offer_fini(&offers[j]);
    free(firms);
    free(offers);
    return rc;
}
