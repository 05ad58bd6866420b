/* loop.c — zmq_poll over the ROUTER, a signalfd and timers. See loop.h. */
#include "loop.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "auth.h"
#include "http.h"
#include "log.h"

#define S_CURVE_OVERHEAD 33 /* bytes CURVE adds to each message on the wire */

/* One ZAP request (RFC 27) waiting for its answer. */
typedef struct s_zap_req {
    uint8_t peer[256];             /* the ZAP client's routing id on our ROUTER */
    size_t peer_len;
    uint8_t id[256];               /* RFC 27 request id */
    size_t id_len;
    char key[GX_KEY_LEN + 1];      /* the client's public key, Z85; "" when not CURVE */
    bool monitor;                  /* for the monitor stream */
} s_zap_req;

struct gx_loop {
    gx_config cfg;                 /* copy; reloadable keys refreshed on SIGHUP */
    gx_broker *broker;             /* borrowed */
    void *ctx;                     /* ZeroMQ context */
    void *router;                  /* client endpoint */
    void *pub;                     /* monitor stream, NULL when off */
    void *zap;                     /* ZAP handler (ROUTER on inproc://zeromq.zap.01), NULL insecure */
    s_zap_req *held;               /* handshakes held back by handshakes_per_second, oldest first */
    size_t n_held, cap_held;
    char server_pub[GX_KEY_LEN + 1]; /* the broker's public key, for clients */
    int sigfd;                       /* SIGTERM, SIGINT, SIGHUP, SIGUSR1 */
    sigset_t oldmask;              /* restored on destroy */
    char endpoint[256];            /* bound client endpoint */
    char monitor_endpoint[256];    /* bound monitor endpoint */
    gx_loop_reload_fn reload;      /* rebuilds the config on SIGHUP */
    void *reload_ctx;
    gx_broker_io io;               /* how the broker sends */
    gx_http *http;                 /* operator HTTP, NULL when off */
    uint64_t watchdog_us;          /* systemd WatchdogSec, 0 when off */
    /* Fair turns: each batch takes at most frames_per_turn messages of one
     * connection; the one that would exceed that waits here for the next. */
    zmq_msg_t carry_rid, carry_payload; /* the waiting message (routing id, payload) */
    int carry_frames;                   /* its payload frames; -1 = nothing waiting */
    struct s_turn {
        uint64_t h;            /* hash of a routing id seen this turn */
        uint32_t n;            /* its messages this turn */
        uint32_t turn;         /* the turn the slot belongs to */
    } turns[1024];             /* open addressing, cleared by advancing `turn` */
    uint32_t turn;             /* current turn number */
    uint32_t turn_conns;       /* connections seen this turn */
    uint64_t refused_unknown;  /* handshakes refused for an unknown or revoked key, not yet logged */
    int64_t refused_logged_ms; /* when those were last logged */
};

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static gx_send_rc s_send(void *ctx, const void *rid, size_t rid_len, const void *data, size_t len)
{
    gx_loop *l = ctx;
    if (zmq_send(l->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return zmq_errno() == EAGAIN ? GX_SEND_FULL : GX_SEND_GONE;
    /* With the routing frame accepted, the payload frame cannot block. */
    if (zmq_send(l->router, data, len, ZMQ_DONTWAIT) < 0) {
        gx_log(GX_LOG_WARNING, "send: %s", zmq_strerror(zmq_errno()));
        return GX_SEND_GONE;
    }
    return GX_SEND_OK;
}

static void s_publish(void *ctx, const char *topic, const void *data, size_t len)
{
    gx_loop *l = ctx;
    /* PUB drops at its high-water mark: the monitor never slows the broker. */
    if (l->pub && zmq_send(l->pub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        zmq_send(l->pub, data, len, ZMQ_DONTWAIT);
    gx_http_event(l->http, topic, data, len); /* kept for /events; rendered only when sent */
}

static gx_err s_bind(gx_loop *l, void *sock, const char *endpoint, char *bound, size_t boundlen, char *err,
                     size_t errlen)
{
    if (zmq_bind(sock, endpoint) != 0) {
        snprintf(err, errlen, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        return GX_ERR_IO;
    }
    size_t n = boundlen;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, bound, &n) != 0 && boundlen > 0) {
        size_t cut = strnlen(endpoint, boundlen - 1); /* cut to fit, as snprintf would */
        memcpy(bound, endpoint, cut);
        bound[cut] = '\0';
    }
    return GX_OK;
}

static int s_setint(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof v);
}

gx_err gx_loop_new(const gx_config *cfg, gx_broker *b, gx_loop_reload_fn reload, void *reload_ctx, gx_loop **out,
                   char *err, size_t errlen)
{
    gx_err rc = GX_ERR_IO;
    char sec[GX_KEY_LEN + 1] = ""; /* the broker's secret key, read once for both sockets */
    gx_loop *l = calloc(1, sizeof *l);
    if (!l)
        return GX_ERR_NOMEM;
    l->cfg = *cfg;
    l->broker = b;
    l->sigfd = -1;
    l->carry_frames = -1;
    l->reload = reload;
    l->reload_ctx = reload_ctx;
    l->io = (gx_broker_io){l, s_send, s_publish};
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, &l->oldmask);
    l->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (l->sigfd < 0) {
        snprintf(err, errlen, "signalfd: %s", strerror(errno));
        goto out;
    }
    /* More than one I/O thread: the CURVE work of a flooding connection then
     * delays only the connections that share its thread. Set before any socket. */
    if (!(l->ctx = zmq_ctx_new()) || zmq_ctx_set(l->ctx, ZMQ_IO_THREADS, (int)cfg->io_threads) != 0 ||
        !(l->router = zmq_socket(l->ctx, ZMQ_ROUTER))) {
        snprintf(err, errlen, "zmq: %s", zmq_strerror(zmq_errno()));
        goto out;
    }
    if (!cfg->insecure_dev) {
        /* The ZAP handler exists before any socket binds: without one, libzmq
         * would admit every client that knows the server key. */
        char path[GX_CONFIG_STR_MAX + 32];
        bool created;
        if (cfg->server_key[0])
            snprintf(path, sizeof path, "%s", cfg->server_key);
        else
            snprintf(path, sizeof path, "%s/broker.key", cfg->data_dir);
        if ((rc = gx_auth_server_key(path, l->server_pub, sec, &created, err, errlen)))
            goto out;
        if (created)
            gx_log(GX_LOG_NOTICE, "first start: created the broker key pair %s (public key in .pub)", path);
        rc = GX_ERR_IO;
        /* A ROUTER, not a REP: a held-back handshake must not block the others' answers. */
        if (!(l->zap = zmq_socket(l->ctx, ZMQ_ROUTER)) || s_setint(l->zap, ZMQ_LINGER, 0) ||
            zmq_bind(l->zap, "inproc://zeromq.zap.01") != 0) {
            snprintf(err, errlen, "ZAP handler: %s", zmq_strerror(zmq_errno()));
            goto out;
        }
        if (s_setint(l->router, ZMQ_CURVE_SERVER, 1) || zmq_setsockopt(l->router, ZMQ_CURVE_SECRETKEY, sec, GX_KEY_LEN) ||
            zmq_setsockopt(l->router, ZMQ_ZAP_DOMAIN, "gongxu", 6)) {
            snprintf(err, errlen, "CURVE: %s", zmq_strerror(zmq_errno()));
            goto out;
        }
    }
    /* max_frame_bytes counts the message as the client wrote it: CURVE's MESSAGE
     * command wraps it in 33 more bytes (command name 8, nonce 8, flags 1, MAC 16),
     * and ZMQ_MAXMSGSIZE sees the wrapped frame. */
    int64_t maxmsg = cfg->max_frame_bytes + (cfg->insecure_dev ? 0 : S_CURVE_OVERHEAD);
    /* send_hwm bounds the messages ZeroMQ holds for one peer (the delivery
     * window bounds the notices among them in bytes too). */
    if (s_setint(l->router, ZMQ_ROUTER_MANDATORY, 1) || s_setint(l->router, ZMQ_SNDHWM, (int)cfg->send_hwm) ||
        s_setint(l->router, ZMQ_RCVHWM, (int)cfg->hwm) || s_setint(l->router, ZMQ_LINGER, 1000) ||
        s_setint(l->router, ZMQ_HEARTBEAT_IVL, 10000) || s_setint(l->router, ZMQ_HEARTBEAT_TIMEOUT, 30000) ||
        zmq_setsockopt(l->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg)) {
        snprintf(err, errlen, "zmq_setsockopt: %s", zmq_strerror(zmq_errno()));
        goto out;
    }
    if ((rc = s_bind(l, l->router, cfg->listen, l->endpoint, sizeof l->endpoint, err, errlen)))
        goto out;
    if (cfg->monitor[0]) {
        rc = GX_ERR_IO;
        if (!(l->pub = zmq_socket(l->ctx, ZMQ_PUB)) || s_setint(l->pub, ZMQ_SNDHWM, (int)cfg->hwm) ||
            s_setint(l->pub, ZMQ_LINGER, 0)) {
            snprintf(err, errlen, "zmq: %s", zmq_strerror(zmq_errno()));
            goto out;
        }
        if (!cfg->insecure_dev) {
            if (s_setint(l->pub, ZMQ_CURVE_SERVER, 1) || zmq_setsockopt(l->pub, ZMQ_CURVE_SECRETKEY, sec, GX_KEY_LEN) ||
                zmq_setsockopt(l->pub, ZMQ_ZAP_DOMAIN, "gongxu-monitor", 14)) {
                snprintf(err, errlen, "CURVE: %s", zmq_strerror(zmq_errno()));
                goto out;
            }
        }
        if ((rc = s_bind(l, l->pub, cfg->monitor, l->monitor_endpoint, sizeof l->monitor_endpoint, err, errlen)))
            goto out;
    }
    if (cfg->http_listen[0]) {
        gx_http_opts ho = {.listen = cfg->http_listen, .allow_remote = cfg->http_allow_remote,
                           .replay = (size_t)cfg->events_replay, .page = gx_broker_http_page,
                           .render = gx_broker_render_event, .ctx = b};
        if ((rc = gx_http_new(&ho, &l->http, err, errlen)))
            goto out;
    }
    rc = GX_OK;
out:
    memset(sec, 0, sizeof sec); /* the secret key stays only inside libzmq */
    if (rc)
        gx_loop_destroy(&l);
    *out = l;
    return rc;
}

const char *gx_loop_endpoint(const gx_loop *l)
{
    return l->endpoint;
}

const char *gx_loop_monitor_endpoint(const gx_loop *l)
{
    return l->monitor_endpoint;
}

const char *gx_loop_server_key(const gx_loop *l)
{
    return l->server_pub;
}

const char *gx_loop_http_url(const gx_loop *l)
{
    return l->http ? gx_http_url(l->http) : "";
}

/* Sends the ZAP reply for r: version, request id, status, text, user id, metadata. */
static void s_zap_answer(gx_loop *l, const s_zap_req *r, const char *status, const char *text, const char *user)
{
    zmq_send(l->zap, r->peer, r->peer_len, ZMQ_SNDMORE);
    zmq_send(l->zap, "", 0, ZMQ_SNDMORE); /* the REQ envelope delimiter */
    zmq_send(l->zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(l->zap, r->id, r->id_len, ZMQ_SNDMORE);
    zmq_send(l->zap, status, 3, ZMQ_SNDMORE);
    zmq_send(l->zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(l->zap, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(l->zap, "", 0, 0);
}

/* Refuses a ZAP request whose key the registry does not admit. Refusals are
 * logged one by one up to ten per ten seconds, then counted into one line. */
static void s_zap_refuse(gx_loop *l, const s_zap_req *r, gx_err err)
{
    const char *text = !r->key[0] ? "only CURVE connections are served"
                       : err == GX_ERR_FORBIDDEN
                           ? (r->monitor ? "the monitor stream is for operators" : "key revoked")
                           : "key not registered";
    int64_t now = s_now_ms();
    if (now - l->refused_logged_ms >= 10000) {
        if (l->refused_unknown > 10)
            gx_log(GX_LOG_NOTICE,
                   "refused %llu more connections with keys not admitted in the last ten seconds",
                   (unsigned long long)(l->refused_unknown - 10));
        l->refused_unknown = 0;
        l->refused_logged_ms = now;
    }
    if (++l->refused_unknown <= 10)
        gx_log(GX_LOG_INFO, "refused a %s connection: %s (key %.8s...)", r->monitor ? "monitor" : "client",
               text, r->key);
    s_zap_answer(l, r, "400", text, "");
}

/* Decides one ZAP request that has its handshake token. */
static void s_zap_decide(gx_loop *l, const s_zap_req *r)
{
    gx_err err = r->key[0] ? gx_broker_admit(l->broker, r->monitor, r->key) : GX_ERR_UNAUTHENTICATED;
    if (!err)
        s_zap_answer(l, r, "200", "OK", r->key); /* the User-Id every message will carry */
    else
        s_zap_refuse(l, r, err);
}

/* Answers held handshakes while the rate allows, oldest first. */
static void s_zap_release(gx_loop *l)
{
    size_t done = 0;
    int64_t now = s_now_ms();
    while (done < l->n_held && gx_broker_handshake_token(l->broker, now))
        s_zap_decide(l, &l->held[done++]);
    if (!done)
        return;
    memmove(l->held, l->held + done, (l->n_held - done) * sizeof *l->held);
    l->n_held -= done;
}

/* Reads one ZAP request (RFC 27, behind the ROUTER's peer id and the REQ
 * delimiter): version, request id, domain, address, identity, mechanism,
 * credentials. Answers it now, or holds it when handshakes come faster than
 * handshakes_per_second (at most ten seconds' worth; beyond that, "try later"). */
static void s_zap(gx_loop *l)
{
    zmq_msg_t part[10];
    int n = 0;
    bool more = true;
    while (more && n < 10) {
        zmq_msg_init(&part[n]);
        if (zmq_msg_recv(&part[n], l->zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part[n]);
            break;
        }
        more = zmq_msg_more(&part[n]);
        n++;
    }
    while (more) { /* more frames than RFC 27 has: drain them */
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        if (zmq_msg_recv(&extra, l->zap, 0) < 0) {
            zmq_msg_close(&extra);
            break;
        }
        more = zmq_msg_more(&extra);
        zmq_msg_close(&extra);
    }
    s_zap_req r = {0};
    /* frames: 0 peer, 1 "", 2 version, 3 request id, 4 domain, 5 address, 6 identity, 7 mechanism, 8 key */
    if (n >= 4 && zmq_msg_size(&part[0]) <= sizeof r.peer && zmq_msg_size(&part[3]) <= sizeof r.id) {
        r.peer_len = zmq_msg_size(&part[0]);
        memcpy(r.peer, zmq_msg_data(&part[0]), r.peer_len);
        r.id_len = zmq_msg_size(&part[3]);
        memcpy(r.id, zmq_msg_data(&part[3]), r.id_len);
        if (n >= 9 && zmq_msg_size(&part[7]) == 5 && memcmp(zmq_msg_data(&part[7]), "CURVE", 5) == 0 &&
            zmq_msg_size(&part[8]) == 32) {
            r.monitor = zmq_msg_size(&part[4]) == 14 && memcmp(zmq_msg_data(&part[4]), "gongxu-monitor", 14) == 0;
            zmq_z85_encode(r.key, zmq_msg_data(&part[8]), 32);
        }
        /* A key the registry does not admit is refused at once: it neither
         * waits nor takes one of the handshakes_per_second registered firms
         * need (the CURVE work is done by now; the answer is all that is left). */
        gx_err admit = r.key[0] ? gx_broker_admit(l->broker, r.monitor, r.key) : GX_ERR_UNAUTHENTICATED;
        if (admit) {
            s_zap_refuse(l, &r, admit);
            goto out;
        }
        s_zap_release(l); /* the held ones first: arrival order */
        if (l->n_held == 0 && gx_broker_handshake_token(l->broker, s_now_ms())) {
            s_zap_decide(l, &r);
        } else if (l->n_held < (size_t)l->cfg.handshakes_per_second * 10) {
            if (l->n_held == l->cap_held) {
                size_t cap = l->cap_held ? l->cap_held * 2 : 64;
                s_zap_req *v = realloc(l->held, cap * sizeof *v);
                if (!v) {
                    s_zap_answer(l, &r, "300", "too many new connections; retry", "");
                    goto out;
                }
                l->held = v;
                l->cap_held = cap;
            }
            l->held[l->n_held++] = r;
            gx_log(GX_LOG_DEBUG, "handshake held back (handshakes_per_second): %zu waiting", l->n_held);
        } else {
            gx_log(GX_LOG_WARNING, "handshake refused: %zu already waiting (handshakes_per_second)", l->n_held);
            s_zap_answer(l, &r, "300", "too many new connections; retry", "");
        }
    }
out:
    for (int i = 0; i < n; i++)
        zmq_msg_close(&part[i]);
}

/* Receives one message (routing frame + payload frames) into rid/payload;
 * *frames counts the payload frames (extra ones are discarded, and answered
 * MALFORMED by the broker). Returns false when nothing was waiting. */
static bool s_recv_one(gx_loop *l, zmq_msg_t *rid, zmq_msg_t *payload, int *frames)
{
    zmq_msg_t extra;
    zmq_msg_init(rid);
    zmq_msg_init(payload);
    *frames = 0;
    if (zmq_msg_recv(rid, l->router, ZMQ_DONTWAIT) < 0)
        return false;
    if (zmq_msg_more(rid) && zmq_msg_recv(payload, l->router, 0) >= 0) {
        *frames = 1;
        bool more = zmq_msg_more(payload);
        while (more) {
            zmq_msg_init(&extra);
            if (zmq_msg_recv(&extra, l->router, 0) < 0) {
                zmq_msg_close(&extra);
                break;
            }
            (*frames)++;
            more = zmq_msg_more(&extra);
            zmq_msg_close(&extra);
        }
    }
    return true;
}

static void s_hand_over(gx_loop *l, zmq_msg_t *rid, zmq_msg_t *payload, int frames)
{
    /* The ZAP handler's User-Id (the client's key) rides on every message. */
    const char *user_id = l->zap && frames ? zmq_msg_gets(payload, "User-Id") : NULL;
    gx_broker_handle(l->broker, zmq_msg_data(rid), zmq_msg_size(rid), user_id, zmq_msg_data(payload),
                     zmq_msg_size(payload), frames);
    zmq_msg_close(payload);
    zmq_msg_close(rid);
}

/* Counts one message of routing id rid into this turn; false when its
 * connection already had frames_per_turn while another connection was served
 * in the same turn. A connection alone in its turn keeps the whole batch (a
 * bulk import still gets one fsync per batch_max requests): ZeroMQ hands the
 * connections' messages over in turn, so as soon as another one has a message
 * it is read next, and from then on the share holds. The table is small: a
 * turn holds at most batch_max messages, and a full table ends the turn too. */
static bool s_turn_take(gx_loop *l, const void *rid, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ ((const uint8_t *)rid)[i]) * 1099511628211ull;
    size_t n = sizeof l->turns / sizeof l->turns[0];
    for (size_t k = 0, i = (size_t)h & (n - 1); k < n / 2; k++, i = (i + 1) & (n - 1)) {
        struct s_turn *t = &l->turns[i];
        if (t->turn != l->turn) {
            *t = (struct s_turn){h, 1, l->turn};
            l->turn_conns++;
            return true;
        }
        if (t->h == h)
            return t->n < (uint32_t)l->cfg.frames_per_turn || l->turn_conns == 1 ? (t->n++, true) : false;
    }
    return false;
}

/* Drains up to batch_max waiting requests into one batch, at most
 * frames_per_turn of them from any one connection once two are in the turn
 * (s_turn_take): ZeroMQ hands the connections' messages over in turn, so the
 * first message over that share ends the batch and opens the next. A flooding
 * connection then costs another a few of its own requests' time, not
 * batch_max of them. */
static size_t s_batch(gx_loop *l)
{
    int64_t ms = s_now_ms();
    size_t n = 0;
    zmq_msg_t rid, payload;
    int frames;
    if (++l->turn == 0)
        l->turn = 1; /* 0 marks a slot never used */
    l->turn_conns = 0;
    gx_broker_batch_begin(l->broker, ms / 1000, ms);
    if (l->carry_frames >= 0) {
        s_turn_take(l, zmq_msg_data(&l->carry_rid), zmq_msg_size(&l->carry_rid));
        s_hand_over(l, &l->carry_rid, &l->carry_payload, l->carry_frames);
        l->carry_frames = -1;
        n++;
    }
    while (n < (size_t)l->cfg.batch_max) {
        if (!s_recv_one(l, &rid, &payload, &frames)) {
            zmq_msg_close(&payload);
            zmq_msg_close(&rid);
            break;
        }
        if (!s_turn_take(l, zmq_msg_data(&rid), zmq_msg_size(&rid))) {
            zmq_msg_init(&l->carry_rid);
            zmq_msg_init(&l->carry_payload);
            zmq_msg_move(&l->carry_rid, &rid);
            zmq_msg_move(&l->carry_payload, &payload);
            zmq_msg_close(&rid);
            zmq_msg_close(&payload);
            l->carry_frames = frames;
            break;
        }
        s_hand_over(l, &rid, &payload, frames);
        n++;
    }
    gx_broker_batch_end(l->broker, &l->io);
    return n;
}

static void s_reload_apply(gx_loop *l)
{
    gx_config next;
    char err[512];
    if (!l->reload || l->reload(l->reload_ctx, &next, err, sizeof err) != GX_OK) {
        gx_log(GX_LOG_ERR, "reload refused, configuration unchanged: %s", l->reload ? err : "no reload source");
        return;
    }
    if (gx_broker_reload(l->broker, &next, err, sizeof err) != GX_OK) {
        gx_log(GX_LOG_ERR, "reload refused, configuration unchanged: %s", err);
        return;
    }
    if (err[0])
        gx_log(GX_LOG_WARNING, "reload: %s", err);
    gx_config_apply_reload(&l->cfg, &next, err, sizeof err);
    gx_log(GX_LOG_NOTICE, "configuration reloaded");
}

void gx_loop_starting(void *arg, const char *status, int64_t next_ms)
{
    (void)arg;
    int64_t extend_ms = next_ms * 3 > 60000 ? next_ms * 3 : 60000;
    sd_notifyf(0, "STATUS=%s\nEXTEND_TIMEOUT_USEC=%llu", status, (unsigned long long)extend_ms * 1000ull);
}

/* SIGHUP: systemd hears RELOADING=1 before and READY=1 after (ExecReload). */
static void s_reload(gx_loop *l)
{
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)gx_mono_us());
    s_reload_apply(l);
    sd_notify(0, "READY=1\nSTATUS=serving");
}

gx_err gx_loop_run(gx_loop *l)
{
    bool stop = false;
    int64_t next_expiry = s_now_ms() + l->cfg.expiry_interval_ms;
    int64_t next_warning = s_now_ms() + 60000;
    int64_t next_retention = s_now_ms() + l->cfg.retention_interval_ms;
    int64_t next_watchdog = 0;
    int64_t next_trim = s_now_ms() + 10000;
    if (sd_watchdog_enabled(0, &l->watchdog_us) <= 0)
        l->watchdog_us = 0;
    gx_broker_set_serving(l->broker, true, 0);
    sd_notifyf(0, "READY=1\nSTATUS=serving %s%s%s\nMAINPID=%lu", l->endpoint, l->http ? ", http " : "",
               l->http ? gx_http_url(l->http) : "", (unsigned long)getpid());
    while (!stop) {
        zmq_pollitem_t items[5] = {{l->router, 0, ZMQ_POLLIN, 0},
                                   {NULL, l->sigfd, ZMQ_POLLIN, 0},
                                   {NULL, l->http ? gx_http_fd(l->http) : -1, ZMQ_POLLIN, 0},
                                   {l->zap, 0, ZMQ_POLLIN, 0}};
        int64_t now = s_now_ms();
        int64_t next_timer = next_expiry < next_retention ? next_expiry : next_retention;
        if (next_trim < next_timer)
            next_timer = next_trim;
        if (l->watchdog_us && next_watchdog < next_timer)
            next_timer = next_watchdog;
        long timeout = (long)(next_timer > now ? next_timer - now : 0);
        if ((gx_broker_pending(l->broker) || l->n_held) && timeout > 10)
            timeout = 10; /* a peer was full, or handshakes wait for the rate: retry soon */
        int snap_ms = gx_broker_snapshot_wake_ms(l->broker);
        if (snap_ms >= 0 && timeout > snap_ms)
            timeout = snap_ms; /* a snapshot is written a slice per turn */
        if (l->carry_frames >= 0)
            timeout = 0; /* a request waits for its turn */
        if (l->http) {
            long ht = gx_http_timeout_ms(l->http);
            if (ht >= 0 && ht < timeout)
                timeout = ht;
        }
        int n_items = l->zap ? 4 : 3;
        if (!l->http) { /* no HTTP: the ZAP socket moves into its slot */
            items[2] = items[3];
            n_items--;
        }
        int zap_i = n_items - 1, fed_i = -1;
        if (gx_broker_fed_fd(l->broker) >= 0) {
            fed_i = n_items;
            items[n_items++] = (zmq_pollitem_t){NULL, gx_broker_fed_fd(l->broker), ZMQ_POLLIN, 0};
        }
        if (zmq_poll(items, n_items, timeout) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            gx_log(GX_LOG_ERR, "zmq_poll: %s", zmq_strerror(zmq_errno()));
            return GX_ERR_IO;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            struct signalfd_siginfo si;
            while (read(l->sigfd, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGHUP) {
                    s_reload(l);
                } else if (si.ssi_signo == SIGUSR1) {
                    gx_broker_snapshot_now(l->broker);
                } else {
                    gx_log(GX_LOG_NOTICE, "signal %u: stopping", si.ssi_signo);
                    stop = true;
                }
            }
        }
        if (l->zap && (items[zap_i].revents & ZMQ_POLLIN))
            s_zap(l);
        if (l->n_held)
            s_zap_release(l);
        if ((items[0].revents & ZMQ_POLLIN) || l->carry_frames >= 0) {
            /* Fair turns are short: run several before polling again, each
             * its own batch (committed and answered), for at most a few ms. */
            int64_t until = s_now_ms() + 5;
            for (int k = 0; k < 64 && s_batch(l) > 0 && l->carry_frames >= 0 && s_now_ms() < until; k++)
                ;
        }
        now = s_now_ms();
        if (l->cfg.insecure_dev && now >= next_warning) {
            gx_log(GX_LOG_WARNING, "INSECURE DEVELOPMENT MODE: no CURVE, clients name their own firm");
            next_warning = now + 60000;
        }
        if (now >= next_expiry) {
            gx_broker_expire(l->broker, now / 1000, &l->io);
            gx_broker_probe_tick(l->broker, now, &l->io);
            next_expiry = now + l->cfg.expiry_interval_ms;
        }
        if (now >= next_trim) {
            /* Memory freed when connections go (ZeroMQ's queues, held by its
             * I/O thread's arena) goes back to the system, not only to malloc. */
            malloc_trim(0);
            next_trim = now + 10000;
        }
        if (now >= next_retention) {
            gx_broker_retention(l->broker, now / 1000, &l->io);
            next_retention = now + l->cfg.retention_interval_ms;
        }
        if (fed_i >= 0)
            gx_broker_fed_tick(l->broker, now,
                               &l->io); /* JetStream's acks, other cities' postings, the outbox */
        if (gx_broker_pending(l->broker))
            gx_broker_pump(l->broker, &l->io);
        gx_broker_snapshot_tick(l->broker);
        if (l->http) {
            gx_broker_set_serving(l->broker, true, gx_http_streams(l->http));
            gx_http_run(l->http, now);
        }
        if (l->watchdog_us && now >= next_watchdog) {
            sd_notify(0, "WATCHDOG=1");
            next_watchdog = now + (int64_t)(l->watchdog_us / 2000);
        }
    }
    gx_broker_set_serving(l->broker, false, 0);
    sd_notify(0, "STOPPING=1\nSTATUS=stopping: answering requests already waiting");
    /* Requests already waiting are answered, for at most a second: a client
     * that keeps sending must not keep the broker from stopping. */
    zmq_unbind(l->router, l->endpoint);
    int64_t end = s_now_ms() + 1000;
    while (s_now_ms() < end && s_batch(l) > 0)
        ;
    return GX_OK;
}

void gx_loop_destroy(gx_loop **pl)
{
    gx_loop *l = *pl;
    if (!l)
        return;
    gx_http_destroy(&l->http);
    if (l->carry_frames >= 0) {
        zmq_msg_close(&l->carry_rid);
        zmq_msg_close(&l->carry_payload);
    }
    if (l->router)
        zmq_close(l->router);
    if (l->pub)
        zmq_close(l->pub);
    if (l->zap)
        zmq_close(l->zap);
    free(l->held);
    if (l->ctx)
        zmq_ctx_term(l->ctx);
    if (l->sigfd >= 0)
        close(l->sigfd);
    sigprocmask(SIG_SETMASK, &l->oldmask, NULL);
    free(l);
    *pl = NULL;
}
