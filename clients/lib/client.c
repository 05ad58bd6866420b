/* client.c — the gongxu C client library (see gongxu/client.h).
 *
 * One DEALER socket in its own ZeroMQ context. Every request and every reply is
 * one frame holding one packed Envelope. Calls are synchronous: the library
 * sends, then reads frames until the reply with the same request_id arrives or
 * the deadline passes; notices read meanwhile wait in a bounded FIFO for
 * gx_client_next_notice.
 *
 * ZeroMQ reconnects on its own when the broker restarts, but the new broker
 * session knows nothing of this connection. A socket monitor reports every
 * (re)connection; after a reconnect the library says Hello again and, if the
 * application had resumed, resumes after the last notice it delivered, so the
 * stream continues without gaps; redelivered notices are dropped by seq.
 *
 * With CURVE the broker checks our key in the handshake (ZAP) and refuses an
 * unknown one by closing the connection, so a refusal looks like silence. The
 * monitor also reports connection attempts and failed handshakes, and the
 * timeout message names the cause from them (s_no_reply): no connection at all,
 * a peer that never completed the ZeroMQ greeting, a key refused, a broker
 * that hung up during the CURVE handshake. Where the monitor cannot tell a peer
 * that is not ZeroMQ from a broker that refuses our server key (both hang up),
 * a short plain TCP look at the peer's first bytes does (s_probe_zmtp).
 *
 * The reply to Hello carries the broker's limits; a request over its
 * max_frame_bytes would only get the connection dropped, so it is refused
 * before sending. */
#include <gongxu/client.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gongxu/keyfile.h>
#include <zmq.h>

#define GX_CLIENT_VERSION 1u                   /* Envelope.version we speak */
#define GX_CLIENT_QUEUE_CAP 100000             /* notices held unread; more is an error */
#define GX_CLIENT_MAX_FRAME (64 * 1024 * 1024) /* ZMQ_MAXMSGSIZE: a bigger frame drops the link */
#define GX_CLIENT_RCVHWM 10000                 /* frames buffered by ZeroMQ before the queue */
#define GX_CLIENT_SNDHWM 1000                  /* requests buffered while disconnected */
#define GX_CLIENT_LINGER_MS 100                /* time a closing socket may flush a last ack */
#define GX_CLIENT_RECONNECT_MAX_MS 5000        /* reconnect back-off ceiling */
#define GX_CLIENT_DEFAULT_TIMEOUT_MS 5000
#define GX_CLIENT_MONITOR "inproc://gx-client-monitor" /* per context, so one name suffices */
#define GX_CLIENT_HANDSHAKE_EVENTS                                                                           \
    (ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |                                  \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
#define GX_CLIENT_PROBE_MS 500       /* s_probe_zmtp: connecting, then waiting for the peer's greeting */
#define GX_CLIENT_ZAP_TRY_AGAIN 300u /* ZAP status: temporary refusal (the broker's handshake rate) */

struct gx_client {
    void *ctx;                 /* our own ZeroMQ context */
    void *sock;                /* DEALER connected to the broker */
    void *monitor;             /* PAIR receiving sock's connect events; NULL if unavailable */
    char *endpoint;            /* where we connect, for messages */
    char *firm_id;             /* sent in every Hello; "" for none */
    char *client_name;         /* sent in every Hello */
    bool as_operator;          /* sent in every Hello */
    bool curve;                /* the socket is a CURVE client */
    bool hs_ok;                /* the current connection finished its handshake */
    bool hs_ever;              /* some connection finished its handshake */
    uint16_t hs_event;         /* last failed handshake (ZMQ_EVENT_HANDSHAKE_FAILED_*), 0 after a success */
    uint32_t hs_value;         /* its value: a ZMQ_PROTOCOL_ERROR_* or a ZAP status code */
    unsigned disconnects;      /* ZMQ_EVENT_DISCONNECTED seen so far */
    unsigned sent_disconnects; /* disconnects when the last request was sent */
    size_t sent_len;           /* packed size of the last request sent */
    gx_client_limits limits;   /* what the broker said in its last Hello or Ping reply */
    int timeout_ms;            /* default reply timeout */
    uint64_t next_request_id;  /* the next request's id; starts at 1 */
    unsigned connects;         /* ZMQ_EVENT_CONNECTED seen so far */
    bool rebind;               /* reconnected: Hello (and Resume) again before going on */
    bool resumed;              /* the application asked for notices */
    uint64_t last_seq;         /* seq of the last notice delivered */
    int refused_code;          /* ErrorCode of the last refused call, else 0 */
    Gongxu__V1__Envelope **queue; /* ring of notices received but not yet delivered */
    size_t q_head;                /* index of the oldest queued notice */
    size_t q_len;                 /* notices queued */
    size_t q_cap;                 /* slots allocated (grows up to GX_CLIENT_QUEUE_CAP) */
    char err[512];                /* last error message, "" if none */
};

/* ------------------------------------------------------------------ helpers */

static gx_client_rc s_fail(gx_client *c, gx_client_rc rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return rc;
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Absolute deadline for a timeout (-1 = never, returned as -1). */
static int64_t s_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : s_now_ms() + timeout_ms;
}

/* Milliseconds left until deadline for zmq_poll (-1 = forever, 0 = now). */
static long s_left(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - s_now_ms();
    return left > 0 ? (long)left : 0;
}

static const char *s_error_name(int code)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&gongxu__v1__error_code__descriptor, code);
    return v ? v->name : "ERR_UNKNOWN";
}

static char *s_strdup0(const char *s)
{
    return strdup(s ? s : "");
}

/* ------------------------------------------------------------------ queue */

static gx_client_rc s_enqueue(gx_client *c, Gongxu__V1__Envelope *env)
{
    if (c->q_len == c->q_cap) {
        if (c->q_cap >= GX_CLIENT_QUEUE_CAP) {
            gongxu__v1__envelope__free_unpacked(env, NULL);
            return s_fail(c, GX_CLIENT_ERROR, "notice queue full (%d unread notices)", GX_CLIENT_QUEUE_CAP);
        }
        size_t cap = c->q_cap ? c->q_cap * 2 : 64;
        if (cap > GX_CLIENT_QUEUE_CAP)
            cap = GX_CLIENT_QUEUE_CAP;
        Gongxu__V1__Envelope **q = malloc(cap * sizeof *q);
        if (!q) {
            gongxu__v1__envelope__free_unpacked(env, NULL);
            return s_fail(c, GX_CLIENT_ERROR, "out of memory queueing a notice");
        }
        for (size_t i = 0; i < c->q_len; i++) /* unroll the ring */
            q[i] = c->queue[(c->q_head + i) % c->q_cap];
        free(c->queue);
        c->queue = q;
        c->q_cap = cap;
        c->q_head = 0;
    }
    c->queue[(c->q_head + c->q_len) % c->q_cap] = env;
    c->q_len++;
    return GX_CLIENT_OK;
}

static Gongxu__V1__Envelope *s_dequeue(gx_client *c)
{
    if (c->q_len == 0)
        return NULL;
    Gongxu__V1__Envelope *env = c->queue[c->q_head];
    c->q_head = (c->q_head + 1) % c->q_cap;
    c->q_len--;
    return env;
}

static void s_queue_clear(gx_client *c)
{
    Gongxu__V1__Envelope *env;
    while ((env = s_dequeue(c)))
        gongxu__v1__envelope__free_unpacked(env, NULL);
}

/* ------------------------------------------------------------------ transport */

/* Reads the monitor's pending events: a CONNECTED after the first marks a
 * rebind; handshake results are kept for the timeout message. */
static void s_drain_monitor(gx_client *c)
{
    if (!c->monitor)
        return;
    for (;;) {
        zmq_msg_t ev;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, c->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size(&ev) >= 2)
            memcpy(&event, zmq_msg_data(&ev), sizeof event);
        if (zmq_msg_size(&ev) >= 6)
            memcpy(&value, (const uint8_t *)zmq_msg_data(&ev) + 2, sizeof value);
        int more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        while (more) { /* the endpoint frame */
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, c->monitor, ZMQ_DONTWAIT) < 0)
                more = 0;
            else
                more = zmq_msg_more(&part);
            zmq_msg_close(&part);
        }
        if (event == ZMQ_EVENT_CONNECTED) {
            c->hs_ok = false;
            if (++c->connects > 1)
                c->rebind = true;
        } else if (event == ZMQ_EVENT_DISCONNECTED) {
            c->disconnects++;
        } else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            c->hs_ok = c->hs_ever = true;
            c->hs_event = 0;
        } else if (event & GX_CLIENT_HANDSHAKE_EVENTS) {
            c->hs_event = event;
            c->hs_value = value;
        }
    }
}

size_t gx_client_max_request(const gx_client *c)
{
    if (!c || !c->limits.max_frame_bytes)
        return 0;
    return c->limits.max_frame_bytes;
}

void gx_client_limits_get(const gx_client *c, gx_client_limits *out)
{
    memset(out, 0, sizeof *out);
    if (c)
        *out = c->limits;
}

/* Keeps the limits a Ping (the reply to Hello or Ping) carries. */
static void s_keep_limits(gx_client *c, const Gongxu__V1__Ping *p)
{
    memset(&c->limits, 0, sizeof c->limits);
    if (!p)
        return;
    snprintf(c->limits.version, sizeof c->limits.version, "%s", p->version ? p->version : "");
    c->limits.max_frame_bytes = p->max_frame_bytes;
    c->limits.max_string_bytes = p->max_string_bytes;
    c->limits.max_text_bytes = p->max_text_bytes;
    c->limits.max_repeated = p->max_repeated;
}

/* Packs env and sends it as one frame, waiting for room until deadline. A
 * frame over the broker's max_frame_bytes is not sent: the broker would drop
 * the connection for it without a reply. */
static gx_client_rc s_send(gx_client *c, const Gongxu__V1__Envelope *env, int64_t deadline)
{
    gx_client_rc rc = GX_CLIENT_OK;
    size_t len = gongxu__v1__envelope__get_packed_size(env), max = gx_client_max_request(c);
    if (max && len > max)
        return s_fail(
            c, GX_CLIENT_TOO_LARGE,
            "the request is %zu bytes, more than the broker at %.160s reads in one message: %zu bytes "
            "(its max_frame_bytes); nothing was sent",
            len, c->endpoint, max);
    c->sent_len = len;
    c->sent_disconnects = c->disconnects;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return s_fail(c, GX_CLIENT_ERROR, "out of memory packing a request");
    gongxu__v1__envelope__pack(env, buf);
    for (;;) {
        if (zmq_send(c->sock, buf, len, ZMQ_DONTWAIT) >= 0)
            goto out;
        if (zmq_errno() != EAGAIN && zmq_errno() != EINTR) {
            rc = s_fail(c, GX_CLIENT_ERROR, "send failed: %s", zmq_strerror(zmq_errno()));
            goto out;
        }
        zmq_pollitem_t item = {.socket = c->sock, .events = ZMQ_POLLOUT};
        long left = s_left(deadline);
        if (left == 0) {
            rc = s_fail(c, GX_CLIENT_TIMEOUT, "timed out sending to the broker");
            goto out;
        }
        if (zmq_poll(&item, 1, left) < 0 && zmq_errno() == EINTR) {
            rc = s_fail(c, GX_CLIENT_ERROR, "interrupted by a signal");
            goto out;
        }
    }
out:
    free(buf);
    return rc;
}

/* Waits until deadline for one frame from the broker and decodes it into *out.
 * With stop_on_rebind, returns GX_CLIENT_OK and *out NULL as soon as a
 * reconnect is seen. Frames that are not a well-formed version-1 reply, error
 * or notice are GX_CLIENT_ERROR. */
static gx_client_rc s_recv(gx_client *c, Gongxu__V1__Envelope **out, int64_t deadline, bool stop_on_rebind)
{
    gx_client_rc rc = GX_CLIENT_OK;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    *out = NULL;
    for (;;) {
        s_drain_monitor(c);
        if (stop_on_rebind && c->rebind)
            goto out;
        zmq_pollitem_t items[2] = {{.socket = c->sock, .events = ZMQ_POLLIN},
                                   {.socket = c->monitor, .events = ZMQ_POLLIN}};
        int n = zmq_poll(items, c->monitor ? 2 : 1, s_left(deadline));
        if (n < 0) {
            if (zmq_errno() == EINTR) {
                rc = s_fail(c, GX_CLIENT_ERROR, "interrupted by a signal");
                errno = EINTR;
            } else {
                rc = s_fail(c, GX_CLIENT_ERROR, "poll failed: %s", zmq_strerror(zmq_errno()));
            }
            goto out;
        }
        if (items[0].revents & ZMQ_POLLIN)
            break;
        if (n == 0 || s_left(deadline) == 0) {
            rc = s_fail(c, GX_CLIENT_TIMEOUT, "no answer from the broker in time");
            goto out;
        }
    }
    if (zmq_msg_recv(&msg, c->sock, ZMQ_DONTWAIT) < 0) {
        rc = s_fail(c, GX_CLIENT_ERROR, "receive failed: %s", zmq_strerror(zmq_errno()));
        goto out;
    }
    if (zmq_msg_more(&msg)) {
        /* drop the rest so the next read starts on a message boundary */
        int more = 1;
        while (more) {
            zmq_msg_t part;
            zmq_msg_init(&part);
            more = zmq_msg_recv(&part, c->sock, 0) >= 0 && zmq_msg_more(&part);
            zmq_msg_close(&part);
        }
        rc = s_fail(c, GX_CLIENT_ERROR, "malformed message from the broker: more than one frame");
        goto out;
    }
    Gongxu__V1__Envelope *env = gongxu__v1__envelope__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    if (!env) {
        rc = s_fail(c, GX_CLIENT_ERROR, "malformed frame from the broker (%zu bytes, not an Envelope)",
                    zmq_msg_size(&msg));
        goto out;
    }
    if (env->version != GX_CLIENT_VERSION) {
        rc = s_fail(c, GX_CLIENT_ERROR, "broker sent protocol version %u; this client speaks %u",
                    env->version, GX_CLIENT_VERSION);
        gongxu__v1__envelope__free_unpacked(env, NULL);
        goto out;
    }
    if (env->body_case != GONGXU__V1__ENVELOPE__BODY_REPLY &&
        env->body_case != GONGXU__V1__ENVELOPE__BODY_ERROR &&
        env->body_case != GONGXU__V1__ENVELOPE__BODY_NOTICE) {
        rc = s_fail(c, GX_CLIENT_ERROR,
                    "malformed frame from the broker: body %d is not a reply, error or notice",
                    (int)env->body_case);
        gongxu__v1__envelope__free_unpacked(env, NULL);
        goto out;
    }
    *out = env;
out:
    zmq_msg_close(&msg);
    return rc;
}

/* Looks at what listens at a tcp:// endpoint: connects with a plain socket and
 * reads the first bytes. A ZeroMQ peer greets at once with its signature (0xFF,
 * eight bytes, 0x7F); an HTTP server, say, waits for a request or answers in
 * text. 1: a ZeroMQ peer; 0: a peer that is not; -1: cannot tell (not tcp://,
 * a name that does not resolve, no connection). Only called to explain a
 * failure, within GX_CLIENT_PROBE_MS for each address tried. */
static int s_probe_zmtp(const char *endpoint)
{
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return -1;
    const char *at = strchr(endpoint + 6, ';'); /* "tcp://source;host:port" */
    at = at ? at + 1 : endpoint + 6;
    const char *colon = strrchr(at, ':');
    char host[256];
    size_t n = colon ? (size_t)(colon - at) : 0;
    if (!colon || n == 0 || n >= sizeof host || !colon[1])
        return -1;
    memcpy(host, at, n);
    host[n] = '\0';
    if (host[0] == '[' && n > 2 && host[n - 1] == ']') { /* [::1] */
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
        return -1;
    int verdict = -1;
    for (struct addrinfo *ai = res; ai && verdict < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int soerr = 0;
        socklen_t slen = sizeof soerr;
        bool up = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
                  (errno == EINPROGRESS && poll(&pfd, 1, GX_CLIENT_PROBE_MS) == 1 &&
                   getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) == 0 && soerr == 0);
        if (up) {
            uint8_t greet[10];
            size_t got = 0;
            int64_t deadline = s_now_ms() + GX_CLIENT_PROBE_MS;
            pfd.events = POLLIN;
            while (got < sizeof greet && poll(&pfd, 1, (int)s_left(deadline)) == 1) {
                ssize_t r = recv(fd, greet + got, sizeof greet - got, 0);
                if (r <= 0)
                    break;
                got += (size_t)r;
            }
            verdict = got == sizeof greet && greet[0] == 0xFF && (greet[9] & 0x01) ? 1 : 0;
        }
        close(fd);
    }
    freeaddrinfo(res);
    return verdict;
}

/* The message of a call that got no reply within timeout_ms: the endpoint and,
 * as far as the monitor (and, where it cannot tell, s_probe_zmtp) tells, why.
 * Every sentence is here, for translation. Returns GX_CLIENT_TIMEOUT. */
static gx_client_rc s_no_reply(gx_client *c, int timeout_ms)
{
    const char *e = c->endpoint;
    s_drain_monitor(c);
    if (!c->monitor) /* no monitor: the old hint is all there is */
        return s_fail(c, GX_CLIENT_TIMEOUT, "no reply from the broker at %.160s within %d ms%s", e,
                      timeout_ms, c->curve ? ": is the server key right, and is this key registered?" : "");
    if (c->connects == 0)
        return s_fail(c, GX_CLIENT_TIMEOUT,
                      "nothing answers at %.160s: is gongxud running, and is this its client port? (no "
                      "connection within %d ms)",
                      e, timeout_ms);
    if (c->hs_event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && c->hs_value == GX_CLIENT_ZAP_TRY_AGAIN)
        return s_fail(c, GX_CLIENT_TIMEOUT,
                      "the broker at %.160s is taking too many new connections (ZAP status 300, its "
                      "handshakes_per_second): try again in a moment",
                      e);
    if (c->hs_event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        return s_fail(
            c, GX_CLIENT_TIMEOUT,
            "the broker at %.160s refused this key in the CURVE handshake (ZAP status %u): it is not "
            "registered, or it was revoked (an operator registers its public key with gongxu "
            "--operator register-key FIRM KEY.pub), or this is the monitor port, which takes operator keys "
            "only",
            e, (unsigned)c->hs_value);
    if (c->hs_event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
        c->hs_value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        return s_fail(c, GX_CLIENT_TIMEOUT, "the broker at %.160s %s", e,
                      c->curve
                          ? "does not use CURVE (an --insecure-dev broker?): connect without a server key"
                          : "uses CURVE: give its server key and a registered key pair");
    if (!c->hs_ever) { /* connected, but no handshake ever completed */
        int zmtp = s_probe_zmtp(e);
        if (zmtp == 0)
            return s_fail(
                c, GX_CLIENT_TIMEOUT,
                "%.160s is not a gongxu broker (ZeroMQ handshake failed); the client port is 7450 by "
                "default (listen= in gongxud's ready line)",
                e);
        if (c->curve && (zmtp == 1 || c->disconnects > 0))
            return s_fail(c, GX_CLIENT_TIMEOUT,
                          "the broker at %.160s hung up during the CURVE handshake: the server key given is "
                          "not this broker's (it is in broker.pub in the broker's data directory)",
                          e);
        if (c->hs_event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
            return s_fail(
                c, GX_CLIENT_TIMEOUT,
                "%.160s broke off the ZeroMQ handshake (protocol error 0x%x): is it a gongxu broker's "
                "client port?",
                e, (unsigned)c->hs_value);
        return s_fail(
            c, GX_CLIENT_TIMEOUT,
            "%.160s accepted the connection, but the ZeroMQ handshake did not complete within %d ms: "
            "is it a gongxu broker's client port?",
            e, timeout_ms);
    }
    if (!c->limits.max_frame_bytes &&
        c->sent_len + (c->curve ? GX_CLIENT_CURVE_OVERHEAD : 0) > GX_CLIENT_DEFAULT_MAX_FRAME)
        return s_fail(
            c, GX_CLIENT_TIMEOUT,
            "no reply from the broker at %.160s within %d ms: the request was %zu bytes, more than the "
            "default max_frame_bytes (%d)%s; a broker drops the connection of a message over its "
            "max_frame_bytes without a reply: send less, or have the operator raise max_frame_bytes",
            e, timeout_ms, c->sent_len, GX_CLIENT_DEFAULT_MAX_FRAME,
            c->disconnects > c->sent_disconnects ? ", and it dropped the connection" : "");
    return s_fail(
        c, GX_CLIENT_TIMEOUT,
        "no reply from the broker at %.160s within %d ms: it is connected but did not answer; it may "
        "be busy (--timeout gives it longer), or this is not its client port",
        e, timeout_ms);
}

/* True for ERR_EVICTED: the broker closed this connection's session. */
static bool s_evicted(const Gongxu__V1__Envelope *env)
{
    return env->body_case == GONGXU__V1__ENVELOPE__BODY_ERROR && env->error &&
           env->error->code == GONGXU__V1__ERROR_CODE__ERR_EVICTED;
}

/* Sends req and waits for its reply (or error) until timeout_ms; queues notices.
 * An error envelope with request_id 0 answers the pending call too: the broker
 * sends that when it could not read our request id. */
static gx_client_rc s_call(gx_client *c, Gongxu__V1__Envelope *req, Gongxu__V1__Envelope **reply,
                           int timeout_ms)
{
    *reply = NULL;
    c->refused_code = 0;
    if (timeout_ms <= 0)
        timeout_ms = c->timeout_ms;
    int64_t deadline = s_deadline(timeout_ms);
    req->version = GX_CLIENT_VERSION;
    req->request_id = c->next_request_id++;
    gx_client_rc rc = s_send(c, req, deadline);
    if (rc == GX_CLIENT_TIMEOUT)
        return s_no_reply(c, timeout_ms);
    if (rc != GX_CLIENT_OK)
        return rc;
    for (;;) {
        Gongxu__V1__Envelope *env;
        rc = s_recv(c, &env, deadline, false);
        if (rc == GX_CLIENT_TIMEOUT)
            return s_no_reply(c, timeout_ms);
        if (rc != GX_CLIENT_OK)
            return rc;
        if (env->body_case == GONGXU__V1__ENVELOPE__BODY_NOTICE) {
            rc = s_enqueue(c, env);
            if (rc != GX_CLIENT_OK)
                return rc;
            continue;
        }
        if (env->request_id == 0 && s_evicted(env)) {
            /* told unasked that the broker closed our session: rebind before the
             * next call; this one is still answered (its request opens a new
             * session) */
            c->rebind = true;
            gongxu__v1__envelope__free_unpacked(env, NULL);
            continue;
        }
        bool ours = env->request_id == req->request_id ||
                    (env->request_id == 0 && env->body_case == GONGXU__V1__ENVELOPE__BODY_ERROR);
        if (!ours) { /* the late reply to a call that timed out */
            gongxu__v1__envelope__free_unpacked(env, NULL);
            continue;
        }
        *reply = env;
        if (env->body_case == GONGXU__V1__ENVELOPE__BODY_ERROR) {
            if (s_evicted(env))
                c->rebind = true; /* the request was not served: the caller rebinds and sends it again */
            c->refused_code = env->error->code;
            s_fail(c, GX_CLIENT_REFUSED, "%s: %s", s_error_name(env->error->code),
                   env->error->message ? env->error->message : "");
            return GX_CLIENT_REFUSED;
        }
        c->err[0] = '\0';
        return GX_CLIENT_OK;
    }
}

/* Says Hello; *code gets the broker's error code when refused. */
static gx_client_rc s_hello(gx_client *c, int *code)
{
    Gongxu__V1__Hello hello = GONGXU__V1__HELLO__INIT;
    hello.firm_id = c->firm_id;
    hello.operator_ = c->as_operator;
    hello.client = c->client_name;
    hello.understands_evicted = true; /* s_call says Hello and resumes when told */
    Gongxu__V1__Envelope req = GONGXU__V1__ENVELOPE__INIT;
    req.body_case = GONGXU__V1__ENVELOPE__BODY_HELLO;
    req.hello = &hello;
    Gongxu__V1__Envelope *reply = NULL;
    gx_client_rc rc = s_call(c, &req, &reply, 0);
    if (rc == GX_CLIENT_REFUSED && code)
        *code = reply->error->code;
    if (rc == GX_CLIENT_OK) /* an older broker answers with an empty Ping: limits 0 */
        s_keep_limits(c, reply->reply->result_case == GONGXU__V1__REPLY__RESULT_PONG ? reply->reply->pong
                                                                                     : NULL);
    gongxu__v1__envelope__free_unpacked(reply, NULL);
    return rc;
}

/* Sends Resume and waits for its ResumeInfo. */
static gx_client_rc s_resume(gx_client *c, bool from_last_ack, uint64_t after, Gongxu__V1__ResumeInfo *info)
{
    Gongxu__V1__Resume resume = GONGXU__V1__RESUME__INIT;
    resume.from_last_ack = from_last_ack;
    resume.after_seq = from_last_ack ? 0 : after;
    Gongxu__V1__Envelope req = GONGXU__V1__ENVELOPE__INIT;
    req.body_case = GONGXU__V1__ENVELOPE__BODY_RESUME;
    req.resume = &resume;
    Gongxu__V1__Envelope *reply = NULL;
    gx_client_rc rc = s_call(c, &req, &reply, 0);
    if (rc != GX_CLIENT_OK)
        goto out;
    if (reply->reply->result_case != GONGXU__V1__REPLY__RESULT_RESUME) {
        rc =
            s_fail(c, GX_CLIENT_ERROR, "malformed reply from the broker: Resume answered without ResumeInfo");
        goto out;
    }
    info->resumed_after = reply->reply->resume->resumed_after;
    info->head_seq = reply->reply->resume->head_seq;
out:
    gongxu__v1__envelope__free_unpacked(reply, NULL);
    return rc;
}

/* After a reconnect: Hello again, then Resume after the last delivered notice. */
static gx_client_rc s_rebind(gx_client *c)
{
    if (!c->rebind)
        return GX_CLIENT_OK;
    c->rebind = false;
    int code = 0;
    gx_client_rc rc = s_hello(c, &code);
    if (rc == GX_CLIENT_OK && c->resumed) {
        Gongxu__V1__ResumeInfo info = GONGXU__V1__RESUME_INFO__INIT;
        rc = s_resume(c, false, c->last_seq, &info);
    }
    if (rc != GX_CLIENT_OK) {
        char why[sizeof c->err];
        memcpy(why, c->err, sizeof why);
        c->rebind = true; /* try again on the next call */
        c->refused_code = 0;
        return s_fail(c, rc == GX_CLIENT_TIMEOUT ? GX_CLIENT_TIMEOUT : GX_CLIENT_ERROR,
                      "reconnected, but could not rebind the session: %s", why);
    }
    return GX_CLIENT_OK;
}

/* ------------------------------------------------------------------ API */

static void s_destroy(gx_client *c)
{
    if (!c)
        return;
    s_queue_clear(c);
    free(c->queue);
    if (c->monitor)
        zmq_close(c->monitor);
    if (c->sock) {
        zmq_socket_monitor(c->sock, NULL, 0);
        zmq_close(c->sock);
    }
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    free(c->endpoint);
    free(c->firm_id);
    free(c->client_name);
    free(c);
}

void gx_client_destroy(gx_client **c)
{
    if (!c)
        return;
    s_destroy(*c);
    *c = NULL;
}

static bool s_setopt(void *sock, int opt, int value)
{
    return zmq_setsockopt(sock, opt, &value, sizeof value) == 0;
}

/* Makes c->sock a CURVE client of the broker with public key server_key. */
static gx_client_rc s_curve(gx_client *c, const gx_client_opts *opts)
{
    if (!opts->public_key || !*opts->public_key || !opts->secret_key || !*opts->secret_key)
        return s_fail(c, GX_CLIENT_ERROR, "CURVE needs the client's key pair");
    const char *bad = !gx_keyfile_valid(opts->server_key)   ? "server key"
                      : !gx_keyfile_valid(opts->public_key) ? "public key"
                      : !gx_keyfile_valid(opts->secret_key) ? "secret key"
                                                            : NULL;
    if (bad)
        return s_fail(c, GX_CLIENT_ERROR, "the %s is not a 40-character Z85 CURVE key", bad);
    if (!zmq_has("curve"))
        return s_fail(c, GX_CLIENT_ERROR, "this libzmq was built without CURVE");
    if (zmq_setsockopt(c->sock, ZMQ_CURVE_SERVERKEY, opts->server_key, GX_KEY_Z85_LEN) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_CURVE_PUBLICKEY, opts->public_key, GX_KEY_Z85_LEN) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_CURVE_SECRETKEY, opts->secret_key, GX_KEY_Z85_LEN) != 0)
        return s_fail(c, GX_CLIENT_ERROR, "cannot set the CURVE keys: %s", zmq_strerror(zmq_errno()));
    c->curve = true;
    return GX_CLIENT_OK;
}

gx_client_rc gx_client_connect(const gx_client_opts *opts, gx_client **out, int *refused_code, char *err,
                               size_t errlen)
{
    gx_client_rc rc = GX_CLIENT_ERROR;
    gx_client *c = calloc(1, sizeof *c);
    if (err && errlen)
        err[0] = '\0';
    if (refused_code)
        *refused_code = 0;
    if (!c) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return GX_CLIENT_ERROR;
    }
    const char *endpoint = opts ? opts->endpoint : NULL;
    if (!endpoint || !*endpoint)
        endpoint = getenv("GONGXU_SERVER");
    if (!endpoint || !*endpoint)
        endpoint = GX_CLIENT_DEFAULT_ENDPOINT;
    c->next_request_id = 1;
    c->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : GX_CLIENT_DEFAULT_TIMEOUT_MS;
    c->as_operator = opts && opts->as_operator;
    c->firm_id = s_strdup0(opts ? opts->firm_id : NULL);
    c->client_name = s_strdup0(opts && opts->client_name ? opts->client_name : "libgongxu/1");
    c->endpoint = s_strdup0(endpoint);
    if (!c->firm_id || !c->client_name || !c->endpoint) {
        s_fail(c, GX_CLIENT_ERROR, "out of memory");
        goto out;
    }
    c->ctx = zmq_ctx_new();
    if (!c->ctx) {
        s_fail(c, GX_CLIENT_ERROR, "cannot create a ZeroMQ context: %s", zmq_strerror(zmq_errno()));
        goto out;
    }
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    int64_t maxmsg = GX_CLIENT_MAX_FRAME;
    if (!c->sock || !s_setopt(c->sock, ZMQ_LINGER, GX_CLIENT_LINGER_MS) ||
        !s_setopt(c->sock, ZMQ_RCVHWM, GX_CLIENT_RCVHWM) ||
        !s_setopt(c->sock, ZMQ_SNDHWM, GX_CLIENT_SNDHWM) ||
        !s_setopt(c->sock, ZMQ_RECONNECT_IVL_MAX, GX_CLIENT_RECONNECT_MAX_MS) ||
        zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0) {
        s_fail(c, GX_CLIENT_ERROR, "cannot set up the socket: %s", zmq_strerror(zmq_errno()));
        goto out;
    }
    if (opts && opts->server_key && *opts->server_key && s_curve(c, opts) != GX_CLIENT_OK)
        goto out;
    /* the monitor serves reconnect handling and better timeout messages: without
     * it the client still works */
    int events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | GX_CLIENT_HANDSHAKE_EVENTS;
    if (zmq_socket_monitor(c->sock, GX_CLIENT_MONITOR, events) == 0) {
        c->monitor = zmq_socket(c->ctx, ZMQ_PAIR);
        if (c->monitor &&
            (!s_setopt(c->monitor, ZMQ_LINGER, 0) || zmq_connect(c->monitor, GX_CLIENT_MONITOR) != 0)) {
            zmq_close(c->monitor);
            c->monitor = NULL;
        }
    }
    if (zmq_connect(c->sock, endpoint) != 0) {
        s_fail(c, GX_CLIENT_ERROR, "cannot connect to \"%s\": %s", endpoint, zmq_strerror(zmq_errno()));
        goto out;
    }
    int code = 0;
    rc = s_hello(c, &code);
    if (rc == GX_CLIENT_REFUSED && refused_code)
        *refused_code = code;
out:
    if (rc == GX_CLIENT_OK) {
        *out = c;
        return rc;
    }
    if (err && errlen)
        snprintf(err, errlen, "%s", c->err);
    s_destroy(c);
    return rc;
}

gx_client_rc gx_client_call(gx_client *c, Gongxu__V1__Envelope *req, Gongxu__V1__Envelope **reply,
                            int timeout_ms)
{
    *reply = NULL;
    c->refused_code = 0;
    gx_client_rc rc = s_rebind(c);
    if (rc != GX_CLIENT_OK)
        return rc;
    rc = s_call(c, req, reply, timeout_ms);
    if (rc == GX_CLIENT_REFUSED && c->refused_code == GONGXU__V1__ERROR_CODE__ERR_EVICTED) {
        /* refused unserved because the broker had closed our session: once more,
         * on a session of its own (Hello, and Resume if we had resumed) */
        gongxu__v1__envelope__free_unpacked(*reply, NULL);
        *reply = NULL;
        c->refused_code = 0;
        if ((rc = s_rebind(c)) != GX_CLIENT_OK)
            return rc;
        rc = s_call(c, req, reply, timeout_ms);
    }
    if (rc == GX_CLIENT_OK && req->body_case == GONGXU__V1__ENVELOPE__BODY_PING &&
        (*reply)->reply->result_case == GONGXU__V1__REPLY__RESULT_PONG)
        s_keep_limits(c, (*reply)->reply->pong);
    return rc;
}

/* Also resets the notice stream: delivery restarts after the seq the broker
 * resumes from. Notices already queued past it are kept (a broker hands each
 * notice to one connection once, so it does not send those again); older ones
 * are dropped by seq. */
gx_client_rc gx_client_resume(gx_client *c, bool from_last_ack, uint64_t after, Gongxu__V1__ResumeInfo *info)
{
    Gongxu__V1__ResumeInfo got = GONGXU__V1__RESUME_INFO__INIT;
    c->refused_code = 0;
    gx_client_rc rc = s_rebind(c);
    if (rc != GX_CLIENT_OK)
        return rc;
    rc = s_resume(c, from_last_ack, after, &got);
    if (rc == GX_CLIENT_REFUSED && c->refused_code == GONGXU__V1__ERROR_CODE__ERR_EVICTED) {
        c->refused_code = 0;
        if ((rc = s_rebind(c)) != GX_CLIENT_OK)
            return rc;
        rc = s_resume(c, from_last_ack, after, &got);
    }
    if (rc != GX_CLIENT_OK)
        return rc;
    c->resumed = true;
    c->last_seq = got.resumed_after;
    if (info) {
        info->resumed_after = got.resumed_after;
        info->head_seq = got.head_seq;
    }
    return GX_CLIENT_OK;
}

gx_client_rc gx_client_next_notice(gx_client *c, Gongxu__V1__Envelope **notice, int timeout_ms)
{
    *notice = NULL;
    c->refused_code = 0;
    int64_t deadline = s_deadline(timeout_ms);
    for (;;) {
        gx_client_rc rc = s_rebind(c);
        if (rc != GX_CLIENT_OK)
            return rc;
        Gongxu__V1__Envelope *env;
        while ((env = s_dequeue(c))) {
            if (env->notice->seq > c->last_seq) {
                c->last_seq = env->notice->seq;
                *notice = env;
                return GX_CLIENT_OK;
            }
            gongxu__v1__envelope__free_unpacked(env, NULL); /* delivered before */
        }
        rc = s_recv(c, &env, deadline, true);
        if (rc != GX_CLIENT_OK)
            return rc;
        if (!env) /* reconnected: rebind at the top */
            continue;
        if (env->body_case != GONGXU__V1__ENVELOPE__BODY_NOTICE) {
            if (s_evicted(env))
                c->rebind = true; /* our session was closed: Hello and Resume at the top */
            gongxu__v1__envelope__free_unpacked(env, NULL); /* a late reply */
            continue;
        }
        rc = s_enqueue(c, env);
        if (rc != GX_CLIENT_OK)
            return rc;
    }
}

gx_client_rc gx_client_ack(gx_client *c, uint64_t seq)
{
    Gongxu__V1__Ack ack = GONGXU__V1__ACK__INIT;
    ack.seq = seq;
    Gongxu__V1__Envelope req = GONGXU__V1__ENVELOPE__INIT;
    req.body_case = GONGXU__V1__ENVELOPE__BODY_ACK;
    req.ack = &ack;
    Gongxu__V1__Envelope *reply = NULL;
    gx_client_rc rc = gx_client_call(c, &req, &reply, 0);
    gongxu__v1__envelope__free_unpacked(reply, NULL);
    return rc;
}

const char *gx_client_error(const gx_client *c)
{
    return c ? c->err : "";
}

int gx_client_refused_code(const gx_client *c)
{
    return c ? c->refused_code : 0;
}
