/* gongxu/client.h — the C client library for the gongxu broker.
 *
 * One gx_client is one DEALER connection to the broker's ROUTER. Against a
 * broker with CURVE (server_key set) the connection is encrypted and its firm
 * (or the operator role) is the one the broker registered this key pair for;
 * the Hello sent on connect then only names it, and the broker refuses a Hello
 * naming another firm. Against an --insecure-dev broker (no server_key) the
 * Hello itself binds the firm. The broker refuses an unknown or revoked key
 * during the CURVE handshake, before any message: that shows up as no reply
 * (GX_CLIENT_TIMEOUT), never as a refusal; the library's socket monitor then
 * tells why (nothing listening, not a ZeroMQ broker, key refused, wrong server
 * key) in gx_client_error. The broker's reply to Hello tells its limits; a
 * request over its max_frame_bytes, which the broker would answer by dropping
 * the connection, is refused here instead (GX_CLIENT_TOO_LARGE). Requests are
 * Envelopes from <gongxu/v1/gongxu.pb-c.h>; the library sets version and
 * request_id, sends, and waits for the reply with the same request_id, queueing
 * any notice that arrives meanwhile. Notices are delivered once, in sequence
 * order: a notice whose seq is not above the last one delivered is dropped.
 * When ZeroMQ reconnects (a broker restart), the library says Hello again before
 * the next call and, once resumed, resumes after the last notice it delivered.
 *
 * A gx_client is not thread-safe; use one per thread. */
#ifndef GONGXU_CLIENT_H
#define GONGXU_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gongxu/v1/gongxu.pb-c.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GX_CLIENT_DEFAULT_ENDPOINT "tcp://127.0.0.1:7450"
#define GX_CLIENT_DEFAULT_MAX_FRAME 262144 /* the broker's default max_frame_bytes */
#define GX_CLIENT_CURVE_OVERHEAD 33        /* bytes CURVE adds to a message: counted by a broker that did not tell its limits */

typedef struct gx_client gx_client;

typedef struct gx_client_opts {
    const char *endpoint;     /* NULL: $GONGXU_SERVER, else GX_CLIENT_DEFAULT_ENDPOINT */
    const char *firm_id;      /* the firm to act as (USCC); NULL/"" with as_operator */
    bool as_operator;         /* ask for the operator role */
    const char *client_name;  /* free text sent in Hello, may be NULL */
    int timeout_ms;           /* per-call reply timeout; 0 = 5000 */
    const char *server_key;   /* the broker's CURVE public key, Z85 (40 chars); NULL/"" = no CURVE */
    const char *public_key;   /* our CURVE public key, Z85; required with server_key, else ignored */
    const char *secret_key;   /* our CURVE secret key, Z85; required with server_key; not kept */
} gx_client_opts;

/* Result of library calls. */
typedef enum gx_client_rc {
    GX_CLIENT_OK = 0,
    GX_CLIENT_TIMEOUT = 1, /* no reply / notice within the timeout */
    GX_CLIENT_ERROR = 2,   /* transport or encoding failure; see gx_client_error */
    GX_CLIENT_REFUSED = 3, /* the broker answered with an Error envelope */
    GX_CLIENT_TOO_LARGE =
        4, /* not sent: over the broker's max_frame_bytes; gx_client_error says by how much */
} gx_client_rc;

/* What the broker said it enforces, in its reply to Hello (and to Ping). */
typedef struct gx_client_limits {
    char version[32];          /* the broker's version; "" when it did not say */
    uint32_t max_frame_bytes;  /* largest message it reads; 0 when it did not say (an older broker) */
    uint32_t max_string_bytes; /* longest short string (codes, names, units); 0: did not say */
    uint32_t max_text_bytes;   /* longest text (summary, details, messages); 0: did not say */
    uint32_t max_repeated;     /* most entries in one repeated field; 0: did not say */
} gx_client_limits;

/* Connects and says Hello. With opts->server_key the socket is a CURVE client
 * (keys are copied into the socket; opts may be freed afterwards); a server_key
 * without both client keys, or a key that is not 40 Z85 characters, is
 * GX_CLIENT_ERROR before anything is sent. On GX_CLIENT_TIMEOUT err says what
 * the socket monitor saw: no connection at all (nothing listens there), a peer
 * that is not a ZeroMQ broker (the ZeroMQ handshake never completed), a key
 * the broker refused (not registered, or revoked: its ZAP status), or a broker
 * that hung up during the CURVE handshake (the server key is not its key).
 * On GX_CLIENT_REFUSED the broker's
 * error code is in *refused_code when refused_code is not NULL. *out is set
 * only on success. */
gx_client_rc gx_client_connect(const gx_client_opts *opts, gx_client **out, int *refused_code,
                               char *err, size_t errlen);

/* Closes the connection and frees; NULLs *c; tolerates NULL. */
void gx_client_destroy(gx_client **c);

/* Sends req (its version and request_id are overwritten) and waits up to
 * timeout_ms (0 = the connection's default) for its reply. A request larger
 * than gx_client_max_request is GX_CLIENT_TOO_LARGE, unsent. On GX_CLIENT_OK or
 * GX_CLIENT_REFUSED, *reply is the reply Envelope (body reply or error), owned by
 * the caller: free with gongxu__v1__envelope__free_unpacked(*reply, NULL). */
gx_client_rc gx_client_call(gx_client *c, Gongxu__V1__Envelope *req, Gongxu__V1__Envelope **reply,
                            int timeout_ms);

/* Asks the broker to start pushing notices: after the firm's last ack when
 * from_last_ack, else after seq `after`. *info (may be NULL) receives the
 * ResumeInfo. Notices queued but not yet delivered are discarded and delivery
 * restarts after info->resumed_after, so an explicit replay is delivered. */
gx_client_rc gx_client_resume(gx_client *c, bool from_last_ack, uint64_t after,
                              Gongxu__V1__ResumeInfo *info);

/* Waits up to timeout_ms (-1 = forever) for the next notice; *notice is an
 * Envelope with body notice, owned by the caller (free as above). */
gx_client_rc gx_client_next_notice(gx_client *c, Gongxu__V1__Envelope **notice, int timeout_ms);

/* Acknowledges every notice up to seq (waits for the broker's reply). */
gx_client_rc gx_client_ack(gx_client *c, uint64_t seq);

/* The limits the broker told in its reply to the last Hello or Ping on c
 * (all 0 when it did not say). */
void gx_client_limits_get(const gx_client *c, gx_client_limits *out);

/* The largest packed Envelope c sends: the broker's max_frame_bytes (a broker
 * that tells its limits counts the message before CURVE wraps it); 0 when the
 * broker did not say. Larger requests get GX_CLIENT_TOO_LARGE without being sent. */
size_t gx_client_max_request(const gx_client *c);

/* The last transport error message, or "" (valid until the next call). */
const char *gx_client_error(const gx_client *c);

/* The broker's ErrorCode from the last call that returned GX_CLIENT_REFUSED
 * (gx_client_call, gx_client_resume, gx_client_ack), or 0 after any other
 * result; gx_client_error then holds "ERR_NAME: message". */
int gx_client_refused_code(const gx_client *c);

#ifdef __cplusplus
}
#endif
#endif
