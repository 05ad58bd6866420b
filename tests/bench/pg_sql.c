/* pg_sql.c — schema, posting statements and encoders (pg_sql.h). */
#include "pg_sql.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ buffer */

int pg_buf_put(pg_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np)
            return -1;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int pg_buf_puts(pg_buf *b, const char *s)
{
    return pg_buf_put(b, s, strlen(s));
}

int pg_buf_printf(pg_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof small)
        return pg_buf_put(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = pg_buf_put(b, big, (size_t)n);
    free(big);
    return rc;
}

void pg_buf_free(pg_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------ schema */

const char pg_schema_sql[] =
    "CREATE TABLE firms (\n"
    "  id text PRIMARY KEY,               -- USCC\n"
    "  name text NOT NULL,\n"
    "  county text NOT NULL,              -- GB/T 2260\n"
    "  zone text,\n"
    "  district text NOT NULL,            -- the zone if one of the three districts, else county\n"
    "  lat float8, lon float8,            -- NULL when unknown\n"
    "  credit smallint NOT NULL,          -- 0 ungraded, 1 A .. 4 D\n"
    "  awards int NOT NULL DEFAULT 0);\n"
    "CREATE INDEX firms_district ON firms (district);\n"
    "CREATE INDEX firms_county ON firms (county);\n"
    "CREATE TABLE firm_certs (\n"
    "  firm_id text NOT NULL REFERENCES firms (id),\n"
    "  scheme text NOT NULL,\n"
    "  number text NOT NULL DEFAULT '',\n"
    "  valid_until int NOT NULL);         -- days since 1970-01-01, inclusive\n"
    "CREATE INDEX firm_certs_firm ON firm_certs (firm_id, scheme, valid_until);\n"
    "CREATE TABLE demands (\n"
    "  id bigserial PRIMARY KEY,\n"
    "  ref bigint NOT NULL,               -- the client's reference\n"
    "  owner text NOT NULL REFERENCES firms (id),\n"
    "  state smallint NOT NULL DEFAULT 1, -- 1 open\n"
    "  kind smallint NOT NULL,\n"
    "  industry text,\n"
    "  processes text[] NOT NULL, materials text[] NOT NULL,\n"
    "  certs text[] NOT NULL, ipc text[] NOT NULL,\n"
    "  quantity float8 NOT NULL, unit text,\n"
    "  needed_by int NOT NULL,            -- days since 1970-01-01\n"
    "  budget_min float8, budget_max float8, -- NULL when no budget\n"
    "  min_credit smallint NOT NULL, scope smallint NOT NULL,\n"
    "  max_distance_km float8 NOT NULL,   -- 0 no limit\n"
    "  splittable bool NOT NULL, max_suppliers int NOT NULL,\n"
    "  min_trl int NOT NULL, modes int NOT NULL,\n"
    "  title text, summary text, details text,\n"
    "  expires_at bigint NOT NULL, created_at bigint NOT NULL,\n"
    "  match_terms text[] NOT NULL);      -- k:kind, p:process, m:material required\n"
    "CREATE INDEX demands_owner ON demands (owner);\n"
    "CREATE INDEX demands_open_kind ON demands (kind, needed_by) WHERE state = 1;\n"
    "CREATE INDEX demands_open_proc ON demands USING gin (processes) WHERE state = 1;\n"
    "CREATE TABLE offers (\n"
    "  id bigserial PRIMARY KEY,\n"
    "  ref bigint NOT NULL,\n"
    "  owner text NOT NULL REFERENCES firms (id),\n"
    "  state smallint NOT NULL DEFAULT 1,\n"
    "  kinds int NOT NULL,                -- bit set: 1 << kind\n"
    "  industries text[] NOT NULL, processes text[] NOT NULL, materials text[] NOT NULL,\n"
    "  ipc text[] NOT NULL,\n"
    "  proc_expanded text[] NOT NULL,     -- processes and all their dotted ancestors\n"
    "  mat_expanded text[] NOT NULL,      -- materials likewise\n"
    "  ipc_expanded text[] NOT NULL,      -- IPC codes and every code at or above them\n"
    "  monthly_capacity float8 NOT NULL, min_order float8 NOT NULL, lead_time_days int NOT NULL,\n"
    "  price_min float8, price_max float8, -- NULL when no price\n"
    "  service_scope smallint NOT NULL, service_radius_km float8 NOT NULL,\n"
    "  trl int NOT NULL, modes int NOT NULL,\n"
    "  title text, summary text,\n"
    "  expires_at bigint NOT NULL, created_at bigint NOT NULL,\n"
    "  match_terms text[] NOT NULL);      -- k:kind, p:process, m:material served, expanded\n"
    "CREATE INDEX offers_owner ON offers (owner);\n"
    "CREATE INDEX offers_open_terms ON offers USING gin (match_terms) WHERE state = 1;\n"
    "CREATE TABLE matches (\n"
    "  demand_id bigint NOT NULL REFERENCES demands (id),\n"
    "  offer_id bigint NOT NULL REFERENCES offers (id),\n"
    "  score float8 NOT NULL,\n"
    "  created_at timestamptz NOT NULL DEFAULT now(),\n"
    "  PRIMARY KEY (demand_id, offer_id));\n"
    "CREATE INDEX matches_offer ON matches (offer_id);\n"
    "CREATE INDEX matches_rank ON matches (demand_id, score DESC);\n"
    /* Region scope of `other` measured from `home` (src/rules.c s_in_scope). */
    "CREATE FUNCTION gx_in_scope(scope smallint, hc text, hd text, oc text, od text) RETURNS bool\n"
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$\n"
    "  SELECT CASE scope\n"
    "    WHEN 1 THEN od <> '' AND hd = od\n"
    "    WHEN 2 THEN od = ANY ('{410611,hebi.etdz,hebi.urdz}'::text[])\n"
    "    WHEN 3 THEN length(hc) >= 4 AND length(oc) >= 4 AND left(hc, 4) = left(oc, 4)\n"
    "    WHEN 4 THEN length(hc) >= 2 AND length(oc) >= 2 AND left(hc, 2) = left(oc, 2)\n"
    "    ELSE true END $$;\n"
    /* Great-circle km (haversine, IUGG mean radius); NULL when a point is unknown. */
    "CREATE FUNCTION gx_km(lat1 float8, lon1 float8, lat2 float8, lon2 float8) RETURNS float8\n"
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$\n"
    "  SELECT 2 * 6371.0088 * asin(sqrt(least(1.0::float8,\n"
    "    sin(radians(lat2 - lat1) / 2) ^ 2\n"
    "    + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2) ^ 2))) $$;\n"
    /* Distance rule: a set limit with an unknown distance fails. */
    "CREATE FUNCTION gx_dist_ok(km float8, dmax float8, orad float8) RETURNS bool\n"
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$\n"
    "  SELECT (dmax <= 0 AND orad <= 0)\n"
    "    OR (km IS NOT NULL AND (dmax <= 0 OR km <= dmax) AND (orad <= 0 OR km <= orad)) $$;\n"
    /* Effective credit grade: ungraded counts as C. */
    "CREATE FUNCTION gx_credit_eff(c smallint) RETURNS int\n"
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$\n"
    "  SELECT CASE WHEN c BETWEEN 1 AND 4 THEN c::int ELSE 3 END $$;\n"
    /* Stands in for pg_notify when notices are switched off (--no-notify). */
    "CREATE FUNCTION gx_no_notify(channel text, payload text) RETURNS void\n"
    "LANGUAGE sql VOLATILE AS $$ SELECT NULL::void $$;\n"
    /* Ranking score, 0..100: gongxu's distance, credit, capacity, lead-time and
     * track-record terms with its default weights (20, 15, 10, 10, 5). */
    "CREATE FUNCTION gx_score(km float8, credit smallint, cap float8, days int, qty float8, lead int,\n"
    "                         awards int) RETURNS float8\n"
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$\n"
    "  SELECT (20 * CASE WHEN km IS NULL THEN 0.5 ELSE greatest(0, least(1, 1 - km / 100)) END\n"
    "        + 15 * CASE credit WHEN 1 THEN 1.0 WHEN 2 THEN 0.7 WHEN 4 THEN 0 ELSE 0.4 END\n"
    "        + 10 * CASE WHEN qty > 0 THEN greatest(0, least(1, cap * days / 30.0 / qty / 2)) ELSE 1 END\n"
    "        + 10 * CASE WHEN days > 0 THEN greatest(0, least(1, (days - lead)::float8 / days)) ELSE 0 END\n"
    "        + 5 * least(1, awards / 10.0)) * 100 / 60 $$;\n";

/* The hard rules for the pair (d, o) with firms df, of; @NOW and @TODAY are
 * replaced by parameters or literals. Mirrors src/rules.c rule by rule. */
static const char s_elig[] =
    "    df.id <> of.id\n"
    /* kind */
    "    AND d.kind BETWEEN 1 AND 5 AND (o.kinds & (1 << d.kind)) <> 0\n"
    /* process, material: equal or descendant, via the expanded sets */
    "    AND o.proc_expanded @> d.processes AND o.mat_expanded @> d.materials\n"
    /* technology */
    "    AND (NOT (d.kind = 4 OR cardinality(d.ipc) > 0 OR d.min_trl > 0 OR d.modes <> 0)\n"
    "         OR (o.ipc_expanded @> d.ipc AND o.trl >= d.min_trl\n"
    "             AND (d.modes = 0 OR (d.modes & o.modes) <> 0)))\n"
    /* certification: every required scheme held unexpired by the offer firm */
    "    AND NOT EXISTS (SELECT 1 FROM unnest(d.certs) AS r (scheme) WHERE NOT EXISTS (\n"
    "          SELECT 1 FROM firm_certs c WHERE c.firm_id = of.id AND c.scheme = r.scheme\n"
    "            AND c.valid_until >= @TODAY))\n"
    /* lead time, minimum order, capacity (neither of the last two for tech transfer) */
    "    AND @TODAY + o.lead_time_days <= d.needed_by\n"
    "    AND (d.kind = 4 OR o.min_order <= d.quantity)\n"
    "    AND (d.kind = 4 OR d.splittable\n"
    "         OR o.monthly_capacity * greatest(d.needed_by - @TODAY, 0) / 30.0::float8 >= d.quantity)\n"
    /* region: both scopes */
    "    AND gx_in_scope(d.scope, df.county, df.district, of.county, of.district)\n"
    "    AND gx_in_scope(o.service_scope, of.county, of.district, df.county, df.district)\n"
    /* distance */
    "    AND gx_dist_ok(gx_km(df.lat, df.lon, of.lat, of.lon), d.max_distance_km, o.service_radius_km)\n"
    /* credit */
    "    AND of.credit <> 4 AND df.credit <> 4\n"
    "    AND gx_credit_eff(of.credit) <= least(gx_credit_eff(d.min_credit), 3)\n"
    /* price */
    "    AND (d.budget_min IS NULL OR o.price_min IS NULL\n"
    "         OR (o.price_min <= CASE WHEN d.budget_max > 0 THEN d.budget_max ELSE 'Infinity' END\n"
    "             AND d.budget_min <= CASE WHEN o.price_max > 0 THEN o.price_max ELSE 'Infinity' END))\n"
    /* validity */
    "    AND d.state = 1 AND o.state = 1\n"
    "    AND (d.expires_at = 0 OR d.expires_at > @NOW) AND (o.expires_at = 0 OR o.expires_at > @NOW)\n";

static const char s_score[] =
    "gx_score(gx_km(df.lat, df.lon, of.lat, of.lon), of.credit, o.monthly_capacity,"
    " greatest(d.needed_by - @TODAY, 0), CASE WHEN d.kind = 4 THEN 0 ELSE d.quantity END, o.lead_time_days,"
    " of.awards)";

/* Copies t into b with @NOW and @TODAY replaced. */
static int s_subst(pg_buf *b, const char *t, const char *now, const char *today)
{
    while (*t) {
        if (strncmp(t, "@NOW", 4) == 0) {
            if (pg_buf_puts(b, now))
                return -1;
            t += 4;
        } else if (strncmp(t, "@TODAY", 6) == 0) {
            if (pg_buf_puts(b, today))
                return -1;
            t += 6;
        } else if (pg_buf_put(b, t++, 1)) {
            return -1;
        }
    }
    return 0;
}

const char PG_FIRM_COLS[] = "id, name, county, zone, district, lat, lon, credit, awards";
const char PG_CERT_COLS[] = "firm_id, scheme, number, valid_until";
const char PG_DEMAND_COLS[] =
    "ref, owner, kind, industry, processes, materials, certs, ipc, quantity, unit, needed_by, budget_min,"
    " budget_max, min_credit, scope, max_distance_km, splittable, max_suppliers, min_trl, modes, title,"
    " summary, details, expires_at, created_at, match_terms";
const char PG_OFFER_COLS[] =
    "ref, owner, kinds, industries, processes, materials, ipc, proc_expanded, mat_expanded, ipc_expanded,"
    " monthly_capacity, min_order, lead_time_days, price_min, price_max, service_scope, service_radius_km,"
    " trl, modes, title, summary, expires_at, created_at, match_terms";

/* The VALUES list "($1, ..., $n)". */
static int s_values(pg_buf *b, int n)
{
    int rc = pg_buf_puts(b, "VALUES (");
    for (int i = 1; !rc && i <= n; i++)
        rc = pg_buf_printf(b, "%s$%d", i > 1 ? ", " : "", i);
    return rc ? rc : pg_buf_puts(b, ")");
}

char *pg_sql_post_demand(bool notify)
{
    const char *fn = notify ? "pg_notify" : "gx_no_notify";
    pg_buf b = {0};
    int rc = pg_buf_printf(&b, "WITH d AS (INSERT INTO demands (%s) ", PG_DEMAND_COLS);
    rc = rc || s_values(&b, PG_DEMAND_NPARAMS - 1);
    rc = rc || pg_buf_puts(&b, " RETURNING *),\n"
                               "m AS (\n"
                               "  SELECT d.id AS demand_id, d.ref, d.owner AS demand_owner,\n"
                               "         o.id AS offer_id, o.owner AS offer_owner, ");
    rc = rc || s_subst(&b, s_score, "$25::bigint", "$27::int");
    rc = rc || pg_buf_puts(&b, " AS score\n"
                               "  FROM d JOIN firms df ON df.id = d.owner\n"
                               "  JOIN offers o ON o.state = 1 AND o.match_terms @> d.match_terms\n"
                               "  JOIN firms of ON of.id = o.owner\n"
                               "  WHERE\n");
    rc = rc || s_subst(&b, s_elig, "$25::bigint", "$27::int");
    rc = rc || pg_buf_printf(
                   &b,
                   "),\n"
                   "ins AS (INSERT INTO matches (demand_id, offer_id, score)\n"
                   "        SELECT demand_id, offer_id, score FROM m),\n"
                   /* one opportunity per offer firm (its best offer), as gongxu tells a firm once */
                   "opp AS (SELECT %s('firm_' || offer_owner, json_build_object('t', 'opportunity',\n"
                   "          'demand', demand_id, 'ref', ref, 'offer', offer_id,\n"
                   "          'score', round(score::numeric, 2))::text) AS x\n"
                   "        FROM (SELECT DISTINCT ON (offer_owner) * FROM m\n"
                   "              ORDER BY offer_owner, score DESC, offer_id) best),\n"
                   /* the shortlist, best first, to the demand's firm */
                   "cand AS (SELECT %s('firm_' || demand_owner, json_build_object('t', 'candidate',\n"
                   "          'demand', demand_id, 'ref', ref, 'offer', offer_id, 'rank', rk,\n"
                   "          'score', round(score::numeric, 2))::text) AS x\n"
                   "        FROM (SELECT *, row_number() OVER (ORDER BY score DESC, offer_id) AS rk FROM m) r\n"
                   "        WHERE rk <= %d ORDER BY rk)\n"
                   "SELECT (SELECT id FROM d), (SELECT count(*) FROM m), (SELECT count(*) FROM opp),\n"
                   "       (SELECT count(*) FROM cand)",
                   fn, fn, PG_SHORTLIST_K);
    if (rc) {
        pg_buf_free(&b);
        return NULL;
    }
    return b.p;
}

char *pg_sql_post_offer(bool notify)
{
    const char *fn = notify ? "pg_notify" : "gx_no_notify";
    pg_buf b = {0};
    int rc = pg_buf_printf(&b, "WITH o AS (INSERT INTO offers (%s) ", PG_OFFER_COLS);
    rc = rc || s_values(&b, PG_OFFER_NPARAMS - 1);
    rc = rc || pg_buf_puts(&b, " RETURNING *),\n"
                               "m AS (\n"
                               "  SELECT d.id AS demand_id, d.ref AS dref, d.owner AS demand_owner,\n"
                               "         o.id AS offer_id, o.ref AS oref, o.owner AS offer_owner, ");
    rc = rc || s_subst(&b, s_score, "$23::bigint", "$25::int");
    rc = rc || pg_buf_puts(&b, " AS score\n"
                               "  FROM o JOIN firms of ON of.id = o.owner\n"
                               "  JOIN demands d ON d.state = 1 AND d.processes <@ o.proc_expanded\n"
                               "                    AND d.materials <@ o.mat_expanded\n"
                               "  JOIN firms df ON df.id = d.owner\n"
                               "  WHERE\n");
    rc = rc || s_subst(&b, s_elig, "$23::bigint", "$25::int");
    rc = rc || pg_buf_printf(
                   &b,
                   "),\n"
                   "ins AS (INSERT INTO matches (demand_id, offer_id, score)\n"
                   "        SELECT demand_id, offer_id, score FROM m),\n"
                   /* the offer's firm hears of every demand it now matches */
                   "opp AS (SELECT %s('firm_' || offer_owner, json_build_object('t', 'opportunity',\n"
                   "          'demand', demand_id, 'ref', dref, 'offer', offer_id,\n"
                   "          'score', round(score::numeric, 2))::text) AS x FROM m),\n"
                   /* a demand's firm hears when the offer enters its top K (matches as of
                    * the statement's snapshot: the rows inserted above are not visible) */
                   "cand AS (SELECT %s('firm_' || demand_owner, json_build_object('t', 'candidate',\n"
                   "          'demand', demand_id, 'ref', dref, 'offer', offer_id, 'rank', better + 1,\n"
                   "          'score', round(score::numeric, 2))::text) AS x\n"
                   "        FROM m CROSS JOIN LATERAL (SELECT count(*) AS better FROM (\n"
                   "          SELECT 1 FROM matches mm WHERE mm.demand_id = m.demand_id AND mm.score > m.score\n"
                   "          LIMIT %d) t) b\n"
                   "        WHERE better < %d)\n"
                   "SELECT (SELECT id FROM o), (SELECT count(*) FROM m), (SELECT count(*) FROM opp),\n"
                   "       (SELECT count(*) FROM cand)",
                   fn, fn, PG_SHORTLIST_K, PG_SHORTLIST_K);
    if (rc) {
        pg_buf_free(&b);
        return NULL;
    }
    return b.p;
}

char *pg_sql_bulk_match(int64_t now, int32_t today, int64_t lo, int64_t hi)
{
    char n[32], t[32];
    snprintf(n, sizeof n, "%lld::bigint", (long long)now);
    snprintf(t, sizeof t, "%d", (int)today);
    pg_buf b = {0};
    int rc = pg_buf_puts(&b, "INSERT INTO matches (demand_id, offer_id, score)\n"
                             "SELECT d.id, o.id, ");
    rc = rc || s_subst(&b, s_score, n, t);
    rc = rc || pg_buf_printf(&b,
                             "\nFROM demands d JOIN firms df ON df.id = d.owner\n"
                             "JOIN offers o ON o.state = 1 AND o.match_terms @> d.match_terms\n"
                             "JOIN firms of ON of.id = o.owner\n"
                             "WHERE d.id >= %lld AND d.id < %lld AND\n",
                             (long long)lo, (long long)hi);
    rc = rc || s_subst(&b, s_elig, n, t);
    if (rc) {
        pg_buf_free(&b);
        return NULL;
    }
    return b.p;
}

/* ------------------------------------------------------------------ rows */

/* A row being encoded: as libpq text parameters (NUL-separated in buf) or as
 * one COPY text-format line. */
typedef struct s_row {
    pg_buf *b;            /* destination */
    bool copy;            /* COPY line, else parameters */
    int n;                /* fields so far */
    size_t off[32];       /* parameters: offset of each value in b */
    bool null[32];        /* parameters: SQL NULL */
    int rc;               /* first error */
} s_row;

static void s_field(s_row *r, const char *s)
{
    if (r->rc || r->n >= 32) {
        r->rc = -1;
        return;
    }
    if (r->copy) {
        if (r->n > 0 && pg_buf_put(r->b, "\t", 1))
            r->rc = -1;
        if (!s) {
            if (pg_buf_put(r->b, "\\N", 2))
                r->rc = -1;
        } else {
            for (const char *p = s; *p && !r->rc; p++) {
                const char *e = *p == '\\' ? "\\\\" : *p == '\t' ? "\\t" : *p == '\n' ? "\\n" : *p == '\r' ? "\\r"
                                                                                                          : NULL;
                if (e ? pg_buf_puts(r->b, e) : pg_buf_put(r->b, p, 1))
                    r->rc = -1;
            }
        }
    } else {
        r->off[r->n] = r->b->len;
        r->null[r->n] = !s;
        if (pg_buf_put(r->b, s ? s : "", (s ? strlen(s) : 0) + 1))
            r->rc = -1;
    }
    r->n++;
}

static void s_int(s_row *r, long long v)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", v);
    s_field(r, t);
}

static void s_dbl(s_row *r, double v)
{
    char t[40];
    snprintf(t, sizeof t, "%.17g", v);
    s_field(r, t);
}

/* Appends an array literal element, quoted. */
static int s_arr_elem(pg_buf *a, const char *s)
{
    if (pg_buf_put(a, a->len > 1 ? ",\"" : "\"", a->len > 1 ? 2 : 1))
        return -1;
    for (const char *p = s; *p; p++)
        if ((*p == '"' || *p == '\\') ? pg_buf_put(a, "\\", 1) || pg_buf_put(a, p, 1) : pg_buf_put(a, p, 1))
            return -1;
    return pg_buf_put(a, "\"", 1);
}

static void s_arr(s_row *r, const gx_strv *sv)
{
    pg_buf a = {0};
    int rc = pg_buf_put(&a, "{", 1);
    for (uint32_t i = 0; !rc && i < sv->n; i++)
        rc = s_arr_elem(&a, sv->v[i]);
    rc = rc || pg_buf_put(&a, "}", 1);
    if (rc)
        r->rc = -1;
    else
        s_field(r, a.p);
    pg_buf_free(&a);
}

/* Does v already hold s? */
static bool s_has(const gx_strv *v, const char *s, size_t n)
{
    for (uint32_t i = 0; i < v->n; i++)
        if (strlen(v->v[i]) == n && strncmp(v->v[i], s, n) == 0)
            return true;
    return false;
}

static int s_push_n(gx_strv *v, const char *s, size_t n)
{
    if (s_has(v, s, n))
        return 0;
    char *c = strndup(s, n);
    if (!c)
        return -1;
    int rc = gx_strv_push(v, c) ? -1 : 0;
    free(c);
    return rc;
}

/* Each term with all its dotted ancestors: casting.die.magnesium gives
 * casting, casting.die and casting.die.magnesium (gx_rules_term_covers). */
static int s_expand_terms(const gx_strv *in, gx_strv *out)
{
    for (uint32_t i = 0; i < in->n; i++) {
        const char *s = in->v[i];
        size_t n = strlen(s);
        for (size_t k = 1; k <= n; k++)
            if ((k == n || s[k] == '.') && s_push_n(out, s, k))
                return -1;
    }
    return 0;
}

/* Each IPC code with every code it covers (src/rules.c gx_rules_ipc_covers):
 * its section, class and subclass, its main group ("H01L 21/00" for
 * "H01L 21/02") and itself. */
static int s_expand_ipc(const gx_strv *in, gx_strv *out)
{
    for (uint32_t i = 0; i < in->n; i++) {
        const char *s = in->v[i], *slash = strchr(s, '/');
        size_t n = strlen(s);
        static const size_t lens[] = {1, 3, 4}; /* section, class, subclass */
        for (size_t k = 0; k < 3; k++)
            if (lens[k] < n && s_push_n(out, s, lens[k]))
                return -1;
        if (slash && strcmp(slash, "/00") != 0) {
            char main_group[32];
            snprintf(main_group, sizeof main_group, "%.*s/00", (int)(slash - s), s);
            if (s_push_n(out, main_group, strlen(main_group)))
                return -1;
        }
        if (s_push_n(out, s, n))
            return -1;
    }
    return 0;
}

/* Appends tag+term for each term of in. */
static int s_tagged(gx_strv *out, const char *tag, const gx_strv *in)
{
    for (uint32_t i = 0; i < in->n; i++) {
        char *t = malloc(strlen(tag) + strlen(in->v[i]) + 1);
        if (!t)
            return -1;
        strcpy(t, tag);
        strcat(t, in->v[i]);
        int rc = s_push_n(out, t, strlen(t));
        free(t);
        if (rc)
            return -1;
    }
    return 0;
}

static void s_demand_row(s_row *r, const gx_demand *d, uint64_t ref, int64_t now)
{
    s_int(r, (long long)ref);
    s_field(r, d->owner);
    s_int(r, d->kind);
    s_field(r, d->industry);
    s_arr(r, &d->processes);
    s_arr(r, &d->materials);
    s_arr(r, &d->certs);
    s_arr(r, &d->ipc);
    s_dbl(r, d->quantity);
    s_field(r, d->unit);
    s_int(r, d->needed_by);
    if (d->has_budget) {
        s_dbl(r, d->budget_min);
        s_dbl(r, d->budget_max);
    } else {
        s_field(r, NULL);
        s_field(r, NULL);
    }
    s_int(r, d->min_credit);
    s_int(r, d->scope);
    s_dbl(r, d->max_distance_km);
    s_field(r, d->splittable ? "t" : "f");
    s_int(r, d->max_suppliers);
    s_int(r, d->min_trl);
    s_int(r, d->modes);
    s_field(r, d->title);
    s_field(r, d->summary);
    s_field(r, d->details);
    s_int(r, (long long)d->expires_at);
    s_int(r, (long long)now);
    gx_strv mt = {0};
    char k[8];
    snprintf(k, sizeof k, "k:%d", (int)d->kind);
    if (s_push_n(&mt, k, strlen(k)) || s_tagged(&mt, "p:", &d->processes) || s_tagged(&mt, "m:", &d->materials))
        r->rc = -1;
    s_arr(r, &mt);
    gx_strv_fini(&mt);
}

static void s_offer_row(s_row *r, const gx_offer *o, uint64_t ref, int64_t now)
{
    gx_strv pe = {0}, me = {0}, ie = {0};
    if (s_expand_terms(&o->processes, &pe) || s_expand_terms(&o->materials, &me) || s_expand_ipc(&o->ipc, &ie))
        r->rc = -1;
    s_int(r, (long long)ref);
    s_field(r, o->owner);
    s_int(r, o->kinds);
    s_arr(r, &o->industries);
    s_arr(r, &o->processes);
    s_arr(r, &o->materials);
    s_arr(r, &o->ipc);
    s_arr(r, &pe);
    s_arr(r, &me);
    s_arr(r, &ie);
    s_dbl(r, o->monthly_capacity);
    s_dbl(r, o->min_order);
    s_int(r, o->lead_time_days);
    if (o->has_price) {
        s_dbl(r, o->price_min);
        s_dbl(r, o->price_max);
    } else {
        s_field(r, NULL);
        s_field(r, NULL);
    }
    s_int(r, o->service_scope);
    s_dbl(r, o->service_radius_km);
    s_int(r, o->trl);
    s_int(r, o->modes);
    s_field(r, o->title);
    s_field(r, o->summary);
    s_int(r, (long long)o->expires_at);
    s_int(r, (long long)now);
    gx_strv mt = {0};
    for (int kd = GX_KIND_NONE + 1; kd < GX_KIND__COUNT; kd++) {
        char k[8];
        snprintf(k, sizeof k, "k:%d", kd);
        if ((o->kinds & GX_BIT(kd)) && s_push_n(&mt, k, strlen(k)))
            r->rc = -1;
    }
    if (s_tagged(&mt, "p:", &pe) || s_tagged(&mt, "m:", &me))
        r->rc = -1;
    s_arr(r, &mt);
    gx_strv_fini(&mt);
    gx_strv_fini(&pe);
    gx_strv_fini(&me);
    gx_strv_fini(&ie);
}

static int s_params_done(pg_params *p, s_row *r)
{
    if (r->rc)
        return -1;
    p->n = r->n;
    for (int i = 0; i < r->n; i++)
        p->v[i] = r->null[i] ? NULL : p->buf.p + r->off[i];
    return 0;
}

int pg_demand_params(pg_params *p, const gx_demand *d, uint64_t ref, int64_t now, int32_t today)
{
    p->buf.len = 0;
    s_row r = {.b = &p->buf};
    s_demand_row(&r, d, ref, now);
    s_int(&r, today);
    return s_params_done(p, &r);
}

int pg_offer_params(pg_params *p, const gx_offer *o, uint64_t ref, int64_t now, int32_t today)
{
    p->buf.len = 0;
    s_row r = {.b = &p->buf};
    s_offer_row(&r, o, ref, now);
    s_int(&r, today);
    return s_params_done(p, &r);
}

void pg_params_free(pg_params *p)
{
    pg_buf_free(&p->buf);
    memset(p, 0, sizeof *p);
}

static int s_line_end(s_row *r)
{
    if (!r->rc && pg_buf_put(r->b, "\n", 1))
        r->rc = -1;
    return r->rc;
}

int pg_copy_firm(pg_buf *b, const gx_firm *f)
{
    s_row r = {.b = b, .copy = true};
    s_field(&r, f->id);
    s_field(&r, f->name ? f->name : "");
    s_field(&r, f->county);
    s_field(&r, f->zone && f->zone[0] ? f->zone : NULL);
    /* the district of src/rules.c gx_rules_district under the three districts of
     * the shipped vocabulary, as gx_in_scope lists them */
    bool own = f->zone && (strcmp(f->zone, "hebi.etdz") == 0 || strcmp(f->zone, "hebi.urdz") == 0);
    s_field(&r, own ? f->zone : f->county);
    if (f->has_location) {
        s_dbl(&r, f->lat);
        s_dbl(&r, f->lon);
    } else {
        s_field(&r, NULL);
        s_field(&r, NULL);
    }
    s_int(&r, f->credit);
    s_int(&r, f->awards);
    return s_line_end(&r);
}

int pg_copy_certs(pg_buf *b, const gx_firm *f)
{
    for (uint32_t i = 0; i < f->n_certs; i++) {
        if (!f->certs[i].scheme)
            continue;
        s_row r = {.b = b, .copy = true};
        s_field(&r, f->id);
        s_field(&r, f->certs[i].scheme);
        s_field(&r, f->certs[i].number ? f->certs[i].number : "");
        s_int(&r, f->certs[i].valid_until);
        if (s_line_end(&r))
            return -1;
    }
    return 0;
}

int pg_copy_demand(pg_buf *b, const gx_demand *d, uint64_t ref, int64_t now)
{
    s_row r = {.b = b, .copy = true};
    s_demand_row(&r, d, ref, now);
    return s_line_end(&r);
}

int pg_copy_offer(pg_buf *b, const gx_offer *o, uint64_t ref, int64_t now)
{
    s_row r = {.b = b, .copy = true};
    s_offer_row(&r, o, ref, now);
    return s_line_end(&r);
}
