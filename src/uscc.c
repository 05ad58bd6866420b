/* uscc.c — syntax and check character of the Unified Social Credit Code. */
#include "uscc.h"

#include <string.h>

#define S_USCC_LEN 18

/* The 31 symbols in value order; a symbol's value is its index. */
static const char s_symbols[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/* W_i = 3^(i-1) mod 31 for i = 1..17 (GB 32100-2015, 5.2). */
static const int s_weights[S_USCC_LEN - 1] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};

/* Value of symbol c, or -1 when c is not one of the 31 (lower case included). */
static int s_value(char c)
{
    if (c == '\0')
        return -1;
    const char *p = strchr(s_symbols, c);
    return p ? (int)(p - s_symbols) : -1;
}

bool gx_uscc_syntax_ok(const char *id)
{
    if (!id)
        return false;
    for (int i = 0; i < S_USCC_LEN; i++)
        if (s_value(id[i]) < 0)
            return false; /* also stops at the NUL of a short string */
    return id[S_USCC_LEN] == '\0';
}

char gx_uscc_check_char(const char *id)
{
    if (!id)
        return 0;
    int sum = 0;
    for (int i = 0; i < S_USCC_LEN - 1; i++) {
        int v = s_value(id[i]);
        if (v < 0)
            return 0;
        sum += v * s_weights[i];
    }
    int check = 31 - sum % 31;
    return s_symbols[check == 31 ? 0 : check];
}

gx_err gx_uscc_validate(const char *id)
{
    if (!gx_uscc_syntax_ok(id))
        return GX_ERR_INVALID;
    return gx_uscc_check_char(id) == id[S_USCC_LEN - 1] ? GX_OK : GX_ERR_INVALID;
}
