/* Hex text <-> bytes. */
#ifndef HV_UTIL_HEX_H
#define HV_UTIL_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*len digits and a NUL to out (size >= 2*len+1). */
void hex_encode(const uint8_t *in, size_t len, char *out, int upper);

/* Parses hex digits, ignoring ':' ' ' and '-' between byte pairs.
 * Returns the byte count, or -1 on a bad digit, an odd digit count or
 * more than cap bytes. */
long hex_decode(const char *text, uint8_t *out, size_t cap);

#endif
