/* err.c — names of gx_err values. */
#include "err.h"

const char *gx_err_str(gx_err err)
{
    switch (err) {
    case GX_OK: return "ok";
    case GX_ERR_MALFORMED: return "malformed message";
    case GX_ERR_BAD_REQUEST: return "bad request";
    case GX_ERR_INVALID: return "invalid field";
    case GX_ERR_UNKNOWN_CODE: return "unknown code";
    case GX_ERR_TOO_LARGE: return "too large";
    case GX_ERR_UNAUTHENTICATED: return "unauthenticated";
    case GX_ERR_FORBIDDEN: return "forbidden";
    case GX_ERR_NOT_FOUND: return "not found";
    case GX_ERR_CONFLICT: return "conflict";
    case GX_ERR_RATE_LIMITED: return "rate limited";
    case GX_ERR_STORAGE_FULL: return "storage full";
    case GX_ERR_INTERNAL: return "internal error";
    case GX_ERR_UNSUPPORTED_VERSION: return "unsupported protocol version";
    case GX_ERR_RESUME_GAP: return "notices before the retention horizon are gone";
    case GX_ERR_EVICTED:
        return "session closed by the broker";
    case GX_ERR_NOMEM: return "out of memory";
    case GX_ERR_IO: return "I/O error";
    case GX_ERR_CONFIG: return "configuration error";
    case GX_ERR_EXISTS: return "already exists";
    case GX_ERR_SCHEMA: return "unsupported schema version";
    }
    return "unknown error";
}

int gx_err_wire(gx_err err)
{
    if (err >= GX_ERR_MALFORMED && err <= GX_ERR_EVICTED)
        return (int)err;
    return (int)GX_ERR_INTERNAL;
}
