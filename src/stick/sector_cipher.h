/* One encryption sector of a LUKS data segment, as dm-crypt computes it, in
 * userspace (OpenSSL). What is offered: cipher "aes" with the modes
 *   xts-plain64, xts-plain       (key 32 or 64 bytes: AES-128/256-XTS)
 *   cbc-essiv:<hash>, cbc-plain64, cbc-plain (key 16, 24 or 32 bytes)
 * The IV of a sector is its number counted in 512-byte units from the start
 * of the segment plus the header's IV offset, whatever the sector size (no
 * iv_large_sectors, as cryptsetup sets LUKS up): plain64 puts it little-endian
 * in the first 8 bytes, plain its low 32 bits in the first 4; essiv encrypts
 * the plain64 block with AES under the hash of the volume key. A 4096-byte
 * sector is one XTS unit or one CBC chain. */
#ifndef HV_STICK_SECTOR_CIPHER_H
#define HV_STICK_SECTOR_CIPHER_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct sector_cipher sector_cipher;

/* 1 when cipher/mode with key_bytes is computed here; otherwise 0 and why
 * (e.g. "serpent is not a cipher the userspace backend has"). */
int sector_cipher_supported(const char *cipher, const char *mode, size_t key_bytes,
			    char *why, size_t cap);

/* The key is copied into OpenSSL's contexts only. sector_size 512 or 4096. */
int sector_cipher_new(const char *cipher, const char *mode, const uint8_t *key,
		      size_t key_bytes, unsigned sector_size, uint64_t iv_offset,
		      sector_cipher **out, hv_err *err);
/* Frees the contexts (OpenSSL wipes the key schedules). NULL is fine. */
void sector_cipher_free(sector_cipher *c);

/* Encrypts (encrypt=1) or decrypts one sector in place; sector_index counts
 * sectors of sector_size from the segment start. 0, or -1 on a cipher error. */
int sector_cipher_crypt(sector_cipher *c, uint64_t sector_index, uint8_t *data, int encrypt);

#endif
