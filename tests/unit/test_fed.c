/* test_fed.c — federation's pure parts: the FedMessage codec and its caps,
 * the remote id mapping, the checks a receiver makes before applying
 * (gx_fedapply_check) and the federation configuration keys. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "codec.h"
#include "config.h"
#include "fedapply.h"
#include "feddock.h"
#include "fedseal.h"
#include "federation.h"
#include "gxtest.h"
#include "limit.h"
#include "model.h"
#include "records.h"
#include "store.h"

#define ANCHOR "91410611MA47HBAN1X"
#define SME "91410102MA48HGMG3X"

static void s_firm(gx_firm *f, const char *id, const char *county)
{
    memset(f, 0, sizeof *f);
    snprintf(f->id, sizeof f->id, "%s", id);
    f->name = strdup("鹤壁汽车电子");
    snprintf(f->county, sizeof f->county, "%s", county);
    f->zone = strdup("hebi.etdz");
    f->contact = strdup("buyer@hebi.example");
    f->has_location = true;
    f->lat = 35.73;
    f->lon = 114.35;
    f->credit = GX_CREDIT_A;
    f->roles = GX_BIT(GX_ROLE_ANCHOR);
    f->awards = 7;
    f->lang = GX_LANG_EN;
    f->certs = calloc(1, sizeof *f->certs);
    f->n_certs = 1;
    f->certs[0].scheme = strdup("IATF16949");
    f->certs[0].number = strdup("IATF-0412");
    f->certs[0].valid_until = 22000;
}

static void s_demand(gx_demand *d)
{
    memset(d, 0, sizeof *d);
    d->id = 42;
    d->revision = 3;
    d->state = GX_STATE_OPEN;
    snprintf(d->owner, sizeof d->owner, "%s", ANCHOR);
    d->kind = GX_KIND_PARTS_SUPPLY;
    d->industry = strdup("C3670");
    gx_strv_push(&d->processes, "casting.die.magnesium");
    gx_strv_push(&d->materials, "material.metal.magnesium.az91d");
    gx_strv_push(&d->certs, "IATF16949");
    d->quantity = 4000;
    d->original_quantity = 5000;
    d->unit = strdup("pcs");
    d->needed_by = 21000;
    d->has_budget = true;
    d->budget_min = 10;
    d->budget_max = 12.5;
    d->min_credit = GX_CREDIT_B;
    d->scope = GX_SCOPE_SAME_PROVINCE;
    d->max_distance_km = 150;
    d->splittable = true;
    d->max_suppliers = 2;
    d->title = strdup("Magnesium ECU housings");
    d->summary = strdup("AZ91D housings");
    d->details = strdup("drawing MG-42 rev C");
    d->expires_at = 1900000000;
    d->created_at = 1800000000;
}

static void s_offer(gx_offer *o)
{
    memset(o, 0, sizeof *o);
    o->id = 77;
    o->revision = 2;
    o->state = GX_STATE_WITHDRAWN;
    snprintf(o->owner, sizeof o->owner, "%s", ANCHOR);
    o->kinds = GX_BIT(GX_KIND_PARTS_SUPPLY);
    gx_strv_push(&o->industries, "C3670");
    gx_strv_push(&o->processes, "casting.die.magnesium");
    gx_strv_push(&o->materials, "material.metal.magnesium.az91d");
    o->monthly_capacity = 20000;
    o->min_order = 500;
    o->lead_time_days = 20;
    o->has_price = true;
    o->price_min = 9;
    o->price_max = 11;
    o->service_scope = GX_SCOPE_ANYWHERE;
    o->service_radius_km = 300;
    o->title = strdup("Mg die casting");
    o->summary = strdup("up to 800 t");
    o->expires_at = 1900000000;
    o->created_at = 1800000000;
}

/* Every field of a FedMessage crosses, except what must stay home. */
TEST(fed_round_trip_demand)
{
    gx_demand d;
    gx_firm f;
    s_demand(&d);
    s_firm(&f, ANCHOR, "410611");
    gx_fed_msg m = {.origin_city = 4106,
                    .kind = GX_FED_DEMAND,
                    .origin_id = 42,
                    .revision = 3,
                    .state = GX_STATE_OPEN,
                    .demand = &d,
                    .owner = &f};
    gx_buf b;
    gx_fed_msg r;
    REQUIRE(gx_codec_encode_fed(&m, &b) == GX_OK);
    REQUIRE(gx_codec_decode_fed(b.data, b.len, &r) == GX_OK);
    CHECK_EQ_INT(r.origin_city, 4106);
    CHECK_EQ_INT(r.kind, GX_FED_DEMAND);
    CHECK_EQ_INT(r.origin_id, 42);
    CHECK_EQ_INT(r.revision, 3);
    CHECK_EQ_INT(r.state, GX_STATE_OPEN);
    CHECK(r.offer == NULL);
    REQUIRE(r.demand && r.owner);
    CHECK_EQ_INT(r.demand->id, 42);
    CHECK_STR(r.demand->owner, ANCHOR);
    CHECK_EQ_INT(r.demand->kind, GX_KIND_PARTS_SUPPLY);
    CHECK_STR(r.demand->industry, "C3670");
    CHECK(r.demand->processes.n == 1 && strcmp(r.demand->processes.v[0], "casting.die.magnesium") == 0);
    CHECK(r.demand->materials.n == 1 && r.demand->certs.n == 1);
    CHECK(r.demand->quantity == 4000 && r.demand->original_quantity == 5000);
    CHECK_STR(r.demand->unit, "pcs");
    CHECK_EQ_INT(r.demand->needed_by, 21000);
    CHECK(r.demand->has_budget && r.demand->budget_min == 10 && r.demand->budget_max == 12.5);
    CHECK_EQ_INT(r.demand->min_credit, GX_CREDIT_B);
    CHECK_EQ_INT(r.demand->scope, GX_SCOPE_SAME_PROVINCE);
    CHECK(r.demand->max_distance_km == 150);
    CHECK(r.demand->splittable && r.demand->max_suppliers == 2);
    CHECK_STR(r.demand->title, "Magnesium ECU housings");
    CHECK_STR(r.demand->summary, "AZ91D housings");
    CHECK(r.demand->details == NULL); /* confidential: stays home */
    CHECK_EQ_INT(r.demand->expires_at, 1900000000);
    CHECK_EQ_INT(r.demand->created_at, 1800000000);
    /* the owner's public profile, marked with its home city */
    CHECK_STR(r.owner->id, ANCHOR);
    CHECK_STR(r.owner->name, "鹤壁汽车电子");
    CHECK_STR(r.owner->county, "410611");
    CHECK_STR(r.owner->zone, "hebi.etdz");
    CHECK(r.owner->has_location && r.owner->lat == 35.73 && r.owner->lon == 114.35);
    CHECK_EQ_INT(r.owner->credit, GX_CREDIT_A);
    CHECK_EQ_INT(r.owner->roles, GX_BIT(GX_ROLE_ANCHOR));
    CHECK_EQ_INT(r.owner->n_certs, 1);
    CHECK_STR(r.owner->certs[0].number, "IATF-0412");
    CHECK_EQ_INT(r.owner->certs[0].valid_until, 22000);
    CHECK_EQ_INT(r.owner->home_city, 4106);
    CHECK(r.owner->contact == NULL); /* no contact or language crosses; the track record does */
    CHECK_EQ_INT(r.owner->awards, 7);
    CHECK_EQ_INT(r.owner->lang, GX_LANG_ZH);
    char why[200];
    CHECK(gx_fedapply_check(&r, "gx.4106.post", why, sizeof why));
    gx_codec_fed_fini(&r);
    CHECK(r.demand == NULL && r.owner == NULL);
    /* a torn message is refused, and leaves nothing to free */
    CHECK_EQ_INT(gx_codec_decode_fed(b.data, b.len - 1, &r), GX_ERR_MALFORMED);
    CHECK(r.demand == NULL && r.owner == NULL);
    gx_buf_fini(&b);
    gx_demand_fini(&d);
    gx_firm_fini(&f);
}

TEST(fed_round_trip_offer_and_firm)
{
    gx_offer o;
    gx_firm f;
    s_offer(&o);
    s_firm(&f, ANCHOR, "410611");
    gx_fed_msg m = {.origin_city = 4106,
                    .kind = GX_FED_OFFER,
                    .origin_id = 77,
                    .revision = 2,
                    .state = GX_STATE_WITHDRAWN,
                    .offer = &o,
                    .owner = &f};
    gx_buf b;
    gx_fed_msg r;
    REQUIRE(gx_codec_encode_fed(&m, &b) == GX_OK);
    REQUIRE(gx_codec_decode_fed(b.data, b.len, &r) == GX_OK);
    CHECK_EQ_INT(r.kind, GX_FED_OFFER);
    CHECK_EQ_INT(r.state, GX_STATE_WITHDRAWN);
    CHECK(r.demand == NULL);
    REQUIRE(r.offer);
    CHECK_EQ_INT(r.offer->kinds, GX_BIT(GX_KIND_PARTS_SUPPLY));
    CHECK(r.offer->industries.n == 1 && r.offer->processes.n == 1 && r.offer->materials.n == 1);
    CHECK(r.offer->monthly_capacity == 20000 && r.offer->min_order == 500);
    CHECK_EQ_INT(r.offer->lead_time_days, 20);
    CHECK(r.offer->has_price && r.offer->price_min == 9 && r.offer->price_max == 11);
    CHECK_EQ_INT(r.offer->service_scope, GX_SCOPE_ANYWHERE);
    CHECK(r.offer->service_radius_km == 300);
    CHECK_STR(r.offer->title, "Mg die casting");
    CHECK_EQ_INT(r.offer->expires_at, 1900000000);
    gx_codec_fed_fini(&r);
    gx_buf_fini(&b);
    /* a profile change alone: no posting, no id */
    gx_fed_msg p = {.origin_city = 4106, .kind = GX_FED_FIRM, .owner = &f};
    REQUIRE(gx_codec_encode_fed(&p, &b) == GX_OK);
    REQUIRE(gx_codec_decode_fed(b.data, b.len, &r) == GX_OK);
    CHECK(r.kind == GX_FED_FIRM && r.origin_id == 0 && r.demand == NULL && r.offer == NULL);
    REQUIRE(r.owner);
    CHECK_STR(r.owner->name, "鹤壁汽车电子");
    char why[200];
    CHECK(gx_fedapply_check(&r, "gx.4106.post", why, sizeof why));
    gx_codec_fed_fini(&r);
    gx_buf_fini(&b);
    gx_offer_fini(&o);
    gx_firm_fini(&f);
}

/* Encodes a firm-only message with the firm as given. */
static gx_err s_firm_msg(const gx_firm *f, gx_buf *b)
{
    gx_fed_msg m = {.origin_city = 4106, .kind = GX_FED_FIRM, .owner = (gx_firm *)f};
    return gx_codec_encode_fed(&m, b);
}

/* A message over a cap is refused whole: a string, the certificates, the size. */
TEST(fed_caps)
{
    gx_firm f;
    gx_buf b;
    gx_fed_msg r;
    s_firm(&f, ANCHOR, "410611");
    free(f.name);
    REQUIRE((f.name = malloc(GX_FED_MAX_STRING + 2)));
    memset(f.name, 'a', GX_FED_MAX_STRING);
    f.name[GX_FED_MAX_STRING] = 0;
    REQUIRE(s_firm_msg(&f, &b) == GX_OK);
    CHECK_EQ_INT(gx_codec_decode_fed(b.data, b.len, &r), GX_OK); /* at the cap */
    gx_codec_fed_fini(&r);
    gx_buf_fini(&b);
    f.name[GX_FED_MAX_STRING] = 'a';
    f.name[GX_FED_MAX_STRING + 1] = 0;
    REQUIRE(s_firm_msg(&f, &b) == GX_OK);
    CHECK_EQ_INT(gx_codec_decode_fed(b.data, b.len, &r), GX_ERR_MALFORMED); /* one byte over */
    CHECK(r.owner == NULL);
    gx_buf_fini(&b);
    free(f.name);
    f.name = strdup("ok");

    /* certificates: the cap, then one more */
    gx_cert *certs = calloc(GX_FED_MAX_REPEATED + 1, sizeof *certs);
    REQUIRE(certs);
    for (size_t i = 0; i <= GX_FED_MAX_REPEATED; i++) {
        certs[i].scheme = "ISO9001";
        certs[i].valid_until = 22000;
    }
    gx_cert *own = f.certs;
    uint32_t n_own = f.n_certs;
    f.certs = certs;
    f.n_certs = GX_FED_MAX_REPEATED;
    REQUIRE(s_firm_msg(&f, &b) == GX_OK);
    CHECK_EQ_INT(gx_codec_decode_fed(b.data, b.len, &r), GX_OK);
    CHECK(r.owner && r.owner->n_certs == GX_FED_MAX_REPEATED);
    gx_codec_fed_fini(&r);
    gx_buf_fini(&b);
    f.n_certs = GX_FED_MAX_REPEATED + 1;
    REQUIRE(s_firm_msg(&f, &b) == GX_OK);
    CHECK_EQ_INT(gx_codec_decode_fed(b.data, b.len, &r), GX_ERR_MALFORMED);
    gx_buf_fini(&b);
    f.certs = own;
    f.n_certs = n_own;
    free(certs);

    /* a message larger than any city lets a request be (a valid one with a
     * large unknown field, which protobuf would keep): refused before it is read */
    REQUIRE(s_firm_msg(&f, &b) == GX_OK);
    size_t pad = GX_FED_MAX_BYTES, n = b.len;
    uint8_t *big = malloc(b.len + 12 + pad);
    REQUIRE(big);
    memcpy(big, b.data, n);
    big[n++] = 0xa2; /* field 100, length-delimited */
    big[n++] = 0x06;
    size_t v = pad;
    for (; v >= 0x80; v >>= 7)
        big[n++] = (uint8_t)(v | 0x80);
    big[n++] = (uint8_t)v;
    memset(big + n, 'x', pad);
    n += pad;
    CHECK_EQ_INT(gx_codec_decode_fed(big, n, &r), GX_ERR_MALFORMED);
    CHECK(r.owner == NULL);
    free(big);
    gx_buf_fini(&b);
    gx_firm_fini(&f);
}

TEST(remote_ids)
{
    CHECK_EQ_INT(GX_FED_ID_SHIFT, 48);
    CHECK_EQ_INT(GX_FED_CITY_OF(0), 0);
    CHECK_EQ_INT(GX_FED_CITY_OF(1), 0);
    CHECK_EQ_INT(GX_FED_CITY_OF(GX_FED_LOCAL_MAX - 1), 0); /* the largest local id */
    CHECK_EQ_INT(GX_FED_CITY_OF(GX_FED_LOCAL_MAX), 1);
    uint64_t id = (uint64_t)4106 << GX_FED_ID_SHIFT | 42;
    CHECK_EQ_INT(GX_FED_CITY_OF(id), 4106);
    CHECK_EQ_INT(id & (GX_FED_LOCAL_MAX - 1), 42);
    id = (uint64_t)9999 << GX_FED_ID_SHIFT | (GX_FED_LOCAL_MAX - 1);
    CHECK_EQ_INT(GX_FED_CITY_OF(id), 9999);
    CHECK_EQ_INT(id & (GX_FED_LOCAL_MAX - 1), GX_FED_LOCAL_MAX - 1);
    CHECK_EQ_INT(GX_FED_CITY_OF(UINT64_MAX), 65535);
    CHECK_EQ_INT(GX_FED_CITY_OF((uint64_t)1000 << GX_FED_ID_SHIFT), 1000);
}

/* A good demand message, for the check cases to spoil one field each. */
typedef struct s_case {
    gx_demand d;
    gx_firm f;
    gx_fed_msg m;
} s_case;

static void s_case_init(s_case *c)
{
    s_demand(&c->d);
    s_firm(&c->f, ANCHOR, "410611");
    c->m = (gx_fed_msg){.origin_city = 4106,
                        .kind = GX_FED_DEMAND,
                        .origin_id = 42,
                        .revision = 3,
                        .state = GX_STATE_OPEN,
                        .demand = &c->d,
                        .owner = &c->f};
}

static void s_case_fini(s_case *c)
{
    gx_demand_fini(&c->d);
    gx_firm_fini(&c->f);
}

/* Checks c against subject; true when refused with a reason holding want. */
static bool s_refused(s_case *c, const char *subject, const char *want)
{
    char why[200] = "";
    bool ok = gx_fedapply_check(&c->m, subject, why, sizeof why);
    if (!ok && !strstr(why, want))
        fprintf(stderr, "  refused for \"%s\", wanted \"%s\"\n", why, want);
    return !ok && strstr(why, want);
}

TEST(receiver_checks)
{
    s_case c;
    char why[200] = "x";
    s_case_init(&c);
    CHECK(gx_fedapply_check(&c.m, "gx.4106.post", why, sizeof why));
    CHECK(gx_fedapply_check(&c.m, "gx.4106.post", NULL, 0));
    CHECK(s_refused(&c, "gx.4101.post", "on subject gx.4101.post"));
    CHECK(s_refused(&c, NULL, "on subject -"));
    c.m.origin_city = 999;
    CHECK(s_refused(&c, "gx.999.post", "not a 4-digit code"));
    c.m.origin_city = 10000;
    CHECK(s_refused(&c, "gx.10000.post", "not a 4-digit code"));
    c.m.origin_city = 4106;
    c.m.kind = 0;
    CHECK(s_refused(&c, "gx.4106.post", "unknown kind 0"));
    c.m.kind = 99;
    CHECK(s_refused(&c, "gx.4106.post", "unknown kind 99"));
    c.m.kind = GX_FED_DEMAND;
    c.m.owner = NULL;
    CHECK(s_refused(&c, "gx.4106.post", "no owner profile"));
    c.m.owner = &c.f;
    snprintf(c.f.county, sizeof c.f.county, "410102"); /* Zhengzhou's */
    CHECK(s_refused(&c, "gx.4106.post", "is not in city 4106"));
    snprintf(c.f.county, sizeof c.f.county, "410611");
    c.m.origin_id = 0;
    CHECK(s_refused(&c, "gx.4106.post", "out of range"));
    c.m.origin_id = GX_FED_LOCAL_MAX;
    CHECK(s_refused(&c, "gx.4106.post", "out of range"));
    c.m.origin_id = GX_FED_LOCAL_MAX - 1;
    CHECK(gx_fedapply_check(&c.m, "gx.4106.post", why, sizeof why)); /* the largest id */
    c.m.revision = 0;
    CHECK(s_refused(&c, "gx.4106.post", "no revision or state"));
    c.m.revision = 3;
    c.m.state = GX_STATE_NONE;
    CHECK(s_refused(&c, "gx.4106.post", "no revision or state"));
    c.m.state = GX_STATE_OPEN;
    c.m.demand = NULL;
    CHECK(s_refused(&c, "gx.4106.post", "a demand message without its posting"));
    c.m.kind = GX_FED_OFFER;
    CHECK(s_refused(&c, "gx.4106.post", "offer message without its posting"));
    c.m.kind = GX_FED_DEMAND;
    c.m.demand = &c.d;
    snprintf(c.d.owner, sizeof c.d.owner, "%s", SME);
    CHECK(s_refused(&c, "gx.4106.post", "carries the profile of"));
    /* a firm message needs no posting */
    c.m.kind = GX_FED_FIRM;
    c.m.demand = NULL;
    c.m.origin_id = 0;
    c.m.revision = 0;
    CHECK(gx_fedapply_check(&c.m, "gx.4106.post", why, sizeof why));
    s_case_fini(&c);
}

/* The federation keys, as gx_config_validate takes them (--check-config
 * also reads the password file: test_federation.py CheckConfig). */
TEST(config_keys)
{
    gx_config c;
    char err[512];
    gx_config_defaults(&c);
    CHECK_EQ_INT(gx_config_validate(&c, err, sizeof err), GX_OK); /* no federation */
    CHECK_EQ_INT(gx_config_parse(&c, "federation_url = nats://127.0.0.1:4222\n", err, sizeof err), GX_OK);
    CHECK_EQ_INT(gx_config_validate(&c, err, sizeof err), GX_ERR_CONFIG); /* url without city */
    CHECK(strstr(err, "federation_city") != NULL);
    CHECK_EQ_INT(gx_config_parse(&c, "federation_city = 999\n", err, sizeof err), GX_OK);
    CHECK_EQ_INT(gx_config_validate(&c, err, sizeof err), GX_ERR_CONFIG); /* 3 digits */
    CHECK_EQ_INT(gx_config_parse(&c, "federation_city = 10000\n", err, sizeof err), GX_ERR_CONFIG);
    CHECK(strstr(err, "federation_city") != NULL);
    CHECK_EQ_INT(gx_config_parse(&c, "federation_city = 41a6\n", err, sizeof err), GX_ERR_CONFIG);
    CHECK_EQ_INT(gx_config_parse(&c, "federation_city = 4106\n", err, sizeof err), GX_OK);
    CHECK_EQ_INT(gx_config_validate(&c, err, sizeof err), GX_OK);
    CHECK_EQ_INT(gx_config_parse(&c, "federation_url = http://127.0.0.1:4222\n", err, sizeof err), GX_OK);
    CHECK_EQ_INT(gx_config_validate(&c, err, sizeof err), GX_ERR_CONFIG);
    CHECK_EQ_INT(gx_config_parse(&c, "federation_url = nats://a:4222,nats://b:4222\n", err, sizeof err),
                 GX_OK);
    CHECK_EQ_INT(gx_config_parse(&c, "federation_password_file = /nonexistent/pw\n", err, sizeof err), GX_OK);
    CHECK_EQ_INT(gx_config_validate(&c, err, sizeof err), GX_ERR_CONFIG); /* a password without a user */
    CHECK_EQ_INT(gx_config_parse(&c, "federation_user = city4106\n", err, sizeof err), GX_OK);
    CHECK_EQ_INT(gx_config_validate(&c, err, sizeof err), GX_OK);
    CHECK_EQ_INT(gx_config_parse(&c, "federation_stream = GX.STREAM\n", err, sizeof err), GX_OK);
    CHECK_EQ_INT(gx_config_validate(&c, err, sizeof err), GX_ERR_CONFIG);
    CHECK_EQ_INT(gx_config_parse(&c, "federation_stream = GONGXU\n", err, sizeof err), GX_OK);
    /* the password file missing: refused at start, before any connection */
    gx_fed *f = NULL;
    err[0] = 0;
    CHECK_EQ_INT(gx_fed_new(&c, 1, &f, err, sizeof err), GX_ERR_CONFIG);
    CHECK(f == NULL);
    CHECK(strstr(err, "federation_password_file: cannot read /nonexistent/pw") != NULL);
    /* a city without a url */
    gx_config_defaults(&c);
    CHECK_EQ_INT(gx_config_parse(&c, "federation_city = 4106\n", err, sizeof err), GX_OK);
    CHECK_EQ_INT(gx_config_validate(&c, err, sizeof err), GX_ERR_CONFIG);
    CHECK(strstr(err, "without federation_url") != NULL);
}

static gx_send_rc s_send(void *ctx, const void *rid, size_t rid_len, const void *data, size_t len)
{
    (void)ctx, (void)rid, (void)rid_len, (void)data, (void)len;
    return GX_SEND_OK;
}

static void s_publish(void *ctx, const char *topic, const void *data, size_t len)
{
    (void)ctx, (void)topic, (void)data, (void)len;
}

/* Zhengzhou's broker (federated, never connected: the messages are handed to
 * it as the loop would) on a store in dir. */
static gx_broker *s_zhengzhou(const char *dir, int64_t now)
{
    gx_config c;
    char err[512];
    gx_config_defaults(&c);
    snprintf(c.data_dir, sizeof c.data_dir, "%s", dir);
    snprintf(c.federation_url, sizeof c.federation_url, "nats://127.0.0.1:1");
    c.federation_city = 4101;
    c.insecure_dev = true;
    gx_broker *b = NULL;
    if (gx_broker_new(&c, now, NULL, NULL, &b, err, sizeof err) != GX_OK)
        fprintf(stderr, "  broker: %s\n", err);
    return b;
}

/* A remote firm's postings count against nothing here (its open postings are
 * its home broker's to limit): not when applied, not when expired here, and
 * not when a start loads them from the store. */
TEST(remote_postings_are_not_counted_against_their_owner)
{
    const int64_t now = 1790000000;
    const char *dir = gx_test_dir("fed_open_count");
    gx_broker_io io = {.send = s_send, .publish = s_publish};
    gx_broker *b = s_zhengzhou(dir, now);
    REQUIRE(b);
    gx_demand d;
    gx_firm f;
    s_demand(&d);
    d.expires_at = now + 100;
    s_firm(&f, ANCHOR, "410611");
    f.roles = GX_BIT(GX_ROLE_ANCHOR);
    gx_fed_msg m = {.origin_city = 4106,
                    .kind = GX_FED_DEMAND,
                    .origin_id = 42,
                    .revision = 1,
                    .state = GX_STATE_OPEN,
                    .demand = &d,
                    .owner = &f};
    gx_buf raw;
    REQUIRE(gx_codec_encode_fed(&m, &raw) == GX_OK);
    gx_broker_batch_begin(b, now, now * 1000);
    CHECK_EQ_INT(gx_fedapply_one(b, "GONGXU", 1, "gx.4106.post", raw.data, raw.len), GX_FEDAPPLY_APPLIED);
    gx_broker_batch_end(b, &io);
    CHECK_EQ_INT(gx_quota_get(b->open, ANCHOR), 0);
    CHECK(gx_engine_demand(b->engine, (uint64_t)4106 << GX_FED_ID_SHIFT | 42) != NULL);
    gx_broker_destroy(&b);
    /* a start loads it from the store, open: still not counted */
    REQUIRE((b = s_zhengzhou(dir, now + 1)));
    CHECK(gx_engine_demand(b->engine, (uint64_t)4106 << GX_FED_ID_SHIFT | 42) != NULL);
    CHECK_EQ_INT(gx_quota_get(b->open, ANCHOR), 0);
    /* expired here by this broker's clock */
    CHECK_EQ_INT(gx_broker_expire(b, now + 200, &io), 1);
    CHECK(gx_engine_demand(b->engine, (uint64_t)4106 << GX_FED_ID_SHIFT | 42) == NULL);
    CHECK_EQ_INT(gx_quota_get(b->open, ANCHOR), 0);
    gx_broker_destroy(&b);
    gx_buf_fini(&raw);
    gx_demand_fini(&d);
    gx_firm_fini(&f);
}

/* Applies m as stream sequence seq from its city's subject. */
static int s_apply(gx_broker *b, uint64_t seq, const gx_fed_msg *m)
{
    gx_buf raw;
    char subject[32];
    if (gx_codec_encode_fed(m, &raw) != GX_OK)
        return -1;
    snprintf(subject, sizeof subject, "gx.%u.post", m->origin_city);
    int rc = gx_fedapply_one(b, "GONGXU", seq, subject, raw.data, raw.len);
    gx_buf_fini(&raw);
    return rc;
}

/* Hebi's answer (kind) about its demand demand_id to Zhengzhou's SME, sealed
 * to pk with box s (its binding filled here unless bind is false). */
static gx_err s_hebi_answer(gx_fed_msg *m, uint32_t kind, uint64_t demand_id, const uint8_t *pk,
                            gx_fed_sealed *s, gx_buf *box)
{
    gx_buf plain;
    *m = (gx_fed_msg){.origin_city = 4106, .kind = kind, .origin_id = demand_id, .dest_city = 4101};
    gx_err err = gx_codec_encode_fed_sealed(s, &plain);
    if (!err)
        err = gx_fedseal_seal(pk, plain.data, plain.len, box);
    gx_buf_fini(&plain);
    m->sealed = box->data;
    m->sealed_len = box->len;
    return err;
}

static gx_fed_sealed s_bound(uint32_t kind, uint64_t demand_id)
{
    gx_fed_sealed s = {.kind = kind, .origin_city = 4106, .dest_city = 4101, .demand_id = demand_id};
    snprintf(s.firm_id, sizeof s.firm_id, "%s", SME);
    return s;
}

/* Zhengzhou (the SME's city) receiving Hebi's answers: a sealed part is held
 * to the federation's caps, not to this broker's own max_text_bytes (16 KB
 * here; Hebi's anchor may release 20 KB of details); and a box is bound to
 * its message: Hebi's acceptance of demand 42 copied under demand 43 is refused. */
TEST(docking_sealed_parts_are_bound_and_held_to_federation_caps)
{
    const int64_t now = 1790000000;
    const char *dir = gx_test_dir("fed_dock_sealed");
    gx_broker_io io = {.send = s_send, .publish = s_publish};
    gx_broker *b = s_zhengzhou(dir, now);
    REQUIRE(b);
    gx_broker_batch_begin(b, now, now * 1000);
    REQUIRE(gx_feddock_ensure_key(b) == GX_OK);
    uint8_t hpk[GX_FEDSEAL_KEY], hsk[GX_FEDSEAL_KEY], kp[2 * GX_FEDSEAL_KEY];
    REQUIRE(gx_fedseal_keypair(hpk, hsk) == GX_OK);
    gx_fed_msg km = {.origin_city = 4106, .kind = GX_FED_CITY_KEY, .has_key = true};
    memcpy(km.public_key, hpk, sizeof hpk);
    CHECK_EQ_INT(s_apply(b, 1, &km), GX_FEDAPPLY_APPLIED);
    /* Zhengzhou's own SME, and Hebi's anchor's demands 42 and 43 */
    gx_firm sme, anchor;
    gx_demand d;
    s_firm(&sme, SME, "410102");
    s_firm(&anchor, ANCHOR, "410611");
    s_demand(&d);
    REQUIRE(gx_records_write_begin(b) == GX_OK);
    REQUIRE(gx_records_put_firm(b, &sme) == GX_OK);
    b->fx.n = 0;
    REQUIRE(gx_engine_put_firm(b->engine, &sme, now, &b->fx) == GX_OK);
    REQUIRE(gx_records_write_end(b, GX_OK) == GX_OK);
    for (uint64_t id = 42; id <= 43; id++) {
        d.id = id;
        gx_fed_msg dm = {.origin_city = 4106,
                         .kind = GX_FED_DEMAND,
                         .origin_id = id,
                         .revision = 3,
                         .state = GX_STATE_OPEN,
                         .demand = &d,
                         .owner = &anchor};
        CHECK_EQ_INT(s_apply(b, 1 + id - 41, &dm), GX_FEDAPPLY_APPLIED);
    }
    /* the SME's interest in both is pending (as requests.c records it) */
    REQUIRE(gx_records_write_begin(b) == GX_OK);
    for (uint64_t id = 42; id <= 43; id++) {
        uint8_t k[8 + GX_FIRM_ID_LEN], v[9] = {GX_DOCK_PENDING};
        gx_store_be64(k, (uint64_t)4106 << GX_FED_ID_SHIFT | id);
        memcpy(k + 8, SME, GX_FIRM_ID_LEN);
        REQUIRE(gx_store_put(b->child, GX_T_DOCKING, k, sizeof k, v, sizeof v) == GX_OK);
    }
    REQUIRE(gx_records_fed_key_get(b, 0, kp, sizeof kp) == GX_OK);
    REQUIRE(gx_records_write_end(b, GX_OK) == GX_OK);

    /* accepted with 20 KB of details: over 16 KB, within the federation's caps */
    char *details = malloc(20001);
    REQUIRE(details);
    memset(details, 'x', 20000);
    details[20000] = 0;
    gx_fed_msg am;
    gx_buf box = {0};
    gx_fed_sealed s = s_bound(GX_FED_ACCEPTED, 42);
    s.name = "Hebi Auto Electronics";
    s.contact = "buyer@hebi.example";
    s.details = details;
    REQUIRE(s_hebi_answer(&am, GX_FED_ACCEPTED, 42, kp, &s, &box) == GX_OK);
    snprintf(am.firm_id, sizeof am.firm_id, "%s", SME); /* what a sender before the fix put in clear */
    CHECK_EQ_INT(s_apply(b, 4, &am), GX_FEDAPPLY_APPLIED);
    gx_demand kept = {0};
    REQUIRE(gx_records_write_begin(b) == GX_OK);
    CHECK(gx_records_get_demand(b, (uint64_t)4106 << GX_FED_ID_SHIFT | 42, &kept) == GX_OK);
    gx_records_write_end(b, GX_OK);
    CHECK(kept.details && strlen(kept.details) == 20000);
    gx_demand_fini(&kept);

    /* the same box under an acceptance of demand 43: refused, 43 stays without details */
    am.origin_id = 43;
    uint64_t bad = b->fed.bad;
    CHECK_EQ_INT(s_apply(b, 5, &am), GX_FEDAPPLY_BAD);
    CHECK_EQ_INT(b->fed.bad, bad + 1);
    REQUIRE(gx_records_write_begin(b) == GX_OK);
    CHECK(gx_records_get_demand(b, (uint64_t)4106 << GX_FED_ID_SHIFT | 43, &kept) == GX_OK);
    gx_records_write_end(b, GX_OK);
    CHECK(!kept.details || !kept.details[0]);
    gx_demand_fini(&kept);
    gx_buf_fini(&box);
    gx_broker_batch_end(b, &io);
    gx_broker_destroy(&b);
    free(details);
    gx_demand_fini(&d);
    gx_firm_fini(&sme);
    gx_firm_fini(&anchor);
}

/* The last outbox record read (a copy). */
typedef struct s_outbox_last {
    uint64_t seq;
    struct {
        uint8_t *data;
        size_t len;
    } rec;
} s_outbox_last;

static bool s_keep_last(void *ctx, uint64_t seq, const void *rec, size_t len)
{
    s_outbox_last *l = ctx;
    free(l->rec.data);
    l->seq = seq;
    l->rec.len = 0;
    if (!(l->rec.data = malloc(len ? len : 1)))
        return false;
    memcpy(l->rec.data, rec, len);
    l->rec.len = len;
    return true;
}

/* A posting record NATS refused for good gets a substitute: the same kind,
 * id and revision, closed, trimmed step by step (texts, then code lists, then
 * its owner's certificates) until it fits the known max_payload; a receiver
 * applies it and closes its open copy. A profile record gets none, and
 * neither does a substitute refused in its turn (it would be no smaller). */
TEST(a_refused_posting_record_gets_a_smaller_closed_substitute)
{
    const int64_t now = 1790000000;
    const char *dir = gx_test_dir("fed_substitute");
    gx_broker_io io = {.send = s_send, .publish = s_publish};
    gx_broker *b = s_zhengzhou(dir, now);
    REQUIRE(b);
    gx_demand d;
    gx_firm f;
    s_demand(&d);
    s_firm(&f, ANCHOR, "410611");
    char *big = malloc(6001);
    REQUIRE(big);
    memset(big, 's', 6000);
    big[6000] = 0;
    free(d.summary);
    d.summary = big;
    char code[64];
    for (int i = 0; i < 200; i++) { /* lists longer than what is left of max_payload */
        snprintf(code, sizeof code, "casting.die.magnesium.variant%03d", i);
        gx_strv_push(&d.processes, code);
    }
    f.certs = realloc(f.certs, 100 * sizeof *f.certs);
    REQUIRE(f.certs);
    for (uint32_t i = 1; i < 100; i++) {
        snprintf(code, sizeof code, "CERT-%04u-%s", i, "a-long-certificate-number-for-size");
        f.certs[i] = (gx_cert){.scheme = strdup("ISO9001"), .number = strdup(code), .valid_until = 22000};
    }
    f.n_certs = 100;
    gx_fed_msg m = {.origin_city = 4106,
                    .kind = GX_FED_DEMAND,
                    .origin_id = 42,
                    .revision = 3,
                    .state = GX_STATE_OPEN,
                    .demand = &d,
                    .owner = &f};
    gx_buf raw, profile;
    REQUIRE(gx_codec_encode_fed(&m, &raw) == GX_OK);
    gx_fed_msg pm = {.origin_city = 4106, .kind = GX_FED_FIRM, .owner = &f};
    REQUIRE(gx_codec_encode_fed(&pm, &profile) == GX_OK);
    gx_broker_batch_begin(b, now, now * 1000);
    CHECK_EQ_INT(s_apply(b, 1, &m), GX_FEDAPPLY_APPLIED); /* the copy Zhengzhou holds, open */
    uint64_t rid = (uint64_t)4106 << GX_FED_ID_SHIFT | 42;
    CHECK(gx_engine_demand(b->engine, rid) != NULL);

    /* refused under 2 KiB: the texts alone are not enough, the lists go, then the certificates */
    bool made = false;
    char what[300];
    REQUIRE(gx_records_write_begin(b) == GX_OK);
    CHECK_EQ_INT(gx_records_fed_substitute(b, 9, raw.data, raw.len, 2048, &made, what, sizeof what), GX_OK);
    CHECK(made);
    CHECK(strstr(what, "withdrawn") != NULL);
    bool profile_made = true;
    CHECK_EQ_INT(
        gx_records_fed_substitute(b, 10, profile.data, profile.len, 2048, &profile_made, what, sizeof what),
        GX_OK);
    CHECK(!profile_made); /* a profile record: none */
    REQUIRE(gx_records_write_end(b, GX_OK) == GX_OK);
    gx_broker_batch_end(b, &io); /* the outbox is read from what is committed */
    s_outbox_last last = {0};
    REQUIRE(gx_records_fed_outbox_read(b, 0, 100, s_keep_last, &last) == GX_OK);
    REQUIRE(last.rec.len > 0);
    CHECK(last.rec.len + GX_FED_HEADROOM <= 2048);
    gx_fed_msg sub = {0};
    REQUIRE(gx_codec_decode_fed(last.rec.data, last.rec.len, &sub) == GX_OK);
    CHECK_EQ_INT(sub.kind, GX_FED_DEMAND);
    CHECK_EQ_INT(sub.origin_id, 42);
    CHECK_EQ_INT(sub.revision, 3);
    CHECK_EQ_INT(sub.state, GX_STATE_WITHDRAWN);
    REQUIRE(sub.demand && sub.owner);
    CHECK(!sub.demand->summary || !sub.demand->summary[0]);
    CHECK_EQ_INT(sub.demand->processes.n, 0);
    CHECK_EQ_INT(sub.owner->n_certs, 0);
    CHECK(strcmp(sub.demand->title, d.title) == 0); /* the receivers' notices still name it */
    gx_codec_fed_fini(&sub);

    /* the receiver closes its copy */
    gx_broker_batch_begin(b, now, now * 1000);
    char subject[32];
    snprintf(subject, sizeof subject, "gx.%u.post", 4106u);
    CHECK_EQ_INT(gx_fedapply_one(b, "GONGXU", 2, subject, last.rec.data, last.rec.len), GX_FEDAPPLY_APPLIED);
    CHECK(gx_engine_demand(b->engine, rid) == NULL);
    /* and keeps the owner's profile it had: a closed posting refreshes no known firm */
    gx_firm kept = {0};
    REQUIRE(gx_records_write_begin(b) == GX_OK);
    CHECK(gx_records_get_firm(b, ANCHOR, &kept) == GX_OK);
    gx_records_write_end(b, GX_OK);
    CHECK_EQ_INT(kept.n_certs, 100);
    gx_firm_fini(&kept);

    /* the substitute refused in its turn: no smaller one, nothing written */
    uint64_t seq = last.seq;
    made = true;
    REQUIRE(gx_records_write_begin(b) == GX_OK);
    CHECK_EQ_INT(
        gx_records_fed_substitute(b, seq, last.rec.data, last.rec.len, 2048, &made, what, sizeof what),
        GX_OK);
    /* a record that fitted max_payload (refused for another reason): the smallest substitute */
    bool fitted_made = false;
    CHECK_EQ_INT(
        gx_records_fed_substitute(b, 11, raw.data, raw.len, 1 << 20, &fitted_made, what, sizeof what), GX_OK);
    REQUIRE(gx_records_write_end(b, GX_OK) == GX_OK);
    gx_broker_batch_end(b, &io);
    CHECK(!made);
    CHECK(fitted_made);
    REQUIRE(gx_records_fed_outbox_read(b, seq, 100, s_keep_last, &last) == GX_OK);
    CHECK_EQ_INT(last.seq, seq + 1); /* only the second */
    REQUIRE(gx_codec_decode_fed(last.rec.data, last.rec.len, &sub) == GX_OK);
    REQUIRE(sub.demand && sub.owner);
    CHECK_EQ_INT(sub.demand->processes.n, 0);
    CHECK_EQ_INT(sub.owner->n_certs, 0);
    gx_codec_fed_fini(&sub);
    gx_broker_destroy(&b);
    free(last.rec.data);
    gx_buf_fini(&raw);
    gx_buf_fini(&profile);
    gx_demand_fini(&d);
    gx_firm_fini(&f);
}

/* While linked, a request whose record for the other cities is over
 * max_payload is refused (gx_records_fed_too_large); one that closes a
 * posting to them — narrowing it to the city — never is, whatever its size
 * (a refused one gets its substitute). */
TEST(only_records_that_carry_a_posting_open_count_against_max_payload)
{
    const int64_t now = 1790000000;
    const char *dir = gx_test_dir("fed_too_large");
    gx_broker_io io = {.send = s_send, .publish = s_publish};
    gx_broker *b = s_zhengzhou(dir, now);
    REQUIRE(b);
    gx_firm sme;
    gx_demand d;
    s_firm(&sme, SME, "410102");
    s_demand(&d);
    snprintf(d.owner, sizeof d.owner, "%s", SME);
    free(d.summary);
    REQUIRE((d.summary = malloc(5001)));
    memset(d.summary, 's', 5000);
    d.summary[5000] = 0;
    size_t len = 0, max = 0;
    gx_broker_batch_begin(b, now, now * 1000);
    /* not linked: nothing is known, nothing is refused */
    b->fed.max_payload = 0;
    REQUIRE(gx_records_write_begin(b) == GX_OK);
    REQUIRE(gx_records_put_firm(b, &sme) == GX_OK);
    REQUIRE(gx_records_put_demand(b, &d) == GX_OK);
    CHECK(!gx_records_fed_too_large(b, &len, &max));
    REQUIRE(gx_records_write_end(b, GX_OK) == GX_OK);
    /* linked at 4 KiB: the same demand again is too large */
    b->fed.max_payload = 4096;
    d.revision++;
    uint64_t outboxed = b->fed.outboxed;
    REQUIRE(gx_records_write_begin(b) == GX_OK);
    REQUIRE(gx_records_put_demand(b, &d) == GX_OK);
    CHECK(gx_records_fed_too_large(b, &len, &max));
    CHECK(len > 5000 && max == 4096);
    CHECK_EQ_INT(b->fed.outboxed, outboxed + 1);
    gx_records_write_end(b, GX_ERR_TOO_LARGE);
    CHECK_EQ_INT(b->fed.outboxed, outboxed); /* the record its transaction dropped is not counted */
    /* narrowed to the city: it goes to the others as withdrawn, and is not refused */
    d.scope = GX_SCOPE_SAME_CITY;
    REQUIRE(gx_records_write_begin(b) == GX_OK);
    REQUIRE(gx_records_put_demand(b, &d) == GX_OK);
    CHECK(!gx_records_fed_too_large(b, &len, &max));
    REQUIRE(gx_records_write_end(b, GX_OK) == GX_OK);
    gx_broker_batch_end(b, &io);
    gx_broker_destroy(&b);
    gx_demand_fini(&d);
    gx_firm_fini(&sme);
}

/* The sealed part's own checks: bound to its message, a firm, an offer id in
 * range, an interest's profile in the sending city, an award's quantity. */
TEST(docking_sealed_checks)
{
    char why[200];
    gx_firm p;
    s_firm(&p, SME, "410102");
    gx_fed_msg m = {.origin_city = 4101, .kind = GX_FED_INTEREST, .origin_id = 42, .dest_city = 4106};
    gx_fed_sealed s = {.kind = GX_FED_INTEREST,
                       .origin_city = 4101,
                       .dest_city = 4106,
                       .demand_id = 42,
                       .offer_id = 7,
                       .profile = &p};
    snprintf(s.firm_id, sizeof s.firm_id, "%s", SME);
    CHECK(gx_feddock_check_sealed(&m, &s, why, sizeof why));
    s.offer_id = GX_FED_LOCAL_MAX; /* would name another city's offer */
    CHECK(!gx_feddock_check_sealed(&m, &s, why, sizeof why) && strstr(why, "out of range"));
    s.offer_id = 7;
    m.origin_city = 4107; /* Xinxiang replaying Zhengzhou's box under its own interest */
    CHECK(!gx_feddock_check_sealed(&m, &s, why, sizeof why) && strstr(why, "another message"));
    m.origin_city = 4101;
    m.origin_id = 43;
    CHECK(!gx_feddock_check_sealed(&m, &s, why, sizeof why) && strstr(why, "another message"));
    m.origin_id = 42;
    m.kind = GX_FED_CONTACT;
    CHECK(!gx_feddock_check_sealed(&m, &s, why, sizeof why) && strstr(why, "another message"));
    m.kind = GX_FED_INTEREST;
    snprintf(p.county, sizeof p.county, "410702");
    CHECK(!gx_feddock_check_sealed(&m, &s, why, sizeof why) && strstr(why, "is not in city 4101"));
    s.profile = NULL;
    CHECK(!gx_feddock_check_sealed(&m, &s, why, sizeof why) && strstr(why, "without its profile"));
    s.firm_id[0] = 0;
    CHECK(!gx_feddock_check_sealed(&m, &s, why, sizeof why) && strstr(why, "without its firm"));
    gx_fed_msg aw = {
        .origin_city = 4106, .kind = GX_FED_AWARDED, .origin_id = 42, .dest_city = 4101, .revision = 4};
    gx_fed_sealed as = {.kind = GX_FED_AWARDED, .origin_city = 4106, .dest_city = 4101, .demand_id = 42};
    snprintf(as.firm_id, sizeof as.firm_id, "%s", SME);
    CHECK(!gx_feddock_check_sealed(&aw, &as, why, sizeof why) && strstr(why, "award of 0"));
    as.quantity = 100;
    CHECK(gx_feddock_check_sealed(&aw, &as, why, sizeof why));
    gx_firm_fini(&p);
}

int main(void)
{
    RUN(fed_round_trip_demand);
    RUN(fed_round_trip_offer_and_firm);
    RUN(fed_caps);
    RUN(remote_ids);
    RUN(receiver_checks);
    RUN(config_keys);
    RUN(remote_postings_are_not_counted_against_their_owner);
    RUN(docking_sealed_parts_are_bound_and_held_to_federation_caps);
    RUN(docking_sealed_checks);
    RUN(a_refused_posting_record_gets_a_smaller_closed_substitute);
    RUN(only_records_that_carry_a_posting_open_count_against_max_payload);
    return gx_test_done();
}
