/* test_report.c — the operator pages a broker answers (report.c), without
 * sockets: readiness follows what the loop reports, the metrics parse as the
 * Prometheus text format names them, unknown pages are left to the server. */
#include "broker.h"

#include <stdlib.h>
#include <string.h>

#include "gxtest.h"

static gx_broker *s_broker(const char *tag)
{
    gx_config c;
    char err[512];
    gx_config_defaults(&c);
    snprintf(c.data_dir, sizeof c.data_dir, "%s", gx_test_dir(tag));
    c.insecure_dev = true;
    gx_broker *b = NULL;
    if (gx_broker_new(&c, 1790000000, NULL, NULL, &b, err, sizeof err) != GX_OK)
        fprintf(stderr, "  broker: %s\n", err);
    return b;
}

/* Asks for path; returns the status (0 when the page is unknown) and the body in *body (freed by the caller). */
static int s_page(gx_broker *b, const char *path, const char **type, char **body)
{
    int status = 0;
    size_t len = 0;
    *body = NULL;
    if (!gx_broker_http_page(b, path, &status, type, body, &len))
        return 0;
    if (*body)
        CHECK_EQ_INT(strlen(*body), len);
    return status;
}

TEST(readiness_follows_the_loop)
{
    gx_broker *b = s_broker("report.ready");
    REQUIRE(b);
    const char *type;
    char *body;
    CHECK_EQ_INT(s_page(b, "/healthz", &type, &body), 200);
    free(body);
    /* not yet serving: the sockets are not bound */
    CHECK_EQ_INT(s_page(b, "/readyz", &type, &body), 503);
    CHECK(body && strstr(body, "not serving"));
    free(body);
    gx_broker_set_serving(b, true, 0);
    CHECK_EQ_INT(s_page(b, "/readyz", &type, &body), 200);
    free(body);
    CHECK_EQ_INT(s_page(b, "/metrics", &type, &body), 200);
    CHECK(body && strstr(body, "\ngongxu_ready 1\n"));
    free(body);
    /* stopping: not ready again */
    gx_broker_set_serving(b, false, 0);
    CHECK_EQ_INT(s_page(b, "/readyz", &type, &body), 503);
    free(body);
    CHECK_EQ_INT(s_page(b, "/metrics", &type, &body), 200);
    CHECK(body && strstr(body, "\ngongxu_ready 0\n"));
    free(body);
    CHECK_EQ_INT(s_page(b, "/api/snapshot", &type, &body), 200);
    CHECK_STR(type, "application/json");
    CHECK(body && strstr(body, "\"ready\":false"));
    free(body);
    CHECK_EQ_INT(s_page(b, "/nothing", &type, &body), 0);
    gx_broker_destroy(&b);
}

TEST(metrics_are_well_formed_families)
{
    gx_broker *b = s_broker("report.metrics");
    REQUIRE(b);
    const char *type;
    char *body;
    CHECK_EQ_INT(s_page(b, "/metrics", &type, &body), 200);
    CHECK(strncmp(type, "text/plain; version=0.0.4", 25) == 0);
    REQUIRE(body);
    /* every sample belongs to the family whose HELP and TYPE came last */
    char fam[128] = "";
    int samples = 0;
    for (char *line = strtok(body, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "# HELP ", 7) == 0) {
            sscanf(line + 7, "%127s", fam);
            continue;
        }
        if (line[0] == '#')
            continue;
        CHECK(fam[0] && strncmp(line, fam, strlen(fam)) == 0);
        samples++;
    }
    CHECK(samples > 40);
    free(body);
    gx_broker_destroy(&b);
}

int main(void)
{
    RUN(readiness_follows_the_loop);
    RUN(metrics_are_well_formed_families);
    return gx_test_done();
}
