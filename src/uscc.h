/* uscc.h — the Unified Social Credit Code (统一社会信用代码), GB 32100-2015.
 *
 * 18 characters from the 31-symbol set 0-9 A-H J-N P-R T U W-Y (no I O S V Z):
 * registration authority (1), organisation type (1), county code (6),
 * organisation code (9), check character (1). The check character is
 * C18 = 31 - (sum_{i=1..17} value(Ci) * W_i mod 31), with 31 written as 0 and
 * weights W_i = 3^(i-1) mod 31. Pure functions, no I/O, any thread. */
#ifndef GX_USCC_H
#define GX_USCC_H

#include <stdbool.h>

#include "err.h"

/* True when id is exactly 18 characters, all from the code's symbol set
 * (upper case only). Does not look at the check character. */
bool gx_uscc_syntax_ok(const char *id);

/* The check character for the first 17 characters of id, or 0 when any of them
 * is outside the symbol set. */
char gx_uscc_check_char(const char *id);

/* GX_OK when id is syntactically valid and its 18th character is the right
 * check character; GX_ERR_INVALID otherwise. */
gx_err gx_uscc_validate(const char *id);

#endif
