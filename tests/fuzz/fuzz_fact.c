/* fuzz_fact.c — libFuzzer target: a notice record as the inbox stores it.
 *
 * An input is one inbox value. The pump and `gongxud --verify` read them back
 * from the store, where a damaged file could hold anything: gx_fact_is tells a
 * fact from an old encoded Envelope, and gx_fact_decode must refuse what is not
 * a fact of a known type with the fields that type uses, reading nothing past
 * the record. A record that decodes must encode back to the same bytes and
 * decode to the same fact. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inbox.h"

static void s_die(const char *what)
{
    fprintf(stderr, "fuzz_fact: invariant broken: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes, so that ASan sees a read past the record */
    uint8_t *rec = malloc(size ? size : 1);
    if (!rec)
        return 0;
    if (size)
        memcpy(rec, data, size);
    gx_fact f;
    gx_err err = gx_fact_decode(rec, size, &f);
    if (err != GX_OK && err != GX_ERR_MALFORMED)
        s_die("decode failed with another error than MALFORMED");
    if (err == GX_OK) {
        if (!gx_fact_is(rec, size))
            s_die("decoded a record that gx_fact_is calls no fact");
        if (f.fields & GX_FACT_TEXT) {
            if (f.text_len && (f.text < (const char *)rec || f.text + f.text_len > (const char *)rec + size))
                s_die("text points outside the record");
        }
        size_t n = gx_fact_size(&f);
        uint8_t *again = malloc(n ? n : 1);
        if (!again) {
            free(rec);
            return 0;
        }
        gx_fact_encode(&f, again);
        if (n != size || memcmp(again, rec, size) != 0)
            s_die("a decoded fact does not encode back to its record");
        gx_fact g;
        if (gx_fact_decode(again, n, &g) != GX_OK || g.type != f.type || g.fields != f.fields ||
            g.code != f.code || g.at != f.at || g.demand_id != f.demand_id || g.offer_id != f.offer_id)
            s_die("the record encoded again decodes to another fact");
        free(again);
    }
    free(rec);
    return 0;
}
