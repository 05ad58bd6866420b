/* cli_help.c — the gongxu CLI's help: the overview (gongxu --help, gongxu help)
 * and one page per command (gongxu help COMMAND [SUB], gongxu COMMAND --help):
 * synopsis, what it does, its flags one line each, one example.
 *
 * Every word of help lives in this file, except the flags of the posting
 * commands, which cli_build.c prints from the table its parser uses, so a flag
 * and its help line cannot drift apart. */
#include "cli.h"

#include <string.h>

#include <gongxu/client.h>

/* One command's page. */
typedef struct s_page {
    const char *name;     /* first command word */
    const char *sub;      /* second word, or NULL */
    const char *synopsis; /* what follows "gongxu [global options] " (several lines allowed) */
    const char *about;    /* what it does, a few lines */
    const char *flags;    /* its own flags, one line each; NULL: none or posting flags */
    int posting;          /* 1 + gx_cli_what of a posting command, whose flags cli_build.c prints; 0 */
    bool update;          /* posting flags of update (with --revision) */
    const char *example;  /* one example, the command line(s) */
} s_page;

#define S_DEMAND (1 + GX_CLI_DEMAND)
#define S_OFFER (1 + GX_CLI_OFFER)
#define S_FIRM (1 + GX_CLI_FIRM)
#define S_SUB (1 + GX_CLI_SUBSCRIPTION)

static const s_page s_pages[] = {
    {"register", NULL,
     "register --id USCC --name NAME --county CODE [FLAGS]\n"
     "register --file firm.json [FLAGS]",
     "Creates or replaces a firm (operator only): its id, name, place, credit grade, roles,\n"
     "certificates and contact. A certificate already expired is accepted with a warning: only\n"
     "unexpired ones count for matching.",
     NULL, S_FIRM, false,
     "gongxu --operator register --id 91410600MA44ANCH0R --name 'Hebi Auto Electronics' \\\n"
     "    --county 410611 --zone hebi.etdz --lat 35.73 --lon 114.35 --credit A --role anchor"},
    {"firm", NULL, "firm USCC", "Shows a firm: your own, or any firm to an operator.", NULL, 0, false,
     "gongxu firm 91410611MA45QBMG1C"},
    {"post", "demand", "post demand FLAGS\npost demand --file demand.json [FLAGS]",
     "Publishes a demand: what your firm needs made, supplied or licensed. It is matched at once\n"
     "against the open offers; gongxu shortlist ID shows the qualified suppliers, each rule explained.",
     NULL, S_DEMAND, false,
     "gongxu post demand --kind parts_supply --industry C3670 --process casting.die.magnesium \\\n"
     "    --quantity 5000 --unit pcs --needed-by 2027-03-31 --cert IATF16949 --scope three_districts \\\n"
     "    --title 'Magnesium ECU housings'"},
    {"post", "offer", "post offer FLAGS\npost offer --file offer.json [FLAGS]",
     "Publishes an offer: what your firm can do. It is matched at once against the open demands;\n"
     "gongxu watch shows the opportunities, and near misses saying what would qualify it.",
     NULL, S_OFFER, false,
     "gongxu post offer --kind parts_supply --kind processing --industry C3670 \\\n"
     "    --process casting.die.magnesium --material AZ91D --capacity 20000 --lead-time 20"},
    {"update", "demand", "update demand ID FLAGS\nupdate demand ID --file demand.json [FLAGS]",
     "Changes one of your open demands. With flags, only the fields given change: the demand is\n"
     "read, the flags replace its fields (a repeated flag replaces the whole list) and the result\n"
     "is sent with a revision check, so a change made meanwhile is never overwritten. --file is\n"
     "the full replacement instead.",
     NULL, S_DEMAND, true, "gongxu update demand 3 --quantity 8000 --needed-by 2027-04-30"},
    {"update", "offer", "update offer ID FLAGS\nupdate offer ID --file offer.json [FLAGS]",
     "Changes one of your open offers: as update demand, only the fields given change, with a\n"
     "revision check; --file is the full replacement.",
     NULL, S_OFFER, true, "gongxu update offer 7 --capacity 30000 --lead-time 15"},
    {"withdraw", NULL, "withdraw ID",
     "Withdraws one of your demands, offers or subscriptions; firms told of it are told again.", NULL, 0,
     false, "gongxu withdraw 3"},
    {"subscribe", NULL, "subscribe [FLAGS]",
     "Asks to be told of public demands (summaries) that fit a filter, now and as they come.\n"
     "Without flags: every public demand. Notices arrive through gongxu watch.",
     NULL, S_SUB, false, "gongxu subscribe --kind processing --process surface --district 410611"},
    {"watch", NULL, "watch [--count N] [--timeout SECONDS] [--from-seq N] [--no-ack]",
     "Prints your notices as they come (opportunities, near misses, shortlist changes, docking),\n"
     "from after the last one acknowledged, and acknowledges each once printed. With neither\n"
     "--count nor --timeout it runs until interrupted.",
     "  --count N                 stop after N notices (exit 75 if the timeout comes first)\n"
     "  --timeout SECONDS         stop after this long (exit 0 when there is no --count)\n"
     "  --from-seq N              start after notice N instead of after the last acknowledged\n"
     "  --no-ack                  do not acknowledge: the notices come again next time\n",
     0, false, "gongxu watch --count 1 --timeout 30"},
    {"interest", NULL, "interest DEMAND_ID [--offer ID] [--message TEXT]",
     "Tells a demand's owner that your firm is interested (docking). The owner accepts or\n"
     "declines; only acceptance releases the confidential details and both contacts.",
     "  --offer ID                the offer of yours that fits\n"
     "  --message TEXT            a word to the demand's owner\n",
     0, false, "gongxu interest 3 --offer 1 --message 'Tooling can start in two weeks'"},
    {"accept", NULL, "accept DEMAND_ID FIRM_ID",
     "Accepts a firm's interest in your demand: the demand's details and both firms' contacts\n"
     "are released to that pair.",
     NULL, 0, false, "gongxu accept 3 91410611MA45QBMG1C"},
    {"decline", NULL, "decline DEMAND_ID FIRM_ID [--reason TEXT]",
     "Declines a firm's interest in your demand.", "  --reason TEXT             told to the firm\n", 0, false,
     "gongxu decline 3 91410611MA45QBLA2K --reason 'IATF 16949 is required'"},
    {"award", NULL, "award DEMAND_ID FIRM_ID [--quantity Q]",
     "Awards your demand to a firm whose interest you accepted: all that remains closes it,\n"
     "less reduces it and keeps it open.",
     "  --quantity Q              the quantity awarded (default: all that remains)\n", 0, false,
     "gongxu award 3 91410611MA45QBMG1C --quantity 2000"},
    {"shortlist", NULL, "shortlist DEMAND_ID",
     "Shows the ranked suppliers of a demand, each hard rule PASS or FAIL with the values\n"
     "compared, and the score's terms.",
     NULL, 0, false, "gongxu shortlist 3"},
    {"show", NULL, "show ID", "Shows one posting: your own (details included), or a demand's public part.",
     NULL, 0, false, "gongxu show 3"},
    {"list", NULL, "list [--all] [--limit N] [--cursor C] [--all-pages]",
     "Lists your open postings and subscriptions, a page at a time: demands, then offers, then\n"
     "subscriptions, each by id (with --all, closed ones after the open ones of each kind).\n"
     "When more follow, the last line says how to get the next page.",
     "  --all                     closed ones too (awarded, withdrawn, expired)\n"
     "  --limit N                 postings per page, 1 to 1000 (default: the broker's, 100)\n"
     "  --cursor C                the page that starts at C, from the previous page's last line\n"
     "  --all-pages               every page, one after another (with --json, one line per page)\n",
     0, false, "gongxu list --all --all-pages"},
    {"stats", NULL,
     "stats [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--district D] [--industry PREFIX]\n"
     "      [--kind KIND] [--breakdown]",
     "Shows the broker's statistics (operator only). With a range, a filter or --breakdown, also\n"
     "the postings created in the range by district (410611, hebi.etdz, hebi.urdz, city, other),\n"
     "industry chain and kind: matched, matched locally, fill rate, time to first match.",
     "  --from YYYY-MM-DD         postings created on or after this day\n"
     "  --to YYYY-MM-DD           postings created on or before this day\n"
     "  --district D              one district: a county code, a zone, city or other\n"
     "  --industry PREFIX         one industry chain, e.g. C36\n"
     "  --kind KIND               one kind of demand\n"
     "  --breakdown               the table without a filter\n",
     0, false, "gongxu --operator stats --from 2026-11-01 --to 2026-11-30 --district hebi.etdz"},
    {"vocab", NULL, "vocab [search] [TEXT] [--class CLASS] [--limit N]",
     "Looks codes up in the broker's vocabulary: processes, materials, industries (GB/T 4754),\n"
     "counties (GB/T 2260), zones and certificates, by id, alias, Chinese or English name.\n"
     "Without TEXT it lists them. Postings take any id or alias shown.",
     "  --class CLASS             only process, material, industry, county, zone or cert\n"
     "  --limit N                 show at most N (1 to 1000, default 50)\n",
     0, false, "gongxu vocab search 镁 --class material"},
    {"ping", NULL, "ping",
     "Checks that the broker answers, and shows its version and the limits it enforces\n"
     "(max_frame_bytes, max_string_bytes, max_text_bytes, max_repeated).",
     NULL, 0, false, "gongxu ping"},
    {"keygen", NULL, "keygen PATH",
     "Makes a CURVE key pair: PATH.key (both keys, mode 0600: keep it secret) and PATH.pub (the\n"
     "public key an operator registers). Prints the public key; never overwrites a file.",
     NULL, 0, false, "gongxu keygen hebi-auto"},
    {"register-key", NULL, "register-key FIRM_ID KEY|FILE",
     "Lets a firm connect with this public key (operator only): a Z85 key or a .pub file.", NULL, 0, false,
     "gongxu --operator register-key 91410600MA44ANCH0R hebi-auto.pub"},
    {"revoke-key", NULL, "revoke-key KEY|FILE",
     "Refuses this key from now on, open connections included (operator only).", NULL, 0, false,
     "gongxu --operator revoke-key old-laptop.pub"},
    {"admin", "backup", "admin backup DEST",
     "Has the broker write a consistent, compacted copy of its store into DEST on its own host\n"
     "while it goes on serving (operator only). Copy broker.key and operator_keys beside it.",
     NULL, 0, false, "gongxu --operator admin backup /srv/backup/gongxu-2026-11-26"},
    {"help", NULL, "help [COMMAND [SUB]]", "Shows the overview, or one command's help.", NULL, 0, false,
     "gongxu help post demand"},
};

static const char s_overview[] =
    "usage: gongxu [global options] COMMAND [args]\n"
    "\n"
    "Talks to a gongxu supply-chain matchmaking broker: registers firms, posts demands and offers,\n"
    "shows the explained shortlist, follows notices, docks. gongxu help COMMAND shows a command's\n"
    "flags and an example.\n"
    "\n"
    "Global options (also accepted after the command, except --timeout after watch):\n"
    "  -s, --server ENDPOINT  broker endpoint (default $GONGXU_SERVER, else " GX_CLIENT_DEFAULT_ENDPOINT ")\n"
    "  -f, --firm USCC        act as this firm (default $GONGXU_FIRM); with CURVE the key decides\n"
    "      --operator         act as the operator, with the operator's key (default on when\n"
    "                         $GONGXU_OPERATOR=1)\n"
    "      --key FILE         our CURVE key pair, a .key file from keygen (default $GONGXU_KEY; with\n"
    "                         --operator $GONGXU_OPERATOR_KEY, else " GX_CLI_LOCAL_DIR "/operator.key)\n"
    "      --server-key KEY|FILE  the broker's CURVE public key (default $GONGXU_SERVER_KEY, else\n"
    "                         " GX_CLI_LOCAL_DIR "/broker.pub); none: a plain connection, for a broker\n"
    "                         run --insecure-dev\n"
    "      --json             print JSON Lines: one proto3-JSON object per reply or notice (the same\n"
    "                         in every language)\n"
    "      --lang zh|en       the language of replies, notices and broker errors (default from\n"
    "                         $LC_ALL, $LC_MESSAGES, $LANG: zh_* Chinese, C and others English;\n"
    "                         none set: Chinese)\n"
    "      --timeout SECONDS  wait this long for each reply (default 5)\n"
    "  -h, --help             this overview (after a command: that command's help)\n"
    "      --version          the version\n"
    "\n"
    "Commands:\n"
    "  post demand|offer      publish what your firm needs, or what it can do\n"
    "  update demand|offer ID change a posting: only the flags given (--file: a full replacement)\n"
    "  withdraw ID            withdraw a demand, an offer or a subscription\n"
    "  show ID, list          one posting; your postings\n"
    "  shortlist DEMAND_ID    the ranked suppliers of a demand, every rule explained\n"
    "  subscribe              be told of public demands by kind, industry, process, district\n"
    "  watch                  print notices: opportunities, near misses, shortlist changes, docking\n"
    "  interest, accept, decline, award   docking on a demand\n"
    "  vocab [search] [TEXT]  look codes up: processes, materials, industries, counties, zones, certs\n"
    "  firm USCC              show a firm\n"
    "  ping                   check that the broker answers; its limits\n"
    "  keygen PATH            make a CURVE key pair\n"
    "  operator only (--operator): register, register-key, revoke-key, stats, admin backup\n"
    "\n"
    "Keys: a broker with CURVE accepts only public keys an operator registered, and the key decides\n"
    "the firm. The broker keeps its public key in DATA_DIR/broker.pub and, from its first start, an\n"
    "operator key pair in DATA_DIR/operator.key; in the quick start (data directory " GX_CLI_LOCAL_DIR ")\n"
    "both are found by default.\n"
    "\n"
    "Exit status:\n"
    "   0  success; watch: --count notices seen, or --timeout passed when no --count\n"
    "   1  NOT_FOUND: no such firm or posting; vocab: no code matches\n"
    "  64  bad command line\n"
    "  65  the broker refused the request's data (MALFORMED, BAD_REQUEST, INVALID_FIELD,\n"
    "      UNKNOWN_CODE, TOO_LARGE, CONFLICT, UNSUPPORTED_VERSION, RESUME_GAP), or the request\n"
    "      is over the broker's limits and was not sent\n"
    "  66  --file unreadable, not JSON, or not a valid message; a key or key file unreadable\n"
    "  69  broker unreachable, not a gongxu broker, or no reply within --timeout; with CURVE also\n"
    "      a refused handshake: wrong server key, or a key not registered or revoked\n"
    "  70  INTERNAL, or a malformed answer from the broker\n"
    "  73  keygen: PATH.key or PATH.pub exists or cannot be written\n"
    "  74  standard output could not be written\n"
    "  75  try again later: RATE_LIMITED, STORAGE_FULL; watch --count not reached in --timeout\n"
    "  77  FORBIDDEN, UNAUTHENTICATED\n"
    "Broker errors are printed on stderr as \"gongxu: CODE: message\".\n"
    "\n"
    "Examples, against a broker with CURVE started in this directory:\n"
    "  gongxu keygen hebi-auto         # hebi-auto.key (keep it secret) and hebi-auto.pub\n"
    "  gongxu --operator register-key 91410600MA44ANCH0R hebi-auto.pub\n"
    "  gongxu --key hebi-auto.key post demand --kind parts_supply --industry C3670 \\\n"
    "      --process casting.die.magnesium --quantity 5000 --needed-by 2027-03-31 --cert IATF16949\n"
    "  gongxu --key hebi-auto.key shortlist 3\n"
    "  gongxu --json watch --timeout 10 | jq -c .nearMiss\n"
    "Another host: -s tcp://HOST:7450 --server-key broker.pub (a copy of the broker's).\n"
    "A broker run --insecure-dev has no CURVE and trusts -f instead:\n"
    "  gongxu --server-key none -f 91410611MA45QBMG1C watch --count 1 --timeout 30\n";

void gx_cli_help(FILE *out)
{
    fputs(s_overview, out);
}

static void s_indent(FILE *out, const char *text, const char *first, const char *rest)
{
    const char *lead = first;
    while (*text) {
        size_t n = strcspn(text, "\n");
        fprintf(out, "%s%.*s\n", lead, (int)n, text);
        text += n + (text[n] == '\n');
        lead = rest;
    }
}

static void s_page_print(FILE *out, const s_page *p)
{
    s_indent(out, p->synopsis, "usage: gongxu [global options] ", "       gongxu [global options] ");
    fputc('\n', out);
    s_indent(out, p->about, "", "");
    if (p->posting || p->flags) {
        fprintf(out, "\nFlags%s:\n", p->posting ? " (... may be repeated)" : "");
        if (p->posting)
            gx_cli_flags_help(out, (gx_cli_what)(p->posting - 1), p->update);
        else
            fputs(p->flags, out);
    }
    fputs("\nExample:\n", out);
    s_indent(out, p->example, "  ", "  ");
    fputs("\nGlobal options (-s, -f, --key, --operator, --json, --timeout, ...): gongxu --help\n", out);
}

int gx_cli_help_command(FILE *out, const char *name, const char *sub)
{
    int shown = 0;
    for (size_t i = 0; i < sizeof s_pages / sizeof s_pages[0]; i++) {
        const s_page *p = &s_pages[i];
        if (strcmp(p->name, name) != 0 || (sub && p->sub && strcmp(p->sub, sub) != 0))
            continue;
        if (shown++)
            fputs("\n\n", out);
        s_page_print(out, p);
    }
    return shown ? 0 : -1;
}
