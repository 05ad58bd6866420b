/* federation.c — NATS JetStream between cities (federation.h). */
#include "federation.h"

#include <errno.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "model.h"

#define S_QUEUE_MAX 1024  /* outbox records queued for publishing */
#define S_PUB_WINDOW 256  /* records published and not yet acknowledged, at most */
#define S_PUB_WAIT_MS 5000 /* a record without an answer this long fails its round */
#define S_FETCH_BATCH 128 /* messages per fetch */
#define S_FETCH_WAIT_MS 500
#define S_GAP_MS 1000 /* a gap in what the consumer delivers, held this long: the consumer is made again */
#define S_SERVERS_MAX 16
#define S_DUP_WINDOW_NS (120LL * 1000000000LL) /* the stream's duplicate window: 2 minutes */

typedef struct s_out {
    uint64_t seq;
    void *data;
    size_t len;
    int64_t sent_at; /* when sent in this round (monotonic ms), 0 not yet */
    bool done;       /* acknowledged, or refused for good */
    bool refused;    /* refused for good: handed to the loop (gx_fed_acked) when it leaves the queue */
} s_out;

struct gx_fed {
    unsigned city;
    char stream[64];
    char subject[32];             /* gx.<city>.post */
    char durable[32];             /* city-<city> */
    char user[GX_CONFIG_STR_MAX]; /* the NATS user */
    char pwfile[GX_CONFIG_STR_MAX]; /* federation_password_file, read again at each new connection */
    char urls[GX_CONFIG_STR_MAX]; /* federation_url with any password replaced by *** (for the log) */
    int64_t replicas;             /* the stream's replicas when this city creates it */
    uint64_t start;               /* the stream sequence the consumer delivers from */
    uint64_t epoch;               /* random at each start: message ids <city>-<epoch>-<seq> */
    natsOptions *opts;            /* connection options (they hold the password), kept for retries */
    natsConnection *nc;           /* set once by the subscriber thread when connected */
    jsCtx *js;
    natsSubscription *sub;
    bool stream_ok;     /* the stream exists (found or created) */
    bool consumer_gone; /* the old durable consumer was deleted this run */
    int efd;            /* eventfd the loop polls */

    pthread_mutex_t mu;
    pthread_cond_t cv; /* queue grew, a batch is done, the link is up, or stop */
    atomic_bool stop;  /* set under mu (with cv), read without it between link set-up steps */
    atomic_bool ready; /* connected, stream and consumer set up: the publisher may publish */
    /* the connection's state as the subscriber thread last polled it, without
     * the mutex: libnats holds its connection lock through each reconnect
     * attempt (up to the 2 s connect timeout), so nothing that holds f->mu, and
     * nothing on the loop thread, calls into libnats for it */
    atomic_bool up;
    atomic_llong max_payload; /* the connected server's max_payload, polled with up; 0 when not linked */
    atomic_llong max_seen;    /* the last max_payload polled while connected (0: never connected) */
    natsStatistics *stats;    /* the subscriber thread's: the connection's reconnect count */
    /* libnats closed the connection for good: the subscriber rebuilds it once
     * the publisher has let go of it (parked) */
    bool rebuild, parked;
    pthread_t pub_thread, sub_thread;
    bool pub_started, sub_started;

    s_out queue[S_QUEUE_MAX]; /* ring of outbox records to publish */
    size_t head, n;
    size_t sent;      /* queue[head .. head+sent) were sent in this round (or settled) */
    uint64_t round;   /* counts failed rounds: failures answering an earlier round are stale */
    int64_t retry_at; /* after a failed round, when to send again (monotonic ms) */
    uint64_t acked; /* highest sequence JetStream acknowledged (or refused for good) */
    /* records refused for good that left the queue, in sequence order, each
     * <= acked: the loop writes their substitutes in the transaction that
     * drops them from the outbox, and only once it committed are they freed
     * (gx_fed_release) */
    gx_fed_refused *refused;
    size_t n_refused, cap_refused;
    uint64_t published, pub_failed, rejected;

    natsMsgList batch; /* fetched, waiting for the loop */
    gx_fed_in *in;     /* its view for the loop */
    size_t n_in;
    bool handed; /* the loop holds the batch */
    int done;    /* 0 pending, 1 committed, -1 failed */
    uint64_t applied;  /* the highest stream sequence the loop committed (start - 1 at first) */
    int64_t gap_since; /* since when (monotonic ms) messages beyond a gap wait, applied not moving; 0 none */
    int gap_wait;      /* how long a gap may last before the consumer is made again (ms) */
    uint64_t again_at; /* f->applied + 1 when the consumer was last made again for a gap (0 never) */
};

static void s_wake(gx_fed *f)
{
    uint64_t one = 1;
    ssize_t r = write(f->efd, &one, sizeof one);
    (void)r; /* a full counter is already a wake-up */
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void s_timed_wait(gx_fed *f, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&f->cv, &f->mu, &ts);
}

/* Logs text at level when it differs from the last one logged in *last (a
 * state change), so a retry every few seconds logs once, not every time. */
static void s_log_change(int level, char *last, size_t cap, const char *text)
{
    if (strcmp(last, text) == 0)
        return;
    snprintf(last, cap, "%s", text);
    if (text[0])
        gx_log(level, "%s", text);
}

/* ---------------------------------------------------------------- publisher */

/* The connection's state now, asked of libnats: it may wait seconds for
 * libnats' connection lock while a reconnect attempt holds it, so only the
 * federation's own threads call it, never with f->mu held (f->nc is set once). */
static natsConnStatus s_status(gx_fed *f)
{
    return f->nc ? natsConnection_Status(f->nc) : NATS_CONN_STATUS_DISCONNECTED;
}

/* A failure that publishing the same record again cannot mend: the record
 * itself is refused (larger than the servers' max_payload, or than the
 * stream's maximum message size; a request JetStream calls bad). Anything else
 * — a timeout, no responders (no stream or leader yet), a closed or
 * reconnecting connection, storage trouble, a permissions violation on the
 * city's subject (a matter of the servers' configuration, the same for every
 * record) — is retried. */
static bool s_permanent(natsStatus s, jsErrCode jerr)
{
    return s == NATS_MAX_PAYLOAD || jerr == JSStreamMessageExceedsMaximumErr || jerr == JSBadRequestErr;
}

/* Why a publish failed, for the log: the status, the client's last error
 * text, and a permissions violation named as such. Asks libnats: never with
 * f->mu held. */
static void s_pub_reason(gx_fed *f, natsStatus s, jsErrCode jerr, char *out, size_t cap)
{
    const char *last = NULL;
    natsStatus ls = natsConnection_GetLastError(f->nc, &last);
    if (s == NATS_TIMEOUT && ls == NATS_NOT_PERMITTED && last && strstr(last, f->subject))
        snprintf(out, cap,
                 "a permissions violation: the servers do not let user %s publish %s (allow gx.%u.> for it)",
                 f->user, f->subject, f->city);
    else if (jerr) {
        const char *text = nats_GetLastError(NULL); /* this thread's: the PubAck's description */
        snprintf(out, cap, "%s, JetStream error %d%s%s", natsStatus_GetText(s), (int)jerr, text ? ": " : "",
                 text ? text : "");
    } else
        snprintf(out, cap, "%s", natsStatus_GetText(s));
}

/* 64 random bits, never 0: a start's message-id epoch, a PubAck subject. */
static uint64_t s_random(void)
{
    uint64_t e = 0;
    if (getrandom(&e, sizeof e, 0) != (ssize_t)sizeof e) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        e = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
    }
    return e ? e : 1;
}

/* Milliseconds on the monotonic clock. */
static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The queue slot i places after the head. */
static s_out *s_at(gx_fed *f, size_t i)
{
    return &f->queue[(f->head + i) % S_QUEUE_MAX];
}

/* Retryable failure of the current round: the round ends, and every record
 * not yet known acknowledged is sent again, in order, from the first one,
 * after a pause (mutex held). */
static void s_round_failed(gx_fed *f, uint64_t seq, const char *why, char *last, size_t cap)
{
    char text[1400];
    snprintf(text, sizeof text, "federation: publishing the outbox is held at record %llu (%s); retrying",
             (unsigned long long)seq, why);
    /* the state, not the attempt: one line per record and reason */
    s_log_change(GX_LOG_WARNING, last, cap, text);
    f->pub_failed++;
    f->round++;
    f->sent = 0;
    f->retry_at = s_now_ms() + 250;
    for (size_t i = 0; i < f->n; i++)
        s_at(f, i)->sent_at = 0;
}

/* Keeps refused record o for the loop (its data moves; mutex held). False
 * when out of memory: o stays at the head of the queue, tried again later. */
static bool s_keep_refused(gx_fed *f, s_out *o)
{
    if (gx_grow(&f->refused, &f->cap_refused, f->n_refused + 1, sizeof *f->refused))
        return false;
    f->refused[f->n_refused++] = (gx_fed_refused){
        .seq = o->seq, .data = o->data, .len = o->len, .max_payload = (size_t)atomic_load(&f->max_seen)};
    o->data = NULL;
    return true;
}

/* Drops the records at the head that are acknowledged or refused for good,
 * reporting the last of them as acknowledged, the refused ones kept for the
 * loop under the same mutex, so that the loop never sees acked beyond a
 * refused record without that record (mutex held). */
static void s_advance(gx_fed *f)
{
    bool moved = false;
    while (f->n && f->queue[f->head].done) {
        if (f->queue[f->head].refused && !s_keep_refused(f, &f->queue[f->head]))
            break;
        f->acked = f->queue[f->head].seq; /* the loop drops it from the outbox */
        free(f->queue[f->head].data);
        f->queue[f->head] = (s_out){0};
        f->head = (f->head + 1) % S_QUEUE_MAX;
        f->n--;
        f->sent = f->sent ? f->sent - 1 : 0;
        moved = true;
    }
    if (moved) {
        pthread_mutex_unlock(&f->mu);
        s_wake(f);
        pthread_mutex_lock(&f->mu);
    }
}

/* A record done for good: acknowledged, or refused (counted, logged). */
static void s_settle(gx_fed *f, s_out *o, bool ok, const char *why, char *last, size_t cap)
{
    if (o->done)
        return;
    o->done = true;
    if (ok) {
        f->published++;
        if (strncmp(last, "federation: publishing the outbox is held", 41) == 0)
            s_log_change(GX_LOG_NOTICE, last, cap, "federation: publishing the outbox again");
        return;
    }
    o->refused = true;
    f->rejected++;
    gx_log(GX_LOG_WARNING,
           "federation: NATS refused outbox record %llu (%zu bytes) for good (%s); dropped from the "
           "outbox, the next is published (a posting's is followed by a smaller substitute that closes "
           "it in the other cities)",
           (unsigned long long)o->seq, o->len, why);
}

/* Reads a JetStream PubAck (or its error) in reply m, whose subject names the
 * round and the record's sequence: settles the record, or fails the round
 * (mutex held). */
static void s_pub_reply(gx_fed *f, natsMsg *m, char *last, size_t cap)
{
    const char *reply = natsMsg_GetSubject(m);
    unsigned long long round = 0, seq = 0;
    const char *tail = strstr(reply, ".pa."); /* .pa.<the subscription's own tag>.<round>.<seq> */
    if (!tail || sscanf(tail, ".pa.%*[0-9a-f].%llu.%llu", &round, &seq) != 2)
        return;
    s_out *o = NULL;
    for (size_t i = 0; i < f->n && !o && s_at(f, i)->seq <= seq; i++)
        if (s_at(f, i)->seq == seq)
            o = s_at(f, i);
    if (!o || o->done)
        return; /* already settled (a late or repeated answer) */
    int len = natsMsg_GetDataLength(m);
    char body[512];
    snprintf(body, sizeof body, "%.*s", len < (int)sizeof body - 1 ? len : (int)sizeof body - 1,
             natsMsg_GetData(m) ? natsMsg_GetData(m) : "");
    const char *err = strstr(body, "\"error\"");
    if (!err && !natsMsg_IsNoResponders(m) && strstr(body, "\"seq\"")) {
        s_settle(f, o, true, NULL, last, cap); /* stored (or a duplicate of a stored one) */
        return;
    }
    if (round != f->round || !o->sent_at)
        return; /* a failure of an earlier round: its record is being sent again */
    char why[700];
    int jerr = 0;
    const char *code = err ? strstr(err, "\"err_code\"") : NULL;
    if (code && sscanf(code, "\"err_code\":%d", &jerr) != 1)
        jerr = 0;
    if (natsMsg_IsNoResponders(m))
        snprintf(why, sizeof why, "no responders: the stream %s has no leader yet", f->stream);
    else if (err) {
        const char *d = strstr(err, "\"description\"");
        snprintf(why, sizeof why, "JetStream error %d: %.400s", jerr, d ? d : err);
    } else
        snprintf(why, sizeof why, "an unreadable PubAck");
    if (s_permanent(NATS_OK, (jsErrCode)jerr))
        s_settle(f, o, false, why, last, cap);
    else
        s_round_failed(f, o->seq, why, last, cap);
}

/* Sends the record o (a copy of the slot, the mutex released) with its
 * message id and the reply subject: the acks inbox box, round and sequence. */
static natsStatus s_pub_send(gx_fed *f, const s_out *o, uint64_t round, const char *box)
{
    char msgid[64], reply[128];
    snprintf(msgid, sizeof msgid, "%u-%016llx-%llu", f->city, (unsigned long long)f->epoch,
             (unsigned long long)o->seq);
    snprintf(reply, sizeof reply, "%s.%llu.%llu", box, (unsigned long long)round, (unsigned long long)o->seq);
    natsMsg *m = NULL;
    natsStatus s = natsMsg_Create(&m, f->subject, reply, o->data, (int)o->len);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Nats-Msg-Id", msgid);
    if (s == NATS_OK)
        s = natsConnection_PublishMsg(f->nc, m);
    natsMsg_Destroy(m);
    return s;
}

/* Drops the PubAck subscription (mutex held, released while dropping):
 * s_publisher makes it again, on a subject of its own. */
static void s_acks_drop(gx_fed *f, natsSubscription **acks)
{
    if (!*acks)
        return;
    pthread_mutex_unlock(&f->mu);
    natsSubscription_Destroy(*acks);
    pthread_mutex_lock(&f->mu);
    *acks = NULL;
}

/* The publisher keeps up to S_PUB_WINDOW records in flight on the one
 * connection; see federation.h for why the stream still gets them in outbox
 * order. PubAcks come to this thread's own synchronous subscription, read
 * here (no libnats callback holds f).
 *
 * Each subscription has a subject of its own, _INBOX_<city>.pa.<random>: with
 * a fixed one, nats-server 2.9.10 after a configuration reload kept the
 * subscription of the new connection to itself — the cluster's routes carried
 * every other subscription of that connection, and not this one, whose
 * subject a connection the reload closed had held — so the PubAcks of a
 * stream led from another server never came, and the outbox was held until a
 * restart. A round that times out while connected makes it anew as well. */
static void *s_publisher(void *arg)
{
    gx_fed *f = arg;
    char last[1400] = "";
    char box[64] = ""; /* the PubAck subscription's subject, without its .> */
    natsSubscription *acks = NULL;
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        if (f->rebuild) {
            /* the connection is being made anew: let go of it; every record
             * not acknowledged goes again on the new one */
            s_acks_drop(f, &acks);
            f->round++;
            f->sent = 0;
            for (size_t i = 0; i < f->n; i++)
                s_at(f, i)->sent_at = 0;
            f->parked = true;
            pthread_cond_broadcast(&f->cv);
            while (f->rebuild && !f->stop)
                s_timed_wait(f, 500);
            f->parked = false;
            continue;
        }
        if (!f->ready || (!f->n && !acks)) {
            s_timed_wait(f, 500);
            continue;
        }
        if (!acks) {
            char subj[80];
            snprintf(box, sizeof box, "_INBOX_%u.pa.%016llx", f->city, (unsigned long long)s_random());
            snprintf(subj, sizeof subj, "%s.>", box);
            pthread_mutex_unlock(&f->mu);
            natsStatus s = natsConnection_SubscribeSync(&acks, f->nc, subj);
            pthread_mutex_lock(&f->mu);
            if (s != NATS_OK) {
                acks = NULL;
                s_timed_wait(f, 250);
            }
            continue;
        }
        int64_t now = s_now_ms();
        bool up = atomic_load(&f->up);
        /* send: from the first record not sent in this round, up to the window */
        if (up && f->sent < f->n && f->sent < S_PUB_WINDOW && now >= f->retry_at) {
            s_out *slot = s_at(f, f->sent);
            if (slot->done) {
                f->sent++;
                continue;
            }
            s_out o = *slot;
            uint64_t round = f->round;
            pthread_mutex_unlock(&f->mu);
            natsStatus s = s_pub_send(f, &o, round, box);
            char why[1024] = "";
            if (s != NATS_OK)
                s_pub_reason(f, s, 0, why, sizeof why);
            pthread_mutex_lock(&f->mu);
            if (round != f->round)
                continue; /* the round failed meanwhile: this one goes again */
            slot = s_at(f, f->sent);
            if (s == NATS_OK) {
                slot->sent_at = now;
                f->sent++;
            } else if (s_permanent(s, 0)) {
                s_settle(f, slot, false, why, last, sizeof last);
                f->sent++;
                s_advance(f);
            } else {
                s_round_failed(f, o.seq, why, last, sizeof last);
            }
            continue;
        }
        /* the first record sent in this round and not answered (the oldest) */
        s_out *oldest = NULL;
        for (size_t i = 0; i < f->sent && !oldest; i++)
            if (!s_at(f, i)->done && s_at(f, i)->sent_at)
                oldest = s_at(f, i);
        if (oldest && (!up || now - oldest->sent_at > S_PUB_WAIT_MS)) {
            /* no answer, or the connection went down under it (an answer may
             * be lost): the round fails, everything unacknowledged goes again */
            char why[1024];
            uint64_t seq = oldest->seq, round = f->round;
            if (up) {
                pthread_mutex_unlock(&f->mu);
                s_pub_reason(f, NATS_TIMEOUT, 0, why, sizeof why);
                pthread_mutex_lock(&f->mu);
                if (round != f->round)
                    continue; /* failed meanwhile */
            } else
                snprintf(why, sizeof why, "the connection to NATS is down");
            s_round_failed(f, seq, why, last, sizeof last);
            if (up)
                s_acks_drop(f, &acks); /* its interest may not have reached the stream's leader */
            continue;
        }
        bool waiting = oldest != NULL; /* records sent, not yet answered */
        if (!waiting && (f->sent >= f->n || !up || now < f->retry_at)) {
            /* nothing in flight: wait for the loop's next record (or the pause) */
            s_timed_wait(f, now < f->retry_at ? (int)(f->retry_at - now) : up ? 500 : 250);
            continue;
        }
        pthread_mutex_unlock(&f->mu);
        natsMsg *m = NULL;
        natsStatus s = natsSubscription_NextMsg(&m, acks, waiting ? 20 : 1);
        pthread_mutex_lock(&f->mu);
        if (s == NATS_OK && m) {
            s_pub_reply(f, m, last, sizeof last);
            natsMsg_Destroy(m);
            s_advance(f);
        } else if (s != NATS_OK && s != NATS_TIMEOUT) {
            /* the subscription is gone (the connection closed): make it again */
            s_acks_drop(f, &acks);
            s_timed_wait(f, 250);
        }
    }
    pthread_mutex_unlock(&f->mu);
    if (acks) {
        natsSubscription_Unsubscribe(acks);
        natsSubscription_Destroy(acks);
    }
    return NULL;
}

/* ---------------------------------------------------------------- the link */

/* One attempt at the next step of setting the link up: connect, the
 * JetStream context, the stream (found or created), the consumer made afresh
 * from f->start. What is done stays done; on failure *why says what holds it
 * (a sentence for the log, the same while the cause is the same). Subscriber
 * thread, without the mutex. */
static gx_err s_password(const char *path, char *out, size_t cap, char *err, size_t errlen);

static bool s_setup(gx_fed *f, char *why, size_t cap)
{
    natsStatus s;
    jsErrCode jerr = 0;
    const char *last = NULL;
    if (!f->nc) {
        if (f->pwfile[0]) { /* the operator may have changed it since */
            char pw[256], err[512];
            if (s_password(f->pwfile, pw, sizeof pw, err, sizeof err) != GX_OK) {
                snprintf(why, cap, "federation: %s; retrying", err);
                return false;
            }
            s = natsOptions_SetUserInfo(f->opts, f->user, pw);
            memset(pw, 0, sizeof pw);
            if (s != NATS_OK) {
                snprintf(why, cap, "federation: bad connection options (%s); retrying",
                         natsStatus_GetText(s));
                return false;
            }
        }
        natsConnection *nc = NULL;
        if ((s = natsConnection_Connect(&nc, f->opts)) != NATS_OK) {
            last = nats_GetLastError(NULL);
            if (s == NATS_CONNECTION_AUTH_FAILED || (last && strcasestr(last, "authorization")))
                snprintf(
                    why, cap,
                    "federation: NATS refused user %s: authorization violation (a wrong user or password: "
                    "see federation_user, federation_password_file and the servers' users); retrying",
                    f->user[0] ? f->user : "(none)");
            else
                snprintf(why, cap,
                         "federation: no nats-server reachable at %s (%s); retrying, serving this city's "
                         "firms meanwhile",
                         f->urls, natsStatus_GetText(s));
            return false;
        }
        pthread_mutex_lock(&f->mu);
        f->nc = nc;
        pthread_mutex_unlock(&f->mu);
    }
    /* each step below may wait its whole timeout (5 s): a stop between them ends
     * the set-up at once (gx_fed_destroy waits for this thread) */
    if (atomic_load(&f->stop))
        return false;
    if (!f->js) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Wait = 5000;
        if ((s = natsConnection_JetStream(&f->js, f->nc, &jo)) != NATS_OK) {
            snprintf(why, cap, "federation: no JetStream context (%s); retrying", natsStatus_GetText(s));
            return false;
        }
    }
    if (atomic_load(&f->stop))
        return false;
    if (!f->stream_ok) {
        /* a cluster that has just started answers nothing or "unavailable"
         * until it has elected its JetStream leader; another city may create
         * the stream at the same moment */
        jsStreamInfo *si = NULL;
        s = js_GetStreamInfo(&si, f->js, f->stream, NULL, &jerr);
        jsStreamInfo_Destroy(si);
        si = NULL;
        if (s == NATS_NOT_FOUND && !atomic_load(&f->stop)) {
            jsStreamConfig sc;
            jsStreamConfig_Init(&sc);
            const char *subjects[] = {"gx.>"};
            sc.Name = f->stream;
            sc.Subjects = subjects;
            sc.SubjectsLen = 1;
            sc.Storage = js_FileStorage;
            sc.Replicas = f->replicas;
            sc.Duplicates = S_DUP_WINDOW_NS;
            jerr = 0;
            s = js_AddStream(&si, f->js, &sc, NULL, &jerr);
            jsStreamInfo_Destroy(si);
            if (s == NATS_OK)
                gx_log(GX_LOG_NOTICE, "federation: created stream %s (gx.>, file storage, %lld replicas)",
                       f->stream, (long long)f->replicas);
        }
        if (s != NATS_OK) {
            last = nats_GetLastError(NULL);
            snprintf(why, cap,
                     "federation: the stream %s is not available yet (%s%s%s, JetStream error %d); retrying",
                     f->stream, natsStatus_GetText(s), last && *last ? ": " : "", last && *last ? last : "",
                     (int)jerr);
            return false;
        }
        f->stream_ok = true;
    }
    if (!f->sub) {
        /* JetStream would deliver first what it holds unacknowledged past
         * AckWait, after newer messages; a consumer made afresh at the sequence
         * the store applied last + 1 delivers in order from exactly there.
         * Nothing is applied before this, so f->start is still that sequence. */
        if (atomic_load(&f->stop))
            return false;
        if (!f->consumer_gone) {
            jerr = 0;
            s = js_DeleteConsumer(f->js, f->stream, f->durable, NULL, &jerr);
            if (s != NATS_OK && s != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr) {
                snprintf(why, cap,
                         "federation: cannot delete the old consumer %s (%s, JetStream error %d); retrying",
                         f->durable, natsStatus_GetText(s), (int)jerr);
                return false;
            }
            f->consumer_gone = true;
        }
        if (atomic_load(&f->stop))
            return false;
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = f->stream;
        so.ManualAck = true;
        so.Config.Durable = f->durable;
        so.Config.AckPolicy = js_AckExplicit;
        so.Config.DeliverPolicy = js_DeliverByStartSequence;
        so.Config.OptStartSeq = f->start;
        so.Config.AckWait = 30LL * 1000000000LL;
        so.Config.MaxAckPending = 4 * S_FETCH_BATCH;
        jerr = 0;
        /* gx.>, the stream's own subjects: every stream sequence reaches the loop */
        natsSubscription *sub = NULL;
        if ((s = js_PullSubscribe(&sub, f->js, "gx.>", f->durable, NULL, &so, &jerr)) != NATS_OK) {
            snprintf(why, cap, "federation: cannot make the consumer %s (%s, JetStream error %d); retrying",
                     f->durable, natsStatus_GetText(s), (int)jerr);
            return false;
        }
        f->sub = sub;
    }
    return true;
}

/* The connected server's URL, without a password, for the log (asks
 * libnats: never with f->mu held). */
static void s_server_url(gx_fed *f, char *out, size_t cap)
{
    char url[256] = "";
    natsConnection_GetConnectedUrl(f->nc, url, sizeof url);
    gx_config_redact_urls(url, out, cap);
}

/* How many times libnats reconnected the current connection by itself (0 when
 * not connected, or not known). Subscriber thread, without the mutex. */
static uint64_t s_reconnects(gx_fed *f)
{
    uint64_t n = 0;
    if (f->nc && f->stats && natsConnection_GetStats(f->nc, f->stats) == NATS_OK)
        natsStatistics_GetCounts(f->stats, NULL, NULL, NULL, NULL, &n);
    return n;
}

static bool s_teardown(gx_fed *f);

/* Sets the link up, retrying with backoff (each attempt bounded by the
 * connect and JetStream timeouts, the attempts unbounded) until it is up or
 * stop; logs once per change of what holds it. A connection libnats closes
 * for good, or reconnects by itself, meanwhile is torn down and made anew.
 * Once up, a publisher parked for a rebuild goes on. Subscriber thread, with the mutex held (released
 * while trying). */
static void s_link_up(gx_fed *f, char *last, size_t cap)
{
    int backoff = 250;
    while (!f->stop) {
        pthread_mutex_unlock(&f->mu);
        char why[2048] = "";
        bool up = s_setup(f, why, sizeof why);
        pthread_mutex_lock(&f->mu);
        if (up) {
            char url[256];
            pthread_mutex_unlock(&f->mu);
            s_server_url(f, url, sizeof url);
            pthread_mutex_lock(&f->mu);
            gx_log(
                GX_LOG_NOTICE,
                "federation: city %u connected to %s (stream %s, consumer %s from sequence %llu, message ids "
                "%u-%016llx-<outbox sequence>)",
                f->city, url, f->stream, f->durable, (unsigned long long)f->start, f->city,
                (unsigned long long)f->epoch);
            snprintf(last, cap, "up");
            atomic_store(&f->up, true);
            atomic_store(&f->ready, true);
            f->rebuild = false;
            pthread_cond_broadcast(&f->cv);
            return;
        }
        s_log_change(GX_LOG_WARNING, last, cap, why);
        pthread_mutex_unlock(&f->mu);
        /* only this thread sets f->nc */
        bool closed = f->nc && s_status(f) == NATS_CONN_STATUS_CLOSED;
        bool again = !closed && s_reconnects(f) > 0;
        pthread_mutex_lock(&f->mu);
        if (closed || again) {
            /* closed, or reconnected by libnats (s_rebuild says why that is
             * no good), between two steps of the set-up: every later step
             * would fail on it for ever; connect again after the backoff (a
             * server that closes each new connection is not hammered, nor the
             * log) */
            char text[200];
            snprintf(text, sizeof text,
                     "federation: city %u: NATS %s the connection while the link was being set up; "
                     "connecting again",
                     f->city, closed ? "closed" : "reconnected");
            s_log_change(GX_LOG_WARNING, last, cap, text);
            if (!s_teardown(f))
                return;
        }
        s_timed_wait(f, backoff);
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
}

/* ---------------------------------------------------------------- subscriber */

static int s_by_seq(const void *a, const void *b)
{
    uint64_t x = ((const gx_fed_in *)a)->seq, y = ((const gx_fed_in *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Builds the loop's view of the fetched batch, in stream order (redeliveries
 * may come out of it); messages without JetStream metadata cannot be placed in
 * the stream and are acknowledged away. */
static void s_view(gx_fed *f)
{
    f->n_in = 0;
    for (int i = 0; i < f->batch.Count; i++) {
        natsMsg *m = f->batch.Msgs[i];
        jsMsgMetaData *md = NULL;
        if (natsMsg_GetMetaData(&md, m) != NATS_OK) {
            gx_log(GX_LOG_WARNING, "federation: a message without JetStream metadata on %s, dropped",
                   natsMsg_GetSubject(m));
            continue;
        }
        f->in[f->n_in++] = (gx_fed_in){.seq = md->Sequence.Stream,
                                       .subj = natsMsg_GetSubject(m),
                                       .data = natsMsg_GetData(m),
                                       .len = (size_t)natsMsg_GetDataLength(m),
                                       .at = i};
        jsMsgMetaData_Destroy(md);
    }
    qsort(f->in, f->n_in, sizeof *f->in, s_by_seq);
}

/* Messages beyond a gap have waited S_GAP_MS and the missing one has not come:
 * JetStream counts it delivered (into a fetch the client had given up on, say)
 * and would send it again only after the consumer's AckWait (30 s), after newer
 * ones. The consumer is deleted and made again to deliver from the sequence
 * after the one the loop committed last, as at start: in order from exactly
 * there. (A short AckWait instead would send again, out of order, what the loop
 * is still applying in a slow batch: more gaps, not fewer.) Subscriber thread,
 * mutex held (released while making it). */
static void s_consumer_again(gx_fed *f, char *last, size_t cap)
{
    gx_log(GX_LOG_NOTICE,
           "federation: stream %s sequence %llu has not come for %d ms while later ones did; making the "
           "consumer %s again from it",
           f->stream, (unsigned long long)f->applied + 1, f->gap_wait, f->durable);
    /* a gap making the consumer again does not mend (a sequence the stream
     * no longer holds, say) is tried again less and less often, up to 30 s */
    f->gap_wait =
        f->again_at == f->applied + 1 ? (f->gap_wait * 2 > 30000 ? 30000 : f->gap_wait * 2) : S_GAP_MS;
    f->again_at = f->applied + 1;
    natsSubscription *sub = f->sub;
    f->sub = NULL;
    f->consumer_gone = false;
    f->start = f->applied + 1;
    f->gap_since = 0;
    atomic_store(&f->ready, false);
    pthread_mutex_unlock(&f->mu);
    natsSubscription_Destroy(sub);
    pthread_mutex_lock(&f->mu);
    s_link_up(f, last, cap);
}

/* A fetch came back empty: asks the consumer the last stream sequence it
 * delivered. Beyond the one the loop committed, with nothing in the loop's
 * hands, a delivery never reached us (the last one sent, so no later one shows
 * the gap): the gap clock starts as for messages beyond a gap. At most once a
 * second (its return: when to ask next). Subscriber thread, mutex held
 * (released while asking). */
static int64_t s_lost_check(gx_fed *f)
{
    natsSubscription *sub = f->sub;
    pthread_mutex_unlock(&f->mu);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 2000;
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = natsSubscription_GetConsumerInfo(&ci, sub, &jo, &jerr);
    uint64_t delivered = s == NATS_OK && ci ? ci->Delivered.Stream : 0;
    jsConsumerInfo_Destroy(ci);
    pthread_mutex_lock(&f->mu);
    if (s == NATS_OK && !f->handed) {
        if (delivered <= f->applied)
            f->gap_since = 0;
        else if (!f->gap_since)
            f->gap_since = s_now_ms();
    }
    return s_now_ms() + S_GAP_MS;
}

/* The loop is done with the batch it held (f->done 1): the sequences it
 * committed move f->applied and, when ack, are acknowledged; the rest are
 * left to come again. Mutex held (released while acknowledging). */
static void s_batch_finish(gx_fed *f, bool ack)
{
    natsMsgList list = f->batch;
    bool keep[S_FETCH_BATCH] = {false}; /* left unacknowledged: it comes again */
    bool early = false;
    uint64_t was = f->applied;
    for (size_t i = 0; i < f->n_in; i++) {
        keep[f->in[i].at] = !f->in[i].ack;
        early |= !f->in[i].ack;
        /* what the loop committed: every sequence up to the highest it
         * acknowledges (it applies only at applied + 1) */
        if (f->in[i].ack && f->in[i].seq > f->applied)
            f->applied = f->in[i].seq;
    }
    if (!early)
        f->gap_since = 0;
    else if (!f->gap_since || f->applied != was)
        f->gap_since = s_now_ms();
    f->batch = (natsMsgList){0};
    f->handed = false;
    f->n_in = 0;
    pthread_mutex_unlock(&f->mu);
    for (int i = 0; ack && i < list.Count; i++)
        if (!keep[i])
            natsMsg_Ack(list.Msgs[i], NULL); /* a lost ack: redelivered, then skipped by sequence */
    natsMsgList_Destroy(&list);
    pthread_mutex_lock(&f->mu);
}

/* Tears the link down once the publisher has let go of it (parked, until
 * s_link_up is done) and the loop of the batch it holds: the subscription,
 * JetStream context and connection; the next set-up connects anew (reading the
 * password file again) and makes the consumer from the sequence after the one
 * the loop committed last. False on stop. Subscriber thread, mutex held
 * (released while tearing down). */
static bool s_teardown(gx_fed *f)
{
    atomic_store(&f->ready, false);
    atomic_store(&f->up, false);
    f->rebuild = true;
    pthread_cond_broadcast(&f->cv);
    while (!f->parked && !f->stop)
        s_timed_wait(f, 500);
    /* its messages belong to the subscription about to go: what the loop
     * committed counts, nothing is acknowledged (the new consumer starts after
     * it), what it did not commit comes again */
    while (f->handed && f->done == 0 && !f->stop)
        s_timed_wait(f, 500);
    if (f->stop)
        return false;
    if (f->handed) {
        for (size_t i = 0; f->done < 0 && i < f->n_in; i++)
            f->in[i].ack = false;
        s_batch_finish(f, false);
    }
    natsSubscription *sub = f->sub;
    jsCtx *js = f->js;
    natsConnection *nc = f->nc;
    f->sub = NULL;
    f->js = NULL;
    f->nc = NULL;
    f->stream_ok = false;
    f->consumer_gone = false;
    f->start = f->applied + 1;
    f->gap_since = 0;
    pthread_mutex_unlock(&f->mu);
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    pthread_mutex_lock(&f->mu);
    return true;
}

/* The link is torn down and set up again, on a new connection whose every
 * subscription has a subject of its own: when libnats closed the connection
 * for good (it gives up reconnecting when a server refuses the same
 * authorization twice, after a reload with a broken users block, say), and
 * when it reconnected by itself. A reconnected connection subscribes again
 * on the same subjects, and nats-server 2.9.10, after a configuration reload
 * closed the connection, did not carry those to the rest of the cluster: the
 * fetches from a consumer led from another server got nothing (40 s and
 * more, as long as we watched), with nothing logged (integration.federation_link
 * test_m). Subscriber thread, mutex held (released while tearing down). */
static void s_rebuild(gx_fed *f, char *last, size_t cap, bool closed, const char *url)
{
    if (closed)
        gx_log(
            GX_LOG_WARNING,
            "federation: city %u: NATS closed the connection for good (libnats gave up reconnecting); "
            "setting the link up again (changes wait in the outbox, this city's firms are served meanwhile)",
            f->city);
    else
        gx_log(
            GX_LOG_NOTICE,
            "federation: city %u: libnats reconnected to %s; setting the link up again on a new connection "
            "(new subscriptions, the consumer made again from the sequence after the last applied)",
            f->city, url);
    if (!s_teardown(f))
        return;
    last[0] = 0;
    s_link_up(f, last, cap);
}

static void *s_subscriber(void *arg)
{
    gx_fed *f = arg;
    char last[2048] = ""; /* what was logged last about the link's state */
    int64_t check_at = 0; /* when to ask the consumer what it delivered next */
    pthread_mutex_lock(&f->mu);
    s_link_up(f, last, sizeof last);
    bool was_connected = true;
    while (!f->stop) {
        /* libnats reconnects by itself (to any of the servers, for ever):
         * say once that the link is down; once it is back, set it up again */
        pthread_mutex_unlock(&f->mu);
        natsConnStatus st = s_status(f); /* may wait for a reconnect attempt: without f->mu */
        bool now_connected = st == NATS_CONN_STATUS_CONNECTED;
        uint64_t reconnects = now_connected ? s_reconnects(f) : 0;
        long long max = now_connected && f->nc ? (long long)natsConnection_GetMaxPayload(f->nc) : 0;
        atomic_store(&f->up, now_connected);
        atomic_store(&f->max_payload, max);
        if (max)
            atomic_store(&f->max_seen, max);
        char url[256] = "";
        if (now_connected && (!was_connected || reconnects))
            s_server_url(f, url, sizeof url);
        pthread_mutex_lock(&f->mu);
        if ((st == NATS_CONN_STATUS_CLOSED || reconnects) && !f->stop) {
            /* a new connection counts its reconnects from 0 */
            s_rebuild(f, last, sizeof last, st == NATS_CONN_STATUS_CLOSED, url);
            was_connected = true;
            continue;
        }
        if (now_connected != was_connected) {
            was_connected = now_connected;
            if (!now_connected)
                gx_log(GX_LOG_WARNING,
                       "federation: city %u lost its connection to NATS; reconnecting (changes "
                       "wait in the outbox, this city's firms are served meanwhile)",
                       f->city);
        }
        if (f->handed) {
            if (f->done == 0) {
                s_timed_wait(f, 500);
                continue;
            }
            if (f->done < 0) {
                /* not committed: hand the same batch again, a little later */
                f->done = 0;
                for (size_t i = 0; i < f->n_in; i++)
                    f->in[i].ack = false;
                pthread_mutex_unlock(&f->mu);
                s_sleep_ms(500);
                s_wake(f);
                pthread_mutex_lock(&f->mu);
                continue;
            }
            s_batch_finish(f, true);
            continue;
        }
        if (f->gap_since && s_now_ms() - f->gap_since >= f->gap_wait) {
            s_consumer_again(f, last, sizeof last);
            continue;
        }
        pthread_mutex_unlock(&f->mu);
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        natsStatus s = natsSubscription_Fetch(&list, f->sub, S_FETCH_BATCH, S_FETCH_WAIT_MS, &jerr);
        pthread_mutex_lock(&f->mu);
        if (s == NATS_OK && list.Count > 0) {
            s_log_change(GX_LOG_NOTICE, last, sizeof last,
                         strcmp(last, "up") ? "federation: fetching from the stream again" : "up");
            snprintf(last, sizeof last, "up");
            f->batch = list;
            s_view(f);
            f->handed = true;
            f->done = 0;
            pthread_mutex_unlock(&f->mu);
            s_wake(f);
            pthread_mutex_lock(&f->mu);
            continue;
        }
        natsMsgList_Destroy(&list);
        if (s == NATS_TIMEOUT && s_now_ms() >= check_at)
            check_at = s_lost_check(f);
        if (s != NATS_OK && s != NATS_TIMEOUT) {
            char text[300];
            snprintf(text, sizeof text,
                     "federation: fetching from %s failed (%s, JetStream error %d); retrying", f->stream,
                     natsStatus_GetText(s), (int)jerr);
            s_log_change(GX_LOG_WARNING, last, sizeof last, text);
            s_timed_wait(f, 250);
        }
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* ---------------------------------------------------------------- setup */

static gx_err s_fail(char *err, size_t errlen, const char *what, natsStatus s, jsErrCode jerr)
{
    const char *last = nats_GetLastError(NULL);
    snprintf(err, errlen, "federation: %s: %s%s%s (JetStream error %d)", what, natsStatus_GetText(s),
             last && *last ? ": " : "", last && *last ? last : "", (int)jerr);
    return GX_ERR_IO;
}

/* Reads the password (first line) of path into out, refusing a file its group
 * or others may read, like ssh with a private key. */
static gx_err s_password(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
    out[0] = 0;
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "federation_password_file: cannot read %s: %s", path, strerror(errno));
        return GX_ERR_CONFIG;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "federation_password_file: %s is not a regular file", path);
        fclose(fp);
        return GX_ERR_CONFIG;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(
            err, errlen,
            "federation_password_file: %s is open to its group or others (mode %04o); it holds this city's "
            "NATS password: chmod 600 %s",
            path, (unsigned)(st.st_mode & 07777), path);
        fclose(fp);
        return GX_ERR_CONFIG;
    }
    if (!fgets(out, (int)cap, fp))
        out[0] = 0;
    fclose(fp);
    out[strcspn(out, "\r\n")] = 0;
    if (!out[0]) {
        snprintf(err, errlen, "federation_password_file: %s holds no password", path);
        return GX_ERR_CONFIG;
    }
    return GX_OK;
}

gx_err gx_fed_password_check(const char *path, char *err, size_t errlen)
{
    char pw[256];
    gx_err e = s_password(path, pw, sizeof pw, err, errlen);
    memset(pw, 0, sizeof pw);
    return e;
}

gx_err gx_fed_new(const gx_config *cfg, uint64_t start, gx_fed **out, char *err, size_t errlen)
{
    *out = NULL;
    gx_fed *f = calloc(1, sizeof *f);
    if (!f)
        return GX_ERR_NOMEM;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->efd = -1;
    f->city = (unsigned)cfg->federation_city;
    f->replicas = cfg->federation_replicas;
    f->start = start ? start : 1;
    f->applied = f->start - 1;
    f->gap_wait = S_GAP_MS;
    f->epoch = s_random();
    snprintf(f->stream, sizeof f->stream, "%s", cfg->federation_stream);
    snprintf(f->subject, sizeof f->subject, "gx.%u.post", f->city);
    snprintf(f->durable, sizeof f->durable, "city-%u", f->city);
    snprintf(f->user, sizeof f->user, "%s", cfg->federation_user);
    snprintf(f->pwfile, sizeof f->pwfile, "%s", cfg->federation_password_file);
    gx_config_redact_urls(cfg->federation_url, f->urls, sizeof f->urls);
    natsStatus s;
    gx_err e = GX_OK;
    char urls[GX_CONFIG_STR_MAX], pw[256] = "";
    const char *servers[S_SERVERS_MAX];
    int n = 0;
    snprintf(urls, sizeof urls, "%s", cfg->federation_url);
    for (char *save = NULL, *tok = strtok_r(urls, ", ", &save); tok && n < S_SERVERS_MAX;
         tok = strtok_r(NULL, ", ", &save))
        servers[n++] = tok;
    if (cfg->federation_password_file[0] &&
        (e = s_password(cfg->federation_password_file, pw, sizeof pw, err, errlen)))
        goto fail;
    if ((f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        snprintf(err, errlen, "federation: eventfd: %s", strerror(errno));
        e = GX_ERR_IO;
        goto fail;
    }
    if (!(f->in = calloc(S_FETCH_BATCH, sizeof *f->in)) || natsStatistics_Create(&f->stats) != NATS_OK) {
        e = GX_ERR_NOMEM;
        goto fail;
    }
    char name[48], inbox[32];
    snprintf(name, sizeof name, "gongxud-%u", f->city);
    /* replies (PubAcks, fetched messages) come to this city's own inboxes,
     * which the servers let only this city's user subscribe to */
    snprintf(inbox, sizeof inbox, "_INBOX_%u", f->city);
    if ((s = natsOptions_Create(&f->opts)) || (s = natsOptions_SetServers(f->opts, servers, n)) ||
        (s = natsOptions_SetName(f->opts, name)) || (s = natsOptions_SetMaxReconnect(f->opts, -1)) ||
        (s = natsOptions_SetReconnectWait(f->opts, 250)) || (s = natsOptions_SetTimeout(f->opts, 2000)) ||
        (s = natsOptions_SetCustomInboxPrefix(f->opts, inbox)) ||
        (cfg->federation_user[0] && (s = natsOptions_SetUserInfo(f->opts, cfg->federation_user, pw)))) {
        e = s_fail(err, errlen, "bad connection options", s, 0);
        goto fail;
    }
    memset(pw, 0, sizeof pw);
    /* connecting, the stream and the consumer are the subscriber thread's: a
     * city whose nats-servers are down serves its own firms meanwhile */
    if (pthread_create(&f->pub_thread, NULL, s_publisher, f) == 0)
        f->pub_started = true;
    if (pthread_create(&f->sub_thread, NULL, s_subscriber, f) == 0)
        f->sub_started = true;
    if (!f->pub_started || !f->sub_started) {
        snprintf(err, errlen, "federation: cannot start its threads");
        e = GX_ERR_NOMEM;
        goto fail;
    }
    *out = f;
    return GX_OK;
fail:
    memset(pw, 0, sizeof pw);
    gx_fed_destroy(&f);
    return e;
}

int gx_fed_fd(const gx_fed *f)
{
    return f->efd;
}

void gx_fed_clear(gx_fed *f)
{
    uint64_t v;
    ssize_t r = read(f->efd, &v, sizeof v);
    (void)r;
}

size_t gx_fed_room(const gx_fed *f)
{
    gx_fed *m = (gx_fed *)f;
    pthread_mutex_lock(&m->mu);
    size_t room = S_QUEUE_MAX - m->n;
    pthread_mutex_unlock(&m->mu);
    return room;
}

bool gx_fed_offer(gx_fed *f, uint64_t seq, const void *data, size_t len)
{
    void *copy = malloc(len ? len : 1);
    if (!copy)
        return false;
    memcpy(copy, data, len);
    pthread_mutex_lock(&f->mu);
    bool ok = f->n < S_QUEUE_MAX;
    if (ok) {
        f->queue[(f->head + f->n) % S_QUEUE_MAX] = (s_out){.seq = seq, .data = copy, .len = len};
        f->n++;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    if (!ok)
        free(copy);
    return ok;
}

uint64_t gx_fed_acked(gx_fed *f, gx_fed_refused *v, size_t max, size_t *n)
{
    pthread_mutex_lock(&f->mu);
    uint64_t a = f->acked;
    *n = f->n_refused < max ? f->n_refused : max;
    if (*n)
        memcpy(v, f->refused, *n * sizeof *v);
    if (f->n_refused > max)
        a = f->refused[max].seq - 1; /* the rest next time, with what lies beyond them */
    pthread_mutex_unlock(&f->mu);
    return a;
}

void gx_fed_release(gx_fed *f, uint64_t upto)
{
    pthread_mutex_lock(&f->mu);
    size_t k = 0;
    while (k < f->n_refused && f->refused[k].seq <= upto)
        free((void *)f->refused[k++].data);
    if (k) {
        memmove(f->refused, f->refused + k, (f->n_refused - k) * sizeof *f->refused);
        f->n_refused -= k;
    }
    pthread_mutex_unlock(&f->mu);
}

void gx_fed_pub_counts(gx_fed *f, uint64_t *published, uint64_t *failed, uint64_t *rejected)
{
    pthread_mutex_lock(&f->mu);
    *published = f->published;
    *failed = f->pub_failed;
    *rejected = f->rejected;
    pthread_mutex_unlock(&f->mu);
}

size_t gx_fed_max_payload(gx_fed *f)
{
    /* an atomic: the loop never waits for libnats (see struct gx_fed) */
    return atomic_load(&f->ready) ? (size_t)atomic_load(&f->max_payload) : 0;
}

bool gx_fed_connected(gx_fed *f)
{
    /* atomics only: the loop never waits for libnats (see struct gx_fed) */
    return atomic_load(&f->ready) && atomic_load(&f->up);
}

size_t gx_fed_take(gx_fed *f, gx_fed_in **v)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->handed && f->done == 0 ? f->n_in : 0;
    bool empty = f->handed && f->done == 0 && f->n_in == 0;
    *v = f->in;
    pthread_mutex_unlock(&f->mu);
    if (empty)
        gx_fed_done(f, true); /* nothing the loop can apply: acknowledge it away */
    return n;
}

void gx_fed_done(gx_fed *f, bool ok)
{
    pthread_mutex_lock(&f->mu);
    if (f->handed)
        f->done = ok ? 1 : -1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

const char *gx_fed_stream(const gx_fed *f)
{
    return f->stream;
}

void gx_fed_destroy(gx_fed **fp)
{
    gx_fed *f = fp ? *fp : NULL;
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (f->pub_started)
        pthread_join(f->pub_thread, NULL);
    if (f->sub_started)
        pthread_join(f->sub_thread, NULL);
    natsMsgList_Destroy(&f->batch);
    natsSubscription_Destroy(f->sub);
    jsCtx_Destroy(f->js);
    if (f->nc) {
        natsConnection_Close(f->nc);
        natsConnection_Destroy(f->nc);
    }
    for (size_t i = 0; i < f->n; i++)
        free(f->queue[(f->head + i) % S_QUEUE_MAX].data);
    for (size_t i = 0; i < f->n_refused; i++)
        free((void *)f->refused[i].data);
    free(f->refused);
    free(f->in);
    natsOptions_Destroy(f->opts);
    natsStatistics_Destroy(f->stats);
    if (f->efd >= 0)
        close(f->efd);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
    *fp = NULL;
}
