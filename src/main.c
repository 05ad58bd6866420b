/* main.c — gongxud: options, configuration, then broker and loop. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "config.h"
#include "federation.h"
#include "log.h"
#include "loop.h"
#include "store.h"
#include "verify.h"
#include "vocab.h"

#define MAX_OVERRIDES 128

/* Where the configuration comes from, kept for reloads. */
typedef struct s_source {
    const char *path;                    /* config file or NULL */
    const char *keys[MAX_OVERRIDES];     /* command-line overrides, in order */
    const char *values[MAX_OVERRIDES];
    size_t n;
} s_source;

static gx_err s_build(void *ctx, gx_config *c, char *err, size_t errlen)
{
    const s_source *src = ctx;
    gx_err rc;
    gx_config_defaults(c);
    if (src->path && (rc = gx_config_load_file(c, src->path, err, errlen)))
        return rc;
    for (size_t i = 0; i < src->n; i++)
        if ((rc = gx_config_set(c, src->keys[i], src->values[i], err, errlen)))
            return rc;
    return gx_config_validate(c, err, errlen);
}

/* True for endpoints only this machine can reach. */
static bool s_loopback(const char *ep)
{
    static const char *const ok[] = {"tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://", "inproc://"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strncmp(ep, ok[i], strlen(ok[i])) == 0)
            return true;
    return false;
}

static void s_usage(FILE *out)
{
    fprintf(
        out,
        "usage: gongxud [options]\n"
        "\n"
        "The gongxu supply-chain matchmaking broker. Runs in the foreground, logs to stderr,\n"
        "stops on SIGTERM/SIGINT, reloads reloadable keys on SIGHUP.\n"
        "\n"
        "options:\n"
        "  -c, --config FILE      read `key = value` configuration from FILE\n"
        "  -d, --data-dir DIR     data directory (key data_dir; default ./var/gongxu)\n"
        "  -l, --listen ENDPOINT  client endpoint (key listen; default tcp://127.0.0.1:7450)\n"
        "  -m, --monitor ENDPOINT monitor stream (key monitor; default tcp://127.0.0.1:7451)\n"
        "      --log-level LEVEL  err, warning, notice, info or debug\n"
        "  -o, --set KEY=VALUE    set any configuration key (repeatable)\n"
        "      --insecure-dev     development only: no CURVE; clients name their firm in Hello\n"
        "      --check-config     validate configuration and vocabulary, then exit\n"
        "      --dump-config      print the effective configuration with every key documented\n"
        "      --verify DIR       check the store of a stopped data directory (every record and\n"
        "                         reference), print a summary; exit 0 healthy, 1 damaged, 2 cannot check\n"
        "      --init-fresh       only after a start was refused because the store is damaged: move the\n"
        "                         damaged data.mdb aside (data.mdb.damaged-TIME) and start with an empty\n"
        "                         store; refused, changing nothing, when the store is healthy\n"
        "  -h, --help             this text\n"
        "      --version          print the version\n"
        "\n"
        "Security: CURVE on both sockets. On first start the data directory gets the broker's\n"
        "key pair (broker.key, secret; broker.pub for clients) and a first operator key\n"
        "(operator.key, secret; listed in operator_keys). Firms connect with keys an operator\n"
        "registered for them (gongxu register-key).\n"
        "\n"
        "Once bound, gongxud prints one line on stdout:\n"
        "  gongxud ready listen=ENDPOINT monitor=ENDPOINT server_key='Z85' http=URL  (the key quoted for a "
        "shell)\n"
        "\n"
        "exit status: 0 stopped cleanly; 64 usage; 78 configuration; 74 data directory (a damaged\n"
        "store is refused with a message that names the file and what to do);\n"
        "71 sockets could not be bound; 70 internal error.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"data-dir", required_argument, NULL, 'd'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"monitor", required_argument, NULL, 'm'},
                                         {"log-level", required_argument, NULL, 'L'},
                                         {"set", required_argument, NULL, 'o'},
                                         {"check-config", no_argument, NULL, 'C'},
                                         {"dump-config", no_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"insecure-dev", no_argument, NULL, 'I'},
                                         {"verify", required_argument, NULL, 'Y'},
                                         {"init-fresh", no_argument, NULL, 'F'},
                                         {NULL, 0, NULL, 0}};
    static s_source src;
    bool check = false, dump = false, insecure = false, init_fresh = false;
    const char *verify = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:d:l:m:o:h", opts, NULL)) != -1) {
        const char *key = NULL;
        char *value = optarg;
        switch (c) {
        case 'c': src.path = optarg; continue;
        case 'd': key = "data_dir"; break;
        case 'l': key = "listen"; break;
        case 'm': key = "monitor"; break;
        case 'L': key = "log_level"; break;
        case 'o': {
            char *eq = strchr(optarg, '=');
            if (!eq) {
                fprintf(stderr, "gongxud: --set wants KEY=VALUE, got '%s'\n", optarg);
                return EX_USAGE;
            }
            *eq = 0;
            key = optarg;
            value = eq + 1;
            break;
        }
        case 'C': check = true; continue;
        case 'I': insecure = true; continue;
        case 'Y':
            verify = optarg;
            continue;
        case 'F':
            init_fresh = true;
            continue;
        case 'D': dump = true; continue;
        case 'h': s_usage(stdout); return EX_OK;
        case 'V': printf("gongxud %s\n", GX_VERSION); return EX_OK;
        default: s_usage(stderr); return EX_USAGE;
        }
        if (src.n == MAX_OVERRIDES) {
            fprintf(stderr, "gongxud: more than %d overrides\n", MAX_OVERRIDES);
            return EX_USAGE;
        }
        src.keys[src.n] = key;
        src.values[src.n++] = value;
    }
    if (optind < argc) {
        fprintf(stderr, "gongxud: unexpected argument '%s'\n", argv[optind]);
        return EX_USAGE;
    }
    if (verify) /* needs no configuration: a stopped directory, read only */
        return gx_verify_dir(verify, stdout);

    gx_config cfg;
    char err[1024];
    if (s_build(&src, &cfg, err, sizeof err) != GX_OK) {
        fprintf(stderr, "gongxud: configuration: %s\n", err);
        return EX_CONFIG;
    }
    cfg.insecure_dev = insecure; /* never from a file: it must be asked for on the command line */
    gx_log_level lvl;
    gx_log_parse_level(cfg.log_level, &lvl);
    gx_log_set_level(lvl);
    if (dump) {
        gx_config_dump(&cfg, stdout);
        return EX_OK;
    }
    if (check) {
        gx_vocab *v = NULL;
        if (gx_vocab_load(cfg.vocabulary, &v, err, sizeof err) != GX_OK) {
            fprintf(stderr, "gongxud: vocabulary %s: %s\n", cfg.vocabulary[0] ? cfg.vocabulary : "(embedded)", err);
            return EX_CONFIG;
        }
        printf("configuration ok: listen=%s monitor=%s data_dir=%s vocabulary=%s (%zu processes, %zu materials, "
               "%zu industry codes, %zu counties, %zu zones, %zu certification schemes)\n",
               cfg.listen, cfg.monitor[0] ? cfg.monitor : "off", cfg.data_dir,
               cfg.vocabulary[0] ? cfg.vocabulary : "embedded", gx_vocab_count(v, GX_V_PROCESS),
               gx_vocab_count(v, GX_V_MATERIAL), gx_vocab_count(v, GX_V_INDUSTRY), gx_vocab_count(v, GX_V_COUNTY),
               gx_vocab_count(v, GX_V_ZONE), gx_vocab_count(v, GX_V_CERT));
        gx_vocab_destroy(&v);
        if (cfg.federation_url[0]) {
            if (cfg.federation_password_file[0] &&
                gx_fed_password_check(cfg.federation_password_file, err, sizeof err) != GX_OK) {
                fprintf(stderr, "gongxud: %s\n", err);
                return EX_CONFIG;
            }
            char urls[GX_CONFIG_STR_MAX];
            gx_config_redact_urls(cfg.federation_url, urls, sizeof urls);
            printf("federation: city %lld, stream %s (%lld replicas when created), user %s, servers %s\n",
                   (long long)cfg.federation_city, cfg.federation_stream, (long long)cfg.federation_replicas,
                   cfg.federation_user[0] ? cfg.federation_user : "(none)", urls);
        }
        return EX_OK;
    }

    if (cfg.insecure_dev && (!s_loopback(cfg.listen) || (cfg.monitor[0] && !s_loopback(cfg.monitor)))) {
        fprintf(stderr, "gongxud: --insecure-dev binds only loopback or ipc:// endpoints (listen=%s monitor=%s)\n",
                cfg.listen, cfg.monitor);
        return EX_CONFIG;
    }
    if (cfg.insecure_dev)
        gx_log(GX_LOG_WARNING, "INSECURE DEVELOPMENT MODE (--insecure-dev): no CURVE encryption or authentication; "
                               "clients name their own firm in Hello and any client may claim the operator role. "
                               "Never use this with real firms' data.");
    if (cfg.no_sync)
        gx_log(GX_LOG_WARNING, "no_sync is on: commits are NOT durable (benchmarks only)");
    if (init_fresh) {
        char moved[1200];
        gx_store_opts so = {.dir = cfg.data_dir,
                            .map_size = (size_t)cfg.map_size_mb << 20,
                            .map_max = (size_t)cfg.map_max_mb << 20,
                            .no_sync = cfg.no_sync};
        if (gx_store_init_fresh(&so, moved, sizeof moved) != GX_OK) {
            gx_log(GX_LOG_ERR, "%s", gx_store_last_error(NULL));
            return EX_IOERR;
        }
        if (moved[0])
            gx_log(GX_LOG_WARNING,
                   "--init-fresh: moved the damaged store to %s and created an empty store in %s", moved,
                   cfg.data_dir);
        else
            gx_log(GX_LOG_WARNING, "--init-fresh: created an empty store in %s", cfg.data_dir);
    }
    gx_broker *broker = NULL;
    gx_loop *loop = NULL;
    int status = EX_OK;
    if (gx_broker_new(&cfg, (int64_t)time(NULL), gx_loop_starting, NULL, &broker, err, sizeof err) != GX_OK) {
        gx_log(GX_LOG_ERR, "%s", err);
        return EX_IOERR;
    }
    if (gx_loop_new(&cfg, broker, s_build, &src, &loop, err, sizeof err) != GX_OK) {
        gx_log(GX_LOG_ERR, "%s", err);
        gx_broker_destroy(&broker);
        return EX_OSERR;
    }
    /* After gx_loop_new: its threads (and libnats') inherit the loop's blocked
     * signals, so SIGTERM reaches the signalfd and not a thread of theirs. */
    gx_err fe = gx_broker_fed_start(broker, err, sizeof err);
    if (fe != GX_OK) {
        gx_log(GX_LOG_ERR, "%s", err);
        gx_loop_destroy(&loop);
        gx_broker_destroy(&broker);
        return fe == GX_ERR_CONFIG ? EX_CONFIG : EX_UNAVAILABLE;
    }
    gx_log(GX_LOG_INFO, "gongxud %s serving %s (monitor %s), data in %s", GX_VERSION, gx_loop_endpoint(loop),
           cfg.monitor[0] ? gx_loop_monitor_endpoint(loop) : "off", cfg.data_dir);
    /* Z85 holds shell-special characters ({, $, >) but never a single quote:
     * quoted, the line can be pasted into a shell. */
    printf("gongxud ready listen=%s monitor=%s server_key='%s' http=%s\n", gx_loop_endpoint(loop),
           cfg.monitor[0] ? gx_loop_monitor_endpoint(loop) : "", cfg.insecure_dev ? "" : gx_loop_server_key(loop),
           gx_loop_http_url(loop));
    fflush(stdout);
    if (gx_loop_run(loop) != GX_OK)
        status = EX_SOFTWARE;
    gx_loop_destroy(&loop);
    if (status == EX_OK)
        gx_broker_save_snapshot(broker);
    gx_broker_counters bc;
    gx_broker_counters_get(broker, &bc);
    gx_broker_destroy(&broker);
    gx_log(GX_LOG_NOTICE, "stopped after %llu requests, %llu notices, %llu commits",
           (unsigned long long)bc.requests, (unsigned long long)bc.notices, (unsigned long long)bc.batches);
    return status;
}
