/* loop.h — the event loop: the only owner of sockets.
 *
 * Binds the client ROUTER (ZMQ_ROUTER_MANDATORY, so a full or vanished peer is
 * an error we see instead of a silent drop), the monitor PUB and the operator
 * HTTP side (http.h), and polls them together with a signalfd (SIGTERM/SIGINT
 * stop, SIGHUP reloads). Speaks systemd's sd_notify protocol when NOTIFY_SOCKET
 * is set: STATUS= and EXTEND_TIMEOUT_USEC= while a start loads the engine
 * (gx_loop_starting), READY=1 once bound, RELOADING=1 / READY=1 around a reload,
 * STOPPING=1, and WATCHDOG=1 at half of WatchdogSec. Each wake-up
 * drains up to batch_max waiting requests into one broker batch: one durable
 * commit, then every reply. Timers drive validity expiry and retries of
 * deliveries that hit a high-water mark. Single thread. */
#ifndef GX_LOOP_H
#define GX_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "config.h"

typedef struct gx_loop gx_loop;

/* Builds the configuration anew for a reload (file + overrides); returns
 * GX_OK or GX_ERR_CONFIG with a message in err. */
typedef gx_err (*gx_loop_reload_fn)(void *ctx, gx_config *next, char *err, size_t errlen);

/* A gx_broker_progress_fn for gx_broker_new, before there is a loop: tells
 * systemd the status line and extends its start timeout past the next report
 * (three intervals, at least a minute), so that a start which takes longer than
 * TimeoutStartSec but keeps reporting is not killed. arg is unused. */
void gx_loop_starting(void *arg, const char *status, int64_t next_ms);

/* Creates sockets and binds them; blocks SIGTERM, SIGINT and SIGHUP for the
 * signalfd. The broker is borrowed. */
gx_err gx_loop_new(const gx_config *cfg, gx_broker *b, gx_loop_reload_fn reload, void *reload_ctx, gx_loop **out,
                   char *err, size_t errlen);

/* The endpoints actually bound (a "*" port resolved), for logs and tests. */
const char *gx_loop_endpoint(const gx_loop *l);
const char *gx_loop_monitor_endpoint(const gx_loop *l);
/* The operator HTTP side's URL ("http://127.0.0.1:7452"), "" when off. */
const char *gx_loop_http_url(const gx_loop *l);
/* The broker's CURVE public key (Z85), "" in --insecure-dev mode. */
const char *gx_loop_server_key(const gx_loop *l);

/* Runs until SIGTERM or SIGINT; the batch in progress is committed and answered,
 * requests already waiting are drained in a last batch. */
gx_err gx_loop_run(gx_loop *l);

/* Closes the sockets (linger bounded) and frees. NULLs *l; tolerates NULL. */
void gx_loop_destroy(gx_loop **l);

#endif
