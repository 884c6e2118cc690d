#include "stick/luks_hdr.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define BIN_HDR_LEN 4096
#define MAGIC_LEN 6
#define OFF_VERSION 6
#define OFF_HDR_SIZE 8
#define OFF_SEQID 16
#define OFF_CSUM_ALG 72
#define OFF_HDR_OFFSET 256
#define OFF_CSUM 448
#define CSUM_LEN 64
#define COPY_MIN (16ULL << 20)
/* LUKS1 phdr: 592 bytes, payloadOffset (in 512-byte sectors) a big-endian
 * 32-bit field at byte 104. */
#define LUKS1_PHDR_LEN 592
#define LUKS1_OFF_PAYLOAD 104

static const unsigned char magic_primary[MAGIC_LEN] = { 'L', 'U', 'K', 'S', 0xba, 0xbe };
static const unsigned char magic_secondary[MAGIC_LEN] = { 'S', 'K', 'U', 'L', 0xba, 0xbe };

/* Where a secondary copy may start: the allowed header sizes. */
static const uint64_t hdr_sizes[] = { 0x4000, 0x8000, 0x10000, 0x20000, 0x40000,
				      0x80000, 0x100000, 0x200000, 0x400000 };

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int valid_hdr_size(uint64_t n)
{
	for (size_t i = 0; i < sizeof(hdr_sizes) / sizeof(hdr_sizes[0]); i++)
		if (hdr_sizes[i] == n)
			return 1;
	return 0;
}

/* Reads len bytes at off; 0 when all were there. */
static int read_at(int fd, uint64_t off, unsigned char *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* Checks the copy at off (its magic chosen by the caller). On OK, *buf
 * holds the hdr_size bytes (malloc'd) for the JSON scan. */
static int check_copy(int fd, uint64_t off, const unsigned char *magic, uint64_t dev_size,
		      uint64_t *hdr_size, uint64_t *seqid, unsigned char **buf)
{
	unsigned char bin[BIN_HDR_LEN];
	*buf = NULL;
	if (off + BIN_HDR_LEN > dev_size || read_at(fd, off, bin, sizeof(bin)))
		return LUKS_COPY_ABSENT;
	if (memcmp(bin, magic, MAGIC_LEN) != 0)
		return LUKS_COPY_ABSENT;
	if (bin[OFF_VERSION] != 0 || bin[OFF_VERSION + 1] != 2)
		return LUKS_COPY_DAMAGED;
	uint64_t size = be64(bin + OFF_HDR_SIZE);
	if (!valid_hdr_size(size) || be64(bin + OFF_HDR_OFFSET) != off || off + size > dev_size)
		return LUKS_COPY_DAMAGED;
	char alg[33];
	memcpy(alg, bin + OFF_CSUM_ALG, 32);
	alg[32] = '\0';
	const EVP_MD *md = EVP_get_digestbyname(alg);
	if (!md || EVP_MD_get_size(md) > CSUM_LEN)
		return LUKS_COPY_DAMAGED;
	unsigned char *all = malloc(size + 1);
	if (!all)
		return LUKS_COPY_DAMAGED;
	if (read_at(fd, off, all, size)) {
		free(all);
		return LUKS_COPY_DAMAGED;
	}
	unsigned char want[CSUM_LEN], got[EVP_MAX_MD_SIZE];
	memcpy(want, all + OFF_CSUM, CSUM_LEN);
	memset(all + OFF_CSUM, 0, CSUM_LEN);
	unsigned int n = 0;
	int ok = EVP_Digest(all, size, got, &n, md, NULL) == 1 && memcmp(want, got, n) == 0;
	memcpy(all + OFF_CSUM, want, CSUM_LEN);
	if (!ok) {
		free(all);
		return LUKS_COPY_DAMAGED;
	}
	all[size] = '\0';
	*hdr_size = size;
	*seqid = be64(bin + OFF_SEQID);
	*buf = all;
	return LUKS_COPY_OK;
}

/* The number in `"key":"123"` after `after` in the JSON area; 0 if none.
 * A scan, not a parser: enough for the two sizes that say how much of the
 * device is metadata, and only used to size a copy or word a message. */
static uint64_t json_number(const char *json, const char *after, const char *key)
{
	const char *p = after ? strstr(json, after) : json;
	if (!p || !(p = strstr(p, key)))
		return 0;
	p += strlen(key);
	while (*p == ' ' || *p == ':' || *p == '"')
		p++;
	char *end;
	unsigned long long v = strtoull(p, &end, 10);
	return end == p ? 0 : (uint64_t)v;
}

static void scan_json(luks_hdr_state *s, const unsigned char *hdr)
{
	const char *json = (const char *)hdr + BIN_HDR_LEN;
	uint64_t ks = json_number(json, "\"config\"", "\"keyslots_size\"");
	if (ks)
		s->metadata_size = 2 * s->hdr_size + ks;
	s->data_offset = json_number(json, "\"segments\"", "\"offset\"");
	/* "area":{"type":"raw","offset":"32768","size":"258048",...} per keyslot */
	const char *end = strstr(json, "\"tokens\"");
	const char *p = strstr(json, "\"keyslots\"");
	s->nareas = 0;
	while (p && (p = strstr(p, "\"area\"")) && (!end || p < end)) {
		const char *close = strchr(p, '}');
		if (!close || s->nareas == (int)(sizeof(s->areas) / sizeof(s->areas[0]))) {
			s->nareas = -1;
			return;
		}
		char obj[512];
		size_t n = (size_t)(close - p) < sizeof(obj) - 1 ? (size_t)(close - p) : sizeof(obj) - 1;
		memcpy(obj, p, n);
		obj[n] = '\0';
		uint64_t off = json_number(obj, NULL, "\"offset\""), len = json_number(obj, NULL, "\"size\"");
		if (!off || !len) {
			s->nareas = -1; /* not understood: the caller copies everything */
			return;
		}
		s->areas[s->nareas].offset = off;
		s->areas[s->nareas].size = len;
		s->nareas++;
		p = close;
	}
}

static int device_size(int fd, const char *path, uint64_t *size, hv_err *err)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return hv_fail(err, HV_EIO, "cannot stat %s: %s", path, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) != 0)
			return hv_fail(err, HV_EIO, "cannot read the size of %s: %s", path,
				       strerror(errno));
		return HV_OK;
	}
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return HV_OK;
	}
	if (S_ISDIR(st.st_mode))
		return hv_fail(err, HV_EUSAGE, "%s is a folder, not a stick: name the device "
			       "(/dev/sdX) or the image file", path);
	return hv_fail(err, HV_EUSAGE, "%s is neither a block device nor an image file: name the "
		       "stick's device (/dev/sdX) or its image file", path);
}

int luks_hdr_inspect(const char *path, luks_hdr_state *s, hv_err *err)
{
	memset(s, 0, sizeof(*s));
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return hv_fail(err, HV_EUSAGE, "%s does not exist: name the stick's device "
				       "(/dev/sdX, see 'hsmvault stick list') or its image file", path);
		/* a path that cannot name a file is the operator's to correct */
		int named = errno == EACCES || errno == ENAMETOOLONG || errno == ENOTDIR ||
			    errno == ELOOP;
		return hv_fail(err, named ? HV_EUSAGE : HV_EIO, "cannot open %s: %s%s", path,
			       strerror(errno), named ? ": check the path" : "");
	}
	int rc = device_size(fd, path, &s->device_size, err);
	if (rc) {
		close(fd);
		return rc;
	}
	unsigned char first[BIN_HDR_LEN];
	memset(first, 0, sizeof(first));
	size_t have = s->device_size < sizeof(first) ? (size_t)s->device_size : sizeof(first);
	if (have && read_at(fd, 0, first, have)) {
		close(fd);
		return hv_fail(err, HV_EIO, "cannot read %s: %s", path,
			       errno ? strerror(errno) : "short read");
	}
	for (size_t i = 0; i < have; i++)
		if (first[i]) {
			s->nonzero_magic_area = 1;
			break;
		}
	if (have >= LUKS1_PHDR_LEN && !memcmp(first, magic_primary, MAGIC_LEN) &&
	    first[OFF_VERSION] == 0 && first[OFF_VERSION + 1] == 1) {
		/* LUKS1: one header, no checksum; the keyslots lie between it
		 * and the payload, so the payload offset is the metadata size. */
		s->version = 1;
		s->data_offset = (uint64_t)be32(first + LUKS1_OFF_PAYLOAD) * 512;
		s->metadata_size = s->data_offset;
		s->nareas = 0;
		close(fd);
		return HV_OK;
	}
	unsigned char *p = NULL, *q = NULL;
	uint64_t psize = 0, pseq = 0, qsize = 0, qseq = 0;
	s->primary = check_copy(fd, 0, magic_primary, s->device_size, &psize, &pseq, &p);
	if (s->primary == LUKS_COPY_OK) {
		s->secondary_at = psize;
		s->secondary = check_copy(fd, psize, magic_secondary, s->device_size, &qsize, &qseq, &q);
	} else {
		for (size_t i = 0; i < sizeof(hdr_sizes) / sizeof(hdr_sizes[0]); i++) {
			s->secondary = check_copy(fd, hdr_sizes[i], magic_secondary, s->device_size,
						  &qsize, &qseq, &q);
			if (s->secondary != LUKS_COPY_ABSENT) {
				s->secondary_at = hdr_sizes[i];
				break;
			}
		}
		/* the primary's magic itself may be what was destroyed */
		if (s->primary == LUKS_COPY_ABSENT && s->secondary == LUKS_COPY_OK)
			s->primary = LUKS_COPY_DAMAGED;
	}
	close(fd);
	if (s->primary == LUKS_COPY_ABSENT && s->secondary == LUKS_COPY_ABSENT) {
		s->version = 0;
		return HV_OK;
	}
	s->version = 2;
	if (s->primary == LUKS_COPY_OK && s->secondary == LUKS_COPY_ABSENT)
		s->secondary = LUKS_COPY_DAMAGED; /* its magic was overwritten */
	const unsigned char *good = p ? p : q;
	s->hdr_size = p ? psize : qsize;
	if (p && q && pseq != qseq)
		s->stale = 1;
	if (good)
		scan_json(s, good);
	free(p);
	free(q);
	return HV_OK;
}

int luks_hdr_needs_repair(const luks_hdr_state *s)
{
	if (s->version != 2)
		return 0;
	int ok = (s->primary == LUKS_COPY_OK) + (s->secondary == LUKS_COPY_OK);
	return ok == 1 || (ok == 2 && s->stale);
}

void luks_hdr_describe_damage(const luks_hdr_state *s, char *out, size_t cap)
{
	out[0] = '\0';
	if (!luks_hdr_needs_repair(s))
		return;
	if (s->stale)
		snprintf(out, cap, "the two LUKS2 header copies differ (one is older: an "
			 "interrupted header update)");
	else if (s->primary != LUKS_COPY_OK)
		snprintf(out, cap, "the primary LUKS2 header copy is damaged; the vault was read "
			 "from the secondary");
	else
		snprintf(out, cap, "the secondary LUKS2 header copy is damaged; the vault was read "
			 "from the primary");
}

uint64_t luks_hdr_copy_size(const luks_hdr_state *s)
{
	/* LUKS1: header and keyslots end where the payload starts */
	if (s->version == 1 && s->data_offset >= 4096 && s->data_offset <= (256ULL << 20))
		return s->data_offset < s->device_size ? s->data_offset : s->device_size;
	uint64_t n = s->metadata_size > COPY_MIN ? s->metadata_size : COPY_MIN;
	if (s->data_offset > n && s->data_offset <= (256ULL << 20))
		n = s->data_offset;
	return n < s->device_size ? n : s->device_size;
}

size_t luks_hdr_copy_ranges(const luks_hdr_state *s, uint64_t (*ranges)[2], size_t cap)
{
	uint64_t limit = luks_hdr_copy_size(s);
	if (s->nareas <= 0 || !s->hdr_size || cap < (size_t)s->nareas + 1)
		return 0;
	size_t n = 0;
	ranges[n][0] = 0;
	ranges[n][1] = 2 * s->hdr_size;
	n++;
	for (int i = 0; i < s->nareas; i++) {
		ranges[n][0] = s->areas[i].offset;
		ranges[n][1] = s->areas[i].size;
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		if (ranges[i][0] >= limit)
			ranges[i][1] = 0;
		else if (ranges[i][1] > limit - ranges[i][0])
			ranges[i][1] = limit - ranges[i][0];
	}
	return n;
}
