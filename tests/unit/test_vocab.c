/* test_vocab.c — the vocabulary file: embedded default, lookups, rejections,
 * three districts, zones and IPC symbols. */
#include "gxtest.h"

#include <sys/stat.h>

#include "vocab.h"

static gx_vocab *s_default;

/* A fresh directory under $GX_TEST_TMP (or /tmp), into buf. (Not gx_test_dir:
 * its command buffer trips -Wformat-truncation under -Werror.) */
static bool s_tmpdir(char *buf, size_t n)
{
    const char *base = getenv("GX_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0755); /* CTest names it but nothing creates it; EEXIST is fine */
    if ((size_t)snprintf(buf, n, "%s/vocab.XXXXXX", base) >= n)
        return false;
    return mkdtemp(buf) != NULL;
}

/* Parses text (NUL-terminated) and returns the error; errbuf gets the message. */
static gx_err s_parse(const char *text, char *errbuf, size_t errlen, gx_vocab **out)
{
    gx_vocab *v = NULL;
    gx_err err = gx_vocab_parse(text, strlen(text), &v, errbuf, errlen);
    if (out)
        *out = v;
    else
        gx_vocab_destroy(&v);
    return err;
}

/* True when text is rejected as invalid with a message containing want. */
static bool s_rejects(const char *text, const char *want)
{
    char eb[256];
    gx_vocab *v = (gx_vocab *)&eb; /* must come back NULL */
    gx_err err = gx_vocab_parse(text, strlen(text), &v, eb, sizeof eb);
    bool ok = err == GX_ERR_INVALID && v == NULL && strstr(eb, want) != NULL;
    if (!ok)
        fprintf(stderr, "  expected \"%s\", got err %d \"%s\"\n", want, (int)err, eb);
    gx_vocab_destroy(&v);
    return ok;
}

#define T "\t"

/* A small valid vocabulary the rejection tests start from. */
#define S_BASE                                                                                               \
    "# test vocabulary\n"                                                                                    \
    "process" T "casting" T "铸造" T "Casting\n"                                                             \
    "process" T "casting.die" T "压铸" T "Die casting" T "HPDC, 压力铸造\n"                              \
    "process" T "casting.die.magnesium" T "镁合金压铸" T "Magnesium die casting" T "Mg die casting\n"        \
    "industry" T "C" T "制造业" T "Manufacturing\n"                                                          \
    "industry" T "C36" T "汽车制造业" T "Motor vehicles\n"                                                   \
    "county" T "410611" T "淇滨区" T "Qibin District" T "" T "" T "three\n"                                  \
    "zone" T "hebi.etdz" T "经开区" T "ETDZ" T "" T "410611" T "three\n"

TEST(embedded_default_parses)
{
    char eb[256] = "untouched";
    gx_vocab *v = NULL;
    REQUIRE(gx_vocab_load(NULL, &v, eb, sizeof eb) == GX_OK);
    REQUIRE(v != NULL);
    CHECK_STR(eb, "");
    CHECK(gx_vocab_count(v, GX_V_PROCESS) >= 100);
    CHECK(gx_vocab_count(v, GX_V_MATERIAL) >= 50);
    CHECK(gx_vocab_count(v, GX_V_INDUSTRY) >= 51); /* 20 sections + 31 divisions of C */
    CHECK(gx_vocab_count(v, GX_V_COUNTY) >= 7);
    CHECK(gx_vocab_count(v, GX_V_ZONE) >= 2);
    CHECK(gx_vocab_count(v, GX_V_CERT) >= 10);
    CHECK_EQ_INT(gx_vocab_count(v, GX_V__COUNT), 0);
    gx_vocab_destroy(&v);
    CHECK(v == NULL);

    REQUIRE(gx_vocab_load("", &v, eb, sizeof eb) == GX_OK);
    gx_vocab_destroy(&v);
    gx_vocab_destroy(&v); /* tolerates NULL */
    gx_vocab_destroy(NULL);
}

/* The source file, when the build tells us where it is, is what is embedded. */
TEST(source_file_equals_embedded_default)
{
    const char *src = getenv("GX_SOURCE_DIR");
    if (!src)
        return; /* standalone build: nothing to compare */
    char path[1024], eb[256];
    snprintf(path, sizeof path, "%s/src/data/vocabulary.tsv", src);
    gx_vocab *v = NULL;
    REQUIRE(gx_vocab_load(path, &v, eb, sizeof eb) == GX_OK);
    for (int c = 0; c < GX_V__COUNT; c++)
        CHECK_EQ_INT(gx_vocab_count(v, (gx_vclass)c), gx_vocab_count(s_default, (gx_vclass)c));
    gx_vocab_destroy(&v);
}

TEST(default_has_the_local_chain)
{
    const gx_vocab *v = s_default;
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, "casting.die.magnesium"), "casting.die.magnesium");
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, "machining.cnc.5axis"), "machining.cnc.5axis");
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, "surface.anodizing"), "surface.anodizing");
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, "微弧氧化"), "surface.mao");
    CHECK_STR(gx_vocab_resolve(v, GX_V_MATERIAL, "AZ91D"), "material.metal.magnesium.az91d");
    CHECK_STR(gx_vocab_resolve(v, GX_V_MATERIAL, "PA66-GF30"), "material.plastic.pa66.gf30");
    CHECK_STR(gx_vocab_resolve(v, GX_V_INDUSTRY, "C3670"), "C3670");
    CHECK_STR(gx_vocab_resolve(v, GX_V_INDUSTRY, "C3525"), "C3525");
    CHECK_STR(gx_vocab_resolve(v, GX_V_INDUSTRY, "镁冶炼"), "C3217");
    CHECK_STR(gx_vocab_resolve(v, GX_V_COUNTY, "410611"), "410611");
    CHECK_STR(gx_vocab_resolve(v, GX_V_COUNTY, "鹤壁市"), "410600");
    CHECK_STR(gx_vocab_resolve(v, GX_V_CERT, "IATF 16949"), "IATF16949");
    CHECK_STR(gx_vocab_resolve(v, GX_V_CERT, "TS16949"), "IATF16949");
    CHECK_STR(gx_vocab_resolve(v, GX_V_CERT, "ISO/IEC 27001"), "ISO27001");
    CHECK_STR(gx_vocab_resolve(v, GX_V_CERT, "ISO 9001:2015"), "ISO9001");
    /* all 20 sections, all divisions of C by bare number */
    for (char s = 'A'; s <= 'T'; s++) {
        char code[2] = {s, 0};
        CHECK_STR(gx_vocab_resolve(v, GX_V_INDUSTRY, code), code);
    }
    for (int d = 13; d <= 43; d++) {
        char bare[3], want[4];
        snprintf(bare, sizeof bare, "%02d", d);
        snprintf(want, sizeof want, "C%02d", d);
        CHECK_STR(gx_vocab_resolve(v, GX_V_INDUSTRY, bare), want);
    }
}

TEST(resolve_by_id_alias_and_names)
{
    const gx_vocab *v = s_default;
    /* id */
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, "casting.die"), "casting.die");
    /* alias, English and Chinese */
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, "Mg die casting"), "casting.die.magnesium");
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, "5-axis"), "machining.cnc.5axis");
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, "五轴加工"), "machining.cnc.5axis");
    /* names */
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, "镁合金压铸"), "casting.die.magnesium");
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, "Magnesium die casting"), "casting.die.magnesium");
    CHECK_STR(gx_vocab_resolve(v, GX_V_COUNTY, "淇滨区"), "410611");
    CHECK_STR(gx_vocab_resolve(v, GX_V_ZONE, "鹤壁经济技术开发区"), "hebi.etdz");
    /* the returned id is the stored one, not the caller's spelling */
    const char *a = gx_vocab_resolve(v, GX_V_PROCESS, "CASTING.DIE");
    const char *b = gx_vocab_resolve(v, GX_V_PROCESS, "casting.die");
    CHECK(a != NULL && a == b);
}

TEST(resolve_is_case_insensitive_and_trims)
{
    const gx_vocab *v = s_default;
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, "mg DIE casting"), "casting.die.magnesium");
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, "Casting.Die.Magnesium"), "casting.die.magnesium");
    CHECK_STR(gx_vocab_resolve(v, GX_V_CERT, "iso9001"), "ISO9001");
    CHECK_STR(gx_vocab_resolve(v, GX_V_CERT, "rohs"), "RoHS");
    CHECK_STR(gx_vocab_resolve(v, GX_V_INDUSTRY, "c3670"), "C3670");
    CHECK_STR(gx_vocab_resolve(v, GX_V_ZONE, "HEBI.ETDZ"), "hebi.etdz");
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, "  5-axis \t"), "machining.cnc.5axis");
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, " 镁合金压铸 "), "casting.die.magnesium");
}

TEST(unknown_terms_resolve_to_null)
{
    const gx_vocab *v = s_default;
    CHECK(gx_vocab_resolve(v, GX_V_PROCESS, "casting.die.unobtainium") == NULL);
    CHECK(gx_vocab_resolve(v, GX_V_PROCESS, "") == NULL);
    CHECK(gx_vocab_resolve(v, GX_V_PROCESS, "   ") == NULL);
    CHECK(gx_vocab_resolve(v, GX_V_PROCESS, NULL) == NULL);
    /* a term of another class is unknown here */
    CHECK(gx_vocab_resolve(v, GX_V_MATERIAL, "casting.die") == NULL);
    CHECK(gx_vocab_resolve(v, GX_V_PROCESS, "AZ91D") == NULL);
    CHECK(gx_vocab_resolve(v, GX_V_COUNTY, "hebi.etdz") == NULL);
    /* Chinese is not folded or fuzzily matched */
    CHECK(gx_vocab_resolve(v, GX_V_PROCESS, "镁合金压铸件") == NULL);
    CHECK(gx_vocab_resolve(v, GX_V_INDUSTRY, "C9999") == NULL);
    CHECK(gx_vocab_resolve(v, GX_V_INDUSTRY, "9999") == NULL);
    CHECK(gx_vocab_resolve(v, GX_V_COUNTY, "999999") == NULL);
    CHECK(gx_vocab_resolve(v, GX_V__COUNT, "C3670") == NULL);
    /* a prefix of a key is not the key */
    CHECK(gx_vocab_resolve(v, GX_V_PROCESS, "casting.di") == NULL);
    /* very long input */
    static char big[GX_VOCAB_MAX_LINE * 2];
    memset(big, 'a', sizeof big - 1);
    CHECK(gx_vocab_resolve(v, GX_V_PROCESS, big) == NULL);
}

TEST(industry_bare_number_gets_its_section)
{
    const gx_vocab *v = s_default;
    CHECK_STR(gx_vocab_resolve(v, GX_V_INDUSTRY, "3670"), "C3670");
    CHECK_STR(gx_vocab_resolve(v, GX_V_INDUSTRY, "367"), "C367");
    CHECK_STR(gx_vocab_resolve(v, GX_V_INDUSTRY, "36"), "C36");
    CHECK_STR(gx_vocab_resolve(v, GX_V_INDUSTRY, " 3525 "), "C3525");
    CHECK_STR(gx_vocab_resolve(v, GX_V_INDUSTRY, "6513"), "I6513");
    CHECK_STR(gx_vocab_resolve(v, GX_V_INDUSTRY, "7320"), "M7320");
    CHECK_STR(gx_vocab_resolve(v, GX_V_INDUSTRY, "c"), "C");
    /* shapes that are not a division, group or class */
    CHECK(gx_vocab_resolve(v, GX_V_INDUSTRY, "3") == NULL);
    CHECK(gx_vocab_resolve(v, GX_V_INDUSTRY, "36700") == NULL);
    CHECK(gx_vocab_resolve(v, GX_V_INDUSTRY, "36a0") == NULL);
    /* division 01 (section A) is not itself in the default: no letter to give */
    CHECK(gx_vocab_resolve(v, GX_V_INDUSTRY, "0111") == NULL);
    /* a bare number only helps industries */
    CHECK(gx_vocab_resolve(v, GX_V_PROCESS, "3670") == NULL);
}

TEST(names_shared_by_ancestor_go_to_descendant_else_nowhere)
{
    /* C367 and C3670 share their names in the standard */
    CHECK_STR(gx_vocab_resolve(s_default, GX_V_INDUSTRY, "汽车零部件及配件制造"), "C3670");

    char eb[256];
    gx_vocab *v = NULL;
    REQUIRE(s_parse(S_BASE "industry" T "C367" T "汽车零部件" T "Parts\n"
                           "industry" T "C3670" T "汽车零部件" T "Parts\n"
                           "process" T "welding" T "连接" T "Joining\n"
                           "process" T "bonding" T "连接" T "Bonding\n",
                    eb, sizeof eb, &v) == GX_OK);
    /* the order of lines does not matter for the descendant rule */
    CHECK_STR(gx_vocab_resolve(v, GX_V_INDUSTRY, "汽车零部件"), "C3670");
    CHECK_STR(gx_vocab_resolve(v, GX_V_INDUSTRY, "parts"), "C3670");
    CHECK(gx_vocab_resolve(v, GX_V_PROCESS, "连接") == NULL);
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, "joining"), "welding");
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, "bonding"), "bonding");
    gx_vocab_destroy(&v);

    REQUIRE(s_parse(S_BASE "industry" T "C3670" T "汽车零部件" T "Parts2\n"
                           "industry" T "C367" T "汽车零部件" T "Parts\n",
                    eb, sizeof eb, &v) == GX_OK);
    CHECK_STR(gx_vocab_resolve(v, GX_V_INDUSTRY, "汽车零部件"), "C3670");
    gx_vocab_destroy(&v);
}

TEST(name_lookup)
{
    const gx_vocab *v = s_default;
    CHECK_STR(gx_vocab_name(v, GX_V_PROCESS, "casting.die.magnesium", true), "镁合金压铸");
    CHECK_STR(gx_vocab_name(v, GX_V_PROCESS, "casting.die.magnesium", false), "Magnesium die casting");
    CHECK_STR(gx_vocab_name(v, GX_V_INDUSTRY, "C3670", true), "汽车零部件及配件制造");
    CHECK_STR(gx_vocab_name(v, GX_V_COUNTY, "410611", false), "Qibin District");
    CHECK(gx_vocab_name(v, GX_V_PROCESS, "Mg die casting", true) == NULL); /* ids only */
    CHECK(gx_vocab_name(v, GX_V_PROCESS, "nope", true) == NULL);
    CHECK(gx_vocab_name(v, GX_V_MATERIAL, "casting.die", true) == NULL);
}

TEST(three_districts)
{
    size_t n = 99;
    const char *const *d = gx_vocab_three_districts(s_default, &n);
    REQUIRE(n == 3);
    REQUIRE(d != NULL);
    CHECK_STR(d[0], "410611");
    CHECK_STR(d[1], "hebi.etdz");
    CHECK_STR(d[2], "hebi.urdz");

    char eb[256];
    gx_vocab *v = NULL;
    REQUIRE(s_parse("county" T "410602" T "鹤山区" T "Heshan District\n", eb, sizeof eb, &v) == GX_OK);
    n = 99;
    gx_vocab_three_districts(v, &n);
    CHECK_EQ_INT(n, 0);
    gx_vocab_destroy(&v);
}

TEST(zone_county)
{
    const gx_vocab *v = s_default;
    CHECK_STR(gx_vocab_zone_county(v, "hebi.etdz"), "410611");
    CHECK_STR(gx_vocab_zone_county(v, "hebi.urdz"), "410611");
    CHECK_STR(gx_vocab_zone_county(v, "hebi.baoshan"), "410603");
    CHECK(gx_vocab_zone_county(v, "hebi.nowhere") == NULL);
    CHECK(gx_vocab_zone_county(v, "410611") == NULL);
    CHECK(gx_vocab_zone_county(v, NULL) == NULL);
    /* the development zone's statistical code is an alias of the zone */
    CHECK_STR(gx_vocab_resolve(v, GX_V_ZONE, "410671"), "hebi.etdz");
}

TEST(comments_blank_lines_crlf_and_bom_are_accepted)
{
    char eb[256];
    gx_vocab *v = NULL;
    REQUIRE(s_parse("\xef\xbb\xbf# header\r\n"
                    "\r\n"
                    "   # indented comment\n"
                    "cert" T "ISO9001" T "质量管理体系" T "ISO 9001" T " ISO 9001:2015 , QMS \r\n"
                    "\n"
                    "cert" T "CE" T "CE标志" T "CE marking",
                    eb, sizeof eb, &v) == GX_OK);
    CHECK_EQ_INT(gx_vocab_count(v, GX_V_CERT), 2);
    CHECK_STR(gx_vocab_resolve(v, GX_V_CERT, "qms"), "ISO9001");
    CHECK_STR(gx_vocab_resolve(v, GX_V_CERT, "iso 9001:2015"), "ISO9001");
    CHECK_STR(gx_vocab_resolve(v, GX_V_CERT, "ce marking"), "CE"); /* last line, no newline */
    gx_vocab_destroy(&v);

    REQUIRE(s_parse("", eb, sizeof eb, &v) == GX_OK); /* empty is a valid, empty vocabulary */
    CHECK_EQ_INT(gx_vocab_count(v, GX_V_PROCESS), 0);
    CHECK(gx_vocab_resolve(v, GX_V_PROCESS, "casting") == NULL);
    gx_vocab_destroy(&v);
}

TEST(missing_parent_is_rejected)
{
    CHECK(s_rejects(S_BASE "process" T "casting.sand.green" T "湿型砂铸造" T "Green-sand casting\n",
                    "line 9: parent casting.sand of casting.sand.green is not defined"));
    CHECK(s_rejects("process" T "casting.die" T "压铸" T "Die casting\n",
                    "line 1: parent casting of casting.die is not defined"));
    CHECK(s_rejects(S_BASE "material" T "material.metal" T "金属" T "Metals\n",
                    "line 9: parent material of material.metal is not defined"));
    CHECK(s_rejects(S_BASE "industry" T "C3670" T "汽车零部件" T "Parts\n",
                    "line 9: parent C367 of C3670 is not defined"));
    CHECK(s_rejects("industry" T "C36" T "汽车制造业" T "Motor vehicles\n",
                    "line 1: parent C of C36 is not defined"));
    /* a parent in another class does not count */
    CHECK(s_rejects(S_BASE "material" T "casting.die.x" T "某" T "X\n",
                    "line 9: parent casting.die of casting.die.x is not defined"));
    /* the parent may come later in the file */
    char eb[256];
    CHECK(s_parse("process" T "a.b" T "乙" T "B\nprocess" T "a" T "甲" T "A\n", eb, sizeof eb, NULL) ==
          GX_OK);
}

TEST(duplicates_are_rejected)
{
    CHECK(s_rejects(S_BASE "process" T "casting.die" T "压铸2" T "Die casting 2\n",
                    "line 9: duplicate process id casting.die (first on line 3)"));
    CHECK(s_rejects(S_BASE "cert" T "ISO9001" T "质量" T "Quality\n"
                           "cert" T "iso9001" T "质量2" T "Quality 2\n",
                    "line 10: duplicate cert id iso9001 (first on line 9)"));
    /* an alias colliding with another entry's alias, id or name */
    CHECK(s_rejects(S_BASE "process" T "casting.sand" T "砂型铸造" T "Sand casting" T "hpdc\n",
                    "line 9: alias \"hpdc\" of casting.sand collides with the alias of process "
                    "casting.die (line 3)"));
    CHECK(s_rejects(S_BASE "process" T "casting.sand" T "砂型铸造" T "Sand casting" T "casting\n",
                    "line 9: alias \"casting\" of casting.sand collides with the id"));
    CHECK(s_rejects(S_BASE "process" T "casting.sand" T "砂型铸造" T "Sand casting" T "压铸\n",
                    "line 9: alias \"压铸\" of casting.sand collides with the name"));
    /* a name equal to another entry's alias */
    CHECK(s_rejects(S_BASE "process" T "casting.sand" T "压力铸造" T "Sand casting\n",
                    "line 9: name \"压力铸造\" of casting.sand collides with the alias"));
    /* the same alias twice on one entry, or equal to its own name, is harmless */
    char eb[256];
    CHECK(s_parse(S_BASE "process" T "casting.sand" T "砂型铸造" T "Sand casting" T "sand, SAND, 砂型铸造\n",
                  eb, sizeof eb, NULL) == GX_OK);
    /* the same spelling in two classes is no collision */
    CHECK(s_parse(S_BASE "material" T "casting" T "铸造" T "Casting\n", eb, sizeof eb, NULL) == GX_OK);
}

TEST(overlong_line_is_rejected)
{
    char *text = malloc(GX_VOCAB_MAX_LINE + 200);
    REQUIRE(text != NULL);
    int n = snprintf(text, 200, "%s",
                     "cert" T "CE" T "CE标志" T "CE marking\n"
                     "cert" T "UL" T "UL认证" T "UL" T);
    memset(text + n, 'x', GX_VOCAB_MAX_LINE);
    strcpy(text + n + GX_VOCAB_MAX_LINE, "\n");
    char want[64];
    snprintf(want, sizeof want, "line 2: longer than %d bytes", GX_VOCAB_MAX_LINE);
    CHECK(s_rejects(text, want));
    /* exactly at the cap is fine: cut the line to GX_VOCAB_MAX_LINE bytes */
    size_t first = strlen("cert" T "CE" T "CE标志" T "CE marking\n");
    text[first + GX_VOCAB_MAX_LINE] = '\n';
    text[first + GX_VOCAB_MAX_LINE + 1] = '\0';
    char eb[256];
    CHECK(s_parse(text, eb, sizeof eb, NULL) == GX_OK);
    /* the CR of a CRLF line end does not count */
    text[first + GX_VOCAB_MAX_LINE] = '\r';
    text[first + GX_VOCAB_MAX_LINE + 1] = '\n';
    text[first + GX_VOCAB_MAX_LINE + 2] = '\0';
    CHECK(s_parse(text, eb, sizeof eb, NULL) == GX_OK);
    free(text);
}

TEST(malformed_lines_are_rejected)
{
    CHECK(s_rejects(S_BASE "process" T "casting.sand" T "砂型铸造\n",
                    "line 9: expected at least 4 tab-separated fields"));
    CHECK(s_rejects(S_BASE "process casting.sand 砂型铸造 Sand casting\n", "line 9: expected at least 4"));
    CHECK(s_rejects(S_BASE "technique" T "x" T "某" T "X\n", "line 9: unknown class \"technique\""));
    CHECK(s_rejects(S_BASE "process" T "" T "某" T "X\n", "line 9: process id \"\" is empty"));
    CHECK(s_rejects(S_BASE "process" T "Casting Die" T "某" T "X\n", "line 9: process id \"Casting Die\""));
    CHECK(s_rejects(S_BASE "process" T "casting..die" T "某" T "X\n", "line 9: process id \"casting..die\""));
    CHECK(s_rejects(S_BASE "process" T "casting." T "某" T "X\n", "line 9: process id \"casting.\""));
    CHECK(s_rejects(S_BASE "industry" T "C367A" T "某" T "X\n", "line 9: industry id \"C367A\""));
    CHECK(s_rejects(S_BASE "industry" T "C3" T "某" T "X\n", "line 9: industry id \"C3\""));
    CHECK(s_rejects(S_BASE "industry" T "U" T "某" T "X\n", "line 9: industry id \"U\""));
    CHECK(s_rejects(S_BASE "industry" T "B36" T "某" T "X\n",
                    "line 9: division 36 of B36 belongs to section C"));
    CHECK(s_rejects(S_BASE "county" T "41061" T "某" T "X\n", "line 9: county id \"41061\""));
    CHECK(s_rejects(S_BASE "cert" T "ISO 9001" T "某" T "X\n", "line 9: cert id \"ISO 9001\""));
    CHECK(s_rejects(S_BASE "process" T "casting.sand" T "" T "Sand casting\n",
                    "line 9: casting.sand needs both a Chinese and an English name"));
    CHECK(s_rejects(S_BASE "zone" T "hebi.x" T "某区" T "X zone\n", "line 9: zone hebi.x needs its county"));
    CHECK(s_rejects(S_BASE "zone" T "hebi.x" T "某区" T "X zone" T "" T "qibin\n",
                    "line 9: county \"qibin\" of zone hebi.x"));
    CHECK(s_rejects(S_BASE "zone" T "hebi.x" T "某区" T "X zone" T "" T "410622\n",
                    "line 9: county 410622 of zone hebi.x is not defined"));
    CHECK(s_rejects(S_BASE "process" T "casting.sand" T "砂型铸造" T "Sand casting" T "" T "410611\n",
                    "line 9: only zone lines have a county"));
    CHECK(s_rejects(S_BASE "process" T "casting.sand" T "砂型铸造" T "Sand casting" T "" T "" T "three\n",
                    "line 9: flag \"three\" is only for county and zone lines"));
    CHECK(s_rejects(S_BASE "county" T "410622" T "淇县" T "Qi County" T "" T "" T "four\n",
                    "line 9: unknown flag \"four\""));
    CHECK(s_rejects(S_BASE "county" T "410622" T "淇县" T "Qi County" T "" T "" T "" T "extra\n",
                    "line 9: more than 7 tab-separated fields"));
    CHECK(s_rejects(S_BASE "process" T "casting.sand" T "砂型铸造" T "Sand casting" T "sand,,green\n",
                    "line 9: empty alias"));
    CHECK(s_rejects(S_BASE "process" T "casting.sand" T "砂型\xe9\x93" T "Sand casting\n",
                    "line 9: not valid UTF-8"));
    CHECK(s_rejects(S_BASE "process" T "casting.sand" T "\xc0\xaf" T "Sand casting\n",
                    "line 9: not valid UTF-8")); /* overlong '/' */

    char text[] = "cert" T "CE" T "CE标志" T "CE marking\ncert" T "UL" T "UL认证" T "U#L\n";
    char *hash = strchr(text, '#');
    *hash = '\0';
    char eb[256];
    gx_vocab *v = NULL;
    CHECK(gx_vocab_parse(text, sizeof text - 1, &v, eb, sizeof eb) == GX_ERR_INVALID);
    CHECK(strstr(eb, "line 2: contains a NUL byte") != NULL);
    CHECK(v == NULL);
    gx_vocab_destroy(&v);
}

TEST(caps_are_enforced)
{
    /* aliases per entry */
    char line[4096];
    int n = snprintf(line, sizeof line, "cert" T "X" T "某" T "X" T);
    for (int i = 0; i <= GX_VOCAB_MAX_ALIASES; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, "%sa%d", i ? "," : "", i);
    snprintf(line + n, sizeof line - (size_t)n, "\n");
    char want[64];
    snprintf(want, sizeof want, "line 1: X has more than %d aliases", GX_VOCAB_MAX_ALIASES);
    CHECK(s_rejects(line, want));

    /* id length */
    char id[GX_VOCAB_MAX_ID + 2];
    memset(id, 'a', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    snprintf(line, sizeof line, "process" T "%s" T "某" T "X\n", id);
    CHECK(s_rejects(line, "is longer than 64 bytes"));

    /* entries: one more than the cap */
    size_t cap = (size_t)(GX_VOCAB_MAX_ENTRIES + 1) * 32;
    char *big = malloc(cap);
    REQUIRE(big != NULL);
    size_t len = 0;
    for (int i = 0; i <= GX_VOCAB_MAX_ENTRIES; i++)
        len += (size_t)snprintf(big + len, cap - len, "cert" T "C%d" T "z%d" T "e%d\n", i, i, i);
    snprintf(want, sizeof want, "line %d: more than %d entries", GX_VOCAB_MAX_ENTRIES + 1,
             GX_VOCAB_MAX_ENTRIES);
    CHECK(s_rejects(big, want));
    /* exactly at the cap parses, and lookups still work */
    char *last = big + len - 1;
    while (last > big && last[-1] != '\n')
        last--;
    *last = '\0';
    char eb[256];
    gx_vocab *v = NULL;
    CHECK(s_parse(big, eb, sizeof eb, &v) == GX_OK);
    if (v) {
        CHECK_EQ_INT(gx_vocab_count(v, GX_V_CERT), GX_VOCAB_MAX_ENTRIES);
        CHECK_STR(gx_vocab_resolve(v, GX_V_CERT, "z4711"), "C4711");
        CHECK_STR(gx_vocab_resolve(v, GX_V_CERT, "E99999"), "C99999");
    }
    gx_vocab_destroy(&v);
    free(big);

    /* whole text */
    size_t huge = GX_VOCAB_MAX_BYTES + 1;
    char *h = malloc(huge);
    REQUIRE(h != NULL);
    memset(h, '\n', huge);
    v = NULL;
    CHECK(gx_vocab_parse(h, huge, &v, eb, sizeof eb) == GX_ERR_INVALID);
    CHECK(strstr(eb, "larger than") != NULL);
    CHECK(v == NULL);
    free(h);

    /* three-district flags */
    size_t tcap = (GX_VOCAB_MAX_THREE + 1) * 48;
    char *t = malloc(tcap);
    REQUIRE(t != NULL);
    size_t tl = 0;
    for (int i = 0; i <= GX_VOCAB_MAX_THREE; i++)
        tl += (size_t)snprintf(t + tl, tcap - tl, "county" T "41%04d" T "区%d" T "D%d" T T T "three\n", i, i,
                               i);
    snprintf(want, sizeof want, "line %d: more than %d entries flagged", GX_VOCAB_MAX_THREE + 1,
             GX_VOCAB_MAX_THREE);
    CHECK(s_rejects(t, want));
    free(t);
}

TEST(errbuf_is_always_terminated)
{
    char eb[8];
    memset(eb, 'x', sizeof eb);
    gx_vocab *v = NULL;
    const char *bad = "process" T "a.b" T "乙" T "B\n";
    CHECK(gx_vocab_parse(bad, strlen(bad), &v, eb, sizeof eb) == GX_ERR_INVALID);
    CHECK(memchr(eb, '\0', sizeof eb) != NULL);
    CHECK_STR(eb, "line 1:");
    /* no errbuf at all is allowed */
    CHECK(gx_vocab_parse(bad, strlen(bad), &v, NULL, 0) == GX_ERR_INVALID);
}

TEST(load_reads_files_and_reports_io_errors)
{
    char eb[256];
    gx_vocab *v = (gx_vocab *)&eb;
    CHECK(gx_vocab_load("/nonexistent/gongxu/vocabulary.tsv", &v, eb, sizeof eb) == GX_ERR_IO);
    CHECK(v == NULL);
    CHECK(strstr(eb, "/nonexistent/gongxu/vocabulary.tsv") != NULL);

    char dir[512];
    REQUIRE(s_tmpdir(dir, sizeof dir));
    CHECK(gx_vocab_load(dir, &v, eb, sizeof eb) == GX_ERR_IO); /* a directory */
    CHECK(v == NULL);

    char path[600];
    snprintf(path, sizeof path, "%s/v.tsv", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs(S_BASE, f);
    fclose(f);
    REQUIRE(gx_vocab_load(path, &v, eb, sizeof eb) == GX_OK);
    CHECK_STR(gx_vocab_resolve(v, GX_V_PROCESS, "hpdc"), "casting.die");
    CHECK_EQ_INT(gx_vocab_count(v, GX_V_PROCESS), 3);
    gx_vocab_destroy(&v);

    f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs(S_BASE "process" T "x.y" T "某" T "X\n", f);
    fclose(f);
    CHECK(gx_vocab_load(path, &v, eb, sizeof eb) == GX_ERR_INVALID);
    CHECK(strstr(eb, "line 9: parent x of x.y") != NULL);
    CHECK(v == NULL);
    gx_vocab_destroy(&v); /* only if the check above failed */
    remove(path);
    rmdir(dir);
}

/* Is id among the n entries? */
static bool s_has_entry(const gx_vocab_entry *e, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].id, id) == 0)
            return true;
    return false;
}

TEST(find_ranks_exact_then_prefix_then_anywhere)
{
    const gx_vocab *v = s_default;
    gx_vocab_entry e[64];
    /* an alias given exactly comes first, with its names and aliases */
    size_t n = gx_vocab_find(v, GX_V__COUNT, "az91d", e, 64);
    REQUIRE(n >= 1);
    CHECK_EQ_INT(e[0].cls, GX_V_MATERIAL);
    CHECK(e[0].zh && e[0].en && e[0].n_aliases >= 1);
    /* a prefix of ids: every casting.die entry, the parent itself first */
    n = gx_vocab_find(v, GX_V_PROCESS, "casting.die", e, 64);
    REQUIRE(n >= 4 && n <= 64);
    CHECK_STR(e[0].id, "casting.die");
    CHECK(s_has_entry(e, n, "casting.die.magnesium"));
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT(e[i].cls, GX_V_PROCESS);
    /* Chinese text inside a name */
    n = gx_vocab_find(v, GX_V_PROCESS, "压铸", e, 64);
    CHECK(s_has_entry(e, n < 64 ? n : 64, "casting.die.magnesium"));
    /* a zone carries its county */
    n = gx_vocab_find(v, GX_V_ZONE, "hebi.etdz", e, 64);
    REQUIRE(n == 1);
    CHECK(e[0].county != NULL && strlen(e[0].county) == 6);
    /* the limit bounds what is written, not what is counted; "" lists a class */
    size_t all = gx_vocab_find(v, GX_V_CERT, "", e, 2);
    CHECK_EQ_INT(all, gx_vocab_count(v, GX_V_CERT));
    CHECK_EQ_INT(gx_vocab_find(v, GX_V__COUNT, "no such thing at all", e, 64), 0);
}

TEST(suggest_finds_the_near_spellings)
{
    const gx_vocab *v = s_default;
    const char *s[5];
    size_t n = gx_vocab_suggest(v, GX_V_PROCESS, "casting.die.magnesum", s, 5);
    REQUIRE(n >= 1);
    CHECK_STR(s[0], "casting.die.magnesium");
    n = gx_vocab_suggest(v, GX_V_PROCESS, "magnesum", s, 5); /* the last segment of an id */
    REQUIRE(n >= 1);
    CHECK_STR(s[0], "casting.die.magnesium");
    n = gx_vocab_suggest(v, GX_V_CERT, "IATF1694", s, 5);
    REQUIRE(n >= 1);
    CHECK_STR(s[0], "IATF16949");
    n = gx_vocab_suggest(v, GX_V_ZONE, "HEBI.ETD", s, 5); /* case does not count as a typo */
    REQUIRE(n >= 1);
    CHECK_STR(s[0], "hebi.etdz");
    CHECK_EQ_INT(gx_vocab_suggest(v, GX_V_INDUSTRY, "Q9Z9Z", s, 5), 0);
    CHECK_EQ_INT(gx_vocab_suggest(v, GX_V_PROCESS, "", s, 5), 0);
    /* never more than asked */
    CHECK(gx_vocab_suggest(v, GX_V_PROCESS, "casting", s, 2) <= 2);
    /* a long term is refused, not overrun */
    char big[300];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK_EQ_INT(gx_vocab_suggest(v, GX_V_PROCESS, big, s, 5), 0);
}

TEST(ipc_normalise_good)
{
    static const char *const cases[][2] = {
        {"H01L 21/02", "H01L 21/02"},
        {"H01L", "H01L"},
        {"h01l21/02", "H01L 21/02"},
        {"G06F 3/01", "G06F 3/01"},
        {"g06f3/01", "G06F 3/01"},
        {"  B22D 17/00 ", "B22D 17/00"},
        {"H01L  21/02", "H01L 21/02"},
        {"H01L 0021/02", "H01L 21/02"},
        {"C22C 23/02", "C22C 23/02"},
        {"A61B 5/0205", "A61B 5/0205"},
        {"H04W 4/70", "H04W 4/70"},
        {"B29C 45/1671", "B29C 45/1671"},
        {"H01L 9999/999999", "H01L 9999/999999"},
        /* every level: section, class, subclass, main group (three spellings) */
        {"h", "H"},
        {" H01 ", "H01"},
        {"H01L 21", "H01L 21/00"},
        {"h01l21", "H01L 21/00"},
        {"H01L 21/000", "H01L 21/00"},
        {"H01L1", "H01L 1/00"},
        {"H01L 21/020", "H01L 21/02"}, /* subgroup digits are a decimal fraction */
        {"H01L 21/0270", "H01L 21/027"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[GX_IPC_MAX];
        gx_err err = gx_vocab_ipc_normalize(cases[i][0], out, sizeof out);
        if (err)
            fprintf(stderr, "  \"%s\" rejected\n", cases[i][0]);
        CHECK(err == GX_OK);
        CHECK_STR(out, cases[i][1]);
    }
}

TEST(ipc_normalise_bad)
{
    static const char *const bad[] = {
        "",
        "   ",
        "H0",
        "H0L",
        "H 01",
        "H01 L",
        "H01L 21/0",
        "I01L",
        "Y02E 10/50",
        "HO1L",
        "H01L 21/",
        "H01L 21/2",
        "H01L /02",
        "H01L 21/1234567",
        "H01L 12345/00",
        "H01L 0/00",
        "H01L 21 /02",
        "H01L 21/ 02",
        "H01L-21/02",
        "H01L 21/02x",
        "H01L 21/02 junk",
        "H01LL",
        "1H01L",
        "H01L21.02",
        "H01L\t21/02",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[GX_IPC_MAX] = "x";
        gx_err err = gx_vocab_ipc_normalize(bad[i], out, sizeof out);
        if (err != GX_ERR_INVALID)
            fprintf(stderr, "  \"%s\" accepted as \"%s\"\n", bad[i], out);
        CHECK(err == GX_ERR_INVALID);
        CHECK_STR(out, "");
    }
    char out[GX_IPC_MAX];
    CHECK(gx_vocab_ipc_normalize(NULL, out, sizeof out) == GX_ERR_INVALID);
    char small[8];
    CHECK(gx_vocab_ipc_normalize("H01L 21/02", small, sizeof small) == GX_ERR_TOO_LARGE);
    CHECK_STR(small, "");
    CHECK(gx_vocab_ipc_normalize("H01L", small, sizeof small) == GX_OK);
}

int main(void)
{
    char eb[256];
    if (gx_vocab_load(NULL, &s_default, eb, sizeof eb) != GX_OK) {
        fprintf(stderr, "embedded vocabulary does not parse: %s\n", eb);
        return 1;
    }
    RUN(embedded_default_parses);
    RUN(source_file_equals_embedded_default);
    RUN(default_has_the_local_chain);
    RUN(resolve_by_id_alias_and_names);
    RUN(resolve_is_case_insensitive_and_trims);
    RUN(unknown_terms_resolve_to_null);
    RUN(industry_bare_number_gets_its_section);
    RUN(names_shared_by_ancestor_go_to_descendant_else_nowhere);
    RUN(name_lookup);
    RUN(three_districts);
    RUN(zone_county);
    RUN(comments_blank_lines_crlf_and_bom_are_accepted);
    RUN(missing_parent_is_rejected);
    RUN(duplicates_are_rejected);
    RUN(overlong_line_is_rejected);
    RUN(malformed_lines_are_rejected);
    RUN(caps_are_enforced);
    RUN(errbuf_is_always_terminated);
    RUN(load_reads_files_and_reports_io_errors);
    RUN(find_ranks_exact_then_prefix_then_anywhere);
    RUN(suggest_finds_the_near_spellings);
    RUN(ipc_normalise_good);
    RUN(ipc_normalise_bad);
    gx_vocab_destroy(&s_default);
    return gx_test_done();
}
