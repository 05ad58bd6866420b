/* snapdump — an engine snapshot file as text, for tests that compare the
 * engine a start restored (and replayed into) with one built by matching
 * every pair: per demand, its eligible count, its shortlist (the first K of
 * its held list; the rest of the held reserve depends on history) and its
 * near misses by offer id.
 *
 *   snapdump FILE K     one line per demand: "d <id> elig <n> top <offer>:<score> ... near <offer>:<rule>
 * ..."
 *
 * Exit 0, or 1 with a message when the file cannot be read. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "snapshot.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: snapdump FILE K\n");
        return 2;
    }
    size_t k = (size_t)strtoul(argv[2], NULL, 10);
    char why[1024];
    gx_snapshot *s = NULL;
    gx_err err = gx_snapshot_open(argv[1], NULL, 0, 0, &s, why, sizeof why);
    if (err) {
        fprintf(stderr, "snapdump: %s\n", err == GX_ERR_NOT_FOUND ? "no such file" : why);
        return 1;
    }
    uint64_t id;
    const gx_match *m;
    const gx_near *nm;
    size_t n_m, n_elig, n_nm;
    while (gx_snapshot_next(s, &id, &m, &n_m, &n_elig, &nm, &n_nm)) {
        printf("d %" PRIu64 " elig %zu top", id, n_elig);
        for (size_t i = 0; i < n_m && i < k; i++)
            printf(" %" PRIu64 ":%.9g", m[i].offer_id, m[i].score);
        printf(" near");
        for (size_t i = 0; i < n_nm; i++)
            printf(" %" PRIu64 ":%d", nm[i].offer_id, (int)nm[i].rule);
        printf("\n");
    }
    gx_snapshot_close(&s);
    return 0;
}
