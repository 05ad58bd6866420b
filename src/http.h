/* http.h — the operator's HTTP side: libmicrohttpd, driven by the event loop.
 *
 * One MHD daemon in external-epoll mode: the loop polls gx_http_fd() next to
 * its ZeroMQ sockets and calls gx_http_run() when it is readable or
 * gx_http_timeout_ms() has passed, so every handler runs on the loop's thread
 * and reads the broker without locks. Serves:
 *  - the dashboard assets embedded at build time (src/dashboard/: "/" and its files);
 *  - /events, server-sent events of the match flow from a bounded replay buffer
 *    (gx_http_event appends; the render callback writes an event when a stream
 *    sends it; a reconnecting client's Last-Event-ID resumes after that event,
 *    or gets an "event: gap" when it fell out of the buffer);
 *  - everything else through the page callback (/metrics, /healthz, ...).
 * GET and HEAD only. Binds loopback unless the caller allows otherwise. */
#ifndef GX_HTTP_H
#define GX_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct gx_http gx_http;

/* One embedded file of the dashboard (generated from src/dashboard/ at build time). */
typedef struct gx_http_asset {
    const char *path;           /* "/", "/app.js", "/vendor/..." */
    const char *type;           /* Content-Type */
    const unsigned char *data;
    unsigned long len;
} gx_http_asset;
extern const gx_http_asset gx_dashboard_assets[];
extern const size_t gx_dashboard_assets_n;

/* Answers one GET for path (no query string): fills *status (200, 404, 503,
 * ...), *type (a static string) and *body (malloc'd, *len bytes; the server
 * frees it). Returns false for an unknown path. */
typedef bool (*gx_http_page_fn)(void *ctx, const char *path, int *status, const char **type, char **body,
                                size_t *len);

/* Writes event id (type, and the bytes gx_http_event was given) as one
 * server-sent event ("id: N\nevent: T\ndata: {...}\n\n") into out (cap bytes);
 * returns its length, or 0 to leave the event out. Called when a stream
 * sends it, so that events nobody reads cost nothing but their copy. */
typedef size_t (*gx_http_render_fn)(void *ctx, uint64_t id, const char *type, const void *data, size_t len,
                                    char *out, size_t cap);

typedef struct gx_http_opts {
    const char *listen;        /* "ADDRESS:PORT" or "[v6]:PORT"; port 0 picks one */
    bool allow_remote;         /* else a non-loopback address is refused */
    size_t replay;             /* events kept for Last-Event-ID replay */
    gx_http_page_fn page;      /* dynamic pages */
    gx_http_render_fn render;  /* /events */
    void *ctx;                 /* for both */
} gx_http_opts;

/* Starts the daemon (bound, not yet serving until gx_http_run).
 * GX_ERR_CONFIG for a refused or malformed address, GX_ERR_IO when it cannot bind. */
gx_err gx_http_new(const gx_http_opts *opts, gx_http **out, char *err, size_t errlen);

/* The bound address as a URL ("http://127.0.0.1:7452"). */
const char *gx_http_url(const gx_http *h);

/* The file descriptor the loop polls for input, and how long it may wait (ms,
 * -1 = no timeout of MHD's own). */
int gx_http_fd(const gx_http *h);
long gx_http_timeout_ms(const gx_http *h);

/* Does all pending HTTP work without blocking. now_ms drives keep-alives. */
void gx_http_run(gx_http *h, int64_t now_ms);

/* Appends one match-flow event (type "match", "demand", ...; data as the
 * render callback understands it, copied) and wakes /events streams. */
void gx_http_event(gx_http *h, const char *type, const void *data, size_t len);

/* Number of /events streams connected. */
size_t gx_http_streams(const gx_http *h);

/* Stops the daemon (closing every connection) and frees. NULLs *h, tolerates NULL. */
void gx_http_destroy(gx_http **h);

#endif
