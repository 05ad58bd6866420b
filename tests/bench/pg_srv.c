/* pg_srv.c — a private PostgreSQL 15 server for one benchmark run (pg_srv.h). */
#include "pg_srv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void s_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void s_err(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

/* Runs argv (prefixed with runuser when as_postgres) with stdout and stderr
 * appended to log, waiting at most timeout_s seconds. Returns the exit status,
 * or -1 when it could not run or was killed at the deadline. */
static int s_run(const pg_srv *s, const char *const *argv, const char *log, int timeout_s)
{
    const char *full[32];
    int k = 0;
    if (s->as_postgres) {
        full[k++] = "runuser";
        full[k++] = "-u";
        full[k++] = "postgres";
        full[k++] = "--";
    }
    for (int i = 0; argv[i] && k < 31; i++)
        full[k++] = argv[i];
    full[k] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int nul = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (nul >= 0)
            dup2(nul, 0);
        setpgid(0, 0);
        /* Not the caller's working directory, which the postgres user may not be
         * able to enter (a clone under /root, mode 0700: initdb then says "could
         * not change directory"): the server's own directory. */
        if (chdir(s->root) != 0 && chdir("/") != 0)
            _exit(127);
        execvp(full[0], (char *const *)full);
        _exit(127);
    }
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (r < 0 && errno != EINTR)
            return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= timeout_s) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(20000);
    }
}

static int s_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Whether user uid/gid can search dir, every directory above it included: the
 * check runs in a child that becomes that user, so the kernel answers. */
static bool s_reachable_as(const char *dir, uid_t uid, gid_t gid)
{
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        struct passwd *pw = getpwuid(uid);
        if (!pw || initgroups(pw->pw_name, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
            _exit(2);
        _exit(access(dir, X_OK) == 0 ? 0 : 1);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return false;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Appends the last lines of a log to err, for a failure message. */
static void s_tail(const char *log, char *err, size_t n)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char buf[4096];
    size_t len = 0;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, sz > (long)sizeof buf - 1 ? sz - (long)sizeof buf + 1 : 0, SEEK_SET);
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    const char *p = buf;
    if (len > 600)
        p = buf + len - 600;
    size_t el = strlen(err);
    if (el + 1 < n)
        snprintf(err + el, n - el, "; %s: ...%s", log, p);
}

int pg_srv_start(pg_srv *s, const char *parent, int max_connections, int shared_buffers_mb, char *err,
                 size_t n)
{
    memset(s, 0, sizeof *s);
    s->as_postgres = geteuid() == 0;
    uid_t uid = 0;
    gid_t gid = 0;
    if (s->as_postgres) {
        struct passwd *pw = getpwnam("postgres");
        if (!pw) {
            s_err(err, n, "running as root but there is no 'postgres' user (install postgresql-15)");
            return -1;
        }
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    }
    if (access(PG_BIN "/initdb", X_OK) != 0) {
        s_err(err, n, "%s/initdb not found: install postgresql-15", PG_BIN);
        return -1;
    }
    char tmpl[sizeof s->root];
    char *abs = realpath(parent, NULL);
    if (!abs) {
        s_err(err, n, "--dir %s: %s", parent, strerror(errno));
        return -1;
    }
    /* The server runs as postgres, which must reach its directory. Under a tree
     * it cannot enter (a clone under /root, mode 0700) the cluster goes to a
     * private directory in /var/tmp (on disk, unlike a tmpfs /tmp), else /tmp. */
    const char *where = abs;
    if (s->as_postgres && !s_reachable_as(abs, uid, gid)) {
        where = s_reachable_as("/var/tmp", uid, gid) ? "/var/tmp" : "/tmp";
        fprintf(stderr, "pg_bench: the postgres user cannot reach %s; the cluster goes under %s\n", abs,
                where);
    }
    int w = snprintf(tmpl, sizeof tmpl, "%s/pg-XXXXXX", where);
    free(abs);
    if (w < 0 || (size_t)w >= sizeof tmpl - 100) {
        s_err(err, n, "--dir path too long");
        return -1;
    }
    if (!mkdtemp(tmpl)) {
        s_err(err, n, "mkdtemp %s: %s", tmpl, strerror(errno));
        return -1;
    }
    snprintf(s->root, sizeof s->root, "%s", tmpl);
    snprintf(s->data, sizeof s->data, "%s/data", s->root);
    if (s->as_postgres && chown(s->root, uid, gid) != 0) {
        s_err(err, n, "chown %s to postgres: %s", s->root, strerror(errno));
        return -1;
    }
    char log[1200], conf[1200];
    snprintf(log, sizeof log, "%s/setup.log", s->root);
    /* --no-sync only skips initdb's own final fsync of the template files; the
     * server's durability (fsync, synchronous_commit, WAL) is stock. */
    const char *initdb[] = {PG_BIN "/initdb", "-D", s->data, "-E", "UTF8", "--locale=C", "-A", "trust",
                            "-U", "bench", "--no-sync", NULL};
    int rc = s_run(s, initdb, log, 120);
    if (rc != 0) {
        s_err(err, n, "initdb failed (status %d)%s in %s", rc, s->as_postgres ? " as user postgres" : "", s->data);
        s_tail(log, err, n);
        return -1;
    }
    s->port = s_free_port();
    if (s->port <= 0) {
        s_err(err, n, "no free TCP port on 127.0.0.1");
        return -1;
    }
    snprintf(conf, sizeof conf, "%s/postgresql.conf", s->data);
    FILE *f = fopen(conf, "a");
    if (!f) {
        s_err(err, n, "%s: %s", conf, strerror(errno));
        return -1;
    }
    fprintf(f,
            "\n# pg_bench: loopback only, private socket dir; durability left at the defaults\n"
            "listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"
            "max_connections = %d\nshared_buffers = %dMB\n",
            s->port, s->root, max_connections, shared_buffers_mb);
    if (fclose(f) != 0) {
        s_err(err, n, "%s: %s", conf, strerror(errno));
        return -1;
    }
    char slog[1200];
    snprintf(slog, sizeof slog, "%s/server.log", s->root);
    const char *start[] = {PG_BIN "/pg_ctl", "-D", s->data, "-l", slog, "-w", "-t", "60", "start", NULL};
    s->started = true; /* even a failed start may leave a postmaster: stop will try */
    rc = s_run(s, start, log, 90);
    if (rc != 0) {
        s_err(err, n, "pg_ctl start failed (status %d)", rc);
        s_tail(slog, err, n);
        return -1;
    }
    snprintf(s->conninfo, sizeof s->conninfo,
             "host=127.0.0.1 port=%d dbname=postgres user=bench connect_timeout=10", s->port);
    return 0;
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void pg_srv_stop(pg_srv *s)
{
    if (!s->root[0])
        return;
    if (s->started) {
        char log[1200];
        snprintf(log, sizeof log, "%s/setup.log", s->root);
        const char *stop[] = {PG_BIN "/pg_ctl", "-D", s->data, "-m", "fast", "-w", "-t", "60", "stop", NULL};
        int rc = s_run(s, stop, log, 90);
        if (rc != 0) {
            /* last resort: the postmaster pid is the first line of postmaster.pid */
            char pidf[1200];
            snprintf(pidf, sizeof pidf, "%s/postmaster.pid", s->data);
            FILE *f = fopen(pidf, "r");
            long pid = 0;
            if (f) {
                if (fscanf(f, "%ld", &pid) != 1)
                    pid = 0;
                fclose(f);
            }
            if (pid > 1) {
                fprintf(stderr, "pg_bench: pg_ctl stop failed; sending SIGQUIT to postmaster %ld\n", pid);
                kill((pid_t)pid, SIGQUIT);
                sleep(2);
            }
        }
        s->started = false;
    }
    nftw(s->root, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    s->root[0] = '\0';
}
