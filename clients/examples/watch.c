/* watch.c — an integrator's first gongxu program: resume a firm's notices,
 * print each as one line of proto3 JSON, and acknowledge it once printed.
 *
 * Acknowledging after the work is done gives at-least-once delivery: if this
 * program dies between printing and acking, the notice comes again next run.
 *
 * Against a broker with CURVE, GONGXU_SERVER_KEY gives the broker's public key
 * (Z85, or a key file such as its broker.pub) and GONGXU_KEY our key file (from
 * gongxu keygen, registered for the firm). Without GONGXU_SERVER_KEY the
 * connection is plain, for a broker run --insecure-dev.
 *
 *   cc watch.c $(pkg-config --cflags --libs gongxu) -o watch
 *   GONGXU_SERVER_KEY=var/gongxu/broker.pub GONGXU_KEY=mg-cast.key ./watch 91410611MA9G7KQ2EQ */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <gongxu/client.h>
#include <gongxu/json.h>
#include <gongxu/keyfile.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FIRM_USCC\n", argv[0]);
        return 64;
    }
    gx_client_opts opts = {.firm_id = argv[1], .client_name = "watch-example/1"};
    gx_client *c = NULL;
    char err[256], server[GX_KEY_Z85_LEN + 1], pub[GX_KEY_Z85_LEN + 1], sec[GX_KEY_Z85_LEN + 1];
    const char *sk = getenv("GONGXU_SERVER_KEY"), *key = getenv("GONGXU_KEY");
    if (sk && *sk) { /* CURVE: the broker's public key, then our pair */
        if (!gx_keyfile_valid(sk) && gx_keyfile_read(sk, server, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "GONGXU_SERVER_KEY: %s\n", err);
            return 66;
        }
        if (!key || gx_keyfile_read(key, pub, sec, err, sizeof err) != 0) {
            fprintf(stderr, "GONGXU_KEY: %s\n", key ? err : "not set: CURVE needs our key file");
            return 66;
        }
        opts.server_key = gx_keyfile_valid(sk) ? sk : server;
        opts.public_key = pub;
        opts.secret_key = sec;
    }
    if (gx_client_connect(&opts, &c, NULL, err, sizeof err) != GX_CLIENT_OK) {
        fprintf(stderr, "connect: %s\n", err);
        return 69;
    }
    Gongxu__V1__ResumeInfo info = GONGXU__V1__RESUME_INFO__INIT;
    gx_client_rc rc = gx_client_resume(c, true, 0, &info); /* after our last ack */
    if (rc == GX_CLIENT_OK)
        fprintf(stderr, "resumed after #%" PRIu64 ", latest #%" PRIu64 "\n", info.resumed_after,
                info.head_seq);
    while (rc == GX_CLIENT_OK) {
        Gongxu__V1__Envelope *n = NULL;
        rc = gx_client_next_notice(c, &n, -1); /* -1: wait as long as it takes */
        if (rc != GX_CLIENT_OK)
            break;
        json_t *j = gx_json_from_message(&n->notice->base);
        char *line = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
        if (line) {
            puts(line);
            fflush(stdout);
        }
        free(line);
        json_decref(j);
        uint64_t seq = n->notice->seq;
        gongxu__v1__envelope__free_unpacked(n, NULL);
        rc = gx_client_ack(c, seq); /* processed: the broker may forget it */
    }
    fprintf(stderr, "stopped: %s\n", gx_client_error(c));
    gx_client_destroy(&c);
    return 1;
}
