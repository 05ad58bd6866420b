/* storewalk.c — what a gongxu store holds, table by table (issue 14).
 *
 *   storewalk DATA_DIR
 *
 * Walks every record of every table of the LMDB environment in DATA_DIR (a
 * gongxud data directory) in one read-only transaction and prints one JSON line:
 *
 *   {"psize":4096,"used_bytes":..,"tables":{"inbox":{"entries":..,"key_bytes":..,
 *    "val_bytes":..,"pages":..},...}}
 *
 * used_bytes is LMDB's last page in use times the page size (what the file
 * holds, free pages included); pages counts a table's branch, leaf and overflow
 * pages. tests/bench/run walks the store of the broker it grows, between its
 * phases, to give floor_bench gongxu's records per posting and their sizes.
 *
 * It opens the environment with plain LMDB calls, not gx_store_open: the broker
 * keeps the data directory's lock while it runs, and an LMDB reader in another
 * process needs no lock (it neither writes nor holds back more than the pages
 * of its one snapshot, for the seconds the walk takes). Table names come from
 * src/store.h, so a table added there is walked too. Exit 1 with a message on
 * error. */
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>

#include "store.h"

static int s_walk(MDB_txn *txn, MDB_dbi dbi, uint64_t *n, uint64_t *kb, uint64_t *vb)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc)
        return rc;
    MDB_val k, v;
    *n = *kb = *vb = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        (*n)++;
        *kb += k.mv_size;
        *vb += v.mv_size;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: storewalk DATA_DIR\n", stderr);
        return 2;
    }
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    const char *what = "mdb_env_create";
    int rc = mdb_env_create(&env);
    if (!rc && (what = "mdb_env_set_maxdbs", rc = mdb_env_set_maxdbs(env, GX_T__COUNT + 2)) == 0)
        what = "open the environment", rc = mdb_env_open(env, argv[1], MDB_RDONLY | MDB_NOTLS, 0600);
    if (!rc)
        what = "begin a read transaction", rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    MDB_envinfo info;
    MDB_stat est;
    if (!rc && (what = "mdb_env_info", rc = mdb_env_info(env, &info)) == 0)
        what = "mdb_env_stat", rc = mdb_env_stat(env, &est);
    if (rc)
        goto out;
    printf("{\"psize\":%u,\"used_bytes\":%" PRIu64 ",\"tables\":{", est.ms_psize,
           (uint64_t)(info.me_last_pgno + 1) * est.ms_psize);
    const char *sep = "";
    for (int tb = 0; tb < GX_T__COUNT; tb++) {
        const char *name = gx_store_table_name((gx_table)tb);
        MDB_dbi dbi;
        what = name;
        rc = mdb_dbi_open(txn, name, 0, &dbi);
        if (rc == MDB_NOTFOUND) { /* a store older than this table */
            rc = 0;
            continue;
        }
        uint64_t n, kb, vb;
        MDB_stat st;
        if (rc || (rc = s_walk(txn, dbi, &n, &kb, &vb)) != 0 || (rc = mdb_stat(txn, dbi, &st)) != 0)
            goto out;
        printf("%s\"%s\":{\"entries\":%" PRIu64 ",\"key_bytes\":%" PRIu64 ",\"val_bytes\":%" PRIu64
               ",\"pages\":%" PRIu64 "}",
               sep, name, n, kb, vb, (uint64_t)st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages);
        sep = ",";
    }
    printf("}}\n");
out:
    if (rc)
        fprintf(stderr, "storewalk: %s: %s: %s\n", argv[1], what, mdb_strerror(rc));
    mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    return rc ? 1 : 0;
}
