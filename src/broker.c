/* broker.c — lifecycle, rebuild from the store, batches (group commit) and
 * notice delivery. The top of the broker's layers: it owns the context
 * (records.h) and calls down into the request handlers (requests.c), notices
 * (notify.c), operator figures (report.c) and records and the undo journal
 * (records.c); none of them calls back up. What they leave for it in the
 * context (replies, events, touched firms, rebuild_now) it acts on when the
 * call returns. */
#include "broker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "federation.h"
#include "fedapply.h"
#include "feddock.h"
#include "log.h"
#include "notify.h"
#include "records.h"
#include "report.h"
#include "requests.h"
#include "persist.h"

/* ------------------------------------------------------------------ setup */

/* Seconds on the monotonic clock (log.h). */
static double s_mono(void)
{
    return (double)gx_mono_us() / 1e6;
}

/* A change below (gx_records_undo) could not be taken back out of the engine
 * exactly: rebuild it from the batch before the next request reads it. */
static void s_rebuild_if_asked(gx_broker *b)
{
    if (b->rebuild_now && gx_persist_rebuild(b, b->txn) != GX_OK)
        gx_log(GX_LOG_ERR, "rebuilding the engine after a refused request failed; retrying after the commit");
}

static void s_limits(gx_broker *b)
{
    b->limits.max_string = (size_t)b->cfg.max_string_bytes;
    b->limits.max_text = (size_t)b->cfg.max_text_bytes;
    b->limits.max_repeated = (size_t)b->cfg.max_repeated;
    if (b->rates)
        gx_limiter_configure(b->rates, (double)b->cfg.rate_per_firm, (double)b->cfg.rate_burst);
    if (b->handshakes)
        gx_limiter_configure(b->handshakes, (double)b->cfg.handshakes_per_second,
                             (double)b->cfg.handshakes_per_second);
}

gx_err gx_broker_save_snapshot(gx_broker *b)
{
    return gx_persist_save(b);
}

void gx_broker_snapshot_tick(gx_broker *b)
{
    gx_persist_tick(b);
}

int gx_broker_snapshot_wake_ms(const gx_broker *b)
{
    return gx_persist_wake_ms(b);
}

void gx_broker_snapshot_now(gx_broker *b)
{
    gx_persist_request(b);
}

gx_err gx_broker_new(const gx_config *cfg, int64_t now, gx_broker_progress_fn progress, void *arg, gx_broker **out,
                     char *errbuf, size_t errlen)
{
    gx_err err;
    gx_broker *b = calloc(1, sizeof *b);
    if (!b)
        return GX_ERR_NOMEM;
    b->cfg = *cfg;
    if (cfg->federation_url[0])
        b->fed.city = (uint16_t)cfg->federation_city; /* the outbox is written from the first batch on */
    gx_report_init(&b->obs, now * 1000);
    b->now = now;
    s_limits(b);
    char verr[512];
    if ((err = gx_vocab_load(cfg->vocabulary, &b->vocab, verr, sizeof verr))) {
        snprintf(errbuf, errlen, "vocabulary %s: %s", cfg->vocabulary[0] ? cfg->vocabulary : "(embedded)", verr);
        goto out;
    }
    gx_store_opts so = {.dir = cfg->data_dir,
                        .map_size = (size_t)cfg->map_size_mb << 20,
                        .map_max = (size_t)cfg->map_max_mb << 20,
                        .no_sync = cfg->no_sync,
                        .no_change_log = !cfg->engine_snapshot};
    if ((err = gx_store_open(&so, &b->store))) {
        /* a damaged store's message names the file, what is wrong and what to do */
        if (err == GX_ERR_MALFORMED)
            snprintf(errbuf, errlen, "refusing to start: %s", gx_store_last_error(NULL));
        else
            snprintf(errbuf, errlen, "store %s: %s", cfg->data_dir, gx_store_last_error(NULL));
        goto out;
    }
    if (gx_store_id_added(b->store))
        gx_log(GX_LOG_NOTICE, "store %s: wrote its store identity (an older build created it without one)",
               cfg->data_dir);
    if ((err = gx_records_index_owners(b))) {
        snprintf(errbuf, errlen, "store %s: indexing postings by owner: %s (%s)", cfg->data_dir,
                 gx_err_str(err), gx_store_last_error(b->store));
        goto out;
    }
    if ((err = gx_sessions_new((size_t)cfg->sessions_max, &b->sessions)) ||
        (err = gx_limiter_new((size_t)cfg->sessions_max * 2, &b->rates)) || (err = gx_limiter_new(1, &b->handshakes))) {
        snprintf(errbuf, errlen, "sessions: %s", gx_err_str(err));
        goto out;
    }
    s_limits(b);
    if (cfg->operator_keys[0])
        snprintf(b->operator_keys, sizeof b->operator_keys, "%s", cfg->operator_keys);
    else
        snprintf(b->operator_keys, sizeof b->operator_keys, "%s/operator_keys", cfg->data_dir);
    if (!cfg->insecure_dev && !cfg->operator_keys[0]) {
        char keypath[GX_CONFIG_STR_MAX + 32];
        bool created;
        snprintf(keypath, sizeof keypath, "%s/operator.key", cfg->data_dir);
        if ((err = gx_auth_bootstrap_operator(b->operator_keys, keypath, &created, errbuf, errlen)))
            goto out;
        if (created)
            gx_log(GX_LOG_NOTICE, "first start: created the operator key %s (keep it secret) and listed it in %s",
                   keypath, b->operator_keys);
    }
    if ((err = gx_persist_start(b, progress, arg))) {
        snprintf(errbuf, errlen, "rebuilding the engine from %s: %s", cfg->data_dir, gx_err_str(err));
        goto out;
    }
    gx_engine_stats st;
    gx_engine_stats_get(b->engine, &st);
    gx_log(GX_LOG_INFO, "loaded %llu firms, %llu open demands, %llu open offers, %llu subscriptions, %llu matches",
           (unsigned long long)st.firms, (unsigned long long)st.demands_open, (unsigned long long)st.offers_open,
           (unsigned long long)st.subs, (unsigned long long)st.matches);
    size_t expired = gx_broker_expire(b, now, NULL);
    if (expired)
        gx_log(GX_LOG_INFO, "%zu postings expired while the broker was down", expired);
out:
    if (err)
        gx_broker_destroy(&b);
    *out = b;
    return err;
}

static void s_clear_batch(gx_broker *b)
{
    for (size_t i = 0; i < b->n_replies; i++)
        gx_buf_fini(&b->replies[i].payload);
    gx_records_events_truncate(b, 0);
    b->n_replies = b->n_touched = 0;
    b->n_undo = b->undo_mark = 0;
    b->undo_lost = false;
}

void gx_broker_destroy(gx_broker **pb)
{
    gx_broker *b = *pb;
    if (!b)
        return;
    gx_fed_destroy(&b->fed.fed); /* its threads stop before the store goes */
    gx_persist_fini(b);
    gx_store_abort(&b->child);
    gx_store_abort(&b->txn);
    s_clear_batch(b);
    free(b->replies);
    free(b->events);
    free(b->touched);
    free(b->undo);
    gx_stats_table_fini(&b->obs.last30);
    free(b->obs.snapshot);
    gx_fxv_fini(&b->fx);
    gx_engine_destroy(&b->engine);
    gx_sessions_destroy(&b->sessions);
    gx_auth_destroy(&b->auth);
    gx_quota_destroy(&b->open);
    gx_limiter_destroy(&b->rates);
    gx_limiter_destroy(&b->handshakes);
    gx_store_close(&b->store);
    gx_vocab_destroy(&b->vocab);
    free(b);
    *pb = NULL;
}

/* ------------------------------------------------------------------ batches */

void gx_broker_batch_begin(gx_broker *b, int64_t now, int64_t now_ms)
{
    b->now = now;
    b->now_ms = now_ms;
}

bool gx_broker_handshake_token(gx_broker *b, int64_t now_ms)
{
    return gx_limiter_take(b->handshakes, "handshakes", now_ms);
}

gx_err gx_broker_admit(gx_broker *b, bool monitor, const char *key)
{
    gx_principal p;
    gx_err err = gx_auth_lookup(b->auth, key, &p);
    if (!err && monitor && !p.is_operator)
        err = GX_ERR_FORBIDDEN; /* the monitor stream is the operators' */
    return err;
}

/* The session of this message: with CURVE, from the key (ZAP User-Id), checked
 * against the registry on every message so that a revoked key stops at once.
 * Returns false when the request was answered with an error. */
static bool s_session(gx_broker *b, const void *rid, size_t rid_len, const char *user_id, const gx_request *req,
                      gx_session **out)
{
    gx_session *s = gx_sessions_find(b->sessions, rid, rid_len, b->now_ms);
    *out = s;
    if (b->cfg.insecure_dev)
        return true; /* Hello binds (requests.c) */
    gx_principal p;
    gx_err err = gx_auth_lookup(b->auth, user_id, &p);
    if (err) {
        if (s)
            gx_sessions_drop(b->sessions, s);
        *out = NULL;
        gx_requests_error(b, rid, rid_len, req->request_id, err, err == GX_ERR_FORBIDDEN ? "this key was revoked"
                                                                                          : "this key is not registered",
                          NULL);
        return false;
    }
    if (s && strcmp(s->key, user_id) == 0)
        return true;
    if (gx_sessions_bind(b->sessions, rid, rid_len, p.firm, p.is_operator, b->now_ms, &s) != GX_OK) {
        gx_requests_error(b, rid, rid_len, req->request_id, GX_ERR_INTERNAL, "cannot open a session", NULL);
        return false;
    }
    snprintf(s->key, sizeof s->key, "%s", user_id);
    *out = s;
    return true;
}

/* Refuses a request over its firm's rate; the refusals are logged together,
 * at most one line each ten seconds, so that a flood does not flood the log. */
static void s_rate_refused(gx_broker *b, const char *firm, const void *rid, size_t rid_len,
                           uint64_t request_id)
{
    b->counters.rate_limited++;
    b->rl_unlogged++;
    snprintf(b->rl_firm, sizeof b->rl_firm, "%s", firm);
    if (b->now_ms - b->rl_logged_ms >= 10000) {
        gx_log(GX_LOG_NOTICE,
               "%llu requests refused over rate_per_firm since the last such line (firm %s the last)",
               (unsigned long long)b->rl_unlogged, b->rl_firm);
        b->rl_unlogged = 0;
        b->rl_logged_ms = b->now_ms;
    }
    gx_requests_error(b, rid, rid_len, request_id, GX_ERR_RATE_LIMITED,
                      "over rate_per_firm requests per second; retry later", NULL);
}

/* Queues ERR_EVICTED, unasked (request_id 0), to the session the last bind
 * evicted, so that its client says Hello and resumes instead of waiting for
 * notices that no longer come. */
static void s_tell_evicted(gx_broker *b)
{
    gx_session v;
    if (!gx_sessions_take_evicted(b->sessions, &v))
        return;
    char msg[256];
    snprintf(
        msg, sizeof msg,
        "this connection's session was closed: sessions_max (%lld) connections were open and this firm held "
        "the most; say Hello again and Resume after the last notice processed",
        (long long)b->cfg.sessions_max);
    gx_log(GX_LOG_INFO, "session of firm %s evicted (sessions_max %lld)%s", v.firm[0] ? v.firm : "(operator)",
           (long long)b->cfg.sessions_max, v.resumed ? ", a resumed one" : "");
    if (!v.tell_evicted)
        return; /* an older client would take an unasked error for the answer to its pending call */
    uint8_t req = b->cur_req;
    b->cur_req = GX_REQ_NONE;
    size_t n = b->n_replies;
    gx_requests_error(b, v.rid, v.rid_len, 0, GX_ERR_EVICTED, msg, NULL);
    if (b->n_replies > n)
        b->replies[n].unasked = true;
    b->cur_req = req;
}

void gx_broker_handle(gx_broker *b, const void *rid, size_t rid_len, const char *user_id, const void *frame,
                      size_t len, int frames)
{
    gx_request req;
    char msg[384], field[96];
    uint64_t request_id;
    b->counters.requests++;
    b->cur_req = GX_REQ_NONE;
    if (rid_len == 0 || rid_len > GX_RID_MAX)
        return; /* not a ROUTER peer we can answer */
    if (frames != 1) {
        gx_requests_error(b, rid, rid_len, 0, GX_ERR_MALFORMED,
                          "a request is exactly one frame holding one gongxu.v1.Envelope", "frame");
        return;
    }
    if (gx_sessions_take_closed(b->sessions, rid, rid_len)) {
        /* Closed while its queue was full, so it was not told then: told now,
         * and this request is not served (its client rebinds and resends). */
        gx_codec_peek_request_id(frame, len, &request_id);
        gx_requests_error(
            b, rid, rid_len, request_id, GX_ERR_EVICTED,
            "this connection's session was closed because it did not read what the broker sent; say "
            "Hello again and Resume after the last notice processed",
            NULL);
        return;
    }
    /* A connection whose firm is over its rate is refused before its request is
     * decoded: a flood of refusals costs a hash lookup and a small reply each. */
    bool taken = false;
    gx_session *known = gx_sessions_find(b->sessions, rid, rid_len, b->now_ms);
    if (known && !known->is_operator && known->firm[0] &&
        (b->cfg.insecure_dev || (user_id && strcmp(known->key, user_id) == 0))) {
        if (!gx_limiter_take(b->rates, known->firm, b->now_ms) &&
            gx_codec_peek_request_id(frame, len, &request_id)) {
            s_rate_refused(b, known->firm, rid, rid_len, request_id);
            return;
        }
        taken = true; /* a frame the peek cannot read is answered by the full decode below */
    }
    gx_err err = gx_codec_decode_request(frame, len, &b->limits, &req, msg, sizeof msg, field, sizeof field);
    if (err) {
        gx_log(GX_LOG_DEBUG, "request %llu refused: %s", (unsigned long long)req.request_id, msg);
        gx_requests_error(b, rid, rid_len, req.request_id, err, msg, field);
        gx_request_fini(&req);
        return;
    }
    gx_session *s;
    b->cur_req = (uint8_t)req.type;
    b->events_mark = b->n_events; /* a failing request drops only its own events */
    if (s_session(b, rid, rid_len, user_id, &req, &s)) {
        /* One bucket per firm: many connections do not multiply the rate.
         * Operators are trusted (and register firms in bulk): not limited. */
        const char *bucket = s && !s->is_operator ? s->firm : "";
        if (bucket[0] && !taken && !gx_limiter_take(b->rates, bucket, b->now_ms))
            s_rate_refused(b, bucket, rid, rid_len, req.request_id);
        else
            gx_requests_handle(b, s, rid, rid_len, &req);
        s_rebuild_if_asked(b);
    }
    s_tell_evicted(b); /* a bind here (or a Hello) may have evicted another session */
    gx_request_fini(&req);
}

static void s_mark_touched(gx_broker *b)
{
    for (size_t i = 0; i < b->n_touched; i++)
        gx_sessions_mark_firm(b->sessions, b->touched[i].firm, b->touched[i].seq);
    b->n_touched = 0;
}

void gx_broker_batch_end(gx_broker *b, const gx_broker_io *io)
{
    gx_err err = GX_OK;
    if (b->txn) {
        gx_persist_prune(b, b->txn);
        double t0 = s_mono();
        err = gx_store_commit(&b->txn);
        gx_hist_observe(&b->obs.commit_seconds, s_mono() - t0);
        gx_hist_observe(&b->obs.batch_requests, (double)b->n_replies);
        if (err) {
            b->counters.commit_failures++;
            gx_log(GX_LOG_ERR, "commit of %zu requests failed: %s (%s)", b->n_replies, gx_err_str(err),
                   gx_store_last_error(b->store));
            /* Nothing of the batch is in the store: take it all back out of the
             * engine, and read the keys again (a registered key is in memory). */
            gx_records_undo(b, NULL, 0, "a failed commit");
            gx_auth *old_auth = b->auth;
            b->auth = NULL;
            gx_txn *t = NULL;
            if (!gx_store_begin(b->store, false, &t) && !gx_persist_load_keys(b, t)) {
                gx_auth_destroy(&old_auth);
            } else {
                gx_auth_destroy(&b->auth);
                b->auth = old_auth;
                b->engine_dirty = true; /* the next rebuild reads the keys too */
            }
            gx_store_abort(&t);
        } else {
            b->counters.batches++;
        }
        gx_persist_batch_done(b, err == GX_OK);
    }
    b->committed = !err;
    if (err) {
        /* Nothing of this batch is durable: no reply may say otherwise. */
        for (size_t i = 0; i < b->n_replies; i++) {
            gx_pending_reply *p = &b->replies[i];
            if (p->is_error)
                continue;
            gx_buf_fini(&p->payload);
            if (gx_codec_encode_error(p->request_id, err == GX_ERR_STORAGE_FULL ? err : GX_ERR_INTERNAL,
                                      "the batch holding this request could not be committed; nothing was changed",
                                      NULL, &p->payload) == GX_OK)
                p->is_error = true;
        }
        gx_records_events_truncate(b, 0);
        b->n_touched = 0;
    }
    if (b->engine_dirty) {
        gx_err rerr = gx_persist_rebuild(b, NULL);
        if (rerr)
            gx_log(GX_LOG_ERR, "rebuilding the engine after a failed write: %s", gx_err_str(rerr));
    }
    for (size_t i = 0; io && i < b->n_replies; i++) {
        gx_pending_reply *p = &b->replies[i];
        if (!p->payload.data)
            continue;
        gx_send_rc rc = io->send(io->ctx, p->rid, p->rid_len, p->payload.data, p->payload.len);
        if (rc == GX_SEND_OK) {
            b->evicted_told += p->unasked;
            continue;
        }
        gx_session *s = gx_sessions_find(b->sessions, p->rid, p->rid_len, b->now_ms);
        if (rc == GX_SEND_FULL) {
            /* send_hwm messages wait for this peer, which does not read: it
             * holds no more of our memory. Its session goes; its next request
             * is told why (it cannot be told now). */
            if (s && !p->unasked) {
                b->closed_slow++;
                gx_log(GX_LOG_WARNING,
                       "closed the session of a connection (firm %s) that does not read: %lld "
                       "messages (send_hwm) wait for it",
                       s && s->firm[0] ? s->firm : "unknown", (long long)b->cfg.send_hwm);
            }
            if (s && s->tell_evicted) /* an older client's next request just opens a new session */
                gx_sessions_closed(b->sessions, p->rid, p->rid_len);
        }
        if (s)
            gx_sessions_drop(b->sessions, s);
    }
    for (size_t i = 0; i < b->n_replies; i++) {
        const gx_pending_reply *p = &b->replies[i];
        b->obs.req[p->req_type < GX_REQ__COUNT ? p->req_type : 0][p->is_error ? p->err : 0]++;
    }
    for (size_t i = 0; i < b->n_events; i++) {
        const gx_pending_event *e = &b->events[i];
        gx_report_flow(&b->obs, e->topic, b->now);
        if (io)
            io->publish(io->ctx, e->topic, e->payload.data, e->payload.len);
    }
    s_mark_touched(b);
    s_clear_batch(b);
    if (io)
        gx_broker_pump(b, io);
}

/* ------------------------------------------------------------------ delivery */

/* How often a firm held back by its window has its sessions probed. */
#define S_PROBE_EVERY_MS 1000

/* Probes the sessions that hold firm's window (gx_sessions_probe_due) with an
 * unasked empty reply (request_id 0, Ping's result), which clients ignore: a
 * session whose connection went away fails the send (ROUTER_MANDATORY) and is
 * dropped, which frees what it held for the firm's other sessions. A
 * connection that vanished without closing (a laptop put to sleep) is closed
 * by ZeroMQ's heartbeat (30 s) and found by the next probe (gx_broker_probe_tick). */
static void s_probe_firm(gx_broker *b, const char *firm, int64_t now_ms, const gx_broker_io *io)
{
    gx_session *v[32];
    size_t n = gx_sessions_probe_due(b->sessions, firm, now_ms, S_PROBE_EVERY_MS, v, sizeof v / sizeof v[0]);
    if (!n)
        return;
    gx_buf probe = {0};
    gx_reply r = {.type = GX_REPLY_PONG};
    if (gx_codec_encode_reply(&r, &probe) != GX_OK) {
        gx_buf_fini(&probe);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (io->send(io->ctx, v[i]->rid, v[i]->rid_len, probe.data, probe.len) != GX_SEND_GONE)
            continue;
        gx_log(GX_LOG_INFO,
               "firm %s: a session whose connection is gone held %llu notice bytes of the firm's window; "
               "dropped",
               firm, (unsigned long long)v[i]->out_bytes);
        b->sessions_gone++;
        gx_sessions_drop(b->sessions, v[i]); /* wakes the firm's other sessions */
    }
    gx_buf_fini(&probe);
}

void gx_broker_probe_tick(gx_broker *b, int64_t now_ms, const gx_broker_io *io)
{
    char firms[64][GX_FIRM_ID_LEN + 1];
    size_t n = gx_sessions_blocked_firms(b->sessions, firms, 64);
    for (size_t i = 0; i < n; i++)
        s_probe_firm(b, firms[i], now_ms, io);
}

typedef struct s_pump {
    gx_broker *b;
    gx_session *s;
    const gx_broker_io *io;
    bool stop;        /* the session stalled or went away */
    bool gone;        /* the peer is gone */
    bool blocked;     /* held back by its firm's window */
    uint64_t fresh_from; /* notices from this seq on were written by the last batch */
    gx_txn *t;           /* the read transaction postings are rendered from */
    const gx_rules_opts *ro; /* the rules notices are explained by */
} s_pump;

/* A stored notice as its wire Envelope in *out: a fact rendered, an old
 * record (a whole Envelope, written before facts) as it is, a damaged one as
 * a Notice with no body that says so. False when it cannot be had now. */
static bool s_pump_render(s_pump *p, uint64_t seq, const void *rec, size_t len, gx_buf *out)
{
    memset(out, 0, sizeof *out);
    if (!gx_fact_is(rec, len) && gx_codec_notice_at(rec, len, &(int64_t){0}) == GX_OK)
        return true; /* the caller sends rec itself */
    gx_err err = gx_fact_is(rec, len) ? gx_notify_render(p->b, p->t, p->ro, p->s->firm, seq, rec, len, out)
                                      : GX_ERR_MALFORMED;
    if (err == GX_ERR_MALFORMED) {
        char why[160];
        gx_log(GX_LOG_ERR,
               "firm %s: notice %llu in the store is damaged and is sent without its content "
               "(gongxud --verify lists it)",
               p->s->firm, (unsigned long long)seq);
        snprintf(why, sizeof why, "notice %llu could not be read: its stored record is damaged",
                 (unsigned long long)seq);
        gx_notice n = {.seq = seq, .changed = why};
        err = gx_codec_encode_notice(&n, out);
    }
    if (err) {
        gx_log(GX_LOG_ERR, "firm %s: notice %llu: %s; delivery retries", p->s->firm, (unsigned long long)seq,
               gx_err_str(err));
        return false;
    }
    return true;
}

static bool s_pump_visit(void *ctx, uint64_t seq, const void *rec, size_t rec_len)
{
    s_pump *p = ctx;
    gx_buf r;
    if (!s_pump_render(p, seq, rec, rec_len, &r)) {
        p->stop = true;
        return false;
    }
    const void *bytes = r.data ? r.data : rec;
    size_t len = r.data ? r.len : rec_len;
    gx_send_rc rc = p->io->send(p->io->ctx, p->s->rid, p->s->rid_len, bytes, len);
    gx_buf_fini(&r);
    if (rc == GX_SEND_OK) {
        gx_session_sent(p->s, seq, len);
        p->b->obs.delivered++;
        /* Notices the last batch wrote time the path from its start to ZeroMQ;
         * backlog (a resume, a stalled connection) does not. */
        if (p->fresh_from && seq >= p->fresh_from) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
            gx_hist_observe(&p->b->obs.notice_latency, ms > p->b->now_ms ? (ms - p->b->now_ms) / 1e3 : 0.0);
        }
        /* The window counts bytes as well as notices: a firm's explanations
         * are kilobytes each, and what is in flight sits in ZeroMQ's queue. */
        if (p->s->out_bytes >= (uint64_t)p->b->cfg.delivery_window_bytes)
            return false;
        if (gx_session_firm_bytes(p->s) >= (uint64_t)p->b->cfg.firm_window_bytes) {
            gx_session_firm_blocked(p->s);
            p->blocked = true;
            return false;
        }
        return true;
    }
    p->stop = true;
    p->gone = rc == GX_SEND_GONE;
    p->s->stalled = rc == GX_SEND_FULL;
    return false;
}

/* Adds firm to the firms to probe after this pump (up to 8, each once). */
static void s_note_blocked(char (*v)[GX_FIRM_ID_LEN + 1], size_t *n, const char *firm)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(v[i], firm) == 0)
            return;
    if (*n < 8)
        snprintf(v[(*n)++], GX_FIRM_ID_LEN + 1, "%s", firm);
}

void gx_broker_pump(gx_broker *b, const gx_broker_io *io)
{
    gx_session *batch[256];
    gx_session **later = NULL; /* sessions to retry: stalled, or skipped past a gap */
    size_t n_later = 0, cap_later = 0;
    char blocked[8][GX_FIRM_ID_LEN + 1]; /* firms held back by their window: probed at the end */
    size_t n_blocked = 0;
    gx_txn *t = NULL;
    size_t n;
    gx_engine_opts eo;
    if (!io)
        return;
    gx_persist_engine_opts(b, &eo);
    while ((n = gx_sessions_take_dirty(b->sessions, batch, 256)) > 0) {
        if (!t && gx_store_begin(b->store, false, &t) != GX_OK) {
            gx_log(GX_LOG_ERR, "delivery: cannot read the store: %s", gx_store_last_error(b->store));
            for (size_t i = 0; i < n; i++)
                gx_sessions_mark(b->sessions, batch[i]);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            gx_session *s = batch[i];
            uint64_t fresh = s->fresh_from; /* what it does not take now is backlog from here on */
            s->fresh_from = 0;
            uint64_t window = (uint64_t)b->cfg.delivery_window;
            if (gx_session_settle(s, (uint64_t)b->cfg.firm_window_bytes))
                gx_sessions_mark_firm(b->sessions, s->firm, 0); /* the firm's bound opened */
            uint64_t inflight = s->out_n; /* sent and not acknowledged, whatever was resumed since */
            if (!s->resumed || !s->firm[0] || inflight >= window ||
                s->out_bytes >= (uint64_t)b->cfg.delivery_window_bytes)
                continue;
            if (gx_session_firm_bytes(s) >= (uint64_t)b->cfg.firm_window_bytes) {
                gx_session_firm_blocked(s);
                s_note_blocked(blocked, &n_blocked, s->firm);
                continue;
            }
            s->stalled = false;
            s_pump p = {.b = b, .s = s, .io = io, .fresh_from = fresh, .t = t, .ro = &eo.rules};
            gx_err err = gx_inbox_read(t, s->firm, s->sent, (size_t)(window - inflight), s_pump_visit, &p);
            bool retry = p.stop;
            if (p.blocked)
                s_note_blocked(blocked, &n_blocked, s->firm);
            if (err == GX_ERR_RESUME_GAP) {
                /* Retention overtook this session while it was connected (another
                 * session's acks, or inbox_max): go on after the gap, and say so. */
                gx_inbox_cursor c;
                if (gx_inbox_cursor_get(t, s->firm, &c) == GX_OK) {
                    gx_log(GX_LOG_WARNING, "firm %s: notices %llu..%llu pruned before delivery to a session",
                           s->firm, (unsigned long long)s->sent + 1, (unsigned long long)c.pruned);
                    s->sent = c.pruned;
                    retry = true;
                }
            }
            if (p.gone) {
                gx_sessions_drop(b->sessions, s);
            } else if (retry) {
                if (n_later == cap_later) {
                    size_t cap = cap_later ? cap_later * 2 : 64;
                    gx_session **v = realloc(later, cap * sizeof *v);
                    if (!v) {
                        gx_sessions_mark(b->sessions, s); /* retried with the next round */
                        continue;
                    }
                    later = v;
                    cap_later = cap;
                }
                later[n_later++] = s;
            }
        }
    }
    gx_store_abort(&t);
    for (size_t i = 0; i < n_later; i++)
        gx_sessions_mark(b->sessions, later[i]); /* retried by the loop's short timer */
    free(later);
    /* after the batch: a probe may drop sessions the batch still pointed at */
    for (size_t i = 0; i < n_blocked; i++)
        s_probe_firm(b, blocked[i], b->now_ms, io);
}

bool gx_broker_pending(const gx_broker *b)
{
    return gx_sessions_has_dirty(b->sessions);
}

/* ------------------------------------------------------------------ expiry */

size_t gx_broker_expire(gx_broker *b, int64_t now, const gx_broker_io *io)
{
    gx_broker_batch_begin(b, now, b->now_ms);
    b->fx.n = 0;
    /* Ask the engine first: an idle broker must not pay an fsync per tick. */
    size_t closed = gx_engine_expire(b->engine, now, &b->fx);
    if (!closed && !b->fx.n)
        return 0;
    gx_err err = gx_records_write_begin(b);
    b->engine_touched = true; /* from here a failure means the store did not follow the engine */
    for (size_t i = 0; i < b->fx.n; i++) /* what the engine closed by itself, to put back on failure */
        if (b->fx.v[i].type == GX_FX_DEMAND_CLOSED || b->fx.v[i].type == GX_FX_OFFER_CLOSED)
            gx_records_note(b, b->fx.v[i].type == GX_FX_DEMAND_CLOSED ? GX_UNDO_DEMAND : GX_UNDO_OFFER,
                   b->fx.v[i].type == GX_FX_DEMAND_CLOSED ? b->fx.v[i].demand_id : b->fx.v[i].offer_id, NULL, 0);
    for (size_t i = 0; !err && i < b->fx.n; i++) {
        const gx_fx *f = &b->fx.v[i];
        if (f->type == GX_FX_DEMAND_CLOSED) {
            gx_demand d;
            if ((err = gx_records_get_demand(b, f->demand_id, &d)))
                break;
            d.state = GX_STATE_EXPIRED;
            gx_records_count_open(b, d.owner, -1);
            if (!(err = gx_records_put_demand(b, &d)))
                err = gx_notify_demand_changed(b, &d, GX_N_DEMAND_EXPIRED, NULL, 0);
            gx_monitor_event ev = {.at = now, .type = "state", .demand_id = d.id, .kind = d.kind,
                                   .industry = d.industry, .state = GX_STATE_EXPIRED};
            gx_records_event(b, &ev);
            gx_demand_fini(&d);
        } else if (f->type == GX_FX_OFFER_CLOSED) {
            gx_offer o;
            if ((err = gx_records_get_offer(b, f->offer_id, &o)))
                break;
            o.state = GX_STATE_EXPIRED;
            gx_records_count_open(b, o.owner, -1);
            if (!(err = gx_records_put_offer(b, &o))) {
                gx_notice n = {.type = GX_N_OFFER_EXPIRED, .at = now, .offer_id = o.id, .state = GX_STATE_EXPIRED};
                err = gx_notify_send(b, o.owner, &n);
            }
            gx_monitor_event ev = {.at = now, .type = "state", .offer_id = o.id, .state = GX_STATE_EXPIRED};
            gx_records_event(b, &ev);
            gx_offer_fini(&o);
        }
    }
    if (!err)
        err = gx_notify_effects(b, &b->fx);
    if ((err = gx_records_write_end(b, err)))
        gx_log(GX_LOG_ERR, "expiry: %s", gx_err_str(err));
    s_rebuild_if_asked(b);
    gx_broker_batch_end(b, io);
    return err ? 0 : closed;
}

/* ------------------------------------------------------------------ retention */

typedef struct s_age {
    int64_t cutoff;    /* notices at or before this instant go */
    uint64_t old;      /* how many from the oldest are that old */
} s_age;

static bool s_age_visit(void *ctx, uint64_t seq, const void *bytes, size_t len)
{
    s_age *a = ctx;
    int64_t at;
    gx_fact f;
    gx_err err =
        gx_fact_is(bytes, len) ? gx_fact_decode(bytes, len, &f) : gx_codec_notice_at(bytes, len, &at);
    if (!err && gx_fact_is(bytes, len))
        at = f.at;
    if (err || at > a->cutoff)
        return false; /* oldest first: the first young one ends the old run */
    a->old++;
    return true;
}

typedef struct s_firms {
    char (*ids)[GX_FIRM_ID_LEN + 1]; /* firms that have an inbox */
    size_t n, cap;
    bool oom;
} s_firms;

static bool s_firm_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    s_firms *f = ctx;
    if (klen != GX_FIRM_ID_LEN)
        return true;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        void *v = realloc(f->ids, cap * sizeof *f->ids);
        if (!v) {
            f->oom = true;
            return false;
        }
        f->ids = v;
        f->cap = cap;
    }
    memcpy(f->ids[f->n], key, GX_FIRM_ID_LEN);
    f->ids[f->n++][GX_FIRM_ID_LEN] = 0;
    return true;
}

uint64_t gx_broker_retention(gx_broker *b, int64_t now, const gx_broker_io *io)
{
    uint64_t dropped = 0;
    s_firms firms = {0};
    if (b->cfg.inbox_max_age_s <= 0)
        return 0;
    gx_broker_batch_begin(b, now, b->now_ms);
    gx_err err = gx_records_write_begin(b);
    if (!err)
        err = gx_store_scan(b->child, GX_T_CURSORS, NULL, 0, NULL, 0, s_firm_visit, &firms);
    if (!err && firms.oom)
        err = GX_ERR_NOMEM;
    for (size_t i = 0; !err && i < firms.n; i++) {
        gx_inbox_cursor c;
        s_age a = {now - b->cfg.inbox_max_age_s, 0};
        if ((err = gx_inbox_cursor_get(b->child, firms.ids[i], &c)))
            break;
        err = gx_inbox_read(b->child, firms.ids[i], c.pruned, 0, s_age_visit, &a);
        if (!err && a.old) {
            uint64_t n = 0;
            err = gx_inbox_trim(b->child, firms.ids[i], c.head - c.pruned - a.old, &n);
            dropped += n;
        }
    }
    free(firms.ids);
    err = dropped ? gx_records_write_end(b, err) : (gx_store_abort(&b->child), err);
    if (!dropped && b->txn) /* nothing changed: no commit, no fsync */
        gx_store_abort(&b->txn);
    if (err)
        gx_log(GX_LOG_ERR, "retention: %s", gx_err_str(err));
    else if (dropped)
        gx_log(GX_LOG_INFO, "retention: %llu notices older than %lld s dropped", (unsigned long long)dropped,
               (long long)b->cfg.inbox_max_age_s);
    gx_broker_batch_end(b, io);
    return err ? 0 : dropped;
}

/* ------------------------------------------------------------------ reload */

gx_err gx_broker_reload(gx_broker *b, const gx_config *next, char *errbuf, size_t errlen)
{
    char restart[512];
    gx_vocab *v = NULL;
    errbuf[0] = 0;
    if (strcmp(next->vocabulary, b->cfg.vocabulary) != 0 || next->vocabulary[0]) {
        char verr[512];
        gx_err err = gx_vocab_load(next->vocabulary, &v, verr, sizeof verr);
        if (err) {
            snprintf(errbuf, errlen, "vocabulary kept: %s", verr);
            return err;
        }
    }
    gx_config_apply_reload(&b->cfg, next, restart, sizeof restart);
    if (v) {
        gx_vocab_destroy(&b->vocab);
        b->vocab = v;
    }
    s_limits(b);
    if (!b->cfg.insecure_dev) {
        char oerr[512];
        gx_err oe = gx_auth_load_operators(b->auth, b->operator_keys, oerr, sizeof oerr);
        if (oe && !errbuf[0])
            snprintf(errbuf, errlen, "operator keys kept: %s", oerr);
    }
    gx_log_level lvl;
    if (gx_log_parse_level(b->cfg.log_level, &lvl))
        gx_log_set_level(lvl);
    gx_engine_opts eo;
    gx_persist_engine_opts(b, &eo);
    gx_err err = gx_engine_set_opts(b->engine, &eo);
    if (restart[0])
        snprintf(errbuf, errlen, "changed keys that need a restart: %s", restart);
    return err;
}

void gx_broker_counters_get(const gx_broker *b, gx_broker_counters *out)
{
    *out = b->counters;
}

/* ------------------------------------------------------------------ what operators read (report.c) */

void gx_broker_set_serving(gx_broker *b, bool ready, size_t streams)
{
    b->obs.ready = ready;
    b->obs.streams = streams;
}

bool gx_broker_http_page(void *broker, const char *path, int *status, const char **type, char **body,
                         size_t *len)
{
    return gx_report_page(broker, path, status, type, body, len);
}

size_t gx_broker_render_event(void *broker, uint64_t id, const char *type, const void *data, size_t len,
                              char *out, size_t cap)
{
    return gx_report_render_event(broker, id, type, data, len, out, cap);
}

/* ------------------------------------------------------------------ federation */

gx_err gx_broker_fed_start(gx_broker *b, char *err, size_t errlen)
{
    if (!b->fed.city)
        return GX_OK;
    gx_txn *t = NULL;
    const void *v;
    size_t vlen;
    gx_err e = gx_store_begin(b->store, false, &t);
    if (!e && (e = gx_store_get(t, GX_T_META, "id:posting", sizeof "id:posting" - 1, &v, &vlen)) == GX_OK &&
        vlen == 8 && gx_store_from_be64(v) >= GX_FED_LOCAL_MAX) {
        snprintf(
            err, errlen,
            "federation: this store's posting ids reach 2^48 (%llu); federated ids keep the city in the top "
            "16 bits, so it cannot federate",
            (unsigned long long)gx_store_from_be64(v));
        gx_store_abort(&t);
        return GX_ERR_CONFIG;
    }
    gx_store_abort(&t);
    if (e && e != GX_ERR_NOT_FOUND) {
        snprintf(err, errlen, "federation: cannot read the posting counter: %s",
                 gx_store_last_error(b->store));
        return e;
    }
    uint64_t applied = 0;
    if ((e = gx_records_fed_applied_get(b, b->cfg.federation_stream, &applied))) {
        snprintf(err, errlen, "federation: cannot read the applied sequence of %s: %s",
                 b->cfg.federation_stream, gx_store_last_error(b->store));
        return e;
    }
    return gx_fed_new(&b->cfg, applied + 1, &b->fed.fed, err, errlen);
}

int gx_broker_fed_fd(const gx_broker *b)
{
    return b->fed.fed ? gx_fed_fd(b->fed.fed) : -1;
}

static bool s_hand(void *ctx, uint64_t seq, const void *rec, size_t len)
{
    gx_broker *b = ctx;
    if (!gx_fed_offer(b->fed.fed, seq, rec, len))
        return false;
    b->fed.handed = seq;
    return true;
}

void gx_broker_fed_tick(gx_broker *b, int64_t now_ms, const gx_broker_io *io)
{
    gx_fed *f = b->fed.fed;
    if (!f)
        return;
    gx_fed_clear(f);
    /* this broker's key pair for docking, made and announced once (feddock.h) */
    if (!b->fed.keyed && now_ms >= b->fed.key_retry_ms) {
        gx_broker_batch_begin(b, now_ms / 1000, now_ms);
        gx_err err = gx_feddock_ensure_key(b);
        gx_broker_batch_end(b, io);
        if (err || !b->committed) {
            b->fed.keyed = false;
            b->fed.key_retry_ms = now_ms + 5000; /* a full disk, say: not a write batch every turn */
            gx_log(GX_LOG_ERR, "federation: cannot make this broker's key pair: %s; trying again in 5 s",
                   gx_err_str(err));
        }
    }
    /* requests refuse what could never cross (requests.c; 0 while not linked) */
    b->fed.max_payload = gx_fed_max_payload(f);
    /* what JetStream acknowledged or refused for good leaves the outbox; a
     * refused posting's substitute is written in the same transaction, so a
     * crash loses neither (before the commit the refused record is still in
     * the outbox and is refused again after the restart; a substitute made
     * twice has the same revision: the receivers skip the second) */
    enum { REFUSED_MAX = 16 };
    gx_fed_refused refused[REFUSED_MAX];
    size_t n_refused = 0;
    uint64_t acked = gx_fed_acked(f, refused, REFUSED_MAX, &n_refused);
    if (acked > b->fed.published) {
        char what[REFUSED_MAX][240];
        bool made[REFUSED_MAX] = {false};
        gx_broker_batch_begin(b, now_ms / 1000, now_ms);
        gx_err err = gx_records_write_begin(b);
        for (size_t i = 0; i < n_refused && !err; i++) {
            err = gx_records_fed_substitute(b, refused[i].seq, refused[i].data, refused[i].len,
                                            refused[i].max_payload, &made[i], what[i], sizeof what[i]);
            if (err == GX_ERR_MALFORMED) {
                gx_log(GX_LOG_WARNING,
                       "federation: refused outbox record %llu is not a FedMessage; no substitute",
                       (unsigned long long)refused[i].seq);
                err = GX_OK;
            }
        }
        if (!err)
            err = gx_records_fed_outbox_drop(b, acked);
        err = gx_records_write_end(b, err);
        gx_broker_batch_end(b, io);
        if (!err && b->committed) {
            b->fed.published = acked;
            gx_fed_release(f, acked); /* kept until now: a failed write hands them again */
            for (size_t i = 0; i < n_refused; i++) {
                if (!made[i])
                    continue;
                b->fed.substituted++;
                gx_log(GX_LOG_NOTICE,
                       "federation: replaced refused %s, so that the other cities close their copy", what[i]);
            }
        }
    }
    /* what other cities sent, applied in one batch, acknowledged once committed */
    gx_fed_in *in;
    size_t n = gx_fed_take(f, &in);
    if (n) {
        bool failed = false;
        gx_broker_batch_begin(b, now_ms / 1000, now_ms);
        for (size_t i = 0; i < n && !failed; i++) {
            gx_fedapply_rc rc =
                gx_fedapply_one(b, gx_fed_stream(f), in[i].seq, in[i].subj, in[i].data, in[i].len);
            failed = rc == GX_FEDAPPLY_FAILED;
            in[i].ack = !failed && rc != GX_FEDAPPLY_EARLY;
            s_rebuild_if_asked(b);
        }
        gx_broker_batch_end(b, io);
        gx_fed_done(f, !failed && b->committed);
    }
    /* what the outbox holds beyond what the publisher has, handed over in order */
    size_t room = gx_fed_room(f);
    if (room && gx_records_fed_outbox_read(b, b->fed.handed, room, s_hand, b) != GX_OK)
        gx_log(GX_LOG_ERR, "federation: cannot read the outbox: %s", gx_store_last_error(b->store));
}
