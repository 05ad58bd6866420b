/* test_snapshot.c — the engine snapshot's header checks: it is taken only for the
 * store, transaction and fingerprint it was written for and with its checksum
 * intact, and only from a regular file, opened without blocking (issue 13). */
#include "snapshot.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gxtest.h"

static const uint8_t s_id[GX_SNAPSHOT_ID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* Opens path as store s_id at txn 5, fingerprint 7; *why gets the reason. */
static gx_err s_open(const char *path, const uint8_t *id, uint64_t txnid, uint64_t fp, char *why,
                     size_t whylen)
{
    gx_snapshot *snap = NULL;
    gx_err err = gx_snapshot_open(path, id, txnid, fp, &snap, why, whylen);
    CHECK((err == GX_OK) == (snap != NULL));
    gx_snapshot_close(&snap);
    return err;
}

TEST(header_names_the_store_the_transaction_and_the_fingerprint)
{
    char path[600], why[800];
    snprintf(path, sizeof path, "%s/engine.snap", gx_test_dir("snap_header"));
    gx_engine_opts o;
    gx_engine_opts_default(&o);
    gx_engine *e = NULL;
    REQUIRE(gx_engine_new(&o, &e) == GX_OK);
    uint64_t bytes = 0;
    REQUIRE(gx_snapshot_write(path, e, s_id, 5, 7, &bytes) == GX_OK);
    CHECK(bytes > 0);
    CHECK_EQ_INT(s_open(path, s_id, 5, 7, why, sizeof why), GX_OK);

    uint8_t other[GX_SNAPSHOT_ID_LEN];
    memcpy(other, s_id, sizeof other);
    other[15] ^= 1;
    CHECK_EQ_INT(s_open(path, other, 5, 7, why, sizeof why), GX_ERR_CONFLICT);
    CHECK(strstr(why, "was written for another store (its store identity differs)") != NULL);
    CHECK_EQ_INT(s_open(path, s_id, 6, 7, why, sizeof why), GX_ERR_CONFLICT);
    CHECK(strstr(why, "is of transaction 5, not of 6, the last snapshot the store recorded") != NULL);
    CHECK_EQ_INT(s_open(path, s_id, 5, 8, why, sizeof why), GX_ERR_CONFLICT);
    CHECK(strstr(why, "under other options") != NULL);

    /* any byte changed fails the checksum, the header's too */
    int fd = open(path, O_RDWR);
    REQUIRE(fd >= 0);
    uint8_t b;
    REQUIRE(pread(fd, &b, 1, 9) == 1); /* in the transaction id */
    b ^= 0x40;
    REQUIRE(pwrite(fd, &b, 1, 9) == 1);
    close(fd);
    CHECK_EQ_INT(s_open(path, s_id, 5, 7, why, sizeof why), GX_ERR_INVALID);
    CHECK(strstr(why, "fails its checksum") != NULL);

    /* a leftover temporary file of any kind does not stop the next write */
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    REQUIRE(mkfifo(tmp, 0600) == 0);
    CHECK_EQ_INT(gx_snapshot_write(path, e, s_id, 5, 7, NULL), GX_OK);
    CHECK(access(tmp, F_OK) != 0);
    CHECK_EQ_INT(s_open(path, s_id, 5, 7, why, sizeof why), GX_OK);
    gx_engine_destroy(&e);
}

TEST(only_a_regular_file_is_read_and_a_fifo_does_not_block)
{
    char dir[512], path[600], target[600], why[800];
    snprintf(dir, sizeof dir, "%s", gx_test_dir("snap_kind"));
    snprintf(path, sizeof path, "%s/engine.snap", dir);
    CHECK_EQ_INT(s_open(path, s_id, 5, 7, why, sizeof why), GX_ERR_NOT_FOUND);
    REQUIRE(mkfifo(path, 0600) == 0);
    CHECK_EQ_INT(s_open(path, s_id, 5, 7, why, sizeof why), GX_ERR_INVALID); /* returns: no writer needed */
    CHECK(strstr(why, "is not a regular file") != NULL);
    REQUIRE(unlink(path) == 0);
    REQUIRE(mkdir(path, 0700) == 0);
    CHECK_EQ_INT(s_open(path, s_id, 5, 7, why, sizeof why), GX_ERR_INVALID);
    REQUIRE(rmdir(path) == 0);
    snprintf(target, sizeof target, "%s/elsewhere", dir);
    REQUIRE(symlink(target, path) == 0);
    CHECK_EQ_INT(s_open(path, s_id, 5, 7, why, sizeof why), GX_ERR_INVALID);
    CHECK(strstr(why, "symbolic link") != NULL);
}

int main(void)
{
    RUN(header_names_the_store_the_transaction_and_the_fingerprint);
    RUN(only_a_regular_file_is_read_and_a_fifo_does_not_block);
    return gx_test_done();
}
