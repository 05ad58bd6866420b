/* federation.c — NATS JetStream between cities (federation.h). */
#include "federation.h"

#include <errno.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define S_QUEUE_MAX 1024  /* outbox records queued for publishing */
#define S_FETCH_BATCH 128 /* messages per fetch */
#define S_FETCH_WAIT_MS 500
#define S_SERVERS_MAX 16
#define S_DUP_WINDOW_NS (120LL * 1000000000LL) /* the stream's duplicate window: 2 minutes */

typedef struct s_out {
    uint64_t seq;
    void *data;
    size_t len;
} s_out;

struct gx_fed {
    unsigned city;
    char stream[64];
    char subject[32]; /* gx.<city>.post */
    char durable[32]; /* city-<city> */
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *sub;
    int efd; /* eventfd the loop polls */

    pthread_mutex_t mu;
    pthread_cond_t cv; /* queue grew, a batch is done, or stop */
    bool stop;
    pthread_t pub_thread, sub_thread;
    bool pub_started, sub_started;

    s_out queue[S_QUEUE_MAX]; /* ring of outbox records to publish */
    size_t head, n;
    uint64_t acked; /* highest sequence JetStream acknowledged */
    uint64_t published, pub_failed;

    natsMsgList batch; /* fetched, waiting for the loop */
    gx_fed_in *in;     /* its view for the loop */
    size_t n_in;
    bool handed; /* the loop holds the batch */
    int done;    /* 0 pending, 1 committed, -1 failed */
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

/* ---------------------------------------------------------------- publisher */

static void *s_publisher(void *arg)
{
    gx_fed *f = arg;
    int64_t last_log = 0;
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        if (!f->n) {
            s_timed_wait(f, 500);
            continue;
        }
        s_out o = f->queue[f->head];
        pthread_mutex_unlock(&f->mu);
        char msgid[48];
        snprintf(msgid, sizeof msgid, "%u-%llu", f->city, (unsigned long long)o.seq);
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MsgId = msgid;
        po.MaxWait = 5000;
        jsPubAck *pa = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_Publish(&pa, f->js, f->subject, o.data, (int)o.len, &po, &jerr);
        jsPubAck_Destroy(pa);
        pthread_mutex_lock(&f->mu);
        if (s == NATS_OK) {
            free(o.data);
            f->head = (f->head + 1) % S_QUEUE_MAX;
            f->n--;
            f->acked = o.seq;
            f->published++;
            pthread_mutex_unlock(&f->mu);
            s_wake(f);
            pthread_mutex_lock(&f->mu);
            continue;
        }
        f->pub_failed++;
        int64_t now = (int64_t)time(NULL);
        if (now - last_log >= 10) {
            last_log = now;
            gx_log(GX_LOG_WARNING,
                   "federation: publishing outbox record %llu failed (%s, JetStream error %d); "
                   "retrying",
                   (unsigned long long)o.seq, natsStatus_GetText(s), (int)jerr);
        }
        s_timed_wait(f, 250);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
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

static void *s_subscriber(void *arg)
{
    gx_fed *f = arg;
    int64_t last_log = 0;
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
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
            natsMsgList list = f->batch;
            bool keep[S_FETCH_BATCH] = {false}; /* left unacknowledged: it comes again */
            for (size_t i = 0; i < f->n_in; i++)
                keep[f->in[i].at] = !f->in[i].ack;
            f->batch = (natsMsgList){0};
            f->handed = false;
            f->n_in = 0;
            pthread_mutex_unlock(&f->mu);
            for (int i = 0; i < list.Count; i++)
                if (!keep[i])
                    natsMsg_Ack(list.Msgs[i], NULL); /* a lost ack: redelivered, then skipped by sequence */
            natsMsgList_Destroy(&list);
            pthread_mutex_lock(&f->mu);
            continue;
        }
        pthread_mutex_unlock(&f->mu);
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        natsStatus s = natsSubscription_Fetch(&list, f->sub, S_FETCH_BATCH, S_FETCH_WAIT_MS, &jerr);
        pthread_mutex_lock(&f->mu);
        if (s == NATS_OK && list.Count > 0) {
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
        if (s != NATS_OK && s != NATS_TIMEOUT) {
            int64_t now = (int64_t)time(NULL);
            if (now - last_log >= 10) {
                last_log = now;
                gx_log(GX_LOG_WARNING,
                       "federation: fetching from %s failed (%s, JetStream error %d); retrying", f->stream,
                       natsStatus_GetText(s), (int)jerr);
            }
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

static gx_err s_password(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "federation_password_file: cannot read %s: %s", path, strerror(errno));
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

/* The stream, created when missing (another city may create it at the same
 * moment). A cluster that has just started answers nothing or "unavailable"
 * until it has elected its JetStream leader: tried for about 30 s. */
static gx_err s_stream(gx_fed *f, int64_t replicas, char *err, size_t errlen)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = NATS_OK;
    const char *what = "cannot read the stream's information";
    for (int attempt = 0; attempt < 60; attempt++) {
        if (attempt)
            s_sleep_ms(500);
        jerr = 0;
        s = js_GetStreamInfo(&si, f->js, f->stream, NULL, &jerr);
        if (s == NATS_OK) {
            jsStreamInfo_Destroy(si);
            return GX_OK;
        }
        if (s != NATS_NOT_FOUND) {
            what = "cannot read the stream's information";
            continue;
        }
        jsStreamConfig sc;
        jsStreamConfig_Init(&sc);
        const char *subjects[] = {"gx.>"};
        sc.Name = f->stream;
        sc.Subjects = subjects;
        sc.SubjectsLen = 1;
        sc.Storage = js_FileStorage;
        sc.Replicas = replicas;
        sc.Duplicates = S_DUP_WINDOW_NS;
        jerr = 0;
        s = js_AddStream(&si, f->js, &sc, NULL, &jerr);
        jsStreamInfo_Destroy(si);
        si = NULL;
        if (s == NATS_OK) {
            gx_log(GX_LOG_NOTICE, "federation: created stream %s (gx.>, file storage, %lld replicas)",
                   f->stream, (long long)replicas);
            return GX_OK;
        }
        what = "cannot create the stream";
        if (jerr == JSInsufficientResourcesErr || jerr == JSStreamReplicasNotSupportedErr)
            break; /* fewer servers than replicas: no waiting mends that */
    }
    return s_fail(err, errlen, what, s, jerr);
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
    snprintf(f->stream, sizeof f->stream, "%s", cfg->federation_stream);
    snprintf(f->subject, sizeof f->subject, "gx.%u.post", f->city);
    snprintf(f->durable, sizeof f->durable, "city-%u", f->city);
    natsOptions *o = NULL;
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
    if (!(f->in = calloc(S_FETCH_BATCH, sizeof *f->in))) {
        e = GX_ERR_NOMEM;
        goto fail;
    }
    char name[48];
    snprintf(name, sizeof name, "gongxud-%u", f->city);
    if ((s = natsOptions_Create(&o)) || (s = natsOptions_SetServers(o, servers, n)) ||
        (s = natsOptions_SetName(o, name)) || (s = natsOptions_SetMaxReconnect(o, -1)) ||
        (s = natsOptions_SetReconnectWait(o, 250)) || (s = natsOptions_SetTimeout(o, 2000)) ||
        (cfg->federation_user[0] && (s = natsOptions_SetUserInfo(o, cfg->federation_user, pw)))) {
        e = s_fail(err, errlen, "bad connection options", s, 0);
        goto fail;
    }
    memset(pw, 0, sizeof pw);
    if ((s = natsConnection_Connect(&f->nc, o))) {
        e = s_fail(err, errlen, "cannot connect to federation_url", s, 0);
        goto fail;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    if ((s = natsConnection_JetStream(&f->js, f->nc, &jo))) {
        e = s_fail(err, errlen, "no JetStream context", s, 0);
        goto fail;
    }
    if ((e = s_stream(f, cfg->federation_replicas, err, errlen)))
        goto fail;
    /* JetStream would deliver first what it holds unacknowledged past AckWait,
     * after newer messages; a consumer made afresh at the sequence the store
     * applied last + 1 delivers in order from exactly there. */
    jsErrCode jerr = 0;
    s = js_DeleteConsumer(f->js, f->stream, f->durable, NULL, &jerr);
    if (s != NATS_OK && s != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr) {
        e = s_fail(err, errlen, "cannot delete the old durable consumer", s, jerr);
        goto fail;
    }
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = f->stream;
    so.ManualAck = true;
    so.Config.Durable = f->durable;
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = start ? start : 1;
    so.Config.AckWait = 30LL * 1000000000LL;
    so.Config.MaxAckPending = 4 * S_FETCH_BATCH;
    jerr = 0;
    /* gx.>, the stream's own subjects: every stream sequence reaches the loop */
    if ((s = js_PullSubscribe(&f->sub, f->js, "gx.>", f->durable, NULL, &so, &jerr))) {
        e = s_fail(err, errlen, "cannot bind the durable consumer", s, jerr);
        goto fail;
    }
    char url[256] = "";
    natsConnection_GetConnectedUrl(f->nc, url, sizeof url);
    gx_log(GX_LOG_NOTICE, "federation: city %u connected to %s (stream %s, consumer %s from sequence %llu)",
           f->city, url, f->stream, f->durable, (unsigned long long)so.Config.OptStartSeq);
    natsOptions_Destroy(o);
    o = NULL;
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
    natsOptions_Destroy(o);
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
        f->queue[(f->head + f->n) % S_QUEUE_MAX] = (s_out){seq, copy, len};
        f->n++;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    if (!ok)
        free(copy);
    return ok;
}

uint64_t gx_fed_acked(gx_fed *f)
{
    pthread_mutex_lock(&f->mu);
    uint64_t a = f->acked;
    pthread_mutex_unlock(&f->mu);
    return a;
}

void gx_fed_pub_counts(gx_fed *f, uint64_t *published, uint64_t *failed)
{
    pthread_mutex_lock(&f->mu);
    *published = f->published;
    *failed = f->pub_failed;
    pthread_mutex_unlock(&f->mu);
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
    free(f->in);
    if (f->efd >= 0)
        close(f->efd);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
    *fp = NULL;
}
