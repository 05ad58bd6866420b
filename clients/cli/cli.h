/* cli.h — the pieces of the gongxu command-line tool.
 *
 * gongxu.c is main, the help text and the commands; cli_args.c parses options
 * and values strictly (every bad value is a usage error, exit 64) and finds the
 * CURVE keys of a connection; cli_build.c turns the flags and --file of
 * register/post/update/subscribe into the proto3 JSON of a Firm, Demand, Offer
 * or Subscription; cli_print.c writes replies and notices as short human lines
 * or as JSON Lines. Requests are built as proto3 JSON and converted once, by
 * gx_json_to_message, into the Envelope sent. */
#ifndef GX_CLI_H
#define GX_CLI_H

#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sysexits.h>

#include <gongxu/client.h>
#include <gongxu/json.h>
#include <gongxu/keyfile.h>
#include <gongxu/v1/gongxu.pb-c.h>

#include "msg.h"

#ifndef GX_VERSION
#define GX_VERSION "0.1.0"
#endif

#define GX_CLI_EX_NOT_FOUND 1           /* the broker answered ERR_NOT_FOUND */
#define GX_CLI_DEFAULT_TIMEOUT_MS 5000  /* --timeout default */
#define GX_CLI_OPT_BASE 1000            /* getopt vals of command options start here */
#define GX_CLI_LOCAL_DIR "./var/gongxu" /* the quick start's data dir: default keys live here */

/* The global options, settled before a command runs. */
typedef struct gx_cli {
    const char *server;          /* -s; NULL: $GONGXU_SERVER, else the library default */
    const char *firm;            /* -f; NULL: $GONGXU_FIRM; may stay NULL */
    const char *key;             /* --key FILE (our key pair), else $GONGXU_KEY; may stay NULL */
    const char *key_from;        /* "--key" or "$GONGXU_KEY", for messages */
    const char *server_key;      /* --server-key KEY|FILE, else $GONGXU_SERVER_KEY; may stay NULL */
    const char *server_key_from; /* "--server-key" or "$GONGXU_SERVER_KEY", for messages */
    bool as_operator;            /* --operator, or $GONGXU_OPERATOR=1 */
    bool json;                   /* --json: JSON Lines on stdout */
    gx_lang lang;                /* --lang, else from $LC_ALL/$LC_MESSAGES/$LANG (gx_cli_env_lang) */
    bool dry_run;                /* --dry-run: print the request Envelope as JSON, send nothing (but an
                                  * update with flags reads the posting it changes) */
    int timeout_ms;              /* --timeout: reply timeout of each request */
    char cmd[32];                /* the command words, "post demand", for messages */
    const char *operator_only;   /* an operator-only command's words for messages: a catalogue id (cli.op.*),
                                    else NULL */
} gx_cli;

/* ------------------------------------------------------------ cli_help.c */

/* Writes the overview (usage, global options, commands, exit codes, examples). */
void gx_cli_help(FILE *out);

/* Writes the help of one command: synopsis, what it does, its flags, an
 * example; with sub NULL, every page of name (post: demand and offer). 0, or -1
 * when there is no such command. */
int gx_cli_help_command(FILE *out, const char *name, const char *sub);

/* ------------------------------------------------------------ cli_args.c */

/* Called for each command option; returns 0 to go on or an exit code. */
typedef int (*gx_cli_opt_fn)(gx_cli *g, void *state, int val, const char *arg);

/* Prints usage error id of the catalogue (cli.usage.*, in the output
 * language; args as name, value pairs ending in NULL) on stderr as "gongxu:
 * <cmd>: <message>; see gongxu help <cmd>" (no command yet: "...; see gongxu
 * --help"); returns EX_USAGE. */
int gx_cli_usage(const gx_cli *g, const char *id, ...) __attribute__((sentinel));

/* Prints message id (args as gx_cli_usage) on stderr as "gongxu: <cmd>:
 * <message>" ("gongxu: <message>" before a command). */
void gx_cli_error(const gx_cli *g, const char *id, ...) __attribute__((sentinel));

/* printf into one of a ring of 8 static buffers (320 bytes): a number or a
 * flag's spelling for a placeholder. Valid until 8 more calls. */
const char *gx_cli_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sets g's defaults from the environment and parses the global options before
 * the command word. Returns 0 with *cmd_at the index of the command word (argc
 * when there is none), -1 after printing --help or --version, or EX_USAGE. */
int gx_cli_parse_global(gx_cli *g, int argc, char **argv, int *cmd_at);

/* Parses a command's options; argv[0] is the command word. opts (terminated by
 * a zero entry, vals >= GX_CLI_OPT_BASE) go to fn; the global options are
 * accepted here too unless opts has one of the same name. Positional arguments
 * end up in argv[*first_pos .. argc-1]. Returns 0, -1 after --help/--version,
 * or an exit code. */
int gx_cli_getopt(gx_cli *g, int argc, char **argv, const struct option *opts, gx_cli_opt_fn fn, void *state,
                  int *first_pos);

/* The CURVE keys of one connection: all "" for a plain (NULL) one. */
typedef struct gx_cli_keys {
    char server[GX_KEY_Z85_LEN + 1]; /* the broker's public key */
    char pub[GX_KEY_Z85_LEN + 1];    /* our public key */
    char sec[GX_KEY_Z85_LEN + 1];    /* our secret key; gx_cli_keys_wipe clears it */
} gx_cli_keys;

/* Finds the keys to connect with. The server key: --server-key, else
 * $GONGXU_SERVER_KEY, else GX_CLI_LOCAL_DIR/broker.pub when it exists; no
 * server key, or the word "none", means a plain connection (an --insecure-dev
 * broker). Our pair: --key, else $GONGXU_KEY, else with --operator
 * $GONGXU_OPERATOR_KEY, else GX_CLI_LOCAL_DIR/operator.key when it exists.
 * Returns 0; EX_USAGE (printed) when a server key has no pair to go with it,
 * or --key/$GONGXU_KEY no server key; EX_NOINPUT (printed) when a key or key
 * file cannot be read. Reads files, so call it only to connect. */
int gx_cli_keys_find(const gx_cli *g, gx_cli_keys *out);

/* Clears the secret key. */
void gx_cli_keys_wipe(gx_cli_keys *k);

/* A public key given as KEY|FILE: a 40-character Z85 key, or a key file whose
 * public-key is taken. what names the argument in messages. 0, or EX_NOINPUT
 * after printing the problem. */
int gx_cli_public_key(const gx_cli *g, const char *what, const char *arg, char out[GX_KEY_Z85_LEN + 1]);

/* Strict value parsers: the whole string must be the value. */
bool gx_cli_double(const char *s, double *out); /* finite decimal number */
bool gx_cli_u64(const char *s, uint64_t *out);  /* decimal, no sign */
bool gx_cli_u32(const char *s, uint32_t *out);  /* decimal, no sign, <= UINT32_MAX */
void gx_cli_today(char out[11]);                /* today's local date, YYYY-MM-DD */

/* NULL when s is a real calendar day YYYY-MM-DD; else what is wrong with it,
 * in buf ("2028-02-30 is not a date: February 2028 has 29 days"). */
const char *gx_cli_date_problem(const char *s, char *buf, size_t len);

/* 0 when s is valid UTF-8; else prints a usage error naming what ("--title",
 * "FIRM_ID") and where, and returns EX_USAGE. Every text sent to the broker
 * goes through this: jansson refuses invalid UTF-8, and so does the broker. */
int gx_cli_text(const gx_cli *g, const char *what, const char *s);
bool gx_cli_duration(const char *s, int64_t *secs);         /* "90s", "15m", "12h", "30d", "2w" */
bool gx_cli_range(const char *s, double *min, double *max); /* "MIN:MAX", 0 <= MIN <= MAX */

/* The value of enum desc named by a flag argument: case-insensitive, '-' for
 * '_', with prefix prepended ("b" + "CREDIT_" -> CREDIT_B); never *_UNSPECIFIED.
 * NULL when there is none. */
const ProtobufCEnumValue *gx_cli_enum(const ProtobufCEnumDescriptor *desc, const char *prefix,
                                      const char *arg);

/* The accepted words of an enum for messages ("a|b|c"), in buf. */
const char *gx_cli_enum_words(const ProtobufCEnumDescriptor *desc, const char *prefix, char *buf, size_t len);

/* ------------------------------------------------------------ cli_build.c */

typedef enum gx_cli_what {
    GX_CLI_FIRM,         /* register */
    GX_CLI_DEMAND,       /* post/update demand */
    GX_CLI_OFFER,        /* post/update offer */
    GX_CLI_SUBSCRIPTION, /* subscribe */
} gx_cli_what;

/* What a posting command's arguments amount to. */
typedef struct gx_cli_posting {
    json_t *body;        /* proto3 JSON of the Firm/Demand/Offer/Subscription (owned) */
    bool from_file;      /* --file was given */
    bool override_check; /* register --override-check */
    bool has_revision;   /* --revision was given (update only) */
    int npos;            /* positional arguments */
    char **pos;          /* them, borrowed from argv */
} gx_cli_posting;

/* Parses the flags of a posting command (argv[0] is the command word) and
 * --file, whose JSON is validated against the message type and then overridden
 * by the flags (a repeatable flag replaces the file's list). Returns 0 with *out
 * filled (release with gx_cli_posting_fini), -1 after --help, EX_USAGE,
 * EX_NOINPUT (unreadable file or bad JSON in it). */
int gx_cli_build_posting(gx_cli *g, gx_cli_what what, bool update, int argc, char **argv,
                         gx_cli_posting *out);

void gx_cli_posting_fini(gx_cli_posting *p);

/* Sets every field of set (proto names, as the flags give them) over base,
 * removing base's lowerCamelCase spelling of it first so the two never both
 * appear; a list replaces the whole list. */
void gx_cli_merge(json_t *base, const json_t *set);

/* The flag (without "--") that sets the proto field named field in some
 * command ("processes" -> "process"), or NULL. */
const char *gx_cli_flag_of(const char *field);

/* Writes one line per flag of a posting command ("  --kind KIND  what is
 * needed (required): parts_supply|..."), from the same table the parser uses;
 * --revision only for update. */
void gx_cli_flags_help(FILE *out, gx_cli_what what, bool update);

/* ------------------------------------------------------------ cli_check.c */

/* A JSON object's member in either spelling (proto name or lowerCamelCase). */
json_t *gx_cli_member(const json_t *obj, const char *proto_name);

/* Warns on stderr about each certificate of firm (proto3 JSON) that expired
 * before today: the broker accepts it, but it does not count for matching. */
void gx_cli_warn_expired(const gx_cli *g, const json_t *firm);

/* 0 when req is within the limits the broker told (0 limits are not
 * checked); else prints which field is over which limit (its bytes or
 * entries, the limit and the broker's key for it) and returns EX_DATAERR. */
int gx_cli_check_limits(const gx_cli *g, const Gongxu__V1__Envelope *req, const gx_client_limits *lim);

/* "demand.details (--details, 1048576 bytes)": the largest string of req, in
 * buf; NULL when it has none. */
const char *gx_cli_largest_field(const Gongxu__V1__Envelope *req, char *buf, size_t len);

/* ------------------------------------------------------------ cli_print.c */

/* The language of human output: set once the options are read (the printers
 * below and the broker's error lines follow it; --json does not). */
void gx_cli_set_lang(gx_lang lang);
gx_lang gx_cli_lang(void);

/* The language the environment asks for: the first of $LC_ALL, $LC_MESSAGES,
 * $LANG that is set and not empty; zh_* (and zh) Chinese, anything else
 * (C, POSIX, en_*, fr_*) English; none set: Chinese, what our users read. */
gx_lang gx_cli_env_lang(void);

/* Message id of the CLI's catalogue (src/data/messages/cli.tsv, server.tsv)
 * in the output language, args as name, value pairs ending in NULL. Returns
 * one of a ring of static buffers: valid until 8 more calls. */
const char *gx_cli_msg(const char *id, ...) __attribute__((sentinel));

/* gx_cli_msg with the name, value pairs in ap. */
const char *gx_cli_vmsg(const char *id, va_list ap);

/* A sentence of the client library (gx_client_error, gx_keyfile_read's err:
 * English, for programs) in the output language: the sentence is matched
 * against the English texts of the catalogue's cli.lib.* messages and the
 * values it holds are put into the Chinese text. A sentence it does not know
 * is returned as it is. Returns a ring buffer like gx_cli_msg. */
const char *gx_cli_lib_text(const char *english);

/* Writes msg as one line of proto3 JSON on stdout and flushes. Returns false
 * when it could not be converted or written. */
bool gx_cli_print_json(const ProtobufCMessage *msg);

/* Writes the human form of reply, the answer to req. */
void gx_cli_print_reply(const Gongxu__V1__Envelope *req, const Gongxu__V1__Reply *reply);

/* Writes the human form of a notice: one line, then indented rule lines. */
void gx_cli_print_notice(const Gongxu__V1__Notice *n);

/* "NOT_FOUND" for ERR_NOT_FOUND; never NULL. */
const char *gx_cli_error_name(int code);

#endif
