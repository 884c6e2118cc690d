/* A growable byte string for building APDUs, blobs and files. Not for
 * secrets: those go in a secbuf. Appends after an allocation failure are
 * ignored and remembered in `failed`, so a builder checks once at the end. */
#ifndef HV_UTIL_BUF_H
#define HV_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct bytebuf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int failed;
} bytebuf;

void buf_put(bytebuf *b, const void *data, size_t len);
void buf_put_u8(bytebuf *b, uint8_t v);
void buf_put_u16be(bytebuf *b, uint16_t v);
/* tag, BER length, value */
void buf_put_tlv(bytebuf *b, uint32_t tag, const void *val, size_t len);
/* 2-byte big-endian length, then value (the key-blob "LV") */
void buf_put_lv(bytebuf *b, const void *val, size_t len);
/* Wipes (blobs may hold key material in transit) and frees. */
void buf_free(bytebuf *b);

#endif
