/* msgcheck.c — checks the message catalogue (every .tsv of src/data/messages).
 *
 * Usage: gx_msgcheck FILE.tsv... ; exit 0 when every file is well-formed,
 * else 1 with one "file:line: reason" line on stderr per fault. The build runs
 * it over every catalogue file before anything embeds one.
 *
 * The rules (the format is written at the top of server.tsv):
 *   - UTF-8; lines starting with '#' and blank lines are comments;
 *   - every other line is id TAB zh-CN text TAB en text, exactly three fields,
 *     neither text empty (a missing language);
 *   - an id matches [a-z][a-z0-9_.]*, starts with the file's stem and a dot
 *     ("server." in server.tsv) and is unique across all the files given;
 *   - escapes: \n, \t, \\ and {{ / }} for literal braces; any other backslash
 *     or lone brace is a bad escape;
 *   - placeholders {name}, name [a-z][a-z0-9_]*; both texts of an id name the
 *     same set. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_IDS 8192
#define S_MAX_PH 32

typedef struct s_seen {
    char *id;   /* an id already defined */
    char *file; /* where */
    long line;
} s_seen;

static s_seen s_ids[S_MAX_IDS];
static size_t s_nids;
static int s_faults;

static void s_fault(const char *file, long line, const char *fmt, const char *a)
{
    fprintf(stderr, "%s:%ld: ", file, line);
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
    s_faults++;
}

/* True when s is well-formed UTF-8 (no overlongs, surrogates, > U+10FFFF). */
static bool s_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k = c < 0x80             ? 1
                   : (c & 0xE0) == 0xC0 ? 2
                   : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4
                                        : 0;
        if (k == 0 || i + k > n)
            return false;
        unsigned cp = k == 1 ? c : k == 2 ? c & 0x1F : k == 3 ? c & 0x0F : c & 0x07;
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k;
    }
    return true;
}

static bool s_name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (!first && ((c >= '0' && c <= '9') || c == '_'));
}

/* The placeholders of text t into ph (sorted, unique); false with *why set
 * on a bad escape or placeholder. */
static bool s_scan(const char *t, char ph[S_MAX_PH][64], size_t *nph, const char **why)
{
    *nph = 0;
    for (const char *p = t; *p; p++) {
        if (*p == '\\') {
            if (p[1] != 'n' && p[1] != 't' && p[1] != '\\') {
                *why = "bad escape: a backslash must start \\n, \\t or \\\\";
                return false;
            }
            p++;
        } else if (*p == '}') {
            if (p[1] != '}') {
                *why = "bad escape: a lone '}' (write }} for a literal brace)";
                return false;
            }
            p++;
        } else if (*p == '{') {
            if (p[1] == '{') {
                p++;
                continue;
            }
            const char *q = p + 1;
            while (s_name_char(*q, q == p + 1))
                q++;
            if (*q != '}' || q == p + 1 || q - p - 1 >= 64) {
                *why = "bad escape: '{' must open a placeholder {name} (name [a-z][a-z0-9_]*) or be {{";
                return false;
            }
            char name[64];
            memcpy(name, p + 1, (size_t)(q - p - 1));
            name[q - p - 1] = '\0';
            bool dup = false;
            for (size_t i = 0; i < *nph; i++)
                dup = dup || strcmp(ph[i], name) == 0;
            if (!dup) {
                if (*nph >= S_MAX_PH) {
                    *why = "too many placeholders";
                    return false;
                }
                strcpy(ph[(*nph)++], name);
            }
            p = q;
        }
    }
    return true;
}

static bool s_same_set(char a[S_MAX_PH][64], size_t na, char b[S_MAX_PH][64], size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        bool found = false;
        for (size_t j = 0; j < nb && !found; j++)
            found = strcmp(a[i], b[j]) == 0;
        if (!found)
            return false;
    }
    return true;
}

static void s_line(const char *file, const char *stem, long ln, char *line)
{
    if (line[0] == '#' || line[0] == '\0')
        return;
    if (!s_utf8((const unsigned char *)line, strlen(line))) {
        s_fault(file, ln, "not valid UTF-8%s", "");
        return;
    }
    char *f[4] = {line, NULL, NULL, NULL};
    int nf = 1;
    for (char *p = line; *p; p++)
        if (*p == '\t') {
            *p = '\0';
            if (nf < 4)
                f[nf] = p + 1;
            nf++;
        }
    if (nf != 3) {
        s_fault(file, ln,
                nf < 3 ? "missing language: want id<TAB>zh-CN text<TAB>en text, got %s"
                       : "too many fields: want id<TAB>zh-CN text<TAB>en text, got %s",
                nf == 1   ? "1 field"
                : nf == 2 ? "2 fields"
                          : "more than 3 fields");
        return;
    }
    const char *id = f[0];
    bool ok_id = s_name_char(id[0], true);
    for (const char *p = id + 1; ok_id && *p; p++)
        ok_id = s_name_char(*p, false) || *p == '.';
    size_t sl = strlen(stem);
    if (!ok_id) {
        s_fault(file, ln, "unknown id '%s': an id matches [a-z][a-z0-9_.]*", id);
        return;
    }
    if (strncmp(id, stem, sl) != 0 || id[sl] != '.' || !id[sl + 1]) {
        s_fault(file, ln, "unknown id '%s': ids in this file start with its name and a dot", id);
        fprintf(stderr, "%s:%ld: (this file's ids start with '%s.')\n", file, ln, stem);
        return;
    }
    for (size_t i = 0; i < s_nids; i++)
        if (strcmp(s_ids[i].id, id) == 0) {
            char where[512];
            snprintf(where, sizeof where, "duplicate id '%s' (first at %s:%ld)", id, s_ids[i].file,
                     s_ids[i].line);
            s_fault(file, ln, "%s", where);
            return;
        }
    if (s_nids < S_MAX_IDS)
        s_ids[s_nids++] = (s_seen){.id = strdup(id), .file = strdup(file), .line = ln};
    if (!f[1][0] || !f[2][0]) {
        s_fault(file, ln, "missing language: the %s text is empty", !f[1][0] ? "zh-CN" : "en");
        return;
    }
    char pa[S_MAX_PH][64], pb[S_MAX_PH][64];
    size_t na, nb;
    const char *why = NULL;
    if (!s_scan(f[1], pa, &na, &why) || !s_scan(f[2], pb, &nb, &why)) {
        s_fault(file, ln, "%s", why);
        return;
    }
    if (!s_same_set(pa, na, pb, nb))
        s_fault(file, ln, "placeholder sets differ between the zh-CN and en texts of '%s'", id);
}

static void s_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        s_fault(path, 0, "cannot open%s", "");
        return;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char stem[128];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot)
        *dot = '\0';
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long ln = 0;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        ln++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len > 0 && line[len - 1] == '\r')
            line[--len] = '\0';
        if ((size_t)len != strlen(line)) {
            s_fault(path, ln, "a NUL byte in the line%s", "");
            continue;
        }
        s_line(path, stem, ln, line);
    }
    free(line);
    fclose(fp);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gx_msgcheck FILE.tsv...\n");
        return 2;
    }
    for (int i = 1; i < argc; i++)
        s_file(argv[i]);
    for (size_t i = 0; i < s_nids; i++) {
        free(s_ids[i].id);
        free(s_ids[i].file);
    }
    if (s_faults)
        fprintf(stderr, "gx_msgcheck: %d fault%s in the message catalogue\n", s_faults,
                s_faults == 1 ? "" : "s");
    return s_faults ? 1 : 0;
}
