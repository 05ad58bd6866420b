/* federation.h — the link between cities: NATS JetStream, owned by threads of
 * this module (the only file that includes nats.h).
 *
 * The link: gx_fed_new checks only what is local (the password file, the
 * options) and returns at once; the subscriber thread connects, finds or
 * creates the stream and makes the consumer, retrying with backoff for as long
 * as it takes (logged once per change of what holds it), and libnats then
 * reconnects by itself. A connection libnats reconnected, or closed for good
 * (the same authorization refused twice while reconnecting), is torn down
 * once the publisher has let go of it and set up again the same way, on a new
 * connection whose every subscription has a subject of its own (federation.c,
 * s_rebuild, says why), the password file read again (before every new
 * connection) and the consumer made from the sequence after the one the loop
 * committed last. The connection's state is
 * polled by the subscriber thread, never with the module's mutex held, into
 * atomics the loop reads: a reconnect attempt holds libnats' connection lock up
 * to the 2 s connect timeout, and the loop must never wait for it. Meanwhile the loop serves its own city and
 * the outbox grows; the publisher starts once the link is up. Replies come to this city's own inbox prefix
 * _INBOX_<city>.
 *
 * Publisher: the loop hands it outbox records (gx_fed_offer: sequence and the
 * encoded FedMessage, copied); it publishes them, in order, on gx.<city>.post
 * with the JetStream message id "<city>-<epoch>-<sequence>" (epoch: random at
 * each start, so a store restored from a backup, which counts its outbox
 * sequences again, never repeats an id of the window; the stream drops a
 * repeat within its 2-minute duplicate window), up to 256 at a time without
 * waiting for their PubAcks: each carries a reply subject
 * _INBOX_<city>.pa.<round>.<sequence> that the publisher thread reads itself
 * (a synchronous subscription: no libnats callback holds our pointer, and
 * destroy joins the thread before closing the connection). PubAcks may settle
 * records out of order; the loop is told "acknowledged up to N" (gx_fed_acked)
 * only for the contiguous settled prefix, so after a crash everything not known
 * acknowledged is published again and nothing is lost; the loop deletes those
 * outbox records in its next batch. A record JetStream refuses for good
 * (larger than the servers' max_payload or the stream's maximum message size)
 * is logged with its sequence, counted and settled like an acknowledged one,
 * and its bytes handed back to the loop with gx_fed_acked: a posting's record
 * is replaced by a small substitute that closes it elsewhere (records.h).
 * Any other failure — an error PubAck, no responders, no answer within 5 s,
 * the connection lost with records unanswered — ends the round: after a pause
 * every record not yet acknowledged is sent again from the first one, in
 * order (answers to the failed round still settle records as acknowledged;
 * its failures are ignored).
 *
 * Order: one connection, records sent in outbox order, and the server hands a
 * connection's messages to the stream in the order they came, so the stream
 * holds one city's records in outbox order whenever JetStream stores every
 * record it is sent. A record can come after a later one only when JetStream
 * fails it (a storage error, no leader for a moment) or a connection drop
 * loses it, and still stores one sent after it: then the failed record is
 * stored later, on the resend. The receivers tolerate that: they apply by
 * posting revision (an older revision after a newer one is skipped) and a
 * posting carries its owner's profile. A record the loop hands again after a
 * restart is published again under the new epoch, and the receivers skip the
 * repeat (fedapply: by stream sequence, and by posting revision).
 *
 * Subscriber: a durable pull consumer "city-<city>" on the stream, filtered on
 * the stream's own subjects gx.> so that its stream sequences come without gaps
 * (this city's own messages too: the loop skips them, advancing its applied
 * sequence). At start the consumer is deleted and created again to deliver from
 * the sequence after the one the store has applied, so a restart resumes
 * exactly where LMDB says, not where JetStream's unacknowledged messages would
 * put it. A batch is handed to the loop (gx_fed_take) sorted by sequence; once
 * the loop says it is committed (gx_fed_done(ok)) the messages it marked ack
 * are acknowledged to JetStream, the others (beyond a gap) come again. A gap
 * that holds for a second (a message JetStream counts delivered that never
 * reached the loop: sent into a fetch libnats had already given up on; when it
 * was the last one sent, an empty fetch asks the consumer, at most once a
 * second, the last sequence it delivered, and one beyond the loop's committed
 * sequence with nothing in the loop's hands starts the same clock) makes
 * the subscriber delete and make the consumer again from the sequence after the
 * one the loop committed last, as at start, rather than wait the consumer's
 * AckWait (30 s). A batch the loop could not commit is handed again, whole and
 * in order, so nothing after it is applied first.
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

/* Reads the password file (gx_fed_password_check) and starts the threads,
 * which connect to cfg->federation_url as cfg->federation_user, create the
 * stream when missing and the durable consumer afresh to deliver from stream
 * sequence start (the applied sequence + 1), retrying until they can. Does not
 * wait for NATS. GX_ERR_CONFIG / GX_ERR_NOMEM / GX_ERR_IO with a message in err. */
gx_err gx_fed_new(const gx_config *cfg, uint64_t start, gx_fed **out, char *err, size_t errlen);

/* GX_ERR_CONFIG, with what to do in err, when the password file cannot be
 * read, holds no password, or is open to its group or others (chmod 600). */
gx_err gx_fed_password_check(const char *path, char *err, size_t errlen);

/* True while connected with the stream and consumer set up (any thread; reads
 * atomics only, never waits for libnats). */
bool gx_fed_connected(gx_fed *f);

/* The largest message the connected nats-server takes (its max_payload), as
 * the subscriber thread last saw it; 0 when not linked. For refusing at request
 * time what could never be published (an atomic: any thread, never waits). */
size_t gx_fed_max_payload(gx_fed *f);

/* The eventfd the loop polls: readable when acks or a fetched batch wait. */
int gx_fed_fd(const gx_fed *f);
/* Clears the eventfd (the loop then reads acked and take). */
void gx_fed_clear(gx_fed *f);

/* How many more records the publisher's queue takes now. */
size_t gx_fed_room(const gx_fed *f);
/* Queues outbox record seq (data copied) for publishing; false when full or out of memory. */
bool gx_fed_offer(gx_fed *f, uint64_t seq, const void *data, size_t len);
/* An outbox record NATS refused for good, handed back to the loop. */
typedef struct gx_fed_refused {
    uint64_t seq;     /* its outbox sequence */
    const void *data; /* the encoded FedMessage (this module's, until gx_fed_release) */
    size_t len;
    size_t max_payload; /* the servers' max_payload when it was refused (0: not known) */
} gx_fed_refused;

/* The highest outbox sequence settled — acknowledged by JetStream or refused
 * for good — (0: none yet), and, read together under the module's mutex, the
 * records refused for good up to it that the loop has not released: up to max
 * of them copied into v (their data borrowed until gx_fed_release), their
 * count in *n. With more than max waiting, the sequence returned stops short
 * of the first left out. So the loop writes each refused posting's substitute
 * in the very transaction that drops it from the outbox. */
uint64_t gx_fed_acked(gx_fed *f, gx_fed_refused *v, size_t max, size_t *n);
/* The loop committed the drop of the outbox up to upto (and the substitutes):
 * frees the refused records up to it. Until then they are handed again. */
void gx_fed_release(gx_fed *f, uint64_t upto);
/* Published figures: records acknowledged, publish attempts that failed (and
 * are retried), records refused for good and dropped. */
void gx_fed_pub_counts(gx_fed *f, uint64_t *published, uint64_t *failed, uint64_t *rejected);

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
