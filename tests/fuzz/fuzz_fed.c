/* fuzz_fed.c — libFuzzer target: a FedMessage as another city's broker
 * publishes it on the JetStream stream.
 *
 * An input is one message payload. gx_codec_decode_fed must refuse what is
 * not a FedMessage within the caps (only MALFORMED or NOMEM), and the checks
 * a receiver makes before applying it (gx_fedapply_check, fedapply.c's s_check)
 * must give a reason for every refusal, refuse a message on no subject or on
 * another city's subject, and pass only what applying relies on: a 4-digit
 * city, a known kind, an owner in that city, a posting id below 2^48 with a
 * revision, a state and the posting itself, owned by that owner. A message
 * that passes must encode again (as a home city would publish it), decode
 * and pass again, and encode the second time to the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fedapply.h"

static void s_die(const char *what)
{
    fprintf(stderr, "fuzz_fed: invariant broken: %s\n", what);
    abort();
}

/* What gx_fedapply_check promises of a message it passes. */
static void s_passed(const gx_fed_msg *m, const char *subject)
{
    char want[32];
    snprintf(want, sizeof want, "gx.%u.post", m->origin_city);
    if (m->origin_city < 1000 || m->origin_city > 9999 || strcmp(subject, want) != 0)
        s_die("passed a message of another city or subject");
    if (m->kind < GX_FED_DEMAND || m->kind > GX_FED_FIRM || !m->owner)
        s_die("passed an unknown kind or a message without its owner");
    if (m->kind == GX_FED_FIRM)
        return;
    if (m->origin_id == 0 || m->origin_id >= GX_FED_LOCAL_MAX || m->revision == 0 ||
        m->state == GX_STATE_NONE)
        s_die("passed a posting out of range");
    const char *owner = m->kind == GX_FED_DEMAND ? (m->demand ? m->demand->owner : NULL)
                                                 : (m->offer ? m->offer->owner : NULL);
    if (!owner || strcmp(owner, m->owner->id) != 0)
        s_die("passed a posting without its posting or of another owner");
}

/* Checks m on subject; returns whether it passed (a refusal must say why). */
static bool s_check(const gx_fed_msg *m, const char *subject)
{
    char why[200] = "";
    bool ok = gx_fedapply_check(m, subject, why, sizeof why);
    if (!ok && !why[0])
        s_die("refused without a reason");
    if (ok)
        s_passed(m, subject);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes, so that ASan sees a read past the message */
    uint8_t *in = malloc(size ? size : 1);
    if (!in)
        return 0;
    if (size)
        memcpy(in, data, size);
    gx_fed_msg m;
    gx_err err = gx_codec_decode_fed(in, size, &m);
    free(in);
    if (err == GX_ERR_MALFORMED || err == GX_ERR_NOMEM) {
        if (m.demand || m.offer || m.owner)
            s_die("a refused message left something decoded");
        return 0;
    }
    if (err != GX_OK)
        s_die("decode failed with another error than MALFORMED or NOMEM");
    char subject[32];
    snprintf(subject, sizeof subject, "gx.%u.post", m.origin_city);
    if (gx_fedapply_check(&m, NULL, NULL, 0))
        s_die("passed a message on no subject");
    if (m.origin_city != 4101 && gx_fedapply_check(&m, "gx.4101.post", NULL, 0))
        s_die("passed a message on another city's subject");
    if (s_check(&m, subject)) {
        gx_buf a = {0}, b = {0};
        gx_fed_msg again;
        if (gx_codec_encode_fed(&m, &a) != GX_OK)
            s_die("a message that passed does not encode");
        if ((err = gx_codec_decode_fed(a.data, a.len, &again)) == GX_OK) {
            if (!s_check(&again, subject))
                s_die("a message that passed, encoded again, is refused");
            if (gx_codec_encode_fed(&again, &b) != GX_OK || a.len != b.len ||
                memcmp(a.data, b.data, a.len) != 0)
                s_die("a message encoded twice gives other bytes");
            gx_codec_fed_fini(&again);
        } else if (err != GX_ERR_NOMEM) {
            s_die("a message that passed, encoded again, does not decode");
        }
        gx_buf_fini(&a);
        gx_buf_fini(&b);
    }
    gx_codec_fed_fini(&m);
    return 0;
}
