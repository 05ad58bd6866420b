/* auth.c — the key registry: an open-addressing table of firm keys (never
 * deleted: revocation is a flag) and a small array of operator keys. */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gongxu/keyfile.h>

#define S_MAX_OPERATORS 256

typedef struct s_entry {
    char key[GX_KEY_LEN + 1];       /* "" marks an empty slot */
    char firm[GX_FIRM_ID_LEN + 1];  /* owner */
    bool revoked;                   /* refused from now on */
} s_entry;

struct gx_auth {
    s_entry *slots;                  /* cap slots, power of two */
    size_t cap, count;               /* slots, used */
    char (*ops)[GX_KEY_LEN + 1];     /* operator keys */
    size_t n_ops;
};


gx_err gx_auth_new(gx_auth **out)
{
    gx_auth *a = calloc(1, sizeof *a);
    if (!a)
        return GX_ERR_NOMEM;
    a->cap = 64;
    a->slots = calloc(a->cap, sizeof *a->slots);
    a->ops = calloc(S_MAX_OPERATORS, sizeof *a->ops);
    if (!a->slots || !a->ops) {
        gx_auth_destroy(&a);
        return GX_ERR_NOMEM;
    }
    *out = a;
    return GX_OK;
}

void gx_auth_destroy(gx_auth **pa)
{
    gx_auth *a = *pa;
    if (!a)
        return;
    free(a->slots);
    free(a->ops);
    free(a);
    *pa = NULL;
}

static s_entry *s_slot(s_entry *slots, size_t cap, const char *key)
{
    size_t i = gx_fnv1a_str(GX_FNV_SEED, key) & (cap - 1);
    while (slots[i].key[0] && strcmp(slots[i].key, key) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static gx_err s_grow(gx_auth *a)
{
    size_t cap = a->cap * 2;
    s_entry *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return GX_ERR_NOMEM;
    for (size_t i = 0; i < a->cap; i++)
        if (a->slots[i].key[0])
            *s_slot(slots, cap, a->slots[i].key) = a->slots[i];
    free(a->slots);
    a->slots = slots;
    a->cap = cap;
    return GX_OK;
}

gx_err gx_auth_put(gx_auth *a, const char *key, const char *firm, bool revoked)
{
    if (!key || strlen(key) != GX_KEY_LEN || strlen(firm) > GX_FIRM_ID_LEN)
        return GX_ERR_INVALID;
    if ((a->count + 1) * 2 > a->cap) {
        gx_err err = s_grow(a);
        if (err)
            return err;
    }
    s_entry *e = s_slot(a->slots, a->cap, key);
    if (!e->key[0]) {
        memcpy(e->key, key, GX_KEY_LEN + 1);
        a->count++;
    }
    snprintf(e->firm, sizeof e->firm, "%s", firm);
    e->revoked = revoked;
    return GX_OK;
}

const char *gx_auth_key_firm(const gx_auth *a, const char *key, bool *revoked)
{
    if (!key || strlen(key) != GX_KEY_LEN)
        return NULL;
    s_entry *e = s_slot(a->slots, a->cap, key);
    if (!e->key[0])
        return NULL;
    if (revoked)
        *revoked = e->revoked;
    return e->firm;
}

gx_err gx_auth_lookup(const gx_auth *a, const char *key, gx_principal *p)
{
    memset(p, 0, sizeof *p);
    if (!key)
        return GX_ERR_UNAUTHENTICATED;
    for (size_t i = 0; i < a->n_ops; i++) {
        if (strcmp(a->ops[i], key) == 0) {
            p->is_operator = true;
            return GX_OK;
        }
    }
    bool revoked = false;
    const char *firm = gx_auth_key_firm(a, key, &revoked);
    if (!firm)
        return GX_ERR_UNAUTHENTICATED;
    if (revoked)
        return GX_ERR_FORBIDDEN;
    snprintf(p->firm, sizeof p->firm, "%s", firm);
    return GX_OK;
}

size_t gx_auth_count(const gx_auth *a, bool operators)
{
    return operators ? a->n_ops : a->count;
}

gx_err gx_auth_load_operators(gx_auth *a, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return GX_ERR_IO;
    }
    char line[256], (*keys)[GX_KEY_LEN + 1] = calloc(S_MAX_OPERATORS, sizeof *keys);
    size_t n = 0;
    int lineno = 0;
    gx_err rc = keys ? GX_OK : GX_ERR_NOMEM;
    while (!rc && fgets(line, sizeof line, f)) {
        char *name, *s;
        lineno++;
        if (!gx_keyfile_line(line, &name, &s))
            continue;
        if (!gx_keyfile_valid(s)) {
            snprintf(err, errlen, "%s:%d: not a 40-character Z85 CURVE public key", path, lineno);
            rc = GX_ERR_CONFIG;
        } else if (n == S_MAX_OPERATORS) {
            snprintf(err, errlen, "%s: more than %d operator keys", path, S_MAX_OPERATORS);
            rc = GX_ERR_CONFIG;
        } else {
            memcpy(keys[n++], s, GX_KEY_LEN + 1);
        }
    }
    fclose(f);
    if (!rc && n == 0) {
        snprintf(err, errlen, "%s: no operator key in it", path);
        rc = GX_ERR_CONFIG;
    }
    if (!rc) {
        free(a->ops);
        a->ops = keys;
        a->n_ops = n;
    } else {
        free(keys);
    }
    return rc;
}

gx_err gx_auth_server_key(const char *path, char pub[GX_KEY_LEN + 1], char sec[GX_KEY_LEN + 1], bool *created,
                          char *err, size_t errlen)
{
    struct stat st;
    *created = false;
    if (stat(path, &st) == 0) {
        if (gx_keyfile_read(path, pub, sec, err, errlen) != 0)
            return GX_ERR_CONFIG;
        if (!sec[0]) {
            snprintf(err, errlen, "%s: no secret-key in the broker's key file", path);
            return GX_ERR_CONFIG;
        }
        if (st.st_mode & 077) {
            snprintf(err, errlen, "%s: the broker's secret key is readable by others (mode %03o); chmod 600 it",
                     path, (unsigned)(st.st_mode & 0777));
            return GX_ERR_CONFIG;
        }
        return GX_OK;
    }
    if (errno != ENOENT) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return GX_ERR_IO;
    }
    if (gx_keyfile_generate(pub, sec) != 0) {
        snprintf(err, errlen, "this libzmq has no CURVE support");
        return GX_ERR_CONFIG;
    }
    if (gx_keyfile_write(path, pub, sec, "the gongxud broker", err, errlen) != 0)
        return GX_ERR_IO;
    char pubpath[1024];
    size_t n = strlen(path);
    if (n > 4 && strcmp(path + n - 4, ".key") == 0)
        snprintf(pubpath, sizeof pubpath, "%.*s.pub", (int)(n - 4), path);
    else
        snprintf(pubpath, sizeof pubpath, "%s.pub", path);
    unlink(pubpath); /* the public half follows the secret one */
    if (gx_keyfile_write(pubpath, pub, NULL, "the gongxud broker (give this to clients)", err, errlen) != 0)
        return GX_ERR_IO;
    *created = true;
    return GX_OK;
}

gx_err gx_auth_bootstrap_operator(const char *path, const char *key_path, bool *created, char *err, size_t errlen)
{
    struct stat st;
    char pub[GX_KEY_LEN + 1], sec[GX_KEY_LEN + 1];
    *created = false;
    if (stat(path, &st) == 0)
        return GX_OK;
    if (gx_keyfile_generate(pub, sec) != 0) {
        snprintf(err, errlen, "this libzmq has no CURVE support");
        return GX_ERR_CONFIG;
    }
    if (gx_keyfile_write(key_path, pub, sec, "the first platform operator", err, errlen) != 0)
        return GX_ERR_IO;
    if (gx_keyfile_write(path, pub, NULL, "operator keys, one per line", err, errlen) != 0)
        return GX_ERR_IO;
    *created = true;
    return GX_OK;
}
