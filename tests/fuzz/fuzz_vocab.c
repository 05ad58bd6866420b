/* fuzz_vocab.c — libFuzzer target: a vocabulary file (the `vocabulary` config key).
 *
 * An input is the file's contents, passed to gx_vocab_parse exactly as read (length,
 * not NUL: ASan sees the end of the buffer). When it parses, the words of the input —
 * its tab-, comma- and line-separated pieces, as NUL-terminated copies — are looked up
 * in every class, with the lookups that follow from a hit, and normalised as IPC
 * symbols. Checked on the way: a canonical id resolves to itself, an id's zone county
 * is a known county, and a normalised IPC symbol is its own normal form. When it does
 * not parse, the message says which line. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

#define S_MAX_WORDS 256 /* words looked up per input: keeps one run fast */

static void s_die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_vocab: invariant broken: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static void s_ipc(const char *word)
{
    char out[GX_IPC_MAX], again[GX_IPC_MAX], tiny[6];
    gx_err err = gx_vocab_ipc_normalize(word, out, sizeof out);
    if (err == GX_ERR_TOO_LARGE)
        s_die("GX_IPC_MAX holds any normalised IPC symbol", word);
    if (err)
        return;
    if (gx_vocab_ipc_normalize(out, again, sizeof again) != GX_OK || strcmp(out, again) != 0)
        s_die("a normalised IPC symbol is its own normal form", out);
    err = gx_vocab_ipc_normalize(word, tiny, sizeof tiny); /* "H01L" fits, "H01L 1/02" does not */
    if ((err == GX_OK) != (strlen(out) < sizeof tiny) || (err && tiny[0]))
        s_die("a too-small buffer gives GX_ERR_TOO_LARGE and an empty string", word);
}

static void s_lookup(const gx_vocab *v, const char *word)
{
    for (int c = 0; c < GX_V__COUNT; c++) {
        const char *id = gx_vocab_resolve(v, (gx_vclass)c, word);
        if (!id)
            continue;
        const char *self = gx_vocab_resolve(v, (gx_vclass)c, id);
        if (!self || strcmp(self, id) != 0)
            s_die("a canonical id resolves to itself", id);
        if (!gx_vocab_name(v, (gx_vclass)c, id, true) || !gx_vocab_name(v, (gx_vclass)c, id, false))
            s_die("a canonical id has both names", id);
        if (c == GX_V_ZONE) {
            const char *county = gx_vocab_zone_county(v, id);
            if (!county || !gx_vocab_resolve(v, GX_V_COUNTY, county))
                s_die("a zone lies in a known county", id);
        }
    }
    s_ipc(word);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gx_vocab *v = NULL;
    char err[256];
    gx_err rc = gx_vocab_parse((const char *)data, size, &v, err, sizeof err);
    if (rc) {
        if (v)
            s_die("a refused vocabulary leaves *out NULL", NULL);
        if (strnlen(err, sizeof err) == sizeof err || (rc == GX_ERR_INVALID && !err[0]))
            s_die("a refused vocabulary says why", NULL);
        return 0;
    }
    size_t n_three = 0;
    const char *const *three = gx_vocab_three_districts(v, &n_three);
    for (size_t i = 0; i < n_three; i++)
        if (!gx_vocab_resolve(v, GX_V_COUNTY, three[i]) && !gx_vocab_resolve(v, GX_V_ZONE, three[i]))
            s_die("a three-districts entry is a county or a zone", three[i]);
    for (int c = 0; c < GX_V__COUNT; c++)
        if (gx_vocab_count(v, (gx_vclass)c) > GX_VOCAB_MAX_ENTRIES)
            s_die("a class holds at most GX_VOCAB_MAX_ENTRIES entries", NULL);

    /* The words of the input, each a NUL-terminated copy. */
    char *copy = malloc(size + 1);
    if (!copy) {
        gx_vocab_destroy(&v);
        return 0;
    }
    memcpy(copy, data, size);
    copy[size] = '\0';
    s_lookup(v, copy); /* the whole input (up to its first NUL) as one term */
    int words = 0;
    for (char *p = copy; words < S_MAX_WORDS && p < copy + size;) {
        size_t n = strcspn(p, "\t\n,");
        bool end = p + n >= copy + size;
        p[n] = '\0';
        if (n) {
            s_lookup(v, p);
            words++;
        }
        if (end)
            break;
        p += n + 1;
    }
    free(copy);
    gx_vocab_destroy(&v);
    if (v)
        s_die("gx_vocab_destroy sets its argument to NULL", NULL);
    return 0;
}
