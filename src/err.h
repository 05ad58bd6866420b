/* err.h — the one error type of gongxu.
 *
 * Every function that can fail returns a gx_err; GX_OK is zero. The first
 * values mirror the wire ErrorCode of proto/gongxu/v1/gongxu.proto one to one so
 * that a request error travels to the client unchanged; the rest are internal
 * and are reported on the wire as ERR_INTERNAL (or ERR_STORAGE_FULL).
 * Foreign errors (MDB_*, zmq_errno(), errno) are translated once, at the module
 * that calls the foreign library. */
#ifndef GX_ERR_H
#define GX_ERR_H

typedef enum gx_err {
    GX_OK = 0,
    GX_ERR_MALFORMED = 1,            /* bytes are not a valid message */
    GX_ERR_BAD_REQUEST = 2,          /* well-formed but not a request we serve */
    GX_ERR_INVALID = 3,              /* a field is out of its domain */
    GX_ERR_UNKNOWN_CODE = 4,         /* a code is not in the vocabulary */
    GX_ERR_TOO_LARGE = 5,            /* over a configured limit */
    GX_ERR_UNAUTHENTICATED = 6,      /* no firm bound to the connection */
    GX_ERR_FORBIDDEN = 7,            /* not this firm's to do */
    GX_ERR_NOT_FOUND = 8,
    GX_ERR_CONFLICT = 9,             /* wrong state or stale revision */
    GX_ERR_RATE_LIMITED = 10,
    GX_ERR_STORAGE_FULL = 11,        /* LMDB map (or disk) full */
    GX_ERR_INTERNAL = 12,
    GX_ERR_UNSUPPORTED_VERSION = 13,
    GX_ERR_RESUME_GAP = 14,          /* asked for notices past retention */
    GX_ERR_EVICTED = 15,             /* the connection's session was closed by the broker */
    /* internal only */
    GX_ERR_NOMEM = 100,
    GX_ERR_IO = 101,                 /* file or socket I/O failed; see errno/log */
    GX_ERR_CONFIG = 102,             /* configuration rejected */
    GX_ERR_EXISTS = 103,             /* key already present */
    GX_ERR_SCHEMA = 104,             /* data dir written by another schema version */
} gx_err;

/* Static, human-readable name of an error ("not found"). Never NULL. */
const char *gx_err_str(gx_err err);

/* The wire ErrorCode number for err (internal codes map to 12, ERR_INTERNAL).
 */
int gx_err_wire(gx_err err);

#endif
