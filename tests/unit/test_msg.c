/* test_msg.c — the message catalogue (msg.c) and its build-time checker
 * (src/tools/msgcheck.c, run here as the build runs it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gxtest.h"
#include "msg.h"

TEST(lang_tags)
{
    static const struct {
        const char *tag;
        int want; /* -1: rejected */
    } cases[] = {
        {"zh", GX_LANG_ZH},
        {"zh-CN", GX_LANG_ZH},
        {"zh_CN.UTF-8", GX_LANG_ZH},
        {"ZH_cn.utf8", GX_LANG_ZH},
        {"zh-Hans", GX_LANG_ZH},
        {"zh_TW@stroke", GX_LANG_ZH},
        {"en", GX_LANG_EN},
        {"en_US.UTF-8", GX_LANG_EN},
        {"en-GB", GX_LANG_EN},
        {"C", GX_LANG_EN},
        {"C.UTF-8", GX_LANG_EN},
        {"POSIX", GX_LANG_EN},
        {"", -1},
        {"fr_FR.UTF-8", -1},
        {"zhx", -1},
        {"z", -1},
        {"zh CN", -1},
        {"chinese", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gx_lang l = (gx_lang)7;
        bool ok = gx_lang_parse(cases[i].tag, &l);
        if (cases[i].want < 0) {
            CHECK(!ok);
            CHECK_EQ_INT(l, 7); /* untouched */
        } else {
            CHECK(ok);
            CHECK_EQ_INT(l, cases[i].want);
        }
        if (ok != (cases[i].want >= 0))
            fprintf(stderr, "  tag \"%s\"\n", cases[i].tag);
    }
    gx_lang l = GX_LANG_ZH;
    CHECK(!gx_lang_parse(NULL, &l));
    CHECK_STR(gx_lang_tag(GX_LANG_ZH), "zh-CN");
    CHECK_STR(gx_lang_tag(GX_LANG_EN), "en");
}

TEST(lookup)
{
    char b[128];
    CHECK(gx_msg_has("server.err.8"));
    CHECK(gx_msg_has("cli.test.placeholder"));
    CHECK(!gx_msg_has("server.err.999"));
    CHECK(!gx_msg_has("server.err"));
    CHECK(!gx_msg_has(""));
    CHECK_STR(gx_msg(b, sizeof b, GX_LANG_EN, "server.err.8", NULL), "not found");
    CHECK_STR(gx_msg(b, sizeof b, GX_LANG_ZH, "server.err.8", NULL), "未找到");
    /* every wire error code has its message in both languages */
    for (int c = 0; c <= 15; c++) {
        char id[32];
        snprintf(id, sizeof id, "server.err.%d", c);
        CHECK(gx_msg_has(id));
    }
    /* an unknown id shows as itself */
    CHECK_STR(gx_msg(b, sizeof b, GX_LANG_ZH, "server.nope", NULL), "server.nope");
}

TEST(placeholders)
{
    char b[128];
    CHECK_STR(gx_msg(b, sizeof b, GX_LANG_EN, "cli.test.placeholder", "message", "no such demand", NULL),
              "error: no such demand");
    CHECK_STR(gx_msg(b, sizeof b, GX_LANG_ZH, "cli.test.placeholder", "message", "未找到", NULL),
              "错误：未找到");
    /* a value that looks like a placeholder is not expanded again */
    CHECK_STR(gx_msg(b, sizeof b, GX_LANG_EN, "cli.test.placeholder", "message", "{message}", NULL),
              "error: {message}");
    /* a missing arg leaves the placeholder as written; extra args are ignored */
    CHECK_STR(gx_msg(b, sizeof b, GX_LANG_EN, "cli.test.placeholder", "other", "x", NULL),
              "error: {message}");
    gx_msg_arg a[] = {{"message", NULL}};
    gx_msg_format(b, sizeof b, GX_LANG_EN, "cli.test.placeholder", a, 1);
    CHECK_STR(b, "error: ");
}

TEST(escapes)
{
    char b[128];
    /* cli.test.escapes: a\tb\nc {{x}} \\ {v} */
    CHECK_STR(gx_msg(b, sizeof b, GX_LANG_EN, "cli.test.escapes", "v", "V", NULL), "a\tb\nc {x} \\ V");
    CHECK_STR(gx_msg(b, sizeof b, GX_LANG_ZH, "cli.test.escapes", "v", "值", NULL), "甲\t乙\n丙 {x} \\ 值");
}

TEST(truncation)
{
    char b[64];
    /* "未找到" is 9 bytes: each cut falls on a character boundary */
    for (size_t n = 1; n <= 12; n++) {
        memset(b, 'x', sizeof b);
        size_t need = gx_msg_format(b, n, GX_LANG_ZH, "server.err.8", NULL, 0);
        CHECK_EQ_INT(need, 9);
        size_t keep = n > 9 ? 9 : (n - 1) / 3 * 3;
        CHECK_EQ_INT(strlen(b), keep);
        CHECK(strncmp(b, "未找到", keep) == 0);
    }
    /* a value cut mid-text: still whole characters, and nothing after the cut */
    size_t need = gx_msg_format(b, 12, GX_LANG_ZH, "cli.test.placeholder",
                                (gx_msg_arg[]){{"message", "鹤壁淇滨区"}}, 1);
    CHECK_EQ_INT(need, strlen("错误：鹤壁淇滨区"));
    CHECK_STR(b, "错误："); /* 错误：鹤 is 12 bytes: no room for the NUL */
    gx_msg_format(b, 13, GX_LANG_ZH, "cli.test.placeholder", (gx_msg_arg[]){{"message", "鹤壁淇滨区"}}, 1);
    CHECK_STR(b, "错误：鹤");
    CHECK(gx_msg_format(b, 0, GX_LANG_EN, "server.err.8", NULL, 0) == 9);
    CHECK_STR(gx_msg_copy(b, 5, "淇滨区"), "淇");
    CHECK_STR(gx_msg_copy(b, 7, "淇滨区"), "淇滨");
    CHECK_STR(gx_msg_copy(b, 10, "淇滨区"), "淇滨区");
    CHECK_STR(gx_msg_copy(b, 4, "abcdef"), "abc");
}

/* ---- the checker */

static const char *s_dir(void)
{
    return gx_test_dir("msgcheck");
}

/* Writes name in dir with text; returns its path (static). */
static const char *s_write(const char *dir, const char *name, const char *text)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    return path;
}

/* Runs the checker on the given files; its exit code, stderr into err. */
static int s_check(const char *files, char *err, size_t n)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", GX_MSGCHECK, files);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t got = fread(err, 1, n - 1, p);
    err[got] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define GOOD "# a comment\n\nserver.a\t你好，{who}\thello, {who}\nserver.b\t甲{{乙}}\\n\ta{{b}}\\t\\\\\n"

TEST(checker_accepts_good_files)
{
    const char *d = s_dir();
    char files[4096], err[4096];
    snprintf(files, sizeof files, "'%s'", s_write(d, "server.tsv", GOOD));
    CHECK_EQ_INT(s_check(files, err, sizeof err), 0);
    CHECK_STR(err, "");
    /* and the real catalogue */
    char real[2048];
    snprintf(real, sizeof real, "'%s/src/data/messages/server.tsv' '%s/src/data/messages/cli.tsv'",
             getenv("GX_SOURCE_DIR"), getenv("GX_SOURCE_DIR"));
    CHECK_EQ_INT(s_check(real, err, sizeof err), 0);
    CHECK_STR(err, "");
}

TEST(checker_rejects_each_fault)
{
    static const struct {
        const char *file, *text, *want;
    } bad[] = {
        {"server.tsv", "server.a\t只有中文\n", "server.tsv:1: missing language"},
        {"server.tsv", "# c\nserver.a\t\ten\n", "server.tsv:2: missing language: the zh-CN text is empty"},
        {"server.tsv", "server.a\t中\t\n", "server.tsv:1: missing language: the en text is empty"},
        {"server.tsv", "server.a\t中\ten\textra\n", "server.tsv:1: too many fields"},
        {"server.tsv", "Server.A\t中\ten\n", "server.tsv:1: unknown id 'Server.A'"},
        {"server.tsv", "cli.a\t中\ten\n", "server.tsv:1: unknown id 'cli.a'"},
        {"server.tsv", "server.a\t中\ten\nserver.a\t中\ten\n",
         "server.tsv:2: duplicate id 'server.a' (first at"},
        {"server.tsv", "server.a\t{x}中\ten\n", "server.tsv:1: placeholder sets differ"},
        {"server.tsv", "server.a\t{x}中\t{y}en\n", "server.tsv:1: placeholder sets differ"},
        {"server.tsv", "server.a\t中\\q\ten\n", "server.tsv:1: bad escape"},
        {"server.tsv", "server.a\t中\ten }\n", "server.tsv:1: bad escape"},
        {"server.tsv", "server.a\t中{X}\ten{X}\n", "server.tsv:1: bad escape"},
        {"server.tsv", "server.a\t中{\ten{\n", "server.tsv:1: bad escape"},
        {"server.tsv", "server.a\t\xe4\xb8\ten\n", "server.tsv:1: not valid UTF-8"},
    };
    const char *d = s_dir();
    char files[4096], err[4096];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(files, sizeof files, "'%s'", s_write(d, bad[i].file, bad[i].text));
        CHECK_EQ_INT(s_check(files, err, sizeof err), 1);
        if (!strstr(err, bad[i].want)) {
            fprintf(stderr, "  case %zu: want \"%s\" in:\n%s", i, bad[i].want, err);
            CHECK(0);
        }
    }
    /* an id in the wrong file, and an id defined in two files */
    char a[1100];
    snprintf(a, sizeof a, "'%s'", s_write(d, "server.tsv", "server.a\t中\ten\n"));
    s_write(d, "cli.tsv", "cli.a\t中\ten\n# x\nserver.b\t中\ten\n");
    snprintf(files, sizeof files, "%s '%s/cli.tsv'", a, d);
    CHECK_EQ_INT(s_check(files, err, sizeof err), 1);
    CHECK(strstr(err, "cli.tsv:3: unknown id 'server.b'") != NULL);
    char sub[1024];
    snprintf(sub, sizeof sub, "mkdir -p '%s/other'", d);
    CHECK(system(sub) == 0);
    s_write(d, "other/server.tsv", "server.c\t中\ten\nserver.a\t中\ten\n");
    snprintf(files, sizeof files, "%s '%s/other/server.tsv'", a, d);
    CHECK_EQ_INT(s_check(files, err, sizeof err), 1);
    CHECK(strstr(err, "other/server.tsv:2: duplicate id 'server.a' (first at") != NULL);
}

int main(void)
{
    RUN(lang_tags);
    RUN(lookup);
    RUN(placeholders);
    RUN(escapes);
    RUN(truncation);
    RUN(checker_accepts_good_files);
    RUN(checker_rejects_each_fault);
    return gx_test_done();
}
