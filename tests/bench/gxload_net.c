/* gxload_net.c — see gxload_net.h. */
#include "gxload_net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <gongxu/keyfile.h>

double gxl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void *gxl_socket(void *ctx, const char *endpoint, const char *server_key, const char *pub, const char *sec)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    if (!s) {
        fprintf(stderr, "gxload: socket: %s\n", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int zero = 0, big = 1000000, ivl = 10;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &big, sizeof big);
    zmq_setsockopt(s, ZMQ_RCVHWM, &big, sizeof big);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    if (server_key && server_key[0]) {
        if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_key, 40) != 0 ||
            zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40) != 0 ||
            zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40) != 0) {
            fprintf(stderr, "gxload: CURVE keys refused: %s\n", zmq_strerror(zmq_errno()));
            zmq_close(s);
            return NULL;
        }
    }
    if (zmq_connect(s, endpoint) != 0) {
        fprintf(stderr, "gxload: connect %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

int gxl_server_key(const char *arg, char out[41])
{
    if (strlen(arg) == 40 && gx_keyfile_valid(arg)) {
        memcpy(out, arg, 41);
        return 0;
    }
    char err[256];
    if (gx_keyfile_read(arg, out, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "gxload: server key %s: %s\n", arg, err);
        return -1;
    }
    return 0;
}

int gxl_keys_write(const char *path, const gxl_key *keys, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "gxload: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s %s %s\n", keys[i].firm, keys[i].pub, keys[i].sec);
    if (fclose(f) != 0) {
        fprintf(stderr, "gxload: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int gxl_keys_read(const char *path, gxl_key **out, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "gxload: %s: %s (run `gxload setup` first)\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 0, len = 0;
    gxl_key *v = NULL;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        gxl_key k;
        if (sscanf(line, "%18s %40s %40s", k.firm, k.pub, k.sec) != 3)
            continue;
        if (len == cap) {
            cap = cap ? cap * 2 : 256;
            gxl_key *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                free(v);
                fclose(f);
                return -1;
            }
            v = nv;
        }
        v[len++] = k;
    }
    fclose(f);
    if (!len) {
        fprintf(stderr, "gxload: %s holds no keys\n", path);
        free(v);
        return -1;
    }
    *out = v;
    *n = len;
    return 0;
}

void gxl_frame_fini(gxl_frame *f)
{
    free(f->data);
    memset(f, 0, sizeof *f);
}

static int s_reserve(gxl_frame *f, size_t need)
{
    if (need <= f->cap)
        return 0;
    size_t cap = f->cap ? f->cap : 512;
    while (cap < need)
        cap *= 2;
    uint8_t *d = realloc(f->data, cap);
    if (!d)
        return -1;
    f->data = d;
    f->cap = cap;
    return 0;
}

static size_t s_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static size_t s_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

int gxl_frame_wrap(gxl_frame *f, uint64_t rid, unsigned field, const uint8_t *rec, size_t len)
{
    if (s_reserve(f, len + 40) != 0)
        return -1;
    uint8_t *p = f->data;
    size_t at = 0;
    p[at++] = 0x08; /* 1: version */
    p[at++] = 1;
    p[at++] = 0x10; /* 2: request_id */
    at += s_varint(p + at, rid);
    size_t inner = 1 + s_varint_len(len) + len;
    at += s_varint(p + at, ((uint64_t)field << 3) | 2); /* the body: a length-delimited message */
    at += s_varint(p + at, inner);
    p[at++] = 0x0a; /* its field 1: the record */
    at += s_varint(p + at, len);
    memcpy(p + at, rec, len);
    f->len = at + len;
    return 0;
}

int gxl_frame_pack(gxl_frame *f, Gongxu__V1__Envelope *e)
{
    e->version = 1;
    size_t n = gongxu__v1__envelope__get_packed_size(e);
    if (s_reserve(f, n) != 0)
        return -1;
    f->len = gongxu__v1__envelope__pack(e, f->data);
    return 0;
}

int gxl_send(void *sock, const gxl_frame *f)
{
    return zmq_send(sock, f->data, f->len, ZMQ_DONTWAIT) == (int)f->len ? 0 : -1;
}

int gxl_set_init(gxl_set *s, void **socks, size_t n)
{
    memset(s, 0, sizeof *s);
    s->socks = socks;
    s->n = n;
    s->pfd = calloc(n ? n : 1, sizeof *s->pfd);
    s->dirty = calloc(n ? n : 1, sizeof *s->dirty);
    s->is_dirty = calloc(n ? n : 1, sizeof *s->is_dirty);
    if (!s->pfd || !s->dirty || !s->is_dirty) {
        gxl_set_fini(s);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int fd = -1;
        size_t sz = sizeof fd;
        if (zmq_getsockopt(socks[i], ZMQ_FD, &fd, &sz) != 0) {
            gxl_set_fini(s);
            return -1;
        }
        s->pfd[i].fd = fd;
        s->pfd[i].events = POLLIN;
        gxl_set_touch(s, i);
    }
    return 0;
}

void gxl_set_fini(gxl_set *s)
{
    free(s->pfd);
    free(s->dirty);
    free(s->is_dirty);
    memset(s, 0, sizeof *s);
}

void gxl_set_touch(gxl_set *s, size_t i)
{
    if (!s->is_dirty[i]) {
        s->is_dirty[i] = true;
        s->dirty[s->n_dirty++] = (uint32_t)i;
    }
}

/* Receives from every dirty socket until its ZMQ_EVENTS says nothing waits. */
static size_t s_drain(gxl_set *s, gxl_on_msg on_msg, void *arg)
{
    size_t handled = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (s->n_dirty) {
        size_t i = s->dirty[--s->n_dirty];
        s->is_dirty[i] = false;
        for (unsigned burst = 0; burst < 100000; burst++) { /* bounded; a busy socket stays dirty */
            int ev = 0;
            size_t sz = sizeof ev;
            if (zmq_getsockopt(s->socks[i], ZMQ_EVENTS, &ev, &sz) != 0 || !(ev & ZMQ_POLLIN))
                break;
            if (zmq_msg_recv(&m, s->socks[i], ZMQ_DONTWAIT) < 0)
                break;
            handled++;
            on_msg(arg, i, zmq_msg_data(&m), zmq_msg_size(&m));
        }
    }
    zmq_msg_close(&m);
    return handled;
}

size_t gxl_set_pump(gxl_set *s, double timeout, gxl_on_msg on_msg, void *arg)
{
    size_t handled = s_drain(s, on_msg, arg);
    if (handled && timeout > 0)
        timeout = 0; /* there was work: look once more without sleeping */
    struct timespec ts = {.tv_sec = (time_t)timeout,
                          .tv_nsec = (long)((timeout - (double)(time_t)timeout) * 1e9)};
    if (timeout < 0)
        ts = (struct timespec){0, 0};
    int r = ppoll(s->pfd, s->n, &ts, NULL);
    if (r > 0)
        for (size_t i = 0; i < s->n; i++)
            if (s->pfd[i].revents)
                gxl_set_touch(s, i);
    return handled + s_drain(s, on_msg, arg);
}

void gxl_lat_add(gxl_lat *l, double seconds)
{
    if (l->n == l->cap) {
        if (l->cap >= 50000000)
            return;
        size_t cap = l->cap ? l->cap * 2 : 4096;
        uint32_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return;
        l->v = v;
        l->cap = cap;
    }
    double us = seconds * 1e6;
    l->v[l->n++] = us <= 0 ? 0 : us >= 4e9 ? 4000000000u : (uint32_t)(us + 0.5);
}

void gxl_lat_merge(gxl_lat *dst, const gxl_lat *src)
{
    for (size_t i = 0; i < src->n; i++)
        gxl_lat_add(dst, (double)src->v[i] / 1e6);
}

static int s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

double gxl_lat_quantile(gxl_lat *l, double q)
{
    if (!l->n)
        return 0;
    qsort(l->v, l->n, sizeof *l->v, s_cmp_u32);
    size_t i = (size_t)(q * (double)(l->n - 1) + 0.5);
    return (double)l->v[i < l->n ? i : l->n - 1];
}

void gxl_lat_fini(gxl_lat *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}
