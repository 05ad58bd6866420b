/* fuzz_config.c — libFuzzer target: gongxud's configuration text.
 *
 * An input is the contents of a config file. gx_config_load_file refuses a file with
 * a NUL byte and hands the rest to gx_config_parse as a C string; here the input is
 * cut at its first NUL instead, copied so that ASan sees the end of the string, parsed
 * over the defaults as main.c does, and checked with gx_config_validate. A file that
 * parses is also dumped (--dump-config) and applied as a SIGHUP reload would be; the
 * dump is itself a config file that must parse back to the same dump. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static void s_die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_config: invariant broken: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

/* gx_config_dump of c into a new NUL-terminated buffer, or NULL when out of memory. */
static char *s_dump(const gx_config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    gx_config_dump(c, f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* A message buffer must hold a NUL-terminated message after a refusal. */
static void s_check_msg(const char *err, size_t errlen, const char *what)
{
    if (strnlen(err, errlen) == errlen || !err[0])
        s_die(what, "no NUL-terminated message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t len = nul ? (size_t)(nul - data) : size;
    char *text = malloc(len + 1);
    if (!text)
        return 0;
    memcpy(text, data, len);
    text[len] = '\0';

    gx_config c, cur;
    char err[512];
    gx_config_defaults(&c);
    gx_err rc = gx_config_parse(&c, text, err, sizeof err);
    free(text);
    if (rc) {
        s_check_msg(err, sizeof err, "gx_config_parse");
        return 0;
    }
    if (gx_config_validate(&c, err, sizeof err) != GX_OK)
        s_check_msg(err, sizeof err, "gx_config_validate");

    gx_config_defaults(&cur);
    gx_config_apply_reload(&cur, &c, err, sizeof err);
    if (strnlen(err, sizeof err) == sizeof err)
        s_die("gx_config_apply_reload", "no NUL-terminated list of keys");

    char *dump = s_dump(&c);
    if (!dump)
        return 0;
    gx_config back;
    gx_config_defaults(&back);
    if (gx_config_parse(&back, dump, err, sizeof err) != GX_OK) {
        fprintf(stderr, "%s\n", dump);
        s_die("the dump of a parsed configuration parses", err);
    }
    char *again = s_dump(&back);
    if (again && strcmp(dump, again) != 0) {
        fprintf(stderr, "first dump:\n%s\nsecond dump:\n%s\n", dump, again);
        s_die("a configuration read back from its dump dumps the same", NULL);
    }
    free(again);
    free(dump);
    return 0;
}
