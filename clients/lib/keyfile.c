/* keyfile.c — CURVE key files. See gongxu/keyfile.h. */
#include <gongxu/keyfile.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

bool gx_keyfile_valid(const char *key)
{
    uint8_t raw[32];
    return key && strlen(key) == GX_KEY_Z85_LEN && zmq_z85_decode(raw, key) != NULL;
}

int gx_keyfile_generate(char pub[GX_KEY_Z85_LEN + 1], char sec[GX_KEY_Z85_LEN + 1])
{
    return zmq_curve_keypair(pub, sec) == 0 ? 0 : -1;
}

int gx_keyfile_write(const char *path, const char *pub, const char *sec, const char *comment, char *err,
                     size_t errlen)
{
    if (!gx_keyfile_valid(pub) || (sec && !gx_keyfile_valid(sec))) {
        snprintf(err, errlen, "%s: not a CURVE key", path);
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, sec ? 0600 : 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char buf[512];
    int n = snprintf(buf, sizeof buf, "# gongxu CURVE %s%s%s\npublic-key = %s\n", sec ? "key pair" : "public key",
                     comment ? " for " : "", comment ? comment : "", pub);
    if (sec)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "# keep the secret key secret: mode 0600\nsecret-key = %s\n",
                      sec);
    bool ok = n > 0 && (size_t)n < sizeof buf && write(fd, buf, (size_t)n) == n && fsync(fd) == 0;
    if (!ok)
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    if (close(fd) != 0 && ok) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        ok = false;
    }
    if (!ok)
        unlink(path);
    return ok ? 0 : -1;
}

static char *s_token(char *s, char **rest)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s;
    while (*e && !isspace((unsigned char)*e))
        e++;
    *rest = *e ? e + 1 : e;
    *e = 0;
    return s;
}

int gx_keyfile_line(char *line, char **name, char **value)
{
    char *rest, *tok = s_token(line, &rest);
    if (!*tok || *tok == '#')
        return 0;
    if (strcmp(tok, "public-key") == 0 || strcmp(tok, "secret-key") == 0) {
        *name = tok;
        char *eq = s_token(rest, &rest);
        *value = strcmp(eq, "=") == 0 ? s_token(rest, &rest) : eq;
        return 1;
    }
    *name = "";
    *value = tok;
    return 1;
}

int gx_keyfile_read(const char *path, char pub[GX_KEY_Z85_LEN + 1], char sec[GX_KEY_Z85_LEN + 1], char *err,
                    size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[256];
    int rc = 0, lineno = 0;
    pub[0] = 0;
    if (sec)
        sec[0] = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        char *name, *value;
        lineno++;
        if (!gx_keyfile_line(line, &name, &value))
            continue;
        if (!gx_keyfile_valid(value)) {
            snprintf(err, errlen, "%s:%d: not a 40-character Z85 CURVE key", path, lineno);
            rc = -1;
        } else if (strcmp(name, "secret-key") == 0) {
            if (sec)
                memcpy(sec, value, GX_KEY_Z85_LEN + 1);
        } else {
            memcpy(pub, value, GX_KEY_Z85_LEN + 1);
        }
    }
    fclose(f);
    if (rc == 0 && sec && sec[0]) { /* the public half must belong to the secret one */
        char derived[GX_KEY_Z85_LEN + 1];
        if (zmq_curve_public(derived, sec) != 0 || (pub[0] && strcmp(derived, pub) != 0)) {
            snprintf(err, errlen, "%s: public-key does not belong to secret-key", path);
            rc = -1;
        } else {
            memcpy(pub, derived, sizeof derived);
        }
    }
    if (rc == 0 && !pub[0]) {
        snprintf(err, errlen, "%s: no public-key", path);
        rc = -1;
    }
    return rc;
}
