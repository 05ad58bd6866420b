/* gxload_net.h — plumbing of the gongxu load client (gxload): CURVE DEALER
 * sockets, the firms' key file, request frames, a set of sockets waited on
 * with nanosecond timeouts, and latency samples.
 *
 * Frames are built here rather than through protobuf-c structs where it pays:
 * a posting is a stored-record encoding (src/codec.h) wrapped in the two
 * length-delimited layers Envelope{post_demand{demand}}, which is byte for byte
 * what protobuf-c would write. Replies and notices are decoded with protobuf-c.
 * Nothing here is thread-shared: each thread owns its sockets and samples. */
#ifndef GXLOAD_NET_H
#define GXLOAD_NET_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gongxu/v1/gongxu.pb-c.h"

/* Envelope body field numbers of the requests sent as wrapped records. */
#define GXL_F_REGISTER_FIRM 11
#define GXL_F_POST_DEMAND 13
#define GXL_F_POST_OFFER 14

/* One firm's CURVE key pair, as registered by `gxload setup`. */
typedef struct gxl_key {
    char firm[19]; /* USCC, NUL-terminated */
    char pub[41];  /* Z85 public key */
    char sec[41];  /* Z85 secret key */
} gxl_key;

/* Monotonic seconds. */
double gxl_now(void);

/* A DEALER connected to endpoint, with CURVE when server_key is not empty.
 * Linger 0, high-water marks raised, reconnect interval 10 ms. NULL on error
 * (message on stderr). */
void *gxl_socket(void *ctx, const char *endpoint, const char *server_key, const char *pub, const char *sec);

/* The broker's public key from arg: a 40-character Z85 key or a key file
 * (broker.pub). 0, or -1 with a message on stderr. */
int gxl_server_key(const char *arg, char out[41]);

/* Key file of the benchmark firms: one "FIRM PUBLIC SECRET" line each, mode
 * 0600. write: 0 or -1. read: *out is malloc'd (caller frees), 0 or -1. */
int gxl_keys_write(const char *path, const gxl_key *keys, size_t n);
int gxl_keys_read(const char *path, gxl_key **out, size_t *n);

/* A growable frame buffer. */
typedef struct gxl_frame {
    uint8_t *data; /* owned */
    size_t len;    /* bytes used */
    size_t cap;    /* bytes allocated */
} gxl_frame;
void gxl_frame_fini(gxl_frame *f);

/* Envelope{version 1, request_id rid, <field>{<1: rec>}}: a PostDemand,
 * PostOffer or RegisterFirm around an encoded Demand, Offer or Firm. 0 or -1. */
int gxl_frame_wrap(gxl_frame *f, uint64_t rid, unsigned field, const uint8_t *rec, size_t len);

/* Packs a protobuf-c Envelope (version is set to 1). 0 or -1. */
int gxl_frame_pack(gxl_frame *f, Gongxu__V1__Envelope *e);

/* Sends a frame without blocking; 0, or -1 when it cannot go now. */
int gxl_send(void *sock, const gxl_frame *f);

/* ---- a set of sockets waited on together (ppoll over their ZMQ_FDs).
 * ZMQ_FD is edge-triggered: after any send or receive on a socket, call
 * gxl_set_touch so its ZMQ_EVENTS is read again before the next wait. */
typedef struct gxl_set {
    void **socks;       /* borrowed sockets */
    struct pollfd *pfd; /* their ZMQ_FDs */
    size_t n;           /* count */
    uint32_t *dirty;    /* indices whose ZMQ_EVENTS must be read */
    size_t n_dirty;     /* count in dirty */
    bool *is_dirty;     /* membership of dirty */
} gxl_set;

int gxl_set_init(gxl_set *s, void **socks, size_t n);
void gxl_set_fini(gxl_set *s);
void gxl_set_touch(gxl_set *s, size_t i);

/* Called for each message received: socket index, bytes, length. */
typedef void (*gxl_on_msg)(void *arg, size_t i, const uint8_t *data, size_t len);

/* Receives everything waiting on dirty sockets (calling on_msg), then waits up
 * to timeout seconds (0: do not wait) for any socket to become readable and
 * receives that too. Returns the number of messages handled. */
size_t gxl_set_pump(gxl_set *s, double timeout, gxl_on_msg on_msg, void *arg);

/* ---- latency samples in microseconds */
typedef struct gxl_lat {
    uint32_t *v; /* owned samples, microseconds */
    size_t n;    /* count */
    size_t cap;  /* allocated */
} gxl_lat;

/* Adds one sample (seconds); samples beyond 50 million are dropped. */
void gxl_lat_add(gxl_lat *l, double seconds);
/* Appends src's samples to dst. */
void gxl_lat_merge(gxl_lat *dst, const gxl_lat *src);
/* The q-quantile (0..1) in microseconds, sorting the samples; 0 when empty. */
double gxl_lat_quantile(gxl_lat *l, double q);
void gxl_lat_fini(gxl_lat *l);

#endif
