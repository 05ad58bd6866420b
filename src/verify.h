/* verify.h — gongxud --verify DIR: a full check of a stopped data directory.
 *
 * Opens the store read-only (taking the directory's lock, so it refuses while a
 * broker runs on it) with the same damage checks as a start, then walks every
 * table, decodes every record and checks the cross-references: every posting's
 * and subscription's owner is a firm, every inbox notice and cursor belongs to
 * a firm and names postings that exist, every docking, told and first-match
 * row names a demand (and an offer, where it names one) and a firm that exist,
 * every key belongs to a firm, and no posting id is beyond the posting counter.
 * Prints a summary per table and the first problems by name. Never writes to
 * the store. Cost: one pass over every record, memory for the firm and posting
 * ids. */
#ifndef GX_VERIFY_H
#define GX_VERIFY_H

#include <stdio.h>

enum {
    GX_VERIFY_HEALTHY = 0, /* every record decodes and every reference resolves */
    GX_VERIFY_DAMAGED = 1, /* refused by the damage checks, a bad record or a broken reference */
    GX_VERIFY_CANNOT = 2,  /* no store, another schema, locked by a running broker, I/O or memory */
};

/* Verifies the store in dir, printing the summary to out; returns one of the
 * GX_VERIFY_* exit statuses. */
int gx_verify_dir(const char *dir, FILE *out);

#endif
