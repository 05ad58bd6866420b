/* vocab.c — the vocabulary file: parsing, validation and lookup.
 *
 * The parser keeps one private copy of the text and cuts it into fields in
 * place, so every id, name and alias of a gx_vocab points into that copy. All
 * keys of all classes live in one open-addressing hash table; a key is hashed
 * and compared with ASCII letters folded to lower case and every other byte
 * as is, which makes Latin text case-insensitive and Chinese text exact. */
#include "vocab.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define S_FIELDS 7         /* class, id, zh, en, aliases, county, flags */
#define S_AMBIGUOUS (-1)   /* slot entry of a name shared by unrelated entries */
#define S_READ_CHUNK 65536 /* first buffer size when reading a file */
#define S_STR2(x) #x
#define S_STR(x) S_STR2(x) /* a macro's value as a string literal */

/* What a key is to its entry. */
enum { S_KEY_ID = 0, S_KEY_ALIAS = 1, S_KEY_NAME = 2, S_KEY_ANY = 3 };

typedef struct s_entry {
    const char *id;     /* canonical id, as written in the file */
    const char *zh;     /* Chinese name */
    const char *en;     /* English name */
    const char *county; /* zone lines: the county the zone lies in; else NULL */
    uint32_t alias0;    /* index of the entry's first alias in gx_vocab.aliases */
    uint32_t n_aliases; /* number of aliases, consecutive from alias0 */
    uint32_t line;      /* 1-based line in the source, for messages */
    uint8_t cls;        /* gx_vclass */
    bool three;         /* flagged as one of the three districts */
} s_entry;

typedef struct s_slot {
    const char *key; /* the key as written; NULL marks an empty slot */
    uint32_t len;    /* key length in bytes */
    uint32_t hash;   /* s_hash of class and folded key */
    int32_t entry;   /* index into gx_vocab.entries, or S_AMBIGUOUS */
    uint8_t cls;     /* class the key belongs to */
    uint8_t kind;    /* S_KEY_ID, S_KEY_ALIAS or S_KEY_NAME */
} s_slot;

struct gx_vocab {
    char *text;                /* private NUL-terminated copy of the source, cut into fields */
    s_entry *entries;          /* every entry, in file order */
    size_t n_entries;          /* entries in use */
    size_t cap_entries;        /* entries allocated */
    const char **aliases;      /* aliases of all entries, each entry's consecutive */
    size_t n_aliases;          /* aliases in use */
    size_t cap_aliases;        /* aliases allocated */
    s_slot *slots;             /* hash table of ids, aliases and names */
    size_t n_slots;            /* table size, a power of two at least twice the keys */
    size_t count[GX_V__COUNT]; /* entries per class */
    uint64_t fingerprint;      /* FNV-1a of the source text */
    const char **three;        /* ids flagged "three", in file order */
    size_t n_three;            /* length of three */
    char div_section[100];     /* section letter of each industry division, 0 if none */
};

static const char *const s_class_names[GX_V__COUNT] = {"process", "material", "industry",
                                                       "county",  "zone",     "cert"};
static const char *const s_kind_names[] = {"id", "alias", "name"};

/* Writes a message into errbuf (when there is one) and returns err. */
static gx_err s_fail(char *errbuf, size_t errlen, gx_err err, const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return err;
}

static char s_fold(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool s_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static bool s_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool s_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

/* FNV-1a over the class and the folded key. */
static uint32_t s_hash(uint8_t cls, const char *key, size_t len)
{
    uint32_t h = 2166136261u;
    h = (h ^ cls) * 16777619u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s_fold(key[i])) * 16777619u;
    return h;
}

static bool s_eq_fold(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s_fold(a[i]) != s_fold(b[i]))
            return false;
    return true;
}

/* Trims ASCII white space off both ends of the NUL-terminated s, in place. */
static char *s_trim(char *s)
{
    while (s_space(*s))
        s++;
    size_t n = strlen(s);
    while (n && s_space(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* True when a is a proper ancestor of b in class cls: a dotted prefix for the
 * dotted classes, a string prefix for industry codes. */
static bool s_is_ancestor(uint8_t cls, const char *a, const char *b)
{
    size_t la = strlen(a);
    if (la >= strlen(b) || strncmp(a, b, la) != 0)
        return false;
    if (cls == GX_V_PROCESS || cls == GX_V_MATERIAL)
        return b[la] == '.';
    return cls == GX_V_INDUSTRY;
}

/* The entry index for key in class cls, restricted to slots of kind `kind`
 * (S_KEY_ANY for all), or -1. Ambiguous names give -1. */
static int32_t s_find(const gx_vocab *v, uint8_t cls, const char *key, size_t len, int kind)
{
    if (!v->n_slots)
        return -1;
    uint32_t h = s_hash(cls, key, len);
    size_t mask = v->n_slots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const s_slot *s = &v->slots[i];
        if (!s->key)
            return -1;
        if (s->hash == h && s->cls == cls && s->len == len && s_eq_fold(s->key, key, len)) {
            if (kind != S_KEY_ANY && s->kind != kind)
                return -1;
            return s->entry;
        }
    }
}

/* Checks the id syntax of class cls; NULL when fine, else what is wrong. */
static const char *s_id_problem(uint8_t cls, const char *id)
{
    size_t n = strlen(id);
    if (n > GX_VOCAB_MAX_ID)
        return "is longer than " S_STR(GX_VOCAB_MAX_ID) " bytes";
    switch (cls) {
    case GX_V_PROCESS:
    case GX_V_MATERIAL:
    case GX_V_ZONE: {
        /* lower-case segments of [a-z0-9_-] joined by single dots */
        bool seg_empty = true;
        for (size_t i = 0; i < n; i++) {
            char c = id[i];
            if (c == '.') {
                if (seg_empty)
                    return "has an empty segment (expected lower-case words joined by dots)";
                seg_empty = true;
            } else if ((c >= 'a' && c <= 'z') || s_digit(c) || c == '_' || c == '-') {
                seg_empty = false;
            } else {
                return "may hold only a-z, 0-9, '_', '-' and '.'";
            }
        }
        return seg_empty ? "has an empty segment (expected lower-case words joined by dots)" : NULL;
    }
    case GX_V_INDUSTRY:
        if (id[0] < 'A' || id[0] > 'T' || !(n == 1 || (n >= 3 && n <= 5)))
            return "is not a GB/T 4754 code (section letter A-T, then none or 2-4 digits)";
        for (size_t i = 1; i < n; i++)
            if (!s_digit(id[i]))
                return "is not a GB/T 4754 code (section letter A-T, then none or 2-4 digits)";
        return NULL;
    case GX_V_COUNTY:
        if (n != 6)
            return "is not a six-digit GB/T 2260 code";
        for (size_t i = 0; i < n; i++)
            if (!s_digit(id[i]))
                return "is not a six-digit GB/T 2260 code";
        return NULL;
    case GX_V_CERT:
        for (size_t i = 0; i < n; i++) {
            char c = id[i];
            if (!(s_upper(c) || (c >= 'a' && c <= 'z') || s_digit(c) || c == '_' || c == '-' || c == '.'))
                return "may hold only letters, digits, '_', '-' and '.'";
        }
        return NULL;
    }
    return "has an unknown class";
}

static gx_err s_push_entry(gx_vocab *v, const s_entry *e)
{
    if (v->n_entries == v->cap_entries) {
        size_t cap = v->cap_entries ? v->cap_entries * 2 : 256;
        if (cap > GX_VOCAB_MAX_ENTRIES)
            cap = GX_VOCAB_MAX_ENTRIES;
        s_entry *n = realloc(v->entries, cap * sizeof *n);
        if (!n)
            return GX_ERR_NOMEM;
        v->entries = n;
        v->cap_entries = cap;
    }
    v->entries[v->n_entries++] = *e;
    return GX_OK;
}

static gx_err s_push_alias(gx_vocab *v, const char *a)
{
    if (v->n_aliases == v->cap_aliases) {
        size_t cap = v->cap_aliases ? v->cap_aliases * 2 : 256;
        const char **n = realloc(v->aliases, cap * sizeof *n);
        if (!n)
            return GX_ERR_NOMEM;
        v->aliases = n;
        v->cap_aliases = cap;
    }
    v->aliases[v->n_aliases++] = a;
    return GX_OK;
}

/* Splits the comma-separated aliases field into v->aliases for entry e. */
static gx_err s_parse_aliases(gx_vocab *v, s_entry *e, char *field, char *eb, size_t el)
{
    e->alias0 = (uint32_t)v->n_aliases;
    if (!*field)
        return GX_OK;
    for (char *p = field;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        char *a = s_trim(p);
        if (!*a)
            return s_fail(eb, el, GX_ERR_INVALID, "line %u: empty alias in \"%s\"", e->line, e->id);
        if (e->n_aliases == GX_VOCAB_MAX_ALIASES)
            return s_fail(eb, el, GX_ERR_INVALID, "line %u: %s has more than %d aliases", e->line, e->id,
                          GX_VOCAB_MAX_ALIASES);
        if (s_push_alias(v, a))
            return s_fail(eb, el, GX_ERR_NOMEM, "out of memory");
        e->n_aliases++;
        if (!comma)
            return GX_OK;
        p = comma + 1;
    }
}

/* Reads the flags field: comma-separated words, today only "three". */
static gx_err s_parse_flags(s_entry *e, char *field, char *eb, size_t el)
{
    for (char *p = field; *p;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        char *f = s_trim(p);
        if (strcmp(f, "three") == 0) {
            if (e->cls != GX_V_COUNTY && e->cls != GX_V_ZONE)
                return s_fail(eb, el, GX_ERR_INVALID,
                              "line %u: flag \"three\" is only for county and zone lines", e->line);
            e->three = true;
        } else if (*f) {
            return s_fail(eb, el, GX_ERR_INVALID, "line %u: unknown flag \"%s\" (known: three)", e->line, f);
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return GX_OK;
}

/* Parses one line (NUL-terminated, no newline) into an entry, if it holds one. */
static gx_err s_parse_line(gx_vocab *v, char *p, size_t n, uint32_t line, char *eb, size_t el)
{
    char *f[S_FIELDS] = {0};
    int nf = 0;
    const char *lead = p;
    while (s_space(*lead))
        lead++;
    if (*lead == '\0' || *lead == '#')
        return GX_OK;
    if (!gx_utf8_valid(p, n))
        return s_fail(eb, el, GX_ERR_INVALID, "line %u: not valid UTF-8", line);
    for (char *q = p;;) {
        if (nf == S_FIELDS)
            return s_fail(eb, el, GX_ERR_INVALID, "line %u: more than %d tab-separated fields", line,
                          S_FIELDS);
        f[nf++] = q;
        char *tab = strchr(q, '\t');
        if (!tab)
            break;
        *tab = '\0';
        q = tab + 1;
    }
    if (nf < 4)
        return s_fail(eb, el, GX_ERR_INVALID,
                      "line %u: expected at least 4 tab-separated fields (class, id, Chinese name, "
                      "English name), found %d",
                      line, nf);
    for (int i = 0; i < nf; i++)
        f[i] = s_trim(f[i]);

    s_entry e = {.line = line};
    int cls = -1;
    for (int c = 0; c < GX_V__COUNT; c++)
        if (strcmp(f[0], s_class_names[c]) == 0)
            cls = c;
    if (cls < 0)
        return s_fail(eb, el, GX_ERR_INVALID,
                      "line %u: unknown class \"%s\" (expected process, material, industry, county, "
                      "zone or cert)",
                      line, f[0]);
    e.cls = (uint8_t)cls;
    e.id = f[1];
    const char *why = *e.id ? s_id_problem(e.cls, e.id) : "is empty";
    if (why)
        return s_fail(eb, el, GX_ERR_INVALID, "line %u: %s id \"%s\" %s", line, f[0], e.id, why);
    e.zh = f[2];
    e.en = f[3];
    if (!*e.zh || !*e.en)
        return s_fail(eb, el, GX_ERR_INVALID, "line %u: %s needs both a Chinese and an English name", line,
                      e.id);
    if (v->n_entries == GX_VOCAB_MAX_ENTRIES)
        return s_fail(eb, el, GX_ERR_INVALID, "line %u: more than %d entries", line, GX_VOCAB_MAX_ENTRIES);

    gx_err err = nf > 4 ? s_parse_aliases(v, &e, f[4], eb, el) : GX_OK;
    if (err)
        return err;
    const char *county = nf > 5 ? f[5] : "";
    if (e.cls == GX_V_ZONE) {
        if (!*county)
            return s_fail(eb, el, GX_ERR_INVALID, "line %u: zone %s needs its county in field 6", line, e.id);
        if (s_id_problem(GX_V_COUNTY, county))
            return s_fail(eb, el, GX_ERR_INVALID,
                          "line %u: county \"%s\" of zone %s is not a six-digit GB/T 2260 code", line, county,
                          e.id);
        e.county = county;
    } else if (*county) {
        return s_fail(eb, el, GX_ERR_INVALID, "line %u: only zone lines have a county (field 6)", line);
    }
    if (nf > 6 && (err = s_parse_flags(&e, f[6], eb, el)))
        return err;

    if (e.cls == GX_V_INDUSTRY && strlen(e.id) >= 3) {
        int div = (e.id[1] - '0') * 10 + (e.id[2] - '0');
        char *sec = &v->div_section[div];
        if (*sec && *sec != e.id[0])
            return s_fail(eb, el, GX_ERR_INVALID,
                          "line %u: division %02d of %s belongs to section %c elsewhere in the file", line,
                          div, e.id, *sec);
        *sec = e.id[0];
    }
    if (s_push_entry(v, &e))
        return s_fail(eb, el, GX_ERR_NOMEM, "out of memory");
    v->count[e.cls]++;
    return GX_OK;
}

static gx_err s_parse_lines(gx_vocab *v, size_t len, char *eb, size_t el)
{
    char *p = v->text, *end = v->text + len;
    uint32_t line = 0;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3; /* a byte-order mark some editors add */
    while (p < end) {
        line++;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        size_t n = (size_t)(eol - p);
        if (n && p[n - 1] == '\r')
            n--; /* the CR of a CRLF belongs to the line end */
        if (n > GX_VOCAB_MAX_LINE)
            return s_fail(eb, el, GX_ERR_INVALID, "line %u: longer than %d bytes", line, GX_VOCAB_MAX_LINE);
        if (memchr(p, '\0', n))
            return s_fail(eb, el, GX_ERR_INVALID, "line %u: contains a NUL byte", line);
        *eol = '\0'; /* at end this is the copy's own terminator */
        p[n] = '\0';
        gx_err err = s_parse_line(v, p, n, line, eb, el);
        if (err)
            return err;
        p = eol + 1;
    }
    return GX_OK;
}

/* Adds one key of entry ei; a clash that makes lookups ambiguous is an error,
 * except between names (see vocab.h on gx_vocab_resolve). */
static gx_err s_add_key(gx_vocab *v, uint32_t ei, const char *key, uint8_t kind, char *eb, size_t el)
{
    const s_entry *e = &v->entries[ei];
    size_t len = strlen(key);
    uint32_t h = s_hash(e->cls, key, len);
    size_t mask = v->n_slots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        s_slot *s = &v->slots[i];
        if (!s->key) {
            *s = (s_slot){.key = key,
                          .len = (uint32_t)len,
                          .hash = h,
                          .entry = (int32_t)ei,
                          .cls = e->cls,
                          .kind = kind};
            return GX_OK;
        }
        if (s->hash != h || s->cls != e->cls || s->len != len || !s_eq_fold(s->key, key, len))
            continue;
        if (s->entry == (int32_t)ei)
            return GX_OK; /* an entry repeating its own key; its id went in first */
        if (kind == S_KEY_NAME && s->kind == S_KEY_NAME) {
            if (s->entry == S_AMBIGUOUS)
                return GX_OK;
            const s_entry *o = &v->entries[s->entry];
            if (s_is_ancestor(e->cls, o->id, e->id))
                s->entry = (int32_t)ei; /* the more specific entry keeps the name */
            else if (!s_is_ancestor(e->cls, e->id, o->id))
                s->entry = S_AMBIGUOUS;
            return GX_OK;
        }
        if (s->entry == S_AMBIGUOUS)
            return s_fail(eb, el, GX_ERR_INVALID,
                          "line %u: %s \"%s\" of %s is already a name of several %s entries", e->line,
                          s_kind_names[kind], key, e->id, s_class_names[e->cls]);
        const s_entry *o = &v->entries[s->entry];
        if (kind == S_KEY_ID && s->kind == S_KEY_ID)
            return s_fail(eb, el, GX_ERR_INVALID, "line %u: duplicate %s id %s (first on line %u)", e->line,
                          s_class_names[e->cls], e->id, o->line);
        return s_fail(eb, el, GX_ERR_INVALID,
                      "line %u: %s \"%s\" of %s collides with the %s of %s %s (line %u)", e->line,
                      s_kind_names[kind], key, e->id, s_kind_names[s->kind], s_class_names[o->cls], o->id,
                      o->line);
    }
}

static gx_err s_build_index(gx_vocab *v, char *eb, size_t el)
{
    size_t keys = v->n_entries * 3 + v->n_aliases;
    size_t n = 16;
    while (n < keys * 2)
        n *= 2;
    v->slots = calloc(n, sizeof *v->slots);
    if (!v->slots)
        return s_fail(eb, el, GX_ERR_NOMEM, "out of memory");
    v->n_slots = n;
    for (uint32_t i = 0; i < v->n_entries; i++) {
        const s_entry *e = &v->entries[i];
        gx_err err = s_add_key(v, i, e->id, S_KEY_ID, eb, el);
        for (uint32_t a = 0; !err && a < e->n_aliases; a++)
            err = s_add_key(v, i, v->aliases[e->alias0 + a], S_KEY_ALIAS, eb, el);
        if (!err)
            err = s_add_key(v, i, e->zh, S_KEY_NAME, eb, el);
        if (!err)
            err = s_add_key(v, i, e->en, S_KEY_NAME, eb, el);
        if (err)
            return err;
    }
    return GX_OK;
}

/* Every dotted parent, industry parent and zone county must be defined. */
static gx_err s_check_refs(gx_vocab *v, char *eb, size_t el)
{
    for (size_t i = 0; i < v->n_entries; i++) {
        const s_entry *e = &v->entries[i];
        size_t plen = 0;
        if (e->cls == GX_V_PROCESS || e->cls == GX_V_MATERIAL) {
            const char *dot = strrchr(e->id, '.');
            plen = dot ? (size_t)(dot - e->id) : 0;
        } else if (e->cls == GX_V_INDUSTRY) {
            size_t n = strlen(e->id);
            plen = n == 1 ? 0 : n == 3 ? 1 : n - 1; /* "C36" -> "C", "C367" -> "C36" */
        } else if (e->cls == GX_V_ZONE) {
            if (s_find(v, GX_V_COUNTY, e->county, strlen(e->county), S_KEY_ID) < 0)
                return s_fail(eb, el, GX_ERR_INVALID, "line %u: county %s of zone %s is not defined", e->line,
                              e->county, e->id);
        }
        if (plen && s_find(v, e->cls, e->id, plen, S_KEY_ID) < 0)
            return s_fail(eb, el, GX_ERR_INVALID, "line %u: parent %.*s of %s is not defined", e->line,
                          (int)plen, e->id, e->id);
    }
    return GX_OK;
}

static gx_err s_collect_three(gx_vocab *v, char *eb, size_t el)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n_entries; i++) {
        if (!v->entries[i].three)
            continue;
        if (++n > GX_VOCAB_MAX_THREE)
            return s_fail(eb, el, GX_ERR_INVALID, "line %u: more than %d entries flagged \"three\"",
                          v->entries[i].line, GX_VOCAB_MAX_THREE);
    }
    if (!n)
        return GX_OK;
    v->three = calloc(n, sizeof *v->three);
    if (!v->three)
        return s_fail(eb, el, GX_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < v->n_entries; i++)
        if (v->entries[i].three)
            v->three[v->n_three++] = v->entries[i].id;
    return GX_OK;
}

gx_err gx_vocab_parse(const char *text, size_t len, gx_vocab **out, char *errbuf, size_t errlen)
{
    assert(out && (text || !len));
    gx_err err = GX_OK;
    gx_vocab *v = NULL;
    *out = NULL;
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (len > GX_VOCAB_MAX_BYTES) {
        err = s_fail(errbuf, errlen, GX_ERR_INVALID, "vocabulary is larger than %lu bytes",
                     (unsigned long)GX_VOCAB_MAX_BYTES);
        goto out;
    }
    v = calloc(1, sizeof *v);
    if (v)
        v->text = malloc(len + 1);
    if (!v || !v->text) {
        err = s_fail(errbuf, errlen, GX_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (len)
        memcpy(v->text, text, len);
    v->text[len] = '\0';
    v->fingerprint = gx_fnv1a(GX_FNV_SEED, text, len);
    if ((err = s_parse_lines(v, len, errbuf, errlen)) || (err = s_build_index(v, errbuf, errlen)) ||
        (err = s_check_refs(v, errbuf, errlen)) || (err = s_collect_three(v, errbuf, errlen)))
        goto out;
    *out = v;
    v = NULL;
out:
    gx_vocab_destroy(&v);
    return err;
}

gx_err gx_vocab_load(const char *path, gx_vocab **out, char *errbuf, size_t errlen)
{
    assert(out);
    if (!path || !*path)
        return gx_vocab_parse(gx_vocab_default, (size_t)gx_vocab_default_len, out, errbuf, errlen);
    gx_err err = GX_OK;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        err = s_fail(errbuf, errlen, GX_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    /* Read at most one byte past the cap: enough for the parser to refuse it. */
    for (;;) {
        if (n == cap) {
            if (cap > GX_VOCAB_MAX_BYTES)
                break;
            size_t ncap = cap ? cap * 2 : S_READ_CHUNK;
            if (ncap > GX_VOCAB_MAX_BYTES + 1)
                ncap = GX_VOCAB_MAX_BYTES + 1;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                err = s_fail(errbuf, errlen, GX_ERR_NOMEM, "out of memory reading %s", path);
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                err = s_fail(errbuf, errlen, GX_ERR_IO, "cannot read %s: %s", path, strerror(errno));
                goto out;
            }
            break;
        }
    }
    err = gx_vocab_parse(buf ? buf : "", n, out, errbuf, errlen);
out:
    if (f)
        fclose(f);
    free(buf);
    return err;
}

void gx_vocab_destroy(gx_vocab **v)
{
    if (!v || !*v)
        return;
    gx_vocab *p = *v;
    free(p->text);
    free(p->entries);
    free(p->aliases);
    free(p->slots);
    free(p->three);
    free(p);
    *v = NULL;
}

const char *gx_vocab_resolve(const gx_vocab *v, gx_vclass c, const char *term)
{
    assert(v);
    if (!term || c < 0 || c >= GX_V__COUNT)
        return NULL;
    while (s_space(*term))
        term++;
    size_t n = strnlen(term, GX_VOCAB_MAX_LINE + 1);
    while (n && s_space(term[n - 1]))
        n--;
    if (n == 0 || n > GX_VOCAB_MAX_LINE)
        return NULL; /* no key is longer than a line */
    int32_t ei = s_find(v, (uint8_t)c, term, n, S_KEY_ANY);
    if (ei < 0 && c == GX_V_INDUSTRY && n >= 2 && n <= 4) {
        char code[6];
        for (size_t i = 0; i < n; i++)
            if (!s_digit(term[i]))
                return NULL;
        code[0] = v->div_section[(term[0] - '0') * 10 + (term[1] - '0')];
        if (!code[0])
            return NULL;
        memcpy(code + 1, term, n);
        ei = s_find(v, GX_V_INDUSTRY, code, n + 1, S_KEY_ID);
    }
    return ei >= 0 ? v->entries[ei].id : NULL;
}

const char *gx_vocab_name(const gx_vocab *v, gx_vclass c, const char *id, bool zh)
{
    assert(v);
    if (!id || c < 0 || c >= GX_V__COUNT)
        return NULL;
    int32_t ei = s_find(v, (uint8_t)c, id, strlen(id), S_KEY_ID);
    if (ei < 0)
        return NULL;
    return zh ? v->entries[ei].zh : v->entries[ei].en;
}

const char *gx_vocab_zone_county(const gx_vocab *v, const char *zone)
{
    assert(v);
    if (!zone)
        return NULL;
    int32_t ei = s_find(v, GX_V_ZONE, zone, strlen(zone), S_KEY_ID);
    return ei >= 0 ? v->entries[ei].county : NULL;
}

const char *const *gx_vocab_three_districts(const gx_vocab *v, size_t *n)
{
    assert(v && n);
    *n = v->n_three;
    return v->three;
}

uint64_t gx_vocab_fingerprint(const gx_vocab *v)
{
    assert(v);
    return v->fingerprint;
}

size_t gx_vocab_count(const gx_vocab *v, gx_vclass c)
{
    assert(v);
    return (c >= 0 && c < GX_V__COUNT) ? v->count[c] : 0;
}

/* ---------------------------------------------------------------- finding codes */

/* Does hay contain needle (nlen bytes), ASCII letters folded? */
static bool s_contains_fold(const char *hay, const char *needle, size_t nlen)
{
    if (!hay)
        return false;
    if (nlen == 0)
        return true;
    for (const char *p = hay; *p; p++)
        if (s_fold(*p) == s_fold(needle[0]) && strlen(p) >= nlen && s_eq_fold(p, needle, nlen))
            return true;
    return false;
}

static bool s_eq_key(const char *key, const char *text, size_t n)
{
    return key && strlen(key) == n && s_eq_fold(key, text, n);
}

static bool s_prefix_key(const char *key, const char *text, size_t n)
{
    return key && strlen(key) >= n && s_eq_fold(key, text, n);
}

/* How well entry e matches text: 0 an id, alias or name equal to it, 1 an id or
 * alias starting with it, 2 it anywhere in an id, alias or name, 3 no match. */
static int s_match_rank(const gx_vocab *v, const s_entry *e, const char *text, size_t n)
{
    const char *const *al = v->aliases + e->alias0;
    int rank = 3;
    if (s_eq_key(e->id, text, n) || s_eq_key(e->zh, text, n) || s_eq_key(e->en, text, n))
        return 0;
    for (uint32_t i = 0; i < e->n_aliases; i++)
        if (s_eq_key(al[i], text, n))
            return 0;
    if (s_prefix_key(e->id, text, n))
        rank = 1;
    for (uint32_t i = 0; i < e->n_aliases && rank > 1; i++)
        if (s_prefix_key(al[i], text, n))
            rank = 1;
    if (rank > 2 && (s_contains_fold(e->id, text, n) || s_contains_fold(e->zh, text, n) ||
                     s_contains_fold(e->en, text, n)))
        rank = 2;
    for (uint32_t i = 0; i < e->n_aliases && rank > 2; i++)
        if (s_contains_fold(al[i], text, n))
            rank = 2;
    return rank;
}

static void s_entry_view(const gx_vocab *v, const s_entry *e, gx_vocab_entry *out)
{
    out->cls = (gx_vclass)e->cls;
    out->id = e->id;
    out->zh = e->zh;
    out->en = e->en;
    out->county = e->county;
    out->aliases = v->aliases + e->alias0;
    out->n_aliases = e->n_aliases;
}

size_t gx_vocab_find(const gx_vocab *v, gx_vclass c, const char *text, gx_vocab_entry *out, size_t max)
{
    assert(v && text);
    while (s_space(*text))
        text++;
    size_t n = strlen(text), total = 0, filled = 0;
    while (n && s_space(text[n - 1]))
        n--;
    /* one pass per rank keeps the order without sorting or allocating */
    for (int rank = 0; rank <= 2; rank++)
        for (size_t i = 0; i < v->n_entries; i++) {
            const s_entry *e = &v->entries[i];
            if (c != GX_V__COUNT && e->cls != c)
                continue;
            if ((n ? s_match_rank(v, e, text, n) : 2) != rank)
                continue;
            total++;
            if (filled < max)
                s_entry_view(v, e, &out[filled++]);
        }
    return total;
}

/* Edit distance (insert, delete, substitute; ASCII letters folded) between a
 * and b when it is at most k, else k + 1. Banded: O(len * k). */
static size_t s_distance(const char *a, size_t la, const char *b, size_t lb, size_t k)
{
    enum { S_MAXLEN = 96 };
    if (la > S_MAXLEN || lb > S_MAXLEN || (la > lb ? la - lb : lb - la) > k)
        return k + 1;
    size_t prev[S_MAXLEN + 2], cur[S_MAXLEN + 2], inf = k + 1;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j < inf ? j : inf;
    prev[lb + 1] = inf;
    for (size_t i = 1; i <= la; i++) {
        /* only cells within k of the diagonal can end at most k; the cells
         * just outside the band read as k + 1 */
        size_t lo = i > k ? i - k : 1, hi = i + k < lb ? i + k : lb, best = inf;
        cur[0] = i < inf ? i : inf;
        cur[lo - 1] = lo > 1 ? inf : cur[0];
        for (size_t j = lo; j <= hi; j++) {
            size_t d = prev[j - 1] + (s_fold(a[i - 1]) != s_fold(b[j - 1]));
            if (prev[j] + 1 < d)
                d = prev[j] + 1;
            if (cur[j - 1] + 1 < d)
                d = cur[j - 1] + 1;
            cur[j] = d < inf ? d : inf;
            if (cur[j] < best)
                best = cur[j];
        }
        cur[hi + 1] = inf;
        if (best >= inf)
            return inf;
        memcpy(prev + lo - 1, cur + lo - 1, sizeof prev[0] * (hi - lo + 3));
    }
    return prev[lb];
}

/* The smaller of the distances between term and key and between term and the
 * key's last dotted segment ("magnesum" is near "casting.die.magnesium"). */
static size_t s_key_distance(const char *term, size_t n, const char *key, size_t k)
{
    if (!key)
        return k + 1;
    size_t d = s_distance(term, n, key, strlen(key), k);
    const char *dot = strrchr(key, '.');
    if (dot && !memchr(term, '.', n)) {
        size_t d2 = s_distance(term, n, dot + 1, strlen(dot + 1), k);
        d = d2 < d ? d2 : d;
    }
    return d;
}

size_t gx_vocab_suggest(const gx_vocab *v, gx_vclass c, const char *term, const char **out, size_t max)
{
    assert(v && term && (out || !max));
    enum { S_MAX_SUGGEST = 16 };
    size_t dist[S_MAX_SUGGEST], got = 0;
    while (s_space(*term))
        term++;
    size_t n = strnlen(term, 97);
    while (n && s_space(term[n - 1]))
        n--;
    if (max > S_MAX_SUGGEST)
        max = S_MAX_SUGGEST;
    if (n == 0 || n > 96 || c < 0 || c >= GX_V__COUNT)
        return 0;
    size_t k = n <= 4 ? 1 : n <= 10 ? 2 : 3; /* typos allowed grow with the term */
    for (size_t i = 0; i < v->n_entries; i++) {
        const s_entry *e = &v->entries[i];
        if (e->cls != c)
            continue;
        size_t d = s_key_distance(term, n, e->id, k);
        d = d > s_key_distance(term, n, e->en, k) ? s_key_distance(term, n, e->en, k) : d;
        for (uint32_t a = 0; a < e->n_aliases && d > 0; a++) {
            size_t da = s_key_distance(term, n, v->aliases[e->alias0 + a], k);
            d = da < d ? da : d;
        }
        if (d > k && n >= 3 && s_match_rank(v, e, term, n) <= 2)
            d = k + 1; /* contains the term, or starts with it: after every near spelling */
        else if (d > k)
            continue;
        /* insert by distance, file order among equals */
        size_t at = got;
        while (at > 0 && dist[at - 1] > d)
            at--;
        if (at >= max)
            continue;
        size_t last = got < max ? got : max - 1;
        for (size_t j = last; j > at; j--) {
            out[j] = out[j - 1];
            dist[j] = dist[j - 1];
        }
        out[at] = e->id;
        dist[at] = d;
        if (got < max)
            got++;
    }
    return got;
}

/* True when only spaces are left at p. */
static bool s_ipc_rest_blank(const char *p)
{
    while (*p == ' ')
        p++;
    return !*p;
}

gx_err gx_vocab_ipc_normalize(const char *in, char *out, size_t outlen)
{
    assert(out && outlen);
    out[0] = '\0';
    if (!in)
        return GX_ERR_INVALID;
    const char *p = in;
    while (*p == ' ')
        p++;
    char sec = s_fold(p[0]);
    if (sec < 'a' || sec > 'h')
        return GX_ERR_INVALID;
    char head[5] = {(char)(sec - 'a' + 'A'), '\0'};
    int w = -1;
    if (s_ipc_rest_blank(p + 1)) { /* section */
        w = snprintf(out, outlen, "%s", head);
        goto out;
    }
    if (!s_digit(p[1]) || !s_digit(p[2]))
        return GX_ERR_INVALID;
    head[1] = p[1], head[2] = p[2];
    if (s_ipc_rest_blank(p + 3)) { /* class */
        w = snprintf(out, outlen, "%s", head);
        goto out;
    }
    char sub = s_fold(p[3]);
    if (sub < 'a' || sub > 'z')
        return GX_ERR_INVALID;
    head[3] = (char)(sub - 'a' + 'A');
    p += 4;
    while (*p == ' ')
        p++;
    if (!*p) { /* subclass */
        w = snprintf(out, outlen, "%s", head);
        goto out;
    }
    const char *g = p; /* main group: 1-4 digits, leading zeros dropped, not 0 */
    while (s_digit(*p))
        p++;
    size_t glen = (size_t)(p - g);
    if (glen == 0 || glen > 4)
        return GX_ERR_INVALID;
    while (glen > 1 && *g == '0')
        g++, glen--;
    if (*g == '0')
        return GX_ERR_INVALID;
    const char *sg = "00"; /* "H01L 21" is the main group, "H01L 21/00" */
    size_t sglen = 2;
    if (!s_ipc_rest_blank(p)) {
        if (*p++ != '/')
            return GX_ERR_INVALID;
        sg = p; /* subgroup: 2-6 digits, zeros after the second dropped */
        while (s_digit(*p))
            p++;
        sglen = (size_t)(p - sg);
        if (sglen < 2 || sglen > 6 || !s_ipc_rest_blank(p))
            return GX_ERR_INVALID;
        while (sglen > 2 && sg[sglen - 1] == '0')
            sglen--;
    }
    w = snprintf(out, outlen, "%s %.*s/%.*s", head, (int)glen, g, (int)sglen, sg);
out:
    if (w < 0 || (size_t)w >= outlen) {
        out[0] = '\0';
        return GX_ERR_TOO_LARGE;
    }
    return GX_OK;
}
