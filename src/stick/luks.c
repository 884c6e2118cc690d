#include "stick/luks.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libcryptsetup.h>

#include "stick/luks_hdr.h"
#include "stick/sector_cipher.h"

/* libcryptsetup reports details through its log; hsmvault never lets it
 * print: the last error is kept so that our one-line message can carry it
 * (with the stick's own path in place of a header copy's). */
struct luks_log {
	char last[256];
	char copy_path[64];   /* the header copy libcryptsetup reads, if any */
	const char *path;     /* what the user named */
};

static struct luks_log global_log; /* before a crypt_device exists */

static void keep_message(struct luks_log *l, const char *msg)
{
	char tmp[256];
	const char *at = l->copy_path[0] ? strstr(msg, l->copy_path) : NULL;
	if (at && l->path)
		snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)(at - msg), msg, l->path,
			 at + strlen(l->copy_path));
	else
		snprintf(tmp, sizeof(tmp), "%s", msg);
	snprintf(l->last, sizeof(l->last), "%s", tmp);
	size_t n = strlen(l->last);
	while (n && (l->last[n - 1] == '\n' || l->last[n - 1] == '.'))
		l->last[--n] = '\0';
}

static void log_cb(int level, const char *msg, void *usrptr)
{
	struct luks_log *l = usrptr;
	if (level != CRYPT_LOG_ERROR || !l || !msg)
		return;
	keep_message(l, msg);
}

/* Routes libcryptsetup's default log (used before a device is set up)
 * into hsmvault's messages; called before every crypt_init. */
static void quiet_default_log(void)
{
	memset(&global_log, 0, sizeof(global_log));
	crypt_set_log_callback(NULL, log_cb, &global_log);
}

static const char *why(struct luks_log *l, int r)
{
	return l->last[0] ? l->last : strerror(-r);
}

/* How a command uses the header. */
enum luks_use {
	USE_FORMAT,       /* a new header: no load */
	USE_READ,         /* read only: libcryptsetup sees a copy in memory */
	USE_HEADER_WRITE, /* passphrase changes: both copies must be intact */
	USE_REPAIR,       /* stick repair: the only use that may rewrite a copy */
};

/* The words for a device whose header cannot be read, by class. */
static int header_problem(const char *path, const luks_hdr_state *s, hv_err *err)
{
	if (s->version == 0) {
		if (s->device_size == 0)
			return hv_fail(err, HV_EUSAGE, "%s is empty: it holds no vault (make one with "
				       "'hsmvault stick prepare')", path);
		if (!s->nonzero_magic_area)
			return hv_fail(err, HV_EUSAGE, "%s holds no LUKS2 header (its start is all "
				       "zeros): not a vault stick yet ('hsmvault stick prepare' makes one)",
				       path);
		return hv_fail(err, HV_EUSAGE,
			       "%s holds no LUKS2 header but holds data: it is not a vault stick, or "
			       "both header copies were overwritten (then only a header backup can "
			       "help: 'cryptsetup luksHeaderRestore'); nothing was changed", path);
	}
	if (s->version == 2 && s->primary != LUKS_COPY_OK && s->secondary != LUKS_COPY_OK)
		return hv_fail(err, HV_EINTEGRITY,
			       "both LUKS2 header copies of %s are damaged: restore a header backup "
			       "('cryptsetup luksHeaderRestore %s --header-backup-file FILE'); do not "
			       "prepare it again, that erases the vault", path, path);
	uint64_t need = s->metadata_size > s->data_offset ? s->metadata_size : s->data_offset;
	if (need > s->device_size)
		return hv_fail(err, HV_EINTEGRITY,
			       "%s is shorter than its LUKS%d header says (%llu of %llu bytes): it was "
			       "cut off; copy the whole stick again", path, s->version,
			       (unsigned long long)s->device_size, (unsigned long long)need);
	return HV_OK;
}

/* A private, writable copy of the header area in memory (memfd): what
 * libcryptsetup may "repair" on load is the copy, never the stick. */
static int header_copy(const char *path, const luks_hdr_state *s, int *mfd, char *name,
		       size_t cap, hv_err *err)
{
	uint64_t n = luks_hdr_copy_size(s);
	int in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return hv_fail(err, HV_EIO, "cannot open %s: %s", path, strerror(errno));
	int out = memfd_create("hsmvault-luks-header", MFD_CLOEXEC);
	if (out < 0) {
		close(in);
		return hv_fail(err, HV_EIO, "cannot make a memory copy of the header of %s: %s", path,
			       strerror(errno));
	}
	uint64_t ranges[LUKS_MAX_KEYSLOTS + 2][2];
	size_t nr = luks_hdr_copy_ranges(s, ranges, LUKS_MAX_KEYSLOTS + 2);
	if (nr == 0) {
		ranges[0][0] = 0;
		ranges[0][1] = n;
		nr = 1;
	}
	if (ftruncate(out, (off_t)n) != 0) {
		int e = errno;
		close(in);
		close(out);
		return hv_fail(err, HV_EIO, "cannot make a memory copy of the header of %s: %s", path,
			       strerror(e));
	}
	static unsigned char buf[1 << 20];
	for (size_t i = 0; i < nr; i++) {
		uint64_t done = 0, len = ranges[i][1], at = ranges[i][0];
		while (done < len) {
			size_t want = len - done < sizeof(buf) ? (size_t)(len - done) : sizeof(buf);
			ssize_t r = pread(in, buf, want, (off_t)(at + done));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0 || pwrite(out, buf, (size_t)r, (off_t)(at + done)) != r) {
				int e = r < 0 ? errno : EIO;
				close(in);
				close(out);
				return hv_fail(err, HV_EIO, "cannot read the header area of %s: %s", path,
					       strerror(e));
			}
			done += (uint64_t)r;
		}
	}
	close(in);
	*mfd = out;
	snprintf(name, cap, "/proc/self/fd/%d", out);
	return HV_OK;
}

struct luks_handle {
	struct crypt_device *cd;
	struct luks_log log;
	luks_hdr_state hdr;
	int mfd;
};

static void close_cd(struct luks_handle *h)
{
	if (h->cd)
		crypt_free(h->cd);
	h->cd = NULL;
	if (h->mfd >= 0)
		close(h->mfd);
	h->mfd = -1;
}

static int open_cd(const char *path, struct luks_handle *h, enum luks_use use, hv_err *err)
{
	memset(h, 0, sizeof(*h));
	h->mfd = -1;
	h->log.path = path;
	quiet_default_log();
	int rc;
	if (use != USE_FORMAT) {
		if ((rc = luks_hdr_inspect(path, &h->hdr, err)))
			return rc;
		if ((rc = header_problem(path, &h->hdr, err)))
			return rc;
		if (use == USE_HEADER_WRITE && luks_hdr_needs_repair(&h->hdr)) {
			char d[200];
			luks_hdr_describe_damage(&h->hdr, d, sizeof(d));
			return hv_fail(err, HV_EINTEGRITY,
				       "%s: %s; make a header backup ('hsmvault stick header-backup "
				       "%s FILE'), then repair it ('hsmvault stick repair %s') before "
				       "changing passphrases", path, d, path, path);
		}
	}
	const char *open_path = path;
	if (use == USE_READ) {
		if ((rc = header_copy(path, &h->hdr, &h->mfd, h->log.copy_path,
				      sizeof(h->log.copy_path), err)))
			return rc;
		open_path = h->log.copy_path;
	}
	global_log.path = path;
	snprintf(global_log.copy_path, sizeof(global_log.copy_path), "%s", h->log.copy_path);
	int r = crypt_init(&h->cd, open_path);
	if (r < 0) {
		h->cd = NULL;
		rc = hv_fail(err, HV_EIO, "cannot open %s for LUKS: %s", path, why(&global_log, r));
		close_cd(h);
		return rc;
	}
	crypt_set_log_callback(h->cd, log_cb, &h->log);
	if (use == USE_FORMAT)
		return HV_OK;
	/* the version the header declares; LUKS1 has one copy, nothing to repair */
	const char *type = h->hdr.version == 1 ? CRYPT_LUKS1 : CRYPT_LUKS2;
	r = use == USE_REPAIR ? crypt_repair(h->cd, type, NULL) : crypt_load(h->cd, type, NULL);
	if (r < 0) {
		rc = hv_fail(err, HV_EINTEGRITY, "cannot read the LUKS%d header of %s: %s",
			     h->hdr.version, path, why(&h->log, r));
		close_cd(h);
		return rc;
	}
	return HV_OK;
}

static int device_bytes(const char *path, uint64_t *size, hv_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hv_fail(err, HV_EIO, "cannot open %s: %s", path, strerror(errno));
	struct stat st;
	int rc = HV_OK;
	if (fstat(fd, &st) != 0)
		rc = hv_fail(err, HV_EIO, "cannot stat %s: %s", path, strerror(errno));
	else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) != 0)
			rc = hv_fail(err, HV_EIO, "cannot read the size of %s: %s", path,
				     strerror(errno));
	} else
		*size = (uint64_t)st.st_size;
	close(fd);
	return rc;
}

static int fill_info(struct crypt_device *cd, const char *path, luks_info *info, hv_err *err)
{
	memset(info, 0, sizeof(*info));
	const char *type = crypt_get_type(cd);
	info->version = type && !strcmp(type, CRYPT_LUKS1) ? 1 : 2;
	const char *s;
	if ((s = crypt_get_label(cd)))
		snprintf(info->label, sizeof(info->label), "%s", s);
	if ((s = crypt_get_uuid(cd)))
		snprintf(info->uuid, sizeof(info->uuid), "%s", s);
	if ((s = crypt_get_cipher(cd)))
		snprintf(info->cipher, sizeof(info->cipher), "%s", s);
	if ((s = crypt_get_cipher_mode(cd)))
		snprintf(info->mode, sizeof(info->mode), "%s", s);
	info->key_bits = crypt_get_volume_key_size(cd) * 8;
	info->sector_size = (unsigned)crypt_get_sector_size(cd);
	info->iv_offset = crypt_get_iv_offset(cd);
	/* dm-integrity or AEAD under the segment: the sectors carry tags the
	 * userspace backend neither checks nor writes */
	struct crypt_params_integrity ip;
	memset(&ip, 0, sizeof(ip));
	if (info->version == 2 && crypt_get_integrity_info(cd, &ip) == 0 && ip.integrity &&
	    ip.integrity[0])
		snprintf(info->integrity, sizeof(info->integrity), "%s", ip.integrity);
	info->data_offset = crypt_get_data_offset(cd) * 512ULL;
	uint64_t size = 0;
	int rc = device_bytes(path, &size, err);
	if (rc)
		return rc;
	if (size <= info->data_offset)
		return hv_fail(err, HV_EINTEGRITY,
			       "%s is %llu bytes, no room for data after the LUKS%d header", path,
			       (unsigned long long)size, info->version);
	info->data_size = size - info->data_offset;
	if (info->sector_size)
		info->data_size -= info->data_size % info->sector_size;
	int max = crypt_keyslot_max(info->version == 1 ? CRYPT_LUKS1 : CRYPT_LUKS2);
	for (int i = 0; i < max && i < LUKS_MAX_KEYSLOTS; i++) {
		crypt_keyslot_info ks = crypt_keyslot_status(cd, i);
		if (ks != CRYPT_SLOT_ACTIVE && ks != CRYPT_SLOT_ACTIVE_LAST)
			continue;
		luks_keyslot *k = &info->keyslots[info->nkeyslots++];
		k->slot = i;
		struct crypt_pbkdf_type p;
		if (crypt_keyslot_get_pbkdf(cd, i, &p) == 0) {
			snprintf(k->pbkdf, sizeof(k->pbkdf), "%s", p.type ? p.type : "?");
			k->iterations = p.iterations;
			k->memory_kb = p.max_memory_kb;
			k->threads = p.parallel_threads;
		}
	}
	return HV_OK;
}

int luks_is_luks(const char *path, hv_err *err)
{
	luks_hdr_state s;
	if (luks_hdr_inspect(path, &s, err))
		return -1;
	return s.version != 0;
}

/* The KDF settings for a new keyslot: argon2id, or pbkdf2 on a LUKS1
 * header (its only KDF). Fast: the cheapest values libcryptsetup accepts,
 * tests only. Otherwise benchmarked here, once, for the requested time and
 * memory, then fixed, so that libcryptsetup does not benchmark again when it
 * adds the keyslot. */
static int set_pbkdf(struct crypt_device *cd, const luks_format_opts *o,
		     struct luks_log *l, luks_keyslot *chosen, hv_err *err)
{
	struct crypt_pbkdf_type p;
	const char *type = crypt_get_type(cd);
	int luks1 = type && !strcmp(type, CRYPT_LUKS1);
	const struct crypt_pbkdf_type *def = crypt_get_pbkdf_default(luks1 ? CRYPT_LUKS1
									    : CRYPT_LUKS2);
	if (def)
		p = *def;
	else
		memset(&p, 0, sizeof(p));
	p.type = luks1 ? CRYPT_KDF_PBKDF2 : CRYPT_KDF_ARGON2ID;
	if (!p.hash)
		p.hash = "sha256";
	if (luks1) {
		p.max_memory_kb = 0;
		p.parallel_threads = 0;
	}
	if (o && o->insecure_fast_kdf) {
		p.iterations = luks1 ? 1000 : 4; /* pbkdf2's minimum is 1000 */
		p.max_memory_kb = luks1 ? 0 : 32;
		p.parallel_threads = luks1 ? 0 : 1;
		p.time_ms = 0;
		p.flags = CRYPT_PBKDF_NO_BENCHMARK;
	} else {
		if (o && o->pbkdf_memory_kb)
			p.max_memory_kb = o->pbkdf_memory_kb;
		if (o && o->iter_time_ms)
			p.time_ms = o->iter_time_ms;
		if (o && o->pbkdf_iterations) {
			p.iterations = o->pbkdf_iterations;
			p.flags = CRYPT_PBKDF_NO_BENCHMARK;
		} else {
			p.iterations = 0;
			p.flags = 0;
			/* a throw-away password and salt: only the cost is measured */
			int r = crypt_benchmark_pbkdf(cd, &p, "hsmvault-benchmark", 18,
						      "0123456789abcdef0123456789abcdef", 32, 64,
						      NULL, NULL);
			if (r < 0)
				return hv_fail(err, HV_EINTERNAL,
					       "benchmarking %s failed: %s", p.type, why(l, r));
			p.flags = CRYPT_PBKDF_NO_BENCHMARK;
		}
	}
	int r = crypt_set_pbkdf_type(cd, &p);
	if (r < 0)
		return hv_fail(err, HV_EUSAGE, "libcryptsetup refused the %s settings "
			       "(%u iterations, %u KiB, %u threads): %s", p.type, p.iterations,
			       p.max_memory_kb, p.parallel_threads, why(l, r));
	if (chosen) {
		snprintf(chosen->pbkdf, sizeof(chosen->pbkdf), "%s", p.type);
		chosen->iterations = p.iterations;
		chosen->memory_kb = p.max_memory_kb;
		chosen->threads = p.parallel_threads;
	}
	return HV_OK;
}

/* 64 random bytes whose two AES-256 halves differ (OpenSSL's XTS refuses
 * equal halves), in locked memory. */
static int new_volume_key(secbuf **out, hv_err *err)
{
	secbuf *vk = secbuf_new(64);
	if (!vk)
		return hv_fail(err, HV_ENOMEM, "out of memory for the volume key");
	do {
		size_t got = 0;
		while (got < 64) {
			ssize_t r = getrandom(vk->data + got, 64 - got, 0);
			if (r <= 0) {
				secbuf_free(vk);
				return hv_fail(err, HV_EIO, "no randomness for the volume key: %s",
					       strerror(errno));
			}
			got += (size_t)r;
		}
	} while (secure_memcmp(vk->data, vk->data + 32, 32) == 0);
	vk->len = 64;
	*out = vk;
	return HV_OK;
}

int luks_format(const char *path, const luks_format_opts *o, const secbuf *passphrase,
		secbuf **volume_key, luks_keyslot *kdf, hv_err *err)
{
	struct luks_handle h;
	secbuf *vk = NULL;
	int rc = new_volume_key(&vk, err);
	if (rc)
		return rc;
	if ((rc = open_cd(path, &h, USE_FORMAT, err))) {
		secbuf_free(vk);
		return rc;
	}
	if ((rc = set_pbkdf(h.cd, o, &h.log, kdf, err)))
		goto out;
	struct crypt_params_luks2 params;
	memset(&params, 0, sizeof(params));
	params.sector_size = o->sector_size;
	params.label = o->label ? o->label : LUKS_DEFAULT_LABEL;
	/* The volume key is ours: formatting with it and adding the keyslot
	 * by it runs the passphrase KDF once, and the caller keeps the key
	 * to write the file system. */
	int r = crypt_format(h.cd, CRYPT_LUKS2, "aes", "xts-plain64", NULL,
			     (const char *)vk->data, 64, &params);
	if (r < 0) {
		rc = hv_fail(err, r == -EBUSY ? HV_ESAFETY : HV_EIO,
			     "cannot write a LUKS2 header on %s: %s", path, why(&h.log, r));
		goto out;
	}
	r = crypt_keyslot_add_by_volume_key(h.cd, CRYPT_ANY_SLOT, (const char *)vk->data, 64,
					    (const char *)passphrase->data, passphrase->len);
	if (r < 0)
		rc = hv_fail(err, HV_EIO, "cannot add the passphrase to %s: %s", path,
			     why(&h.log, r));
	else if (kdf)
		kdf->slot = r;
out:
	close_cd(&h);
	if (rc == HV_OK && volume_key)
		*volume_key = vk;
	else
		secbuf_free(vk);
	return rc;
}

static void note_damage(const struct luks_handle *h, luks_info *info)
{
	luks_hdr_describe_damage(&h->hdr, info->damage, sizeof(info->damage));
}

int luks_read_info(const char *path, luks_info *info, hv_err *err)
{
	struct luks_handle h;
	int rc = open_cd(path, &h, USE_READ, err);
	if (rc)
		return rc;
	rc = fill_info(h.cd, path, info, err);
	note_damage(&h, info);
	close_cd(&h);
	return rc;
}

int luks_userspace_can(const luks_info *info, char *why, size_t cap)
{
	char fmt[160], lacks[200];
	luks_describe_format(info, fmt, sizeof(fmt));
	if (info->integrity[0]) {
		snprintf(why, cap, "%s with integrity %s (dm-integrity): the userspace backend has "
			 "no integrity tags", fmt, info->integrity);
		return 0;
	}
	if (!sector_cipher_supported(info->cipher, info->mode, (size_t)info->key_bits / 8, lacks,
				     sizeof(lacks))) {
		snprintf(why, cap, "%s: %s", fmt, lacks);
		return 0;
	}
	if (info->sector_size != 512 && info->sector_size != 4096) {
		snprintf(why, cap, "%s: the userspace backend has 512- and 4096-byte sectors only",
			 fmt);
		return 0;
	}
	return 1;
}

void luks_describe_format(const luks_info *info, char *out, size_t cap)
{
	snprintf(out, cap, "LUKS%d %s-%s, %d-bit key, %u-byte sectors", info->version,
		 info->cipher, info->mode, info->key_bits, info->sector_size);
}

int luks_unlock(const char *path, const secbuf *passphrase, secbuf **volume_key,
		luks_info *info, hv_err *err)
{
	struct luks_handle h;
	luks_info local;
	if (!info)
		info = &local;
	int rc = open_cd(path, &h, USE_READ, err);
	if (rc)
		return rc;
	if ((rc = fill_info(h.cd, path, info, err)))
		goto out;
	note_damage(&h, info);
	char why_not[300];
	if (!luks_userspace_can(info, why_not, sizeof(why_not))) {
		rc = hv_fail(err, HV_EUSAGE, "%s is %s: open it with the kernel backend "
			     "('--backend kernel', root and device-mapper) or by hand with "
			     "'cryptsetup open' and mount", path, why_not);
		goto out;
	}
	size_t key_bytes = (size_t)crypt_get_volume_key_size(h.cd);
	secbuf *vk = secbuf_new(key_bytes);
	if (!vk) {
		rc = hv_fail(err, HV_ENOMEM, "out of memory for the volume key");
		goto out;
	}
	/* Unlocking a keyslot verifies the passphrase against the volume-key
	 * digest: one PBKDF run, no device-mapper. */
	size_t len = key_bytes;
	int r = crypt_volume_key_get(h.cd, CRYPT_ANY_SLOT, (char *)vk->data, &len,
				     (const char *)passphrase->data, passphrase->len);
	if (r < 0 || len != key_bytes) {
		secbuf_free(vk);
		rc = r == -EPERM ? hv_fail(err, HV_ESECRET, "wrong passphrase for %s", path)
				 : hv_fail(err, HV_EIO, "cannot unlock %s: %s", path, why(&h.log, r));
		goto out;
	}
	vk->len = key_bytes;
	*volume_key = vk;
out:
	close_cd(&h);
	return rc;
}

int luks_add_passphrase(const char *path, const secbuf *existing, const secbuf *new_pass,
			int insecure_fast_kdf, int *slot_out, hv_err *err)
{
	struct luks_handle h;
	int rc = open_cd(path, &h, USE_HEADER_WRITE, err);
	if (rc)
		return rc;
	luks_format_opts o = { .insecure_fast_kdf = insecure_fast_kdf };
	if ((rc = set_pbkdf(h.cd, &o, &h.log, NULL, err)))
		goto out;
	int r = crypt_keyslot_add_by_passphrase(h.cd, CRYPT_ANY_SLOT,
						(const char *)existing->data, existing->len,
						(const char *)new_pass->data, new_pass->len);
	if (r < 0)
		rc = r == -EPERM ? hv_fail(err, HV_ESECRET, "wrong existing passphrase for %s", path)
				 : hv_fail(err, HV_EIO, "cannot add a passphrase to %s: %s", path,
					   why(&h.log, r));
	else if (slot_out)
		*slot_out = r;
out:
	close_cd(&h);
	return rc;
}

int luks_remove_passphrase(const char *path, const secbuf *passphrase, int *slot_out,
			   hv_err *err)
{
	struct luks_handle h;
	int rc = open_cd(path, &h, USE_HEADER_WRITE, err);
	if (rc)
		return rc;
	int slot = crypt_activate_by_passphrase(h.cd, NULL, CRYPT_ANY_SLOT,
						(const char *)passphrase->data,
						passphrase->len, 0);
	if (slot < 0) {
		rc = slot == -EPERM ? hv_fail(err, HV_ESECRET, "wrong passphrase for %s", path)
				    : hv_fail(err, HV_EIO, "cannot check the passphrase on %s: %s",
					      path, why(&h.log, slot));
		goto out;
	}
	if (crypt_keyslot_status(h.cd, slot) == CRYPT_SLOT_ACTIVE_LAST) {
		rc = hv_fail(err, HV_ESAFETY,
			     "keyslot %d of %s holds the only passphrase: add another one first "
			     "('hsmvault stick passphrase add')", slot, path);
		goto out;
	}
	int r = crypt_keyslot_destroy(h.cd, slot);
	if (r < 0)
		rc = hv_fail(err, HV_EIO, "cannot remove keyslot %d of %s: %s", slot, path,
			     why(&h.log, r));
	else if (slot_out)
		*slot_out = slot;
out:
	close_cd(&h);
	return rc;
}

int luks_header_backup(const char *path, const char *file, hv_err *err)
{
	struct luks_handle h;
	struct stat st;
	/* libcryptsetup refuses too, but with an error code of another class */
	if (lstat(file, &st) == 0)
		return hv_fail(err, HV_EUSAGE, "cannot back up the LUKS header of %s to %s: the "
			       "file exists; choose a new name", path, file);
	/* said here in the operator's words: libcryptsetup only logs its own line */
	const char *slash = strrchr(file, '/');
	if (slash && slash != file) {
		char dir[4096];
		if (snprintf(dir, sizeof(dir), "%.*s", (int)(slash - file), file) < (int)sizeof(dir) &&
		    (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
			return hv_fail(err, HV_EUSAGE, "cannot back up the LUKS header of %s to %s: "
				       "the folder %s does not exist: create it or choose another path",
				       path, file, dir);
	}
	int rc = open_cd(path, &h, USE_READ, err);
	if (rc)
		return rc;
	int r = crypt_header_backup(h.cd, NULL, file); /* the loaded header's own type */
	if (r < 0)
		rc = hv_fail(err, r == -EEXIST ? HV_EUSAGE : HV_EIO,
			     "cannot back up the LUKS header of %s to %s: %s", path, file,
			     r == -EEXIST ? "the file exists; choose a new name" : why(&h.log, r));
	close_cd(&h);
	return rc;
}

int luks_damage(const char *path, char *out, size_t cap, hv_err *err)
{
	luks_hdr_state s;
	int rc = luks_hdr_inspect(path, &s, err);
	if (rc)
		return rc;
	if ((rc = header_problem(path, &s, err)))
		return rc;
	luks_hdr_describe_damage(&s, out, cap);
	return HV_OK;
}

int luks_repair(const char *path, char *what, size_t cap, hv_err *err)
{
	luks_hdr_state before;
	int rc = luks_hdr_inspect(path, &before, err);
	if (rc)
		return rc;
	if ((rc = header_problem(path, &before, err)))
		return rc;
	what[0] = '\0';
	if (!luks_hdr_needs_repair(&before))
		return HV_OK;
	if (before.stale)
		snprintf(what, cap, "the older LUKS2 header copy was rewritten from the newer one");
	else
		snprintf(what, cap, "the %s LUKS2 header copy was rewritten from the %s one",
			 before.primary == LUKS_COPY_OK ? "secondary" : "primary",
			 before.primary == LUKS_COPY_OK ? "primary" : "secondary");
	struct luks_handle h;
	if ((rc = open_cd(path, &h, USE_REPAIR, err)))
		return rc;
	close_cd(&h);
	luks_hdr_state after;
	if ((rc = luks_hdr_inspect(path, &after, err)))
		return rc;
	if (luks_hdr_needs_repair(&after))
		return hv_fail(err, HV_EIO, "repairing the LUKS2 header of %s did not take: a copy "
			       "is still damaged (is the stick write-protected?)", path);
	return HV_OK;
}
