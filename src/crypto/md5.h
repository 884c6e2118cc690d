/* MD5, only as far as sc-hsm-tool's share-file key derivation needs it
 * (smartcard-hsm.md 8.1). Not for any new use: MD5 is broken for
 * collisions; here it is a fixed part of a file format. */
#ifndef HV_CRYPTO_MD5_H
#define HV_CRYPTO_MD5_H

#include <stddef.h>
#include <stdint.h>

#define MD5_LEN 16

typedef struct md5_ctx {
	uint32_t h[4];
	uint64_t total;      /* bytes hashed so far */
	uint8_t block[64];
	size_t fill;
} md5_ctx;

void md5_init(md5_ctx *c);
void md5_update(md5_ctx *c, const void *data, size_t len);
/* Writes the digest and wipes the context. */
void md5_final(md5_ctx *c, uint8_t out[MD5_LEN]);

/* digest = MD5(digest), n times. Every input after the first is one
 * 16-byte digest, so its padded block is fixed: one compression per round,
 * state kept in registers, no memory traffic. */
void md5_iterate16(uint8_t digest[MD5_LEN], uint64_t n);

#endif
