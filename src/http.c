/* http.c — libmicrohttpd in external-epoll mode, the dashboard assets and the
 * /events stream. See http.h. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "log.h"

#define S_EVENT_MAX 16384          /* longest event, bytes (monitor events are far smaller) */
#define S_BLOCK 65536              /* bytes MHD asks a stream for at most */
#define S_STREAMS_MAX 64           /* /events streams at once */
#define S_KEEPALIVE_MS 15000       /* a comment line after this much silence */
#define S_WAKE_MS 5000             /* how often idle streams are looked at */

/* One event as it was given: rendered only when a stream sends it. */
typedef struct s_event {
    uint64_t id;
    const char *type;   /* static */
    void *data;
    size_t len;
} s_event;

/* One /events connection. */
typedef struct s_stream {
    gx_http *h;
    struct MHD_Connection *conn;
    uint64_t next;                 /* id of the next event to send */
    char pend[S_EVENT_MAX + 128];  /* text being written when it did not fit at once */
    size_t pend_len, pend_off;     /* its length, and how much went out */
    bool suspended;                /* parked until an event or a wake-up */
    int64_t last_write_ms;
    struct s_stream *prev, *next_s;
} s_stream;

struct gx_http {
    struct MHD_Daemon *d;
    char url[96];
    gx_http_page_fn page;
    gx_http_render_fn render;
    void *ctx;
    s_event *ring;                 /* event id k lives at ring[k % cap] */
    size_t cap;
    uint64_t head;                 /* newest event id; 0 before the first */
    s_stream *streams;             /* every open stream */
    size_t n_streams;
    int64_t now_ms;
    int64_t next_wake_ms;
    bool stopping;
};

static void s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    gx_log(GX_LOG_INFO, "http: %s", msg);
}

/* ---- /events */

static void s_unlink(s_stream *s)
{
    gx_http *h = s->h;
    if (s->prev)
        s->prev->next_s = s->next_s;
    else
        h->streams = s->next_s;
    if (s->next_s)
        s->next_s->prev = s->prev;
    h->n_streams--;
}

static void s_stream_free(void *cls)
{
    s_stream *s = cls;
    s_unlink(s);
    free(s);
}

static uint64_t s_oldest(const gx_http *h)
{
    return h->head >= h->cap ? h->head - h->cap + 1 : 1;
}

/* Puts text in the stream's pending buffer (empty before). */
static void s_pend(s_stream *s, const char *text, size_t len)
{
    if (len > sizeof s->pend)
        len = sizeof s->pend; /* never: events are capped below its size */
    memcpy(s->pend, text, len);
    s->pend_len = len;
    s->pend_off = 0;
}

/* Writes what a stream has waiting into buf (max bytes, any size MHD likes):
 * whole events while they fit, the rest of one through the pending buffer;
 * suspends the connection when there is nothing to say. */
static ssize_t s_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    s_stream *s = cls;
    gx_http *h = s->h;
    size_t n = 0;
    if (h->stopping)
        return MHD_CONTENT_READER_END_OF_STREAM;
    while (n < max) {
        if (s->pend_off < s->pend_len) {
            size_t k = s->pend_len - s->pend_off < max - n ? s->pend_len - s->pend_off : max - n;
            memcpy(buf + n, s->pend + s->pend_off, k);
            n += k;
            s->pend_off += k;
            continue;
        }
        if (s->next > h->head)
            break;
        if (s->next < s_oldest(h)) {
            /* Fell out of the replay buffer: say so, then go on from the oldest kept. */
            char gap[160];
            int w = snprintf(gap, sizeof gap, "event: gap\ndata: {\"missed_from\":%llu,\"resumes_at\":%llu}\n\n",
                             (unsigned long long)s->next, (unsigned long long)s_oldest(h));
            s_pend(s, gap, (size_t)w);
            s->next = s_oldest(h);
            continue;
        }
        const s_event *ev = &h->ring[s->next % h->cap];
        s->next++;
        /* rendered into the pending buffer, then copied out as room allows */
        s->pend_len = h->render ? h->render(h->ctx, ev->id, ev->type, ev->data, ev->len, s->pend, sizeof s->pend) : 0;
        s->pend_off = 0;
    }
    if (n == 0 && h->now_ms - s->last_write_ms >= S_KEEPALIVE_MS) {
        s_pend(s, ": keepalive\n\n", 13);
        n = max < 13 ? max : 13;
        memcpy(buf, s->pend, n);
        s->pend_off = n;
    }
    if (n) {
        s->last_write_ms = h->now_ms;
        return (ssize_t)n;
    }
    MHD_suspend_connection(s->conn);
    s->suspended = true;
    return 0;
}

static void s_wake(gx_http *h)
{
    for (s_stream *s = h->streams; s; s = s->next_s)
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->conn);
        }
}

static enum MHD_Result s_events(gx_http *h, struct MHD_Connection *c)
{
    if (h->n_streams >= S_STREAMS_MAX) {
        static const char msg[] = "too many /events streams\n";
        struct MHD_Response *r = MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Retry-After", "10");
        enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_SERVICE_UNAVAILABLE, r);
        MHD_destroy_response(r);
        return rc;
    }
    s_stream *s = calloc(1, sizeof *s);
    if (!s)
        return MHD_NO;
    s->h = h;
    s->conn = c;
    s->next = h->head + 1; /* a new stream starts with what happens next */
    s->last_write_ms = h->now_ms;
    s_pend(s, "retry: 2000\n\n", 13); /* reconnect after 2 s */
    const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    if (last && *last) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(last, &end, 10);
        if (!errno && !*end && v <= h->head)
            s->next = v + 1;
    }
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, S_BLOCK, s_stream_read, s, s_stream_free);
    if (!r) {
        free(s);
        return MHD_NO;
    }
    s->next_s = h->streams;
    if (h->streams)
        h->streams->prev = s;
    h->streams = s;
    h->n_streams++;
    MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r); /* the connection holds it; s_stream_free runs when it ends */
    return rc;
}

void gx_http_event(gx_http *h, const char *type, const void *data, size_t len)
{
    if (!h || len > S_EVENT_MAX)
        return;
    void *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    if (len)
        memcpy(copy, data, len);
    uint64_t id = h->head + 1;
    s_event *slot = &h->ring[id % h->cap];
    free(slot->data);
    *slot = (s_event){id, type, copy, len};
    h->head = id;
    s_wake(h);
}

size_t gx_http_streams(const gx_http *h)
{
    return h ? h->n_streams : 0;
}

/* ---- requests */

static enum MHD_Result s_send(struct MHD_Connection *c, int status, const char *type, struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result s_text(struct MHD_Connection *c, int status, const char *msg)
{
    return s_send(c, status, "text/plain; charset=utf-8",
                  MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_MUST_COPY));
}

static enum MHD_Result s_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    gx_http *h = cls;
    if (*upload_size) { /* a body on a GET: read and ignore it */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(sizeof "only GET and HEAD\n" - 1,
                                                                 (void *)"only GET and HEAD\n", MHD_RESPMEM_PERSISTENT);
        if (r)
            MHD_add_response_header(r, "Allow", "GET, HEAD");
        return s_send(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", r);
    }
    if (strcmp(url, "/events") == 0)
        return s_events(h, c);
    if (strcmp(url, "/favicon.ico") == 0) /* browsers ask; there is none */
        return s_send(c, MHD_HTTP_NO_CONTENT, "text/plain; charset=utf-8",
                      MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT));
    const char *path = strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0 ? "/" : url;
    for (size_t i = 0; i < gx_dashboard_assets_n; i++)
        if (strcmp(gx_dashboard_assets[i].path, path) == 0)
            return s_send(c, MHD_HTTP_OK, gx_dashboard_assets[i].type,
                          MHD_create_response_from_buffer(gx_dashboard_assets[i].len,
                                                          (void *)gx_dashboard_assets[i].data, MHD_RESPMEM_PERSISTENT));
    int status = 500;
    const char *type = "text/plain; charset=utf-8";
    char *body = NULL;
    size_t len = 0;
    if (h->page && h->page(h->ctx, url, &status, &type, &body, &len)) {
        if (!body)
            return s_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return s_send(c, status, type, MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE));
    }
    return s_text(c, MHD_HTTP_NOT_FOUND,
                  "not found; try / (dashboard), /metrics, /healthz, /readyz, /api/snapshot, /events\n");
}

/* ---- lifecycle */

gx_err gx_http_new(const gx_http_opts *o, gx_http **out, char *err, size_t errlen)
{
    char host[64];
    uint16_t port;
    *out = NULL;
    if (!gx_config_parse_listen(o->listen, host, sizeof host, &port, err, errlen))
        return GX_ERR_CONFIG;
    if (!o->allow_remote && !gx_config_is_loopback(host)) {
        snprintf(err, errlen, "%s is not a loopback address, and allow_remote is off", o->listen);
        return GX_ERR_CONFIG;
    }
    gx_http *h = calloc(1, sizeof *h);
    if (!h)
        return GX_ERR_NOMEM;
    h->cap = o->replay ? o->replay : 1;
    h->ring = calloc(h->cap, sizeof *h->ring);
    h->page = o->page;
    h->render = o->render;
    h->ctx = o->ctx;
    if (!h->ring) {
        free(h);
        return GX_ERR_NOMEM;
    }
    struct sockaddr_storage sa = {0};
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    bool v6 = strchr(host, ':') != NULL;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&sa;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        inet_pton(AF_INET6, host, &a->sin6_addr);
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&sa;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &a->sin_addr);
    }
    h->d = MHD_start_daemon(flags, port, NULL, NULL, s_handle, h, MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, NULL,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)256, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: it sets SO_REUSEPORT, with which a
     * second broker binds the same port and the kernel deals requests to both. */
    if (!h->d) {
        int e = errno;
        if (e == EADDRINUSE)
            snprintf(err, errlen,
                     "cannot serve HTTP on %s: the port is in use (another gongxud?); choose another "
                     "http_listen, or http_listen = \"\" to turn HTTP off",
                     o->listen);
        else
            snprintf(err, errlen, "cannot serve HTTP on %s: %s", o->listen, e ? strerror(e) : "MHD refused");
        gx_http_destroy(&h);
        return GX_ERR_IO;
    }
    const union MHD_DaemonInfo *pi = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(h->url, sizeof h->url, v6 ? "http://[%s]:%u" : "http://%s:%u", host, pi ? pi->port : port);
    *out = h;
    return GX_OK;
}

const char *gx_http_url(const gx_http *h)
{
    return h->url;
}

int gx_http_fd(const gx_http *h)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
    return i ? i->epoll_fd : -1;
}

long gx_http_timeout_ms(const gx_http *h)
{
    MHD_UNSIGNED_LONG_LONG t;
    long wake = h->n_streams ? S_WAKE_MS : -1;
    if (MHD_get_timeout(h->d, &t) == MHD_YES && (wake < 0 || t < (MHD_UNSIGNED_LONG_LONG)wake))
        return (long)t;
    return wake;
}

void gx_http_run(gx_http *h, int64_t now_ms)
{
    h->now_ms = now_ms;
    if (now_ms >= h->next_wake_ms) { /* idle streams get their keep-alive, and closed ones are noticed */
        s_wake(h);
        h->next_wake_ms = now_ms + S_WAKE_MS;
    }
    MHD_run(h->d);
}

void gx_http_destroy(gx_http **ph)
{
    gx_http *h = *ph;
    if (!h)
        return;
    if (h->d) {
        h->stopping = true;
        s_wake(h);
        MHD_run(h->d);
        MHD_stop_daemon(h->d);
    }
    for (size_t i = 0; i < h->cap; i++)
        free(h->ring[i].data);
    free(h->ring);
    free(h);
    *ph = NULL;
}
