/* vocab.h — the controlled vocabularies every code is validated against.
 *
 * One data file (src/data/vocabulary.tsv, embedded in the binary as the default
 * and overridable by the `vocabulary` config key, reloadable on SIGHUP) lists:
 * processes and materials (the project's hierarchical ids such as
 * "casting.die.magnesium", a parent being every dotted prefix), GB/T 4754-2017
 * industry codes (section letter, division, group, class), GB/T 2260 county
 * codes, the zones/parks of the city, and certification schemes. Each entry has
 * a canonical id, a Chinese and an English name, and aliases.
 *
 * A gx_vocab is immutable after it is built: any thread may read it; reload
 * builds a new one and swaps. Pure: parsing does no I/O (gx_vocab_load reads the
 * file, then parses). */
#ifndef GX_VOCAB_H
#define GX_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef enum gx_vclass {
    GX_V_PROCESS = 0,
    GX_V_MATERIAL,
    GX_V_INDUSTRY,
    GX_V_COUNTY,
    GX_V_ZONE,
    GX_V_CERT,
    GX_V__COUNT
} gx_vclass;

typedef struct gx_vocab gx_vocab;

/* Caps on what a vocabulary may hold; parsing fails with "line N: ..." when
 * one is exceeded. */
#define GX_VOCAB_MAX_BYTES (32ul << 20) /* size of the whole text */
#define GX_VOCAB_MAX_LINE 2048          /* bytes in one line, without its newline */
#define GX_VOCAB_MAX_ENTRIES 100000     /* entries over all classes */
#define GX_VOCAB_MAX_ALIASES 32         /* aliases of one entry */
#define GX_VOCAB_MAX_ID 64              /* bytes in a canonical id */
#define GX_VOCAB_MAX_THREE 64           /* entries flagged as the three districts */

/* Size of a buffer that holds any normalised IPC symbol ("H01L 1234/123456"). */
#define GX_IPC_MAX 17

/* The embedded default data (generated at build time). */
extern const char gx_vocab_default[];
extern const unsigned long gx_vocab_default_len;

/* Builds a vocabulary from text of len bytes in the vocabulary.tsv format.
 * On error returns GX_ERR_INVALID (or GX_ERR_NOMEM) and writes
 * "line N: what is wrong" into errbuf (errlen bytes, always NUL-terminated).
 * On success *out is a new vocabulary the caller destroys. */
gx_err gx_vocab_parse(const char *text, size_t len, gx_vocab **out, char *errbuf, size_t errlen);

/* As gx_vocab_parse on the contents of path; path NULL or "" means the embedded
 * default. GX_ERR_IO when the file cannot be read (errbuf says why). */
gx_err gx_vocab_load(const char *path, gx_vocab **out, char *errbuf, size_t errlen);

/* Frees *v and sets it to NULL; tolerates NULL. */
void gx_vocab_destroy(gx_vocab **v);

/* The canonical id for term in class c — term may be the id itself, an alias,
 * or either name, compared case-insensitively after trimming spaces — or NULL
 * when unknown. For GX_V_INDUSTRY a bare number ("3670", "36") gets its section
 * letter. The result is borrowed: valid while v lives.
 * Ids and aliases are unique within a class (parsing enforces it); a name shared
 * by an entry and its descendant ("C367"/"C3670") resolves to the descendant,
 * a name shared by unrelated entries resolves to NULL (use the id). */
const char *gx_vocab_resolve(const gx_vocab *v, gx_vclass c, const char *term);

/* Display name of canonical id in class c (zh: Chinese, else English), or NULL. */
const char *gx_vocab_name(const gx_vocab *v, gx_vclass c, const char *id, bool zh);

/* The county a zone id lies in, or NULL when the zone is unknown. */
const char *gx_vocab_zone_county(const gx_vocab *v, const char *zone);

/* The districts (county codes and zone ids) marked as the "three districts" of
 * the city plan, as a borrowed array of *n borrowed strings. */
const char *const *gx_vocab_three_districts(const gx_vocab *v, size_t *n);

/* A hash of the text the vocabulary was parsed from: equal fingerprints, same
 * vocabulary (for the engine snapshot, which is only valid under the same one). */
uint64_t gx_vocab_fingerprint(const gx_vocab *v);

/* Number of entries in class c. */
size_t gx_vocab_count(const gx_vocab *v, gx_vclass c);

/* One vocabulary entry, borrowed from its gx_vocab (valid while it lives). */
typedef struct gx_vocab_entry {
    gx_vclass cls;              /* its class */
    const char *id;             /* canonical id */
    const char *zh;             /* Chinese name */
    const char *en;             /* English name */
    const char *county;         /* zones: the county the zone lies in; else NULL */
    const char *const *aliases; /* n_aliases other spellings */
    size_t n_aliases;
} gx_vocab_entry;

/* Finds the entries of class c (GX_V__COUNT: every class) whose id, an alias or
 * a name holds text (ASCII letters compared case-insensitively, spaces around
 * text ignored; "" matches every entry). Best first: an id, alias or name equal
 * to text, then an id or alias starting with it, then the rest, each in file
 * order. Writes at most max entries to out; returns how many matched in all. */
size_t gx_vocab_find(const gx_vocab *v, gx_vclass c, const char *text, gx_vocab_entry *out, size_t max);

/* The ids of class c closest to term, a code that did not resolve: ids,
 * aliases and English names within a few typos (1 for terms up to 4 bytes, 2 up
 * to 10, else 3; a dotted id's last segment counts too), then entries holding
 * term (3 bytes or more). Best first, at most max (<= 16) borrowed ids in out;
 * returns how many. Cost: the class's keys times term length times the typos
 * allowed, so it may run on every refused request. */
size_t gx_vocab_suggest(const gx_vocab *v, gx_vclass c, const char *term, const char **out, size_t max);

/* Normalises an IPC symbol of any level into out, in one canonical spelling:
 * section "H", class "H01", subclass "H01L", main group "H01L 21/00" (also
 * written "H01L 21", "H01L21" or "H01L 21/000"), subgroup "H01L 21/02".
 * GX_ERR_INVALID when it is not an IPC symbol: section A-H, then optionally a
 * two-digit class, then optionally a subclass letter, then optionally a main
 * group of 1-4 digits (not 0) and a "/subgroup" of 2-6 digits. Letters may be
 * lower case; spaces around the symbol are dropped, spaces between subclass
 * and group become one, leading zeros of the main group go, and zeros ending
 * a subgroup beyond its first two digits go too, since the digits after the
 * stroke read as a decimal fraction ("h01l  0021/020" -> "H01L 21/02").
 * GX_ERR_TOO_LARGE when the result does not fit outlen (GX_IPC_MAX always does). */
gx_err gx_vocab_ipc_normalize(const char *in, char *out, size_t outlen);

#endif
