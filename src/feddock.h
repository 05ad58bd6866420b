/* feddock.h — docking across cities: the messages one city's broker sends
 * another about an SME's interest in a demand, its answer, the contacts
 * released after acceptance and an award (federation; fedapply.c dispatches
 * kinds GX_FED_INTEREST .. GX_FED_AWARDED here, requests.c sends them).
 *
 * A docking message rides the sender's own subject gx.<city>.post like every
 * FedMessage and names the one city it is for (dest_city); every other city
 * skips it. In clear it carries only the cities, its kind and the demand's
 * id (an award: the demand's state and revision after it); who docks with
 * whom (the SME's firm and profile, its offer, an award's quantity), the SME's
 * message, names and contacts and the demand's confidential details are sealed
 * (fedseal.h), with a copy of the message's kind, cities and demand id that
 * binds the box to its message, to the destination city's public key, which that city announced on its own
 * subject (GX_FED_CITY_KEY) at its first federated start. A city answers only
 * for what is its own: interest and contact come from the SME's home city,
 * accepted, declined and awarded from the demand's home city; anything else,
 * a message that does not fit the docking record's state, an unknown demand
 * or firm, a box that does not open or is another message's, is refused
 * (logged, counted bad); an interest in a demand closed or no longer crossing
 * is declined by this broker itself.
 * Applying is idempotent by content too: a second copy of a message (a
 * republished outbox record under a new id) finds the record already in its
 * state and changes nothing, tells no one. Loop thread, inside the batch's
 * write transaction (records.h). */
#ifndef GX_FEDDOCK_H
#define GX_FEDDOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "records.h"

/* Docking states (GX_T_DOCKING), the same in requests.c. */
enum { GX_DOCK_PENDING = 1, GX_DOCK_ACCEPTED = 2, GX_DOCK_DECLINED = 3 };

/* Makes this broker's federation key pair if it has none, and announces its
 * public key (an outbox record), in a child transaction of the current batch;
 * sets b->fed.keyed. Loop thread. */
gx_err gx_feddock_ensure_key(gx_ctx *b);

/* True when this broker may send a docking message to city (its key is
 * known); otherwise writes why into why. */
bool gx_feddock_can_send(gx_ctx *b, unsigned city, char *why, size_t len);

/* Outboxes, in the current child transaction, the docking message of kind
 * (GX_FED_*) about demand_id (this broker's id: city << 48 | id for a remote
 * demand) and SME firm to city dest, sealing s (may be NULL). For
 * GX_FED_INTEREST, offer_id is the SME's offer (0: none) and the SME's public
 * profile goes with it; for GX_FED_AWARDED, quantity, state and revision are
 * the award's and the demand's after it. */
gx_err gx_feddock_send(gx_ctx *b, uint32_t kind, unsigned dest, uint64_t demand_id, const char *firm,
                       uint64_t offer_id, const gx_fed_sealed *s, double quantity, gx_state state,
                       uint32_t revision);

/* Checks what no decoder can about a docking message's clear part (cities,
 * demand id, a sealed part present); false with why written otherwise. */
bool gx_feddock_check(const gx_fed_msg *m, char *why, size_t len);

/* Checks m's opened sealed part s: bound to m (the same kind, cities and
 * demand: a box copied into another message is refused), a firm, an offer id
 * in range (< 2^48), an interest's profile of that firm in the sending city,
 * an award's quantity; false with why written otherwise. */
bool gx_feddock_check_sealed(const gx_fed_msg *m, const gx_fed_sealed *s, char *why, size_t len);

/* Applies docking message m (origin_city is not this city's, and dest_city
 * is, or the key announcement is for every city) in the current child
 * transaction. *dup when it changed nothing (a copy already applied).
 * GX_ERR_INVALID with why written when it is refused; store errors as such. */
gx_err gx_feddock_apply(gx_ctx *b, gx_fed_msg *m, bool *dup, char *why, size_t len);

/* A remote demand's copy keeps the confidential details its home city
 * released to this broker on acceptance across later revisions (which come
 * without them): fills m's demand details from the stored copy. */
gx_err gx_feddock_keep_details(gx_ctx *b, gx_fed_msg *m, uint64_t id);

#endif
