/* Secret buffers: memory that is locked against swap, excluded from core
 * dumps, and wiped before it is given back. Every password, PIN, DKEK share
 * and volume key lives in one of these. */
#ifndef HV_UTIL_SECBUF_H
#define HV_UTIL_SECBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct secbuf {
	uint8_t *data;
	size_t len; /* bytes in use */
	size_t cap; /* bytes usable */
} secbuf;

/* A zeroed buffer of cap bytes with len = 0; NULL when out of memory.
 * A failure to lock is reported once on stderr and is not fatal. */
secbuf *secbuf_new(size_t cap);

/* A new buffer holding a copy of len bytes. */
secbuf *secbuf_dup(const void *data, size_t len);

/* Wipes and releases; NULL is fine. */
void secbuf_free(secbuf *b);

/* Overwrites len bytes so the compiler cannot drop the store. */
void secure_wipe(void *p, size_t len);

/* Constant-time comparison; 0 when equal. */
int secure_memcmp(const void *a, const void *b, size_t len);

#endif
