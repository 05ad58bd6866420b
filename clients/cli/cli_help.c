/* cli_help.c — the gongxu CLI's help: the overview (gongxu --help, gongxu help)
 * and one page per command (gongxu help COMMAND [SUB], gongxu COMMAND --help):
 * synopsis, what it does, its flags one line each, one example.
 *
 * The words of help are in the message catalogue (src/data/messages/cli.tsv,
 * cli.help.*), in the CLI's output language; this file holds what is the same
 * in every language: command names, synopses and examples. The flags of the
 * posting commands are printed by cli_build.c from the table its parser uses
 * (their lines cli.flag.*), so a flag and its help line cannot drift apart. */
#include "cli.h"

#include <string.h>

#include <gongxu/client.h>

#define S_TEXT 4096 /* longest section of help */

/* One command's page. */
typedef struct s_page {
    const char *name;     /* first command word */
    const char *sub;      /* second word, or NULL */
    const char *key;      /* its texts are cli.help.<key>.about and, with flags, cli.help.<key>.flags */
    const char *synopsis; /* what follows "gongxu [global options] " (several lines allowed) */
    bool flags;           /* it has flags of its own (cli.help.<key>.flags) */
    int posting;          /* 1 + gx_cli_what of a posting command, whose flags cli_build.c prints; 0 */
    bool update;          /* posting flags of update (with --revision) */
    const char *example;  /* one example, the command line(s) */
} s_page;

#define S_DEMAND (1 + GX_CLI_DEMAND)
#define S_OFFER (1 + GX_CLI_OFFER)
#define S_FIRM (1 + GX_CLI_FIRM)
#define S_SUB (1 + GX_CLI_SUBSCRIPTION)

/* clang-format off */
static const s_page s_pages[] = {
    {"register", NULL, "register",
     "register --id USCC --name NAME --county CODE [FLAGS]\n"
     "register --file firm.json [FLAGS]",
     false, S_FIRM, false,
     "gongxu --operator register --id 91410600MA44ANCH0R --name 'Hebi Auto Electronics' \\\n"
     "    --county 410611 --zone hebi.etdz --lat 35.73 --lon 114.35 --credit A --role anchor"},
    {"firm", NULL, "firm",
     "firm USCC",
     false, 0, false,
     "gongxu firm 91410611MA45QBMG1C"},
    {"post", "demand", "post_demand",
     "post demand FLAGS\n"
     "post demand --file demand.json [FLAGS]",
     false, S_DEMAND, false,
     "gongxu post demand --kind parts_supply --industry C3670 --process casting.die.magnesium \\\n"
     "    --quantity 5000 --unit pcs --needed-by 2027-03-31 --cert IATF16949 --scope three_districts \\\n"
     "    --title 'Magnesium ECU housings'"},
    {"post", "offer", "post_offer",
     "post offer FLAGS\n"
     "post offer --file offer.json [FLAGS]",
     false, S_OFFER, false,
     "gongxu post offer --kind parts_supply --kind processing --industry C3670 \\\n"
     "    --process casting.die.magnesium --material AZ91D --capacity 20000 --lead-time 20"},
    {"update", "demand", "update_demand",
     "update demand ID FLAGS\n"
     "update demand ID --file demand.json [FLAGS]",
     false, S_DEMAND, true,
     "gongxu update demand 3 --quantity 8000 --needed-by 2027-04-30"},
    {"update", "offer", "update_offer",
     "update offer ID FLAGS\n"
     "update offer ID --file offer.json [FLAGS]",
     false, S_OFFER, true,
     "gongxu update offer 7 --capacity 30000 --lead-time 15"},
    {"withdraw", NULL, "withdraw",
     "withdraw ID",
     false, 0, false,
     "gongxu withdraw 3"},
    {"subscribe", NULL, "subscribe",
     "subscribe [FLAGS]",
     false, S_SUB, false,
     "gongxu subscribe --kind processing --process surface --district 410611"},
    {"watch", NULL, "watch",
     "watch [--count N] [--timeout SECONDS] [--from-seq N] [--no-ack]",
     true, 0, false,
     "gongxu watch --count 1 --timeout 30"},
    {"interest", NULL, "interest",
     "interest DEMAND_ID [--offer ID] [--message TEXT]",
     true, 0, false,
     "gongxu interest 3 --offer 1 --message 'Tooling can start in two weeks'"},
    {"accept", NULL, "accept",
     "accept DEMAND_ID FIRM_ID",
     false, 0, false,
     "gongxu accept 3 91410611MA45QBMG1C"},
    {"decline", NULL, "decline",
     "decline DEMAND_ID FIRM_ID [--reason TEXT]",
     true, 0, false,
     "gongxu decline 3 91410611MA45QBLA2K --reason 'IATF 16949 is required'"},
    {"award", NULL, "award",
     "award DEMAND_ID FIRM_ID [--quantity Q]",
     true, 0, false,
     "gongxu award 3 91410611MA45QBMG1C --quantity 2000"},
    {"shortlist", NULL, "shortlist",
     "shortlist DEMAND_ID",
     false, 0, false,
     "gongxu shortlist 3"},
    {"show", NULL, "show",
     "show ID",
     false, 0, false,
     "gongxu show 3"},
    {"list", NULL, "list",
     "list [--all] [--limit N] [--cursor C] [--all-pages]",
     true, 0, false,
     "gongxu list --all --all-pages"},
    {"stats", NULL, "stats",
     "stats [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--district D] [--industry PREFIX]\n"
     "      [--kind KIND] [--breakdown]",
     true, 0, false,
     "gongxu --operator stats --from 2026-11-01 --to 2026-11-30 --district hebi.etdz"},
    {"vocab", NULL, "vocab",
     "vocab [search] [TEXT] [--class CLASS] [--limit N]",
     true, 0, false,
     "gongxu vocab search 镁 --class material"},
    {"ping", NULL, "ping",
     "ping",
     false, 0, false,
     "gongxu ping"},
    {"keygen", NULL, "keygen",
     "keygen PATH",
     false, 0, false,
     "gongxu keygen hebi-auto"},
    {"register-key", NULL, "register_key",
     "register-key FIRM_ID KEY|FILE",
     false, 0, false,
     "gongxu --operator register-key 91410600MA44ANCH0R hebi-auto.pub"},
    {"revoke-key", NULL, "revoke_key",
     "revoke-key KEY|FILE",
     false, 0, false,
     "gongxu --operator revoke-key old-laptop.pub"},
    {"admin", "backup", "admin_backup",
     "admin backup DEST",
     false, 0, false,
     "gongxu --operator admin backup /srv/backup/gongxu-2026-11-26"},
    {"help", NULL, "help",
     "help [COMMAND [SUB]]",
     false, 0, false,
     "gongxu help post demand"},
};
/* clang-format on */

/* Writes help text id (cli.help.*) in the output language, args as name,
 * value pairs ending in NULL. */
static void s_put(FILE *out, const char *id, ...) __attribute__((sentinel));

static void s_put(FILE *out, const char *id, ...)
{
    static char buf[S_TEXT];
    gx_msg_arg a[4];
    size_t k = 0;
    va_list ap;
    va_start(ap, id);
    for (const char *name; k < 4 && (name = va_arg(ap, const char *));) {
        a[k].name = name;
        a[k++].value = va_arg(ap, const char *);
    }
    va_end(ap);
    gx_msg_format(buf, sizeof buf, gx_cli_lang(), id, a, k);
    fputs(buf, out);
}

void gx_cli_help(FILE *out)
{
    static const char *const sections[] = {"cli.help.intro", "cli.help.global", "cli.help.commands",
                                           "cli.help.keys",  "cli.help.exit",   "cli.help.examples"};
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++) {
        fputs(i ? "\n\n" : "", out);
        s_put(out, sections[i], "endpoint", GX_CLIENT_DEFAULT_ENDPOINT, "dir", GX_CLI_LOCAL_DIR, NULL);
    }
    fputc('\n', out);
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
    char id[64], first[96], rest[96];
    gx_msg_copy(first, sizeof first, gx_cli_msg("cli.help.usage", NULL));
    gx_msg_copy(rest, sizeof rest, gx_cli_msg("cli.help.usage_more", NULL));
    s_indent(out, p->synopsis, first, rest);
    fputc('\n', out);
    snprintf(id, sizeof id, "cli.help.%s.about", p->key);
    s_put(out, id, NULL);
    fputc('\n', out);
    if (p->posting || p->flags) {
        fputc('\n', out);
        s_put(out, p->posting ? "cli.help.flags_repeated" : "cli.help.flags", NULL);
        fputc('\n', out);
        if (p->posting) {
            gx_cli_flags_help(out, (gx_cli_what)(p->posting - 1), p->update);
        } else {
            snprintf(id, sizeof id, "cli.help.%s.flags", p->key);
            s_put(out, id, NULL);
            fputc('\n', out);
        }
    }
    fputc('\n', out);
    s_put(out, "cli.help.example", NULL);
    fputc('\n', out);
    s_indent(out, p->example, "  ", "  ");
    fputc('\n', out);
    s_put(out, "cli.help.footer", NULL);
    fputc('\n', out);
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
