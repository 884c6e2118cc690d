#include "stick/xts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

/* Large enough to keep the cipher busy between system calls. */
#define XTS_CHUNK (1024 * 1024)

struct xts_volume {
	int fd;
	uint64_t seg_off;
	uint64_t seg_size;
	unsigned ss;
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
	uint8_t *bounce; /* plaintext passes through here: wiped on free */
};

int xts_volume_new(int fd, uint64_t segment_offset, uint64_t segment_size,
		   unsigned sector_size, const secbuf *key, xts_volume **out,
		   hv_err *err)
{
	if (sector_size != 512 && sector_size != 4096)
		return hv_fail(err, HV_EINTEGRITY,
			       "encryption sector size %u is not 512 or 4096", sector_size);
	if (!key || key->len != 64)
		return hv_fail(err, HV_EINTEGRITY,
			       "volume key is %zu bytes, aes-xts-plain64 with 512 bits needs 64",
			       key ? key->len : 0);
	xts_volume *v = calloc(1, sizeof(*v));
	if (!v)
		return hv_fail(err, HV_ENOMEM, "out of memory for the encryption layer");
	v->fd = fd;
	v->seg_off = segment_offset;
	v->seg_size = segment_size - segment_size % sector_size;
	v->ss = sector_size;
	v->enc = EVP_CIPHER_CTX_new();
	v->dec = EVP_CIPHER_CTX_new();
	v->bounce = aligned_alloc(4096, XTS_CHUNK);
	if (!v->enc || !v->dec || !v->bounce) {
		xts_volume_free(v);
		return hv_fail(err, HV_ENOMEM, "out of memory for the encryption layer");
	}
	if (EVP_CipherInit_ex(v->enc, EVP_aes_256_xts(), NULL, key->data, NULL, 1) != 1 ||
	    EVP_CipherInit_ex(v->dec, EVP_aes_256_xts(), NULL, key->data, NULL, 0) != 1) {
		xts_volume_free(v);
		return hv_fail(err, HV_EINTEGRITY,
			       "OpenSSL refused the volume key for AES-XTS (equal halves?)");
	}
	*out = v;
	return HV_OK;
}

void xts_volume_free(xts_volume *v)
{
	if (!v)
		return;
	EVP_CIPHER_CTX_free(v->enc); /* cleans the key schedule */
	EVP_CIPHER_CTX_free(v->dec);
	if (v->bounce) {
		secure_wipe(v->bounce, XTS_CHUNK);
		free(v->bounce);
	}
	free(v);
}

uint64_t xts_volume_size(const xts_volume *v) { return v->seg_size; }
unsigned xts_volume_sector_size(const xts_volume *v) { return v->ss; }
int xts_volume_fd(const xts_volume *v) { return v->fd; }

int xts_crypt_sector(xts_volume *v, uint64_t sector_index, uint8_t *data, int encrypt)
{
	/* plain64: counted in 512-byte units whatever the sector size, as
	 * cryptsetup sets up LUKS2 (no iv_large_sectors). */
	uint64_t n = sector_index * (v->ss / 512);
	uint8_t iv[16] = { 0 };
	for (int i = 0; i < 8; i++)
		iv[i] = (uint8_t)(n >> (8 * i));
	EVP_CIPHER_CTX *c = encrypt ? v->enc : v->dec;
	int outl = 0;
	if (EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, -1) != 1 ||
	    EVP_CipherUpdate(c, data, &outl, data, (int)v->ss) != 1 ||
	    outl != (int)v->ss)
		return -1;
	return 0;
}

static int raw_pread(xts_volume *v, uint64_t pos, uint8_t *p, size_t len, hv_err *err)
{
	while (len) {
		ssize_t r = pread(v->fd, p, len, (off_t)(v->seg_off + pos));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return hv_fail(err, HV_EIO, "reading the stick at byte %llu: %s",
				       (unsigned long long)(v->seg_off + pos), strerror(errno));
		if (r == 0)
			return hv_fail(err, HV_EIO, "the stick ends early at byte %llu",
				       (unsigned long long)(v->seg_off + pos));
		p += r;
		pos += (uint64_t)r;
		len -= (size_t)r;
	}
	return HV_OK;
}

static int raw_pwrite(xts_volume *v, uint64_t pos, const uint8_t *p, size_t len, hv_err *err)
{
	while (len) {
		ssize_t r = pwrite(v->fd, p, len, (off_t)(v->seg_off + pos));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return hv_fail(err, HV_EIO, "writing the stick at byte %llu: %s",
				       (unsigned long long)(v->seg_off + pos),
				       r < 0 ? strerror(errno) : "no progress");
		p += r;
		pos += (uint64_t)r;
		len -= (size_t)r;
	}
	return HV_OK;
}

static int check_range(xts_volume *v, uint64_t off, uint64_t len, hv_err *err)
{
	if (off > v->seg_size || len > v->seg_size - off)
		return hv_fail(err, HV_EIO,
			       "access at byte %llu (+%llu) lies past the encrypted segment (%llu bytes)",
			       (unsigned long long)off, (unsigned long long)len,
			       (unsigned long long)v->seg_size);
	return HV_OK;
}

/* Reads and decrypts nsec sectors starting at sector sec into dst. */
static int load_sectors(xts_volume *v, uint64_t sec, size_t nsec, uint8_t *dst, hv_err *err)
{
	int rc = raw_pread(v, sec * v->ss, dst, nsec * v->ss, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < nsec; i++)
		if (xts_crypt_sector(v, sec + i, dst + i * v->ss, 0))
			return hv_fail(err, HV_EINTERNAL, "AES-XTS decryption failed");
	return HV_OK;
}

int xts_read(xts_volume *v, uint64_t off, void *buf, size_t len, hv_err *err)
{
	int rc = check_range(v, off, len, err);
	if (rc)
		return rc;
	uint8_t *dst = buf;
	size_t chunk_sec = XTS_CHUNK / v->ss;
	while (len) {
		uint64_t sec = off / v->ss;
		size_t in = (size_t)(off % v->ss);
		size_t nsec = (in + len + v->ss - 1) / v->ss;
		if (nsec > chunk_sec)
			nsec = chunk_sec;
		size_t take = nsec * v->ss - in;
		if (take > len)
			take = len;
		rc = load_sectors(v, sec, nsec, v->bounce, err);
		if (rc)
			return rc;
		memcpy(dst, v->bounce + in, take);
		dst += take;
		off += take;
		len -= take;
	}
	return HV_OK;
}

/* src NULL writes zeros. */
static int write_span(xts_volume *v, uint64_t off, const uint8_t *src, uint64_t len,
		      xts_progress_fn progress, void *pctx, hv_err *err)
{
	int rc = check_range(v, off, len, err);
	if (rc)
		return rc;
	size_t chunk_sec = XTS_CHUNK / v->ss;
	uint64_t total = len, done = 0;
	while (len) {
		uint64_t sec = off / v->ss;
		size_t in = (size_t)(off % v->ss);
		uint64_t want = (in + len + v->ss - 1) / v->ss;
		size_t nsec = want > chunk_sec ? chunk_sec : (size_t)want;
		size_t take = nsec * v->ss - in;
		if (take > len)
			take = (size_t)len;
		/* Partial sectors at either end keep their other bytes. */
		size_t tail_idx = (in + take - 1) / v->ss;
		int head_partial = in != 0;
		int tail_partial = (in + take) % v->ss != 0;
		if (head_partial && (rc = load_sectors(v, sec, 1, v->bounce, err)))
			return rc;
		if (tail_partial && !(head_partial && tail_idx == 0) &&
		    (rc = load_sectors(v, sec + tail_idx, 1, v->bounce + tail_idx * v->ss, err)))
			return rc;
		if (src)
			memcpy(v->bounce + in, src, take);
		else
			memset(v->bounce + in, 0, take);
		for (size_t i = 0; i < nsec; i++)
			if (xts_crypt_sector(v, sec + i, v->bounce + i * v->ss, 1))
				return hv_fail(err, HV_EINTERNAL, "AES-XTS encryption failed");
		rc = raw_pwrite(v, sec * v->ss, v->bounce, nsec * v->ss, err);
		if (rc)
			return rc;
		if (src)
			src += take;
		off += take;
		len -= take;
		done += take;
		if (progress)
			progress(done, total, pctx);
	}
	return HV_OK;
}

int xts_write(xts_volume *v, uint64_t off, const void *buf, size_t len, hv_err *err)
{
	return write_span(v, off, buf, len, NULL, NULL, err);
}

int xts_write_zeros(xts_volume *v, uint64_t off, uint64_t len,
		    xts_progress_fn progress, void *pctx, hv_err *err)
{
	return write_span(v, off, NULL, len, progress, pctx, err);
}
