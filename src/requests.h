/* requests.h — one handler per request type (requests.c), below the broker:
 * broker.c decodes a request, finds its session and calls gx_requests_handle,
 * which works on the context (records.h) and queues exactly one reply in
 * b->replies; broker.c sends the replies after the batch commits. */
#ifndef GX_REQUESTS_H
#define GX_REQUESTS_H

#include "records.h"

/* Handles a decoded request for session s (NULL before Hello) from routing id
 * rid; queues exactly one reply. */
void gx_requests_handle(gx_ctx *b, gx_session *s, const void *rid, size_t rid_len, gx_request *r);
/* Queues a reply / an error reply for request_id to rid. */
void gx_requests_reply(gx_ctx *b, const void *rid, size_t rid_len, const gx_reply *r);
void gx_requests_error(gx_ctx *b, const void *rid, size_t rid_len, uint64_t request_id, gx_err err,
                       const char *msg, const char *field);
/* gx_requests_error with Error.suggestions (n borrowed ids). */
void gx_requests_error_suggest(gx_ctx *b, const void *rid, size_t rid_len, uint64_t request_id, gx_err err,
                               const char *msg, const char *field, const char *const *suggest, size_t n);

#endif
