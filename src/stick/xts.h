/* The data segment of a LUKS volume as dm-crypt sees it: 512- or 4096-byte
 * sectors, each encrypted by a sector_cipher (sector_cipher.h: aes-xts-plain64,
 * aes-cbc-essiv:sha256, ...). Offsets here are bytes inside the segment; any
 * alignment is accepted (partial sectors are read, merged and re-encrypted).
 * The name stays from when XTS was the only mode. */
#ifndef HV_STICK_XTS_H
#define HV_STICK_XTS_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/secbuf.h"

typedef struct xts_volume xts_volume;

/* aes-xts-plain64 with a 512-bit key. fd stays the caller's (it must
 * outlive the volume). key: the 64-byte volume key; it is copied into the
 * cipher contexts only. */
int xts_volume_new(int fd, uint64_t segment_offset, uint64_t segment_size,
		   unsigned sector_size, const secbuf *key, xts_volume **out,
		   hv_err *err);
/* The same for any cipher/mode sector_cipher.h offers (key of its size,
 * iv_offset in 512-byte units as the LUKS header gives it). */
int xts_volume_new_cipher(int fd, uint64_t segment_offset, uint64_t segment_size,
			  unsigned sector_size, const char *cipher, const char *mode,
			  uint64_t iv_offset, const secbuf *key, xts_volume **out, hv_err *err);
/* Frees the cipher contexts (OpenSSL wipes their key schedules) and the
 * bounce buffer. NULL is fine. */
void xts_volume_free(xts_volume *v);

uint64_t xts_volume_size(const xts_volume *v);
unsigned xts_volume_sector_size(const xts_volume *v);
int xts_volume_fd(const xts_volume *v);

int xts_read(xts_volume *v, uint64_t off, void *buf, size_t len, hv_err *err);
int xts_write(xts_volume *v, uint64_t off, const void *buf, size_t len,
	      hv_err *err);

/* Writes encrypted zeros over [off, off+len): raw zeros on disk would
 * decrypt to garbage. progress (may be NULL) is called with bytes done. */
typedef void (*xts_progress_fn)(uint64_t done, uint64_t total, void *ctx);
int xts_write_zeros(xts_volume *v, uint64_t off, uint64_t len,
		    xts_progress_fn progress, void *pctx, hv_err *err);

/* One sector in place, for tests and tools: IV from the sector index. */
int xts_crypt_sector(xts_volume *v, uint64_t sector_index, uint8_t *data,
		     int encrypt);

#endif
