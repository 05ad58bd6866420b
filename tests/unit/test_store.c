/* test_store.c — the LMDB store: records, transactions, scans, counters, schema,
 * map growth, backup and the limits it enforces. */
#include "store.h"

#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "gxtest.h"

static gx_store *s_open(const char *dir, size_t map_size, size_t map_max)
{
    gx_store_opts o = {.dir = dir, .map_size = map_size, .map_max = map_max};
    gx_store *s = NULL;
    gx_err err = gx_store_open(&o, &s);
    if (err)
        fprintf(stderr, "  open %s: %s: %s\n", dir, gx_err_str(err), gx_store_last_error(NULL));
    return s;
}

static gx_err s_put_str(gx_txn *t, gx_table tb, const char *k, const char *v)
{
    return gx_store_put(t, tb, k, strlen(k), v, strlen(v));
}

/* True when k is present with exactly value v. */
static bool s_has(gx_txn *t, gx_table tb, const char *k, const char *v)
{
    const void *val;
    size_t vlen;
    if (gx_store_get(t, tb, k, strlen(k), &val, &vlen) != GX_OK)
        return false;
    return vlen == strlen(v) && memcmp(val, v, vlen) == 0;
}

static bool s_absent(gx_txn *t, gx_table tb, const char *k)
{
    const void *val;
    size_t vlen;
    return gx_store_get(t, tb, k, strlen(k), &val, &vlen) == GX_ERR_NOT_FOUND;
}

/* Collects visited keys as "k1,k2,..." */
typedef struct keys_ctx {
    char out[512];  /* the joined keys */
    int n;          /* how many were visited */
    int stop_after; /* stop after this many (0 = never) */
} keys_ctx;

static bool s_collect(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)val;
    (void)vlen;
    keys_ctx *c = ctx;
    size_t used = strlen(c->out);
    snprintf(c->out + used, sizeof c->out - used, "%s%.*s", c->n ? "," : "", (int)klen, (const char *)key);
    c->n++;
    return c->stop_after == 0 || c->n < c->stop_after;
}

TEST(put_get_del_round_trip)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_rt"));
    gx_store *s = s_open(dir, 0, 0);
    REQUIRE(s);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    CHECK_EQ_INT(s_put_str(t, GX_T_FIRMS, "91410600MA44XXXX1A", "acme"), GX_OK);
    CHECK(s_has(t, GX_T_FIRMS, "91410600MA44XXXX1A", "acme"));
    CHECK_EQ_INT(s_put_str(t, GX_T_FIRMS, "91410600MA44XXXX1A", "acme two"), GX_OK);
    CHECK(s_has(t, GX_T_FIRMS, "91410600MA44XXXX1A", "acme two"));
    CHECK(s_absent(t, GX_T_OFFERS, "91410600MA44XXXX1A")); /* tables are separate */
    CHECK_EQ_INT(s_put_str(t, GX_T_FIRMS, "gone", "soon"), GX_OK);
    CHECK_EQ_INT(gx_store_del(t, GX_T_FIRMS, "gone", 4), GX_OK);
    CHECK(s_absent(t, GX_T_FIRMS, "gone"));
    CHECK_EQ_INT(gx_store_del(t, GX_T_FIRMS, "never", 5), GX_OK);
    CHECK_EQ_INT(s_put_str(t, GX_T_DEMANDS, "empty-value", ""), GX_OK);
    CHECK(s_has(t, GX_T_DEMANDS, "empty-value", ""));
    uint64_t n = 0;
    CHECK_EQ_INT(gx_store_count(t, GX_T_FIRMS, &n), GX_OK);
    CHECK_EQ_INT(n, 1);
    REQUIRE(gx_store_commit(&t) == GX_OK);
    CHECK(t == NULL);

    REQUIRE(gx_store_begin(s, false, &t) == GX_OK);
    CHECK(s_has(t, GX_T_FIRMS, "91410600MA44XXXX1A", "acme two"));
    CHECK(s_absent(t, GX_T_FIRMS, "gone"));
    gx_store_abort(&t);
    CHECK(t == NULL);
    gx_store_abort(&t); /* tolerates NULL */

    size_t map = 0, used = 0;
    gx_store_usage(s, &map, &used);
    CHECK_EQ_INT(map, (size_t)256 << 20);
    CHECK(used > 0 && used < map);
    CHECK_EQ_INT(gx_store_stale_readers(s), 0);
    gx_store_close(&s);
    CHECK(s == NULL);
    gx_store_close(&s);
}

TEST(committed_data_survives_reopen_aborted_does_not)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_reopen"));
    gx_store *s = s_open(dir, 0, 0);
    REQUIRE(s);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    CHECK_EQ_INT(s_put_str(t, GX_T_OFFERS, "kept", "yes"), GX_OK);
    REQUIRE(gx_store_commit(&t) == GX_OK);
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    CHECK_EQ_INT(s_put_str(t, GX_T_OFFERS, "dropped", "no"), GX_OK);
    gx_store_abort(&t);
    gx_store_close(&s);

    s = s_open(dir, 0, 0);
    REQUIRE(s);
    REQUIRE(gx_store_begin(s, false, &t) == GX_OK);
    CHECK(s_has(t, GX_T_OFFERS, "kept", "yes"));
    CHECK(s_absent(t, GX_T_OFFERS, "dropped"));
    gx_store_abort(&t);
    gx_store_close(&s);
}

TEST(aborted_child_keeps_parent_writes_and_drops_its_own)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_child"));
    gx_store *s = s_open(dir, 0, 0);
    REQUIRE(s);
    gx_txn *t = NULL, *c = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    CHECK_EQ_INT(s_put_str(t, GX_T_DEMANDS, "a", "parent"), GX_OK);

    REQUIRE(gx_store_begin_child(t, &c) == GX_OK);
    CHECK(s_has(c, GX_T_DEMANDS, "a", "parent")); /* a child sees its parent's writes */
    CHECK_EQ_INT(s_put_str(c, GX_T_DEMANDS, "b", "child"), GX_OK);
    CHECK_EQ_INT(s_put_str(c, GX_T_DEMANDS, "a", "overwritten by child"), GX_OK);
    gx_store_abort(&c);
    CHECK(c == NULL);
    CHECK(s_has(t, GX_T_DEMANDS, "a", "parent"));
    CHECK(s_absent(t, GX_T_DEMANDS, "b"));

    REQUIRE(gx_store_begin_child(t, &c) == GX_OK);
    CHECK_EQ_INT(s_put_str(c, GX_T_DEMANDS, "c", "child2"), GX_OK);
    REQUIRE(gx_store_commit(&c) == GX_OK);
    CHECK(s_has(t, GX_T_DEMANDS, "c", "child2"));
    REQUIRE(gx_store_commit(&t) == GX_OK);
    gx_store_close(&s);

    s = s_open(dir, 0, 0);
    REQUIRE(s);
    REQUIRE(gx_store_begin(s, false, &t) == GX_OK);
    CHECK(s_has(t, GX_T_DEMANDS, "a", "parent"));
    CHECK(s_absent(t, GX_T_DEMANDS, "b"));
    CHECK(s_has(t, GX_T_DEMANDS, "c", "child2"));
    gx_store_abort(&t);
    gx_store_close(&s);
}

TEST(scan_visits_prefix_from_in_key_order)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_scan"));
    gx_store *s = s_open(dir, 0, 0);
    REQUIRE(s);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    const char *keys[] = {"b1", "a3", "ab", "a1", "b10", "a2", "a", "c"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        CHECK_EQ_INT(s_put_str(t, GX_T_SUBS, keys[i], "v"), GX_OK);
    REQUIRE(gx_store_commit(&t) == GX_OK);

    REQUIRE(gx_store_begin(s, false, &t) == GX_OK);
    keys_ctx k = {0};
    CHECK_EQ_INT(gx_store_scan(t, GX_T_SUBS, NULL, 0, NULL, 0, s_collect, &k), GX_OK);
    CHECK_STR(k.out, "a,a1,a2,a3,ab,b1,b10,c");
    memset(&k, 0, sizeof k);
    CHECK_EQ_INT(gx_store_scan(t, GX_T_SUBS, "a", 1, NULL, 0, s_collect, &k), GX_OK);
    CHECK_STR(k.out, "a,a1,a2,a3,ab");
    memset(&k, 0, sizeof k);
    CHECK_EQ_INT(gx_store_scan(t, GX_T_SUBS, "a", 1, "a2", 2, s_collect, &k), GX_OK);
    CHECK_STR(k.out, "a2,a3,ab");
    memset(&k, 0, sizeof k);
    CHECK_EQ_INT(gx_store_scan(t, GX_T_SUBS, "b", 1, "a", 1, s_collect, &k), GX_OK); /* from before prefix */
    CHECK_STR(k.out, "b1,b10");
    memset(&k, 0, sizeof k);
    CHECK_EQ_INT(gx_store_scan(t, GX_T_SUBS, "a", 1, "b", 1, s_collect, &k), GX_OK); /* from past prefix */
    CHECK_EQ_INT(k.n, 0);
    memset(&k, 0, sizeof k);
    CHECK_EQ_INT(gx_store_scan(t, GX_T_SUBS, NULL, 0, "ab", 2, s_collect, &k), GX_OK);
    CHECK_STR(k.out, "ab,b1,b10,c");
    memset(&k, 0, sizeof k);
    k.stop_after = 2;
    CHECK_EQ_INT(gx_store_scan(t, GX_T_SUBS, "a", 1, NULL, 0, s_collect, &k), GX_OK);
    CHECK_STR(k.out, "a,a1");
    memset(&k, 0, sizeof k);
    CHECK_EQ_INT(gx_store_scan(t, GX_T_SUBS, "zz", 2, NULL, 0, s_collect, &k), GX_OK);
    CHECK_EQ_INT(k.n, 0);
    memset(&k, 0, sizeof k);
    CHECK_EQ_INT(gx_store_scan(t, GX_T_FIRMS, NULL, 0, NULL, 0, s_collect, &k), GX_OK); /* empty table */
    CHECK_EQ_INT(k.n, 0);
    gx_store_abort(&t);
    gx_store_close(&s);
}

static bool s_collect_u64(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)val;
    (void)vlen;
    uint64_t *v = ctx;
    if (klen == 9)
        v[v[0]++ + 1] = gx_store_from_be64((const uint8_t *)key + 1);
    return v[0] < 15;
}

TEST(big_endian_keys_scan_in_numeric_order)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_be"));
    gx_store *s = s_open(dir, 0, 0);
    REQUIRE(s);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    uint64_t ids[] = {256, 1, 65536, 2, 255, UINT64_MAX - 1};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        uint8_t k[9] = {'d'};
        gx_store_be64(k + 1, ids[i]);
        CHECK_EQ_INT(gx_store_put(t, GX_T_DEMANDS, k, sizeof k, "x", 1), GX_OK);
    }
    uint64_t got[16] = {0};
    CHECK_EQ_INT(gx_store_scan(t, GX_T_DEMANDS, "d", 1, NULL, 0, s_collect_u64, got), GX_OK);
    REQUIRE(got[0] == 6);
    uint64_t want[] = {1, 2, 255, 256, 65536, UINT64_MAX - 1};
    for (int i = 0; i < 6; i++)
        CHECK(got[i + 1] == want[i]);
    gx_store_abort(&t);
    gx_store_close(&s);
}

TEST(del_range_deletes_prefix_below_upto)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_delrange"));
    gx_store *s = s_open(dir, 0, 0);
    REQUIRE(s);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    const char *keys[] = {"a1", "a2", "a3", "ab", "b1", "a"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        CHECK_EQ_INT(s_put_str(t, GX_T_TOLD, keys[i], "v"), GX_OK);
    uint64_t n = 99;
    CHECK_EQ_INT(gx_store_del_range(t, GX_T_TOLD, "a", 1, "a3", 2, &n), GX_OK);
    CHECK_EQ_INT(n, 3); /* a, a1, a2 */
    keys_ctx k = {0};
    CHECK_EQ_INT(gx_store_scan(t, GX_T_TOLD, NULL, 0, NULL, 0, s_collect, &k), GX_OK);
    CHECK_STR(k.out, "a3,ab,b1");
    CHECK_EQ_INT(gx_store_del_range(t, GX_T_TOLD, "a", 1, "a", 1, &n), GX_OK); /* nothing below "a" */
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(gx_store_del_range(t, GX_T_TOLD, "b", 1, "zzz", 3, &n), GX_OK);
    CHECK_EQ_INT(n, 1);

    /* Many pages: deletion must walk across leaf pages and rebalancing. */
    for (uint64_t i = 0; i < 3000; i++) {
        uint8_t key[9] = {'x'};
        gx_store_be64(key + 1, i);
        REQUIRE(gx_store_put(t, GX_T_TOLD, key, sizeof key, "0123456789abcdef0123456789abcdef", 32) == GX_OK);
    }
    uint8_t upto[9] = {'x'};
    gx_store_be64(upto + 1, 2000);
    CHECK_EQ_INT(gx_store_del_range(t, GX_T_TOLD, "x", 1, upto, sizeof upto, &n), GX_OK);
    CHECK_EQ_INT(n, 2000);
    REQUIRE(gx_store_commit(&t) == GX_OK);

    REQUIRE(gx_store_begin(s, false, &t) == GX_OK);
    uint64_t count = 0;
    CHECK_EQ_INT(gx_store_count(t, GX_T_TOLD, &count), GX_OK);
    CHECK_EQ_INT(count, 1000 + 2); /* x2000..x2999, a3, ab */
    uint64_t got[16] = {0};
    CHECK_EQ_INT(gx_store_scan(t, GX_T_TOLD, "x", 1, NULL, 0, s_collect_u64, got), GX_OK);
    CHECK(got[1] == 2000 && got[2] == 2001);
    gx_store_abort(&t);
    gx_store_close(&s);
}

TEST(next_id_increments_and_persists)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_ids"));
    gx_store *s = s_open(dir, 0, 0);
    REQUIRE(s);
    gx_txn *t = NULL;
    uint64_t id = 0;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    for (uint64_t want = 1; want <= 3; want++) {
        CHECK_EQ_INT(gx_store_next_id(t, "demand", &id), GX_OK);
        CHECK_EQ_INT(id, want);
    }
    CHECK_EQ_INT(gx_store_next_id(t, "offer", &id), GX_OK);
    CHECK_EQ_INT(id, 1); /* counters are independent */
    CHECK_EQ_INT(gx_store_next_id(t, "", &id), GX_ERR_INVALID);
    REQUIRE(gx_store_commit(&t) == GX_OK);

    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    CHECK_EQ_INT(gx_store_next_id(t, "demand", &id), GX_OK);
    CHECK_EQ_INT(id, 4);
    gx_store_abort(&t); /* an aborted increment is not used up */
    gx_store_close(&s);

    s = s_open(dir, 0, 0);
    REQUIRE(s);
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    CHECK_EQ_INT(gx_store_next_id(t, "demand", &id), GX_OK);
    CHECK_EQ_INT(id, 4);
    CHECK_EQ_INT(gx_store_next_id(t, "offer", &id), GX_OK);
    CHECK_EQ_INT(id, 2);
    REQUIRE(gx_store_commit(&t) == GX_OK);
    gx_store_close(&s);
}

/* Writes a schema value into META and reopens. */
static gx_err s_reopen_with_schema(const char *dir, const void *val, size_t vlen)
{
    gx_store *s = s_open(dir, 0, 0);
    if (!s)
        return GX_ERR_INTERNAL;
    gx_txn *t = NULL;
    gx_err err = gx_store_begin(s, true, &t);
    if (!err)
        err = gx_store_put(t, GX_T_META, "schema", 6, val, vlen);
    if (!err)
        err = gx_store_commit(&t);
    gx_store_abort(&t);
    gx_store_close(&s);
    if (err)
        return GX_ERR_INTERNAL;
    gx_store_opts o = {.dir = dir};
    err = gx_store_open(&o, &s);
    gx_store_close(&s);
    return err;
}

TEST(newer_schema_is_refused_with_both_versions_named)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_schema"));
    gx_store *s = s_open(dir, 0, 0);
    REQUIRE(s);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, false, &t) == GX_OK);
    const void *v;
    size_t vlen;
    REQUIRE(gx_store_get(t, GX_T_META, "schema", 6, &v, &vlen) == GX_OK);
    REQUIRE(vlen == 4);
    const uint8_t *p = v;
    CHECK(p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == GX_STORE_SCHEMA);
    gx_store_abort(&t);
    gx_store_close(&s);

    uint8_t newer[4] = {0, 0, 0, GX_STORE_SCHEMA + 1};
    CHECK_EQ_INT(s_reopen_with_schema(dir, newer, sizeof newer), GX_ERR_SCHEMA);
    const char *msg = gx_store_last_error(NULL);
    CHECK(strstr(msg, "schema 2") != NULL);
    CHECK(strstr(msg, "newer than this broker's 1") != NULL);
    CHECK(strstr(msg, dir) != NULL);

    char dir2[512];
    snprintf(dir2, sizeof dir2, "%s", gx_test_dir("store_schema_bad"));
    CHECK_EQ_INT(s_reopen_with_schema(dir2, "x", 1), GX_ERR_MALFORMED); /* damage, not another schema */
    CHECK(strstr(gx_store_last_error(NULL), "corrupt schema record (1 bytes, want 4)") != NULL);
}

TEST(open_failures_say_why)
{
    char dir[512], file[600];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_openfail"));
    snprintf(file, sizeof file, "%s/plain-file", dir);
    FILE *f = fopen(file, "w");
    REQUIRE(f);
    fclose(f);
    gx_store *s = NULL;
    gx_store_opts o = {.dir = file};
    CHECK_EQ_INT(gx_store_open(&o, &s), GX_ERR_IO);
    CHECK(s == NULL);
    CHECK(strstr(gx_store_last_error(NULL), "not a directory") != NULL);

    gx_store_opts bad = {.dir = dir, .map_size = 1 << 20, .map_max = 1 << 16};
    CHECK_EQ_INT(gx_store_open(&bad, &s), GX_ERR_CONFIG);
    CHECK(strstr(gx_store_last_error(NULL), "map_max") != NULL);

    /* Nested missing directories are created; the data dir itself is private. */
    char nested[600];
    snprintf(nested, sizeof nested, "%s/var/gongxu", dir);
    s = s_open(nested, 0, 0);
    REQUIRE(s);
    struct stat st;
    CHECK(stat(nested, &st) == 0 && (st.st_mode & 0777) == 0700);

    /* A second open of a data dir in use fails cleanly instead of sharing it. */
    gx_store *s2 = NULL;
    o.dir = nested;
    CHECK_EQ_INT(gx_store_open(&o, &s2), GX_ERR_IO);
    CHECK(s2 == NULL);
    CHECK(strstr(gx_store_last_error(NULL), "in use") != NULL);
    gx_store_close(&s);
    s2 = s_open(nested, 0, 0);
    CHECK(s2 != NULL);
    gx_store_close(&s2);
}

/* LMDB resets the reader table when the first process opens an environment, so a
 * stale slot only survives while another process keeps it open (a copy or dump tool
 * during a broker crash). mdb_dump blocked on a full pipe plays that tool. */
TEST(stale_reader_of_a_dead_process_is_cleared_at_open)
{
    const char *tool = "/usr/bin/mdb_dump";
    if (access(tool, X_OK) != 0) {
        printf("skip stale_reader test: no %s\n", tool);
        return;
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_stale"));
    gx_store *s = s_open(dir, 0, 0);
    REQUIRE(s);
    CHECK_EQ_INT(gx_store_stale_readers(s), 0);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    char val[1000];
    memset(val, 'v', sizeof val);
    for (int i = 0; i < 300; i++) {
        char k[16];
        snprintf(k, sizeof k, "%05d", i);
        REQUIRE(gx_store_put(t, GX_T_OFFERS, k, strlen(k), val, sizeof val) == GX_OK);
    }
    REQUIRE(gx_store_commit(&t) == GX_OK);
    gx_store_close(&s);

    int fds[2];
    REQUIRE(pipe(fds) == 0);
    fflush(NULL);
    pid_t dump = fork();
    REQUIRE(dump >= 0);
    if (dump == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(tool, tool, "-s", "offers", dir, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char c;
    REQUIRE(read(fds[0], &c, 1) == 1); /* the dump has the environment open now */

    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        gx_store *cs = s_open(dir, 0, 0);
        gx_txn *ct = NULL;
        if (!cs || gx_store_begin(cs, false, &ct) != GX_OK)
            _exit(1);
        _exit(0); /* dies holding a reader slot */
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    s = s_open(dir, 0, 0);
    CHECK(s != NULL);
    if (s)
        CHECK_EQ_INT(gx_store_stale_readers(s), 1);
    gx_store_close(&s);
    kill(dump, SIGKILL);
    waitpid(dump, NULL, 0);
    close(fds[0]);
}

/* Writes one 1000-byte record keyed by i in its own transaction. */
static gx_err s_write_one(gx_store *s, uint32_t i)
{
    uint8_t key[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
    uint8_t val[1000];
    memset(val, (int)(i & 0xff), sizeof val);
    gx_txn *t = NULL;
    gx_err err = gx_store_begin(s, true, &t);
    if (err)
        return err;
    err = gx_store_put(t, GX_T_OFFERS, key, sizeof key, val, sizeof val);
    if (err) {
        gx_store_abort(&t);
        return err;
    }
    return gx_store_commit(&t);
}

/* True when records 0..n-1 all read back intact. */
static bool s_all_there(gx_store *s, uint32_t n)
{
    gx_txn *t = NULL;
    if (gx_store_begin(s, false, &t) != GX_OK)
        return false;
    bool ok = true;
    for (uint32_t i = 0; i < n && ok; i++) {
        uint8_t key[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        const void *v;
        size_t vlen;
        ok = gx_store_get(t, GX_T_OFFERS, key, sizeof key, &v, &vlen) == GX_OK && vlen == 1000 &&
             ((const uint8_t *)v)[0] == (i & 0xff) && ((const uint8_t *)v)[999] == (i & 0xff);
    }
    uint64_t count = 0;
    ok = ok && gx_store_count(t, GX_T_OFFERS, &count) == GX_OK && count == n;
    gx_store_abort(&t);
    return ok;
}

TEST(map_full_reports_storage_full_then_grows_up_to_map_max)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_full"));
    const size_t tiny = 64 << 10;
    gx_store *s = s_open(dir, tiny, tiny);
    REQUIRE(s);
    uint32_t n = 0;
    gx_err err = GX_OK;
    while (n < 1000 && (err = s_write_one(s, n)) == GX_OK)
        n++;
    CHECK_EQ_INT(err, GX_ERR_STORAGE_FULL);
    CHECK(n >= 3 && n < 64);
    CHECK(strstr(gx_store_last_error(s), "MDB_MAP_FULL") != NULL);
    /* Reads still work, and everything committed before is intact. */
    CHECK(s_all_there(s, n));
    CHECK_EQ_INT(s_write_one(s, n), GX_ERR_STORAGE_FULL); /* at map_max: no growth */
    CHECK_EQ_INT(s_write_one(s, n), GX_ERR_STORAGE_FULL);
    size_t map = 0, used = 0;
    gx_store_usage(s, &map, &used);
    CHECK_EQ_INT(map, tiny);
    CHECK(used <= map);
    gx_store_close(&s);

    /* Same data dir, room to grow: the map grows ahead of need (at three
     * quarters full), so no write fails on the way. */
    s = s_open(dir, tiny, 1 << 20);
    REQUIRE(s);
    CHECK(s_all_there(s, n));
    uint32_t target = n * 4, fails = 0;
    while (n < target && fails < 10) {
        if (s_write_one(s, n) == GX_OK)
            n++;
        else
            fails++;
    }
    CHECK_EQ_INT(n, target);
    CHECK_EQ_INT(fails, 0);
    gx_store_usage(s, &map, &used);
    CHECK(map > tiny && map <= (1 << 20));
    CHECK(s_all_there(s, n));
    gx_store_close(&s);

    /* The grown map is kept on reopen even when map_size asks for less. */
    s = s_open(dir, tiny, 1 << 20);
    REQUIRE(s);
    size_t map2 = 0;
    gx_store_usage(s, &map2, &used);
    CHECK_EQ_INT(map2, map);
    CHECK_EQ_INT(s_write_one(s, n), GX_OK);
    CHECK(s_all_there(s, n + 1));
    gx_store_close(&s);

    /* A larger configured map_size applies to an existing data dir. */
    s = s_open(dir, 512 << 10, 1 << 20);
    REQUIRE(s);
    gx_store_usage(s, &map2, &used);
    CHECK_EQ_INT(map2, 512 << 10);
    CHECK(s_all_there(s, n + 1));
    gx_store_close(&s);
}

/* The broker's batch: one request's child hits the full map and is aborted; the
 * requests before it in the same parent still commit. */
TEST(full_map_in_a_child_spares_the_rest_of_the_batch)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_full_child"));
    const size_t tiny = 64 << 10;
    gx_store *s = s_open(dir, tiny, tiny);
    REQUIRE(s);
    gx_txn *t = NULL, *c = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    REQUIRE(gx_store_begin_child(t, &c) == GX_OK);
    CHECK_EQ_INT(s_put_str(c, GX_T_FIRMS, "first", "request"), GX_OK);
    REQUIRE(gx_store_commit(&c) == GX_OK);

    REQUIRE(gx_store_begin_child(t, &c) == GX_OK);
    uint8_t val[1000] = {0};
    gx_err err = GX_OK;
    for (uint32_t i = 0; i < 1000 && !err; i++)
        err = gx_store_put(c, GX_T_OFFERS, &i, sizeof i, val, sizeof val);
    CHECK_EQ_INT(err, GX_ERR_STORAGE_FULL);
    gx_store_abort(&c);

    REQUIRE(gx_store_begin_child(t, &c) == GX_OK);
    CHECK_EQ_INT(s_put_str(c, GX_T_FIRMS, "third", "request"), GX_OK);
    REQUIRE(gx_store_commit(&c) == GX_OK);
    CHECK_EQ_INT(gx_store_commit(&t), GX_OK);

    REQUIRE(gx_store_begin(s, false, &t) == GX_OK);
    CHECK(s_has(t, GX_T_FIRMS, "first", "request"));
    CHECK(s_has(t, GX_T_FIRMS, "third", "request"));
    uint64_t n = 1;
    CHECK_EQ_INT(gx_store_count(t, GX_T_OFFERS, &n), GX_OK);
    CHECK_EQ_INT(n, 0);
    gx_store_abort(&t);
    gx_store_close(&s);
}

TEST(backup_copies_everything_and_refuses_non_empty_dest)
{
    char dir[512], dest[512], nested[600];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_bk_src"));
    snprintf(dest, sizeof dest, "%s", gx_test_dir("store_bk_dst"));
    gx_store *s = s_open(dir, 0, 0);
    REQUIRE(s);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    for (int i = 0; i < 200; i++) {
        char k[32], v[64];
        snprintf(k, sizeof k, "firm-%03d", i);
        snprintf(v, sizeof v, "record %d", i);
        REQUIRE(s_put_str(t, i % 2 ? GX_T_FIRMS : GX_T_INBOX, k, v) == GX_OK);
    }
    uint64_t id;
    REQUIRE(gx_store_next_id(t, "demand", &id) == GX_OK);
    REQUIRE(gx_store_commit(&t) == GX_OK);

    /* Hot: a read transaction of ours stays open during the copy. */
    gx_txn *r = NULL;
    REQUIRE(gx_store_begin(s, false, &r) == GX_OK);
    CHECK_EQ_INT(gx_store_backup(s, dest), GX_OK);
    gx_store_abort(&r);

    CHECK_EQ_INT(gx_store_backup(s, dest), GX_ERR_EXISTS); /* dest holds the first copy */
    CHECK(strstr(gx_store_last_error(s), "not empty") != NULL);
    snprintf(nested, sizeof nested, "%s/later/copy", dest);
    CHECK_EQ_INT(gx_store_backup(s, nested), GX_OK); /* missing directories are created */
    gx_store_close(&s);

    gx_store *c = s_open(dest, 0, 0);
    REQUIRE(c);
    REQUIRE(gx_store_begin(c, true, &t) == GX_OK);
    for (int i = 0; i < 200; i++) {
        char k[32], v[64];
        snprintf(k, sizeof k, "firm-%03d", i);
        snprintf(v, sizeof v, "record %d", i);
        CHECK(s_has(t, i % 2 ? GX_T_FIRMS : GX_T_INBOX, k, v));
    }
    CHECK_EQ_INT(gx_store_next_id(t, "demand", &id), GX_OK);
    CHECK_EQ_INT(id, 2);
    gx_store_abort(&t);
    gx_store_close(&c);
}

TEST(keys_over_the_limit_are_rejected)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_keys"));
    gx_store *s = s_open(dir, 0, 0);
    REQUIRE(s);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    char big[GX_STORE_MAX_KEY + 1];
    memset(big, 'k', sizeof big);
    CHECK_EQ_INT(gx_store_put(t, GX_T_CURSORS, big, GX_STORE_MAX_KEY, "v", 1), GX_OK);
    CHECK_EQ_INT(gx_store_put(t, GX_T_FIRMS, big, sizeof big, "v", 1), GX_ERR_INVALID);
    CHECK(strstr(gx_store_last_error(s), "511") != NULL);
    /* A logged table's change entry adds 9 bytes to the key (store.h). */
    CHECK_EQ_INT(gx_store_put(t, GX_T_FIRMS, big, GX_STORE_MAX_KEY - 9, "v", 1), GX_OK);
    CHECK_EQ_INT(gx_store_put(t, GX_T_FIRMS, big, GX_STORE_MAX_KEY - 8, "v", 1), GX_ERR_INVALID);
    const void *v;
    size_t vlen;
    CHECK_EQ_INT(gx_store_get(t, GX_T_FIRMS, big, sizeof big, &v, &vlen), GX_ERR_INVALID);
    CHECK_EQ_INT(gx_store_del(t, GX_T_FIRMS, big, sizeof big), GX_ERR_INVALID);
    CHECK_EQ_INT(gx_store_put(t, GX_T_FIRMS, "", 0, "v", 1), GX_ERR_INVALID);
    keys_ctx k = {0};
    CHECK_EQ_INT(gx_store_scan(t, GX_T_FIRMS, big, sizeof big, NULL, 0, s_collect, &k), GX_ERR_INVALID);
    char counter[GX_STORE_MAX_KEY];
    memset(counter, 'c', sizeof counter - 1);
    counter[sizeof counter - 1] = '\0';
    uint64_t id;
    CHECK_EQ_INT(gx_store_next_id(t, counter, &id), GX_ERR_INVALID);
    /* The transaction is still usable after rejected keys. */
    CHECK_EQ_INT(gx_store_put(t, GX_T_FIRMS, "ok", 2, "v", 1), GX_OK);
    CHECK_EQ_INT(gx_store_commit(&t), GX_OK);
    gx_store_close(&s);
}

/* ---- damage checks and the store identity (issue 13) */

static off_t s_file_size(const char *dir)
{
    char path[600];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void s_touch(const char *dir, const char *name, off_t size)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fclose(f);
    REQUIRE(truncate(path, size) == 0);
}

/* A store with n firm records of vlen bytes each, closed again. */
static void s_fill(const char *dir, int n, size_t vlen)
{
    gx_store *s = s_open(dir, 0, 0);
    REQUIRE(s);
    gx_txn *t = NULL;
    char *val = calloc(1, vlen);
    REQUIRE(val && gx_store_begin(s, true, &t) == GX_OK);
    for (int i = 0; i < n; i++) {
        char k[32];
        snprintf(k, sizeof k, "firm-%06d", i);
        REQUIRE(gx_store_put(t, GX_T_FIRMS, k, strlen(k), val, vlen) == GX_OK);
    }
    REQUIRE(gx_store_commit(&t) == GX_OK);
    free(val);
    gx_store_close(&s);
}

TEST(store_identity_is_random_written_at_creation_and_kept)
{
    char a[512], b[512];
    uint8_t ida[GX_STORE_ID_LEN], zero[GX_STORE_ID_LEN] = {0};
    snprintf(a, sizeof a, "%s", gx_test_dir("store_id_a"));
    snprintf(b, sizeof b, "%s", gx_test_dir("store_id_b"));
    gx_store *s = s_open(a, 0, 0), *s2 = s_open(b, 0, 0);
    REQUIRE(s && s2);
    memcpy(ida, gx_store_id(s), sizeof ida);
    CHECK(memcmp(ida, zero, sizeof zero) != 0);
    CHECK(memcmp(ida, gx_store_id(s2), sizeof ida) != 0); /* two stores, two identities */
    CHECK(!gx_store_id_added(s));                         /* new, not added to an old store */
    gx_store_close(&s);
    gx_store_close(&s2);
    s = s_open(a, 0, 0);
    REQUIRE(s);
    CHECK(memcmp(ida, gx_store_id(s), sizeof ida) == 0); /* kept across opens */
    /* a store an older build created has none: it gets one at its next open, once */
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    REQUIRE(gx_store_del(t, GX_T_META, "store_id", 8) == GX_OK);
    REQUIRE(gx_store_commit(&t) == GX_OK);
    gx_store_close(&s);
    s = s_open(a, 0, 0);
    REQUIRE(s);
    CHECK(gx_store_id_added(s));
    memcpy(ida, gx_store_id(s), sizeof ida);
    CHECK(memcmp(ida, zero, sizeof zero) != 0);
    gx_store_close(&s);
    s = s_open(a, 0, 0);
    REQUIRE(s);
    CHECK(!gx_store_id_added(s));
    CHECK(memcmp(ida, gx_store_id(s), sizeof ida) == 0);
    gx_store_close(&s);
}

TEST(empty_or_missing_data_mdb_beside_key_files_is_refused)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_empty"));
    s_touch(dir, "data.mdb", 0);
    s_touch(dir, "operator.key", 100);
    gx_store_opts o = {.dir = dir};
    gx_store *s = NULL;
    CHECK_EQ_INT(gx_store_open(&o, &s), GX_ERR_MALFORMED);
    CHECK(!s);
    const char *msg = gx_store_last_error(NULL);
    CHECK(strstr(msg,
                 "/data.mdb is empty (0 bytes), but this data directory was initialised (operator.key is "
                 "there). The store was not opened and nothing was written.") != NULL);
    CHECK(strstr(msg, "gongxud --init-fresh") != NULL && strstr(msg, "admin backup") != NULL);
    CHECK(s_file_size(dir) == 0); /* not written */
    char path[600];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    REQUIRE(unlink(path) == 0);
    CHECK_EQ_INT(gx_store_open(&o, &s), GX_ERR_MALFORMED);
    CHECK(strstr(gx_store_last_error(NULL), "/data.mdb is missing, but") != NULL);
    CHECK(s_file_size(dir) == -1);

    /* --init-fresh creates an empty store (nothing there to move aside) */
    char moved[700];
    CHECK_EQ_INT(gx_store_init_fresh(&o, moved, sizeof moved), GX_OK);
    CHECK_STR(moved, "");
    s = s_open(dir, 0, 0);
    REQUIRE(s);
    gx_store_close(&s);
    /* and refuses, changing nothing, once the store is healthy */
    CHECK_EQ_INT(gx_store_init_fresh(&o, moved, sizeof moved), GX_ERR_EXISTS);
    CHECK(strstr(gx_store_last_error(NULL), "is not damaged, so nothing was changed") != NULL);

    /* without key files an empty data.mdb is a store whose creation never finished */
    char dir2[512];
    snprintf(dir2, sizeof dir2, "%s", gx_test_dir("store_empty_fresh"));
    s_touch(dir2, "data.mdb", 0);
    s = s_open(dir2, 0, 0);
    CHECK(s);
    gx_store_close(&s);
}

TEST(truncated_data_mdb_is_refused_and_not_written)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_cut"));
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    s_fill(dir, 2000, 200);
    off_t full = s_file_size(dir);
    REQUIRE(full > 64 * 4096);
    off_t cuts[] = {full / 2 / 4096 * 4096, 8192, 4096, full - 1};
    const char *want[] = {"the file was cut short", "the file was cut short",
                          "less than the two 4096-byte meta pages", "the file was cut short"};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char copy[2048];
        snprintf(copy, sizeof copy, "cp '%s' '%s.keep' && truncate -s %lld '%s'", path, path,
                 (long long)cuts[i], path);
        REQUIRE(system(copy) == 0);
        gx_store_opts o = {.dir = dir};
        gx_store *s = NULL;
        CHECK_EQ_INT(gx_store_open(&o, &s), GX_ERR_MALFORMED); /* and no SIGBUS */
        if (!strstr(gx_store_last_error(NULL), want[i]))
            fprintf(stderr, "  cut to %lld: %s\n", (long long)cuts[i], gx_store_last_error(NULL));
        CHECK(strstr(gx_store_last_error(NULL), want[i]) != NULL);
        CHECK(s_file_size(dir) == cuts[i]);
        o.read_only = true;
        CHECK_EQ_INT(gx_store_open(&o, &s), GX_ERR_MALFORMED);
        snprintf(copy, sizeof copy, "mv '%s.keep' '%s'", path, path);
        REQUIRE(system(copy) == 0);
    }
    gx_store *s = s_open(dir, 0, 0); /* the whole file again: nothing was lost */
    REQUIRE(s);
    gx_txn *t = NULL;
    uint64_t n = 0;
    REQUIRE(gx_store_begin(s, false, &t) == GX_OK);
    CHECK(gx_store_count(t, GX_T_FIRMS, &n) == GX_OK && n == 2000);
    gx_store_abort(&t);
    gx_store_close(&s);

    /* --init-fresh moves the damaged file aside and starts empty */
    REQUIRE(truncate(path, 8192) == 0);
    gx_store_opts o = {.dir = dir};
    char moved[700];
    CHECK_EQ_INT(gx_store_init_fresh(&o, moved, sizeof moved), GX_OK);
    CHECK(strstr(moved, "/data.mdb.damaged-") != NULL);
    struct stat st;
    CHECK(stat(moved, &st) == 0 && st.st_size == 8192);
    s = s_open(dir, 0, 0);
    REQUIRE(s);
    REQUIRE(gx_store_begin(s, false, &t) == GX_OK);
    CHECK(gx_store_count(t, GX_T_FIRMS, &n) == GX_OK && n == 0);
    gx_store_abort(&t);
    gx_store_close(&s);
}

/* LMDB does not write a page it allocated and freed in the same transaction, so a
 * healthy data.mdb may end a few pages before its last page in use: such a file
 * must open (the missing pages are in the free list). */
TEST(healthy_file_ending_in_unwritten_free_pages_opens)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_tail"));
    gx_store_opts o = {.dir = dir, .no_sync = true};
    gx_store *s = NULL;
    REQUIRE(gx_store_open(&o, &s) == GX_OK);
    unsigned seed = 1;
    bool short_seen = false;
    char *val = calloc(1, 16000);
    REQUIRE(val);
    for (int it = 0; it < 40000 && !short_seen; it++) {
        gx_txn *t = NULL;
        REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
        int ops = 1 + (int)(rand_r(&seed) % 50);
        for (int j = 0; j < ops; j++) {
            char k[16];
            snprintf(k, sizeof k, "%08u", rand_r(&seed) % 20000);
            unsigned r = rand_r(&seed) % 15;
            if (r < 5) {
                REQUIRE(gx_store_del(t, GX_T_FIRMS, k, 8) == GX_OK);
            } else if (r < 7) {
                char upto[16];
                snprintf(upto, sizeof upto, "%08u", (unsigned)atoi(k) + 200);
                REQUIRE(gx_store_del_range(t, GX_T_FIRMS, "", 0, upto, 8, NULL) == GX_OK);
            } else {
                size_t vlen = r < 10 ? 5000 + rand_r(&seed) % 10000 : 50 + rand_r(&seed) % 300;
                REQUIRE(gx_store_put(t, GX_T_FIRMS, k, 8, val, vlen) == GX_OK);
            }
        }
        REQUIRE(gx_store_commit(&t) == GX_OK);
        size_t used = 0;
        gx_store_usage(s, NULL, &used);
        short_seen = s_file_size(dir) < (off_t)used;
    }
    free(val);
    gx_store_close(&s);
    REQUIRE(short_seen);
    s = s_open(dir, 0, 0);
    CHECK(s);
    gx_store_close(&s);
}

TEST(read_only_open_reads_and_never_writes)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("store_ro"));
    s_fill(dir, 10, 20);
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    struct stat before, after;
    REQUIRE(stat(path, &before) == 0);
    gx_store_opts o = {.dir = dir, .read_only = true};
    gx_store *s = NULL;
    REQUIRE(gx_store_open(&o, &s) == GX_OK);
    gx_txn *t = NULL;
    uint64_t n = 0;
    REQUIRE(gx_store_begin(s, false, &t) == GX_OK);
    CHECK(gx_store_count(t, GX_T_FIRMS, &n) == GX_OK && n == 10);
    gx_store_abort(&t);
    CHECK_EQ_INT(gx_store_begin(s, true, &t), GX_ERR_INVALID);
    /* a second opener is kept out while it is open (a broker, or another verify) */
    gx_store *s2 = NULL;
    CHECK_EQ_INT(gx_store_open(&o, &s2), GX_ERR_IO);
    CHECK(strstr(gx_store_last_error(NULL), "in use by another broker") != NULL);
    gx_store_close(&s);
    REQUIRE(stat(path, &after) == 0);
    CHECK(before.st_size == after.st_size && before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
          before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/nothing-here", dir);
    o.dir = nodir;
    CHECK_EQ_INT(gx_store_open(&o, &s), GX_ERR_IO);
    struct stat st;
    CHECK(stat(nodir, &st) != 0); /* not created */
}

/* ---- the change log (issue 15) */

typedef struct change_rec {
    uint64_t txnid;
    gx_table tb;
    char key[32];
    bool existed;
    char before[32];
} change_rec;

typedef struct changes_ctx {
    change_rec v[16];
    size_t n;
} changes_ctx;

static bool s_change(void *ctx, uint64_t txnid, gx_table tb, const void *key, size_t klen, bool existed,
                     const void *before, size_t blen)
{
    changes_ctx *c = ctx;
    if (c->n == 16 || klen >= 32 || blen >= 32)
        return false;
    change_rec *r = &c->v[c->n++];
    r->txnid = txnid;
    r->tb = tb;
    memcpy(r->key, key, klen);
    r->key[klen] = 0;
    r->existed = existed;
    memcpy(r->before, before, blen);
    r->before[blen] = 0;
    return true;
}

static changes_ctx s_changes_after(gx_store *s, uint64_t after)
{
    changes_ctx c = {0};
    gx_txn *t = NULL;
    if (gx_store_begin(s, false, &t) != GX_OK) {
        c.n = 99;
        return c;
    }
    CHECK_EQ_INT(gx_store_changes(t, after, s_change, &c), GX_OK);
    gx_store_abort(&t);
    return c;
}

TEST(change_log_keeps_each_keys_value_before_the_transaction)
{
    gx_store *s = s_open(gx_test_dir("store_changes"), 0, 0);
    REQUIRE(s);
    gx_txn *t = NULL, *c = NULL;
    /* t1: two new keys (nothing before), and a table that is not logged */
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    uint64_t t1 = gx_store_txn_id(t);
    CHECK_EQ_INT(s_put_str(t, GX_T_FIRMS, "f1", "grade A"), GX_OK);
    CHECK_EQ_INT(s_put_str(t, GX_T_OFFERS, "o1", "v1"), GX_OK);
    CHECK_EQ_INT(s_put_str(t, GX_T_INBOX, "i1", "x"), GX_OK);
    CHECK_EQ_INT(gx_store_commit(&t), GX_OK);
    /* t2: o1 changed twice (the first before-image stands), f1 deleted, and a
     * child's change that is aborted leaves no entry */
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    uint64_t t2 = gx_store_txn_id(t);
    CHECK(t2 > t1);
    CHECK_EQ_INT(s_put_str(t, GX_T_OFFERS, "o1", "v2"), GX_OK);
    CHECK_EQ_INT(s_put_str(t, GX_T_OFFERS, "o1", "v3"), GX_OK);
    CHECK_EQ_INT(gx_store_del(t, GX_T_FIRMS, "f1", 2), GX_OK);
    REQUIRE(gx_store_begin_child(t, &c) == GX_OK);
    CHECK_EQ_INT(gx_store_txn_id(c), t2);
    CHECK_EQ_INT(s_put_str(c, GX_T_DEMANDS, "d9", "never"), GX_OK);
    gx_store_abort(&c);
    CHECK_EQ_INT(gx_store_commit(&t), GX_OK);

    changes_ctx all = s_changes_after(s, 0);
    CHECK_EQ_INT(all.n, 4);
    /* in (txnid, table, key) order: firms (1) sort before offers (3) */
    CHECK(all.v[0].txnid == t1 && all.v[0].tb == GX_T_FIRMS && !strcmp(all.v[0].key, "f1") &&
          !all.v[0].existed);
    CHECK(all.v[1].txnid == t1 && all.v[1].tb == GX_T_OFFERS && !all.v[1].existed);
    CHECK(all.v[2].txnid == t2 && all.v[2].tb == GX_T_FIRMS && all.v[2].existed &&
          !strcmp(all.v[2].before, "grade A"));
    CHECK(all.v[3].txnid == t2 && all.v[3].tb == GX_T_OFFERS && all.v[3].existed &&
          !strcmp(all.v[3].before, "v1"));
    CHECK_EQ_INT(s_changes_after(s, t1).n, 2);

    /* a snapshot as of t1: the mark is recorded and the entries it covers go */
    uint64_t mark = 0, pruned = 0;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    CHECK_EQ_INT(gx_store_snapshot_txnid(t, &mark), GX_ERR_NOT_FOUND);
    CHECK_EQ_INT(gx_store_snapshot_mark(t, t1), GX_OK);
    CHECK_EQ_INT(gx_store_prune_changes(t, t1, 1, &pruned), GX_OK); /* a slice of one */
    CHECK_EQ_INT(pruned, 1);
    CHECK_EQ_INT(gx_store_prune_changes(t, t1, 0, &pruned), GX_OK); /* the rest */
    CHECK_EQ_INT(pruned, 1);
    CHECK_EQ_INT(gx_store_commit(&t), GX_OK);
    REQUIRE(gx_store_begin(s, false, &t) == GX_OK);
    CHECK_EQ_INT(gx_store_snapshot_txnid(t, &mark), GX_OK);
    CHECK_EQ_INT(mark, t1);
    gx_store_abort(&t);
    CHECK_EQ_INT(s_changes_after(s, 0).n, 2);
    /* marking 0: no snapshot, no log */
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    CHECK_EQ_INT(gx_store_snapshot_mark(t, 0), GX_OK);
    CHECK_EQ_INT(gx_store_prune_changes(t, UINT64_MAX, 0, &pruned), GX_OK);
    CHECK_EQ_INT(pruned, 2);
    CHECK_EQ_INT(gx_store_snapshot_txnid(t, &mark), GX_ERR_NOT_FOUND);
    CHECK_EQ_INT(gx_store_commit(&t), GX_OK);
    CHECK_EQ_INT(s_changes_after(s, 0).n, 0);
    gx_store_close(&s);
}

TEST(no_change_log_logs_nothing)
{
    gx_store_opts o = {.dir = gx_test_dir("store_nolog"), .no_change_log = true};
    gx_store *s = NULL;
    REQUIRE(gx_store_open(&o, &s) == GX_OK);
    gx_txn *t = NULL;
    REQUIRE(gx_store_begin(s, true, &t) == GX_OK);
    CHECK_EQ_INT(s_put_str(t, GX_T_DEMANDS, "d1", "v"), GX_OK);
    CHECK_EQ_INT(gx_store_commit(&t), GX_OK);
    CHECK_EQ_INT(s_changes_after(s, 0).n, 0);
    CHECK_EQ_INT(gx_store_changes_logged(s), 0);
    gx_store_close(&s);
}

int main(void)
{
    RUN(put_get_del_round_trip);
    RUN(change_log_keeps_each_keys_value_before_the_transaction);
    RUN(no_change_log_logs_nothing);
    RUN(committed_data_survives_reopen_aborted_does_not);
    RUN(aborted_child_keeps_parent_writes_and_drops_its_own);
    RUN(scan_visits_prefix_from_in_key_order);
    RUN(big_endian_keys_scan_in_numeric_order);
    RUN(del_range_deletes_prefix_below_upto);
    RUN(next_id_increments_and_persists);
    RUN(newer_schema_is_refused_with_both_versions_named);
    RUN(open_failures_say_why);
    RUN(stale_reader_of_a_dead_process_is_cleared_at_open);
    RUN(map_full_reports_storage_full_then_grows_up_to_map_max);
    RUN(full_map_in_a_child_spares_the_rest_of_the_batch);
    RUN(backup_copies_everything_and_refuses_non_empty_dest);
    RUN(keys_over_the_limit_are_rejected);
    RUN(store_identity_is_random_written_at_creation_and_kept);
    RUN(empty_or_missing_data_mdb_beside_key_files_is_refused);
    RUN(truncated_data_mdb_is_refused_and_not_written);
    RUN(healthy_file_ending_in_unwritten_free_pages_opens);
    RUN(read_only_open_reads_and_never_writes);
    return gx_test_done();
}
