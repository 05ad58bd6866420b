/* msg.h — the message catalogue: what gongxu says to people, in zh-CN and en.
 *
 * The texts live in src/data/messages/, one .tsv file per audience (the
 * format is described at the top of server.tsv), are checked at build time by
 * src/tools/msgcheck.c and embedded into the programs that speak them: this
 * module holds server.tsv and cli.tsv. Every id has both languages and both
 * use the same {placeholders}, so a lookup in either language never misses
 * when the other would not.
 *
 * No I/O. The catalogue is indexed once, on first use (pthread_once); after
 * that every function may be called from any thread. Used by gongxud and the
 * CLI alike. */
#ifndef GX_MSG_H
#define GX_MSG_H

#include <stdbool.h>
#include <stddef.h>

/* The languages gongxu speaks. zh-CN is the default: its users read Chinese. */
typedef enum gx_lang {
    GX_LANG_ZH = 0, /* zh-CN, Simplified Chinese */
    GX_LANG_EN = 1, /* English */
} gx_lang;

#define GX_LANG__COUNT 2

/* The language of a tag: "zh", "zh-CN", "zh_CN.UTF-8", "zh-Hans" give
 * GX_LANG_ZH; "en", "en-US", "en_US.UTF-8", "C", "POSIX" give GX_LANG_EN
 * (case-insensitive; an encoding or modifier after '.' or '@' is ignored).
 * Returns false, *out untouched, for anything else (NULL and "" too). */
bool gx_lang_parse(const char *tag, gx_lang *out);

/* The canonical tag of a language: "zh-CN" or "en". Never NULL. */
const char *gx_lang_tag(gx_lang lang);

/* True when the catalogue holds id. */
bool gx_msg_has(const char *id);

/* A named value for a {placeholder}. */
typedef struct gx_msg_arg {
    const char *name;  /* placeholder name without braces */
    const char *value; /* its text (UTF-8); NULL reads as "" */
} gx_msg_arg;

/* Formats message id in lang into buf (n bytes, always NUL-terminated when
 * n > 0): escapes decoded (\n, \t, \\, {{, }}), each {name} replaced by the
 * value of the arg of that name (a placeholder with no arg stays as written).
 * When the text does not fit it is cut at the last whole UTF-8 character
 * that fits — never inside one. An unknown id formats as the id itself.
 * Returns the length the whole text has (like snprintf): >= n means it was
 * cut. */
size_t gx_msg_format(char *buf, size_t n, gx_lang lang, const char *id, const gx_msg_arg *args, size_t nargs);

/* gx_msg_format with the args given as name, value pairs ending in NULL:
 * gx_msg(buf, sizeof buf, lang, "server.hint.add_cert", "cert", "IATF16949", NULL).
 * Returns buf. */
const char *gx_msg(char *buf, size_t n, gx_lang lang, const char *id, ...) __attribute__((sentinel));

/* Copies s into buf (n > 0 bytes) cutting at a UTF-8 character boundary when
 * it does not fit; returns buf. */
char *gx_msg_copy(char *buf, size_t n, const char *s);

#endif
