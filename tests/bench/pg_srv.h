/* pg_srv.h — a private PostgreSQL 15 server for one benchmark run.
 *
 * pg_srv_start makes a fresh directory under a parent, runs initdb into it and
 * starts the server on a free loopback port with its unix socket inside that
 * directory and stock durability (fsync on, synchronous_commit on, default WAL
 * settings); only shared_buffers and max_connections are set. When the process
 * runs as root, initdb and pg_ctl run as the `postgres` user (runuser) and the
 * directory is chowned to it; when that user cannot reach the parent (a tree
 * under /root, mode 0700), the directory goes under /var/tmp (else /tmp)
 * instead, said on stderr. Children run in that directory, never in the
 * caller's working directory. pg_srv_stop stops the server (pg_ctl stop -m fast)
 * and removes the directory; it is safe to call twice and on a half-started
 * server. Every child process is waited for with a deadline and killed past it.
 * Not thread-safe: the main thread starts and stops. */
#ifndef GX_BENCH_PG_SRV_H
#define GX_BENCH_PG_SRV_H

#include <stdbool.h>
#include <stddef.h>

#define PG_BIN "/usr/lib/postgresql/15/bin"

typedef struct pg_srv {
    char root[1024];     /* the temp directory, "" before start (see above for where) */
    char data[1100];     /* root/data: the cluster */
    int port;            /* TCP port on 127.0.0.1 */
    bool started;        /* pg_ctl start succeeded: stop must run */
    bool as_postgres;    /* euid 0: children run as postgres */
    char conninfo[256];  /* libpq connection string (TCP loopback) */
} pg_srv;

/* Starts a server under parent with the given max_connections and
 * shared_buffers (MB). On failure writes a message into err (n bytes), leaves
 * what it made for pg_srv_stop to remove, and returns -1. */
int pg_srv_start(pg_srv *s, const char *parent, int max_connections, int shared_buffers_mb, char *err,
                 size_t n);

/* Stops the server if it runs and removes the directory. Messages to stderr. */
void pg_srv_stop(pg_srv *s);

#endif
