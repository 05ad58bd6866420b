/* test_config.c — the configuration table: defaults, parsing, bounds, reload. */
#include "config.h"
#include "gxtest.h"

TEST(defaults_are_valid)
{
    gx_config c;
    char err[256];
    gx_config_defaults(&c);
    CHECK_STR(c.listen, "tcp://127.0.0.1:7450");
    CHECK_STR(c.data_dir, "./var/gongxu");
    CHECK_EQ_INT(c.shortlist_k, 10);
    CHECK(c.weight_distance == 20);
    CHECK(!c.no_sync);
    CHECK_EQ_INT(gx_config_validate(&c, err, sizeof err), GX_OK);
}

TEST(parse_file_text)
{
    gx_config c;
    char err[256];
    gx_config_defaults(&c);
    const char *text = "# comment\n\nshortlist_k = 5   # trailing comment\n"
                       "listen=tcp://127.0.0.1:9000\nvocabulary = \"\"\nweight_price = 2.5\nno_sync = yes\n";
    CHECK_EQ_INT(gx_config_parse(&c, text, err, sizeof err), GX_OK);
    CHECK_EQ_INT(c.shortlist_k, 5);
    CHECK_STR(c.listen, "tcp://127.0.0.1:9000");
    CHECK(c.weight_price == 2.5);
    CHECK(c.no_sync);
}

TEST(errors_name_line_and_key)
{
    gx_config c;
    char err[256];
    gx_config_defaults(&c);
    CHECK_EQ_INT(gx_config_parse(&c, "shortlist_k = 10\nbogus = 1\n", err, sizeof err), GX_ERR_CONFIG);
    CHECK(strstr(err, "line 2") && strstr(err, "bogus"));
    CHECK_EQ_INT(gx_config_parse(&c, "shortlist_k = 0\n", err, sizeof err), GX_ERR_CONFIG);
    CHECK(strstr(err, "shortlist_k") != NULL);
    CHECK_EQ_INT(gx_config_parse(&c, "shortlist_k = ten\n", err, sizeof err), GX_ERR_CONFIG);
    CHECK_EQ_INT(gx_config_parse(&c, "no equals sign\n", err, sizeof err), GX_ERR_CONFIG);
    CHECK(strstr(err, "line 1") != NULL);
    CHECK_EQ_INT(gx_config_parse(&c, "weight_credit = nan\n", err, sizeof err), GX_ERR_CONFIG);
    CHECK_EQ_INT(gx_config_parse(&c, "no_sync = maybe\n", err, sizeof err), GX_ERR_CONFIG);
    CHECK_EQ_INT(c.shortlist_k, 10); /* failed keys leave values alone */
}

TEST(cross_key_checks)
{
    gx_config c;
    char err[256];
    gx_config_defaults(&c);
    c.map_max_mb = 10;
    c.map_size_mb = 20;
    CHECK_EQ_INT(gx_config_validate(&c, err, sizeof err), GX_ERR_CONFIG);
    gx_config_defaults(&c);
    c.weight_industry = c.weight_process = c.weight_distance = c.weight_credit = 0;
    c.weight_capacity = c.weight_lead_time = c.weight_price = c.weight_track_record = 0;
    CHECK_EQ_INT(gx_config_validate(&c, err, sizeof err), GX_ERR_CONFIG);
    gx_config_defaults(&c);
    strcpy(c.log_level, "loud");
    CHECK_EQ_INT(gx_config_validate(&c, err, sizeof err), GX_ERR_CONFIG);
}

TEST(reload_applies_only_reloadable)
{
    gx_config cur, next;
    char err[256];
    gx_config_defaults(&cur);
    next = cur;
    next.shortlist_k = 3;
    strcpy(next.listen, "tcp://127.0.0.1:1");
    gx_config_apply_reload(&cur, &next, err, sizeof err);
    CHECK_EQ_INT(cur.shortlist_k, 3);
    CHECK_STR(cur.listen, "tcp://127.0.0.1:7450");
    CHECK(strstr(err, "listen") != NULL);
}

TEST(dump_parses_back)
{
    gx_config c, d;
    char err[256];
    gx_config_defaults(&c);
    c.shortlist_k = 7;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    gx_config_dump(&c, f);
    fclose(f);
    gx_config_defaults(&d);
    CHECK_EQ_INT(gx_config_parse(&d, buf, err, sizeof err), GX_OK);
    CHECK_EQ_INT(d.shortlist_k, 7);
    CHECK(strstr(buf, "(reload)") != NULL);
    free(buf);
}

static void s_redact_check(const char *urls, const char *want)
{
    char out[GX_CONFIG_STR_MAX], again[GX_CONFIG_STR_MAX];
    gx_config_redact_urls(urls, out, sizeof out);
    CHECK_STR(out, want);
    CHECK(strlen(out) <= strlen(urls));
    gx_config_redact_urls(out, again, sizeof again); /* what it shows, shown again, is the same */
    CHECK_STR(again, out);
}

TEST(redacted_urls_hide_passwords_and_never_grow)
{
    s_redact_check("nats://city4106:hunter2@127.0.0.1:4222,nats://127.0.0.1:4223",
                   "nats://city4106:***@127.0.0.1:4222,nats://127.0.0.1:4223");
    s_redact_check("nats://s3cret-token@h:4222", "nats://***@h:4222");
    s_redact_check("nats://u:hun/ter@2@h", "nats://u:***@h");
    s_redact_check("nats://u:ab@h,nats://u:a@h,nats://u:@h", "nats://u:**@h,nats://u:*@h,nats://u:@h");
    s_redact_check("nats://x@h,nats://@h", "nats://*@h,nats://@h");
    s_redact_check("city4106:hunter2@h", "city4106:***@h"); /* no scheme */

    /* the longest list a value holds, of URLs with one-byte passwords: its dump
     * reads back and dumps the same (*** for each would have outgrown the value) */
    gx_config c, d;
    char err[256];
    gx_config_defaults(&c);
    size_t n = 0;
    while (n + sizeof "nats://u:p@h," < sizeof c.federation_url)
        n += (size_t)snprintf(c.federation_url + n, sizeof c.federation_url - n, "nats://u:p@h,");
    c.federation_url[n - 1] = 0;
    char *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    FILE *f = open_memstream(&buf, &len);
    gx_config_dump(&c, f);
    fclose(f);
    char whole[sizeof c.federation_url + 32]; /* the value as it must show: every URL, none cut */
    snprintf(whole, sizeof whole, "federation_url = \"%s\"\n", c.federation_url);
    for (char *q = strstr(whole, "p@h"); q; q = strstr(q, "p@h"))
        *q = '*';
    CHECK(strstr(buf, whole) != NULL);
    gx_config_defaults(&d);
    CHECK_EQ_INT(gx_config_parse(&d, buf, err, sizeof err), GX_OK);
    f = open_memstream(&buf2, &len2);
    gx_config_dump(&d, f);
    fclose(f);
    CHECK_STR(buf2, buf);
    free(buf);
    free(buf2);
}

int main(void)
{
    RUN(defaults_are_valid);
    RUN(parse_file_text);
    RUN(errors_name_line_and_key);
    RUN(cross_key_checks);
    RUN(reload_applies_only_reloadable);
    RUN(dump_parses_back);
    RUN(redacted_urls_hide_passwords_and_never_grow);
    return gx_test_done();
}
