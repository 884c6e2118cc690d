#include "stick/xts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stick/sector_cipher.h"

/* Large enough to keep the cipher busy between system calls. */
#define XTS_CHUNK (1024 * 1024)

struct xts_volume {
	int fd;
	uint64_t seg_off;
	uint64_t seg_size;
	unsigned ss;
	sector_cipher *sc;
	uint8_t *bounce; /* plaintext passes through here: wiped on free */
};

int xts_volume_new_cipher(int fd, uint64_t segment_offset, uint64_t segment_size,
			  unsigned sector_size, const char *cipher, const char *mode,
			  uint64_t iv_offset, const secbuf *key, xts_volume **out, hv_err *err)
{
	if (!key || !key->len)
		return hv_fail(err, HV_EINTEGRITY, "no volume key for the encrypted segment");
	sector_cipher *sc = NULL;
	int rc = sector_cipher_new(cipher, mode, key->data, key->len, sector_size, iv_offset, &sc,
				   err);
	if (rc)
		return rc;
	xts_volume *v = calloc(1, sizeof(*v));
	if (!v) {
		sector_cipher_free(sc);
		return hv_fail(err, HV_ENOMEM, "out of memory for the encryption layer");
	}
	v->sc = sc;
	v->fd = fd;
	v->seg_off = segment_offset;
	v->seg_size = segment_size - segment_size % sector_size;
	v->ss = sector_size;
	v->bounce = aligned_alloc(4096, XTS_CHUNK);
	if (!v->bounce) {
		xts_volume_free(v);
		return hv_fail(err, HV_ENOMEM, "out of memory for the encryption layer");
	}
	*out = v;
	return HV_OK;
}

int xts_volume_new(int fd, uint64_t segment_offset, uint64_t segment_size,
		   unsigned sector_size, const secbuf *key, xts_volume **out,
		   hv_err *err)
{
	if (!key || key->len != 64)
		return hv_fail(err, HV_EINTEGRITY,
			       "volume key is %zu bytes, aes-xts-plain64 with 512 bits needs 64",
			       key ? key->len : 0);
	return xts_volume_new_cipher(fd, segment_offset, segment_size, sector_size, "aes",
				     "xts-plain64", 0, key, out, err);
}

void xts_volume_free(xts_volume *v)
{
	if (!v)
		return;
	sector_cipher_free(v->sc);
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
	return sector_cipher_crypt(v->sc, sector_index, data, encrypt);
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
			return hv_fail(err, HV_EINTERNAL, "sector decryption failed");
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
				return hv_fail(err, HV_EINTERNAL, "sector encryption failed");
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
