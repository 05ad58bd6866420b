/* test_auth.c — the key registry: firm keys, revocation, operator keys file,
 * the broker's key pair and the first operator key created on first start. */
#include <sys/stat.h>

#include <gongxu/keyfile.h>

#include "auth.h"
#include "gxtest.h"

static void s_key(char k[GX_KEY_LEN + 1])
{
    char sec[GX_KEY_LEN + 1];
    if (gx_keyfile_generate(k, sec) != 0)
        abort();
}

TEST(firm_keys_and_revocation)
{
    gx_auth *a;
    gx_principal p;
    char k1[41], k2[41], k3[41];
    s_key(k1);
    s_key(k2);
    s_key(k3);
    REQUIRE(gx_auth_new(&a) == GX_OK);
    REQUIRE(gx_auth_put(a, k1, "91410600MA44ANCH0R", false) == GX_OK);
    REQUIRE(gx_auth_put(a, k2, "91410600MA44ANCH0R", false) == GX_OK); /* a second key: rotation */
    CHECK_EQ_INT(gx_auth_lookup(a, k1, &p), GX_OK);
    CHECK_STR(p.firm, "91410600MA44ANCH0R");
    CHECK(!p.is_operator);
    CHECK_EQ_INT(gx_auth_lookup(a, k3, &p), GX_ERR_UNAUTHENTICATED);
    CHECK_EQ_INT(gx_auth_lookup(a, "short", &p), GX_ERR_UNAUTHENTICATED);
    REQUIRE(gx_auth_put(a, k1, "91410600MA44ANCH0R", true) == GX_OK);
    CHECK_EQ_INT(gx_auth_lookup(a, k1, &p), GX_ERR_FORBIDDEN); /* revoked is not unknown */
    CHECK_EQ_INT(gx_auth_lookup(a, k2, &p), GX_OK);
    CHECK_EQ_INT(gx_auth_count(a, false), 2);
    for (int i = 0; i < 300; i++) { /* growth keeps every key */
        char k[41];
        s_key(k);
        REQUIRE(gx_auth_put(a, k, "91410611MA45QBMG1C", false) == GX_OK);
    }
    CHECK_EQ_INT(gx_auth_lookup(a, k2, &p), GX_OK);
    CHECK_EQ_INT(gx_auth_count(a, false), 302);
    gx_auth_destroy(&a);
}

TEST(operator_keys_file)
{
    const char *dir = gx_test_dir("auth_ops");
    char path[600], err[256], k1[41], k2[41];
    gx_auth *a;
    gx_principal p;
    s_key(k1);
    s_key(k2);
    snprintf(path, sizeof path, "%s/operator_keys", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "# operators\n%s\npublic-key = %s   # second\n\n", k1, k2);
    fclose(f);
    REQUIRE(gx_auth_new(&a) == GX_OK);
    REQUIRE(gx_auth_load_operators(a, path, err, sizeof err) == GX_OK);
    CHECK_EQ_INT(gx_auth_count(a, true), 2);
    CHECK_EQ_INT(gx_auth_lookup(a, k2, &p), GX_OK);
    CHECK(p.is_operator && !p.firm[0]);
    f = fopen(path, "w");
    fprintf(f, "%s\nnot-a-key\n", k1);
    fclose(f);
    CHECK_EQ_INT(gx_auth_load_operators(a, path, err, sizeof err), GX_ERR_CONFIG);
    CHECK(strstr(err, ":2:") != NULL);
    CHECK_EQ_INT(gx_auth_lookup(a, k2, &p), GX_OK); /* a bad reload keeps the old set */
    CHECK_EQ_INT(gx_auth_load_operators(a, "/nonexistent/ops", err, sizeof err), GX_ERR_IO);
    gx_auth_destroy(&a);
}

TEST(server_key_created_once_and_kept_secret)
{
    const char *dir = gx_test_dir("auth_srv");
    char path[600], pubpath[600], err[256], pub[41], sec[41], pub2[41], sec2[41], rpub[41];
    bool created;
    struct stat st;
    snprintf(path, sizeof path, "%s/broker.key", dir);
    snprintf(pubpath, sizeof pubpath, "%s/broker.pub", dir);
    REQUIRE(gx_auth_server_key(path, pub, sec, &created, err, sizeof err) == GX_OK);
    CHECK(created);
    REQUIRE(stat(path, &st) == 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    REQUIRE(gx_keyfile_read(pubpath, rpub, NULL, err, sizeof err) == 0);
    CHECK_STR(rpub, pub);
    REQUIRE(gx_auth_server_key(path, pub2, sec2, &created, err, sizeof err) == GX_OK);
    CHECK(!created);
    CHECK_STR(pub2, pub);
    CHECK_STR(sec2, sec);
    chmod(path, 0644);
    CHECK_EQ_INT(gx_auth_server_key(path, pub2, sec2, &created, err, sizeof err), GX_ERR_CONFIG);
    CHECK(strstr(err, "chmod 600") != NULL);
}

TEST(first_operator_is_bootstrapped_once)
{
    const char *dir = gx_test_dir("auth_boot");
    char ops[600], key[600], err[256], pub[41], sec[41];
    bool created;
    gx_auth *a;
    gx_principal p;
    snprintf(ops, sizeof ops, "%s/operator_keys", dir);
    snprintf(key, sizeof key, "%s/operator.key", dir);
    REQUIRE(gx_auth_bootstrap_operator(ops, key, &created, err, sizeof err) == GX_OK);
    CHECK(created);
    REQUIRE(gx_auth_bootstrap_operator(ops, key, &created, err, sizeof err) == GX_OK);
    CHECK(!created);
    REQUIRE(gx_keyfile_read(key, pub, sec, err, sizeof err) == 0);
    CHECK(sec[0] != 0);
    REQUIRE(gx_auth_new(&a) == GX_OK);
    REQUIRE(gx_auth_load_operators(a, ops, err, sizeof err) == GX_OK);
    CHECK_EQ_INT(gx_auth_lookup(a, pub, &p), GX_OK);
    CHECK(p.is_operator);
    gx_auth_destroy(&a);
}

int main(void)
{
    RUN(firm_keys_and_revocation);
    RUN(operator_keys_file);
    RUN(server_key_created_once_and_kept_secret);
    RUN(first_operator_is_bootstrapped_once);
    return gx_test_done();
}
