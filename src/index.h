/* index.h — posting lists for the matching engine: (kind, key) -> items.
 *
 * An inverted index from a posting kind and a term key (a tag and a term: a
 * process or material family such as ('p', "casting.die"), an IPC prefix
 * ('i', "H01L"), or ('*', "") for postings that name no term) to the items filed under it, so the engine evaluates only
 * plausible candidates instead of every open posting. Adding and removing an
 * item are O(number of its keys): each item keeps, for every list it is in,
 * the list's number and its position there (gx_index_ref), and removal swaps
 * the last entry into the hole. The index does not own items; it reaches an
 * item's refs through the refs_of callback given at creation.
 *
 * Invariant: for every ref r of an item x, list(r.list).v[r.pos] == x.
 * Pure: no I/O; single-threaded like the engine. */
#ifndef GX_INDEX_H
#define GX_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct gx_index gx_index;

/* Where an item sits in one list. */
typedef struct gx_index_ref {
    uint32_t list; /* list number */
    uint32_t pos;  /* position in that list */
} gx_index_ref;

/* The refs of item (an array the item owns, *n of them). */
typedef gx_index_ref *(*gx_index_refs_fn)(void *item, uint32_t *n);

gx_err gx_index_new(gx_index_refs_fn refs_of, gx_index **out);
void gx_index_destroy(gx_index **ix);

/* The list number of (kind, tag, key[0..len)), creating an empty list when
 * create is set; UINT32_MAX when absent (or out of memory when creating). The
 * tag names the key's vocabulary ('p' process, 'm' material, ...). */
uint32_t gx_index_list(gx_index *ix, unsigned kind, char tag, const char *key, size_t len, int create);

/* Makes room for one more entry in list l, so gx_index_put cannot fail. */
gx_err gx_index_reserve(gx_index *ix, uint32_t l);

/* Appends item to list l (room reserved) and fills *ref. */
void gx_index_put(gx_index *ix, uint32_t l, void *item, gx_index_ref *ref);

/* Removes the entry *ref describes, updating the ref of the entry moved into
 * its place. */
void gx_index_del(gx_index *ix, const gx_index_ref *ref);

/* The items of list l: *n of them, valid until the next put or del. */
void *const *gx_index_items(const gx_index *ix, uint32_t l, size_t *n);

/* Bytes the index itself holds (lists, keys, hash table). */
size_t gx_index_bytes(const gx_index *ix);

#endif
