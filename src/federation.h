/* federation.h — the link between cities: NATS JetStream, owned by threads of
 * this module (the only file that includes nats.h).
 *
 * Publisher: the loop hands it outbox records (gx_fed_offer: sequence and the
 * encoded FedMessage, copied); it publishes each, in order, on gx.<city>.post
 * with the JetStream message id "<city>-<sequence>" (the stream drops a
 * repeat within its 2-minute duplicate window), waits for the PubAck, and
 * then reports the sequence acknowledged (gx_fed_acked) and wakes the loop;
 * the loop deletes those outbox records in its next batch. A record the loop
 * hands again after a restart is published again and de-duplicated.
 *
 * Subscriber: a durable pull consumer "city-<city>" on the stream, filtered on
 * the stream's own subjects gx.> so that its stream sequences come without gaps
 * (this city's own messages too: the loop skips them, advancing its applied
 * sequence). At start the consumer is deleted and created again to deliver from
 * the sequence after the one the store has applied, so a restart resumes
 * exactly where LMDB says, not where JetStream's unacknowledged messages would
 * put it. A batch is handed to the loop (gx_fed_take) sorted by sequence; once
 * the loop says it is committed (gx_fed_done(ok)) the messages it marked ack
 * are acknowledged to JetStream, the others (beyond a gap) come again after
 * the consumer's AckWait. A batch the loop could not commit is handed again,
 * whole and in order, so nothing after it is applied first.
 *
 * The loop polls gx_fed_fd (an eventfd). Every function here is for the loop
 * thread; the threads inside touch only this module's state, under its mutex. */
#ifndef GX_FEDERATION_H
#define GX_FEDERATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

typedef struct gx_fed gx_fed;

/* One message from the stream, handed to the loop. */
typedef struct gx_fed_in {
    uint64_t seq;     /* stream sequence */
    const char *subj; /* subject it was published on */
    const void *data; /* payload */
    size_t len;
    bool ack; /* set by the loop: committed (applied or skipped), acknowledge it */
    int at;   /* its place in the fetched batch (this module's) */
} gx_fed_in;

/* Connects to cfg->federation_url as cfg->federation_user (password from
 * federation_password_file), creates the stream when missing, creates the
 * durable consumer afresh to deliver from stream sequence start (the applied
 * sequence + 1) and starts the threads. Blocks up to ~30 s. GX_ERR_CONFIG /
 * GX_ERR_IO with a message in err. */
gx_err gx_fed_new(const gx_config *cfg, uint64_t start, gx_fed **out, char *err, size_t errlen);

/* The eventfd the loop polls: readable when acks or a fetched batch wait. */
int gx_fed_fd(const gx_fed *f);
/* Clears the eventfd (the loop then reads acked and take). */
void gx_fed_clear(gx_fed *f);

/* How many more records the publisher's queue takes now. */
size_t gx_fed_room(const gx_fed *f);
/* Queues outbox record seq (data copied) for publishing; false when full or out of memory. */
bool gx_fed_offer(gx_fed *f, uint64_t seq, const void *data, size_t len);
/* The highest outbox sequence JetStream has acknowledged (0: none yet). */
uint64_t gx_fed_acked(gx_fed *f);
/* Published figures: records acknowledged, publish attempts that failed. */
void gx_fed_pub_counts(gx_fed *f, uint64_t *published, uint64_t *failed);

/* The fetched batch waiting for the loop, n messages sorted by sequence, each
 * with ack false (borrowed until gx_fed_done); 0 when none waits. */
size_t gx_fed_take(gx_fed *f, gx_fed_in **v);
/* The loop is done with the taken batch: ok means it is committed, and the
 * messages the loop marked ack are acknowledged (the rest come again after
 * AckWait); otherwise the whole batch is handed again later. */
void gx_fed_done(gx_fed *f, bool ok);

/* The stream's name (for the applied-sequence record). */
const char *gx_fed_stream(const gx_fed *f);

/* Stops the threads, closes the connection, frees. NULLs *f; tolerates NULL. */
void gx_fed_destroy(gx_fed **f);

#endif
