#include "stick/luks.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libcryptsetup.h>

/* libcryptsetup reports details through its log; keep the last error so
 * that our one-line message can carry it. */
struct luks_log {
	char last[256];
};

static void log_cb(int level, const char *msg, void *usrptr)
{
	struct luks_log *l = usrptr;
	if (level != CRYPT_LOG_ERROR || !l || !msg)
		return;
	snprintf(l->last, sizeof(l->last), "%s", msg);
	size_t n = strlen(l->last);
	while (n && (l->last[n - 1] == '\n' || l->last[n - 1] == '.'))
		l->last[--n] = '\0';
}

static const char *why(struct luks_log *l, int r)
{
	return l->last[0] ? l->last : strerror(-r);
}

static int open_cd(const char *path, struct crypt_device **cd, struct luks_log *l,
		   int load, hv_err *err)
{
	memset(l, 0, sizeof(*l));
	int r = crypt_init(cd, path);
	if (r < 0)
		return hv_fail(err, HV_EIO, "cannot open %s for LUKS: %s", path, strerror(-r));
	crypt_set_log_callback(*cd, log_cb, l);
	if (load) {
		r = crypt_load(*cd, CRYPT_LUKS2, NULL);
		if (r < 0) {
			crypt_free(*cd);
			*cd = NULL;
			return hv_fail(err, HV_EUSAGE,
				       "%s holds no LUKS2 header (%s): prepare it with 'hsmvault stick prepare'",
				       path, why(l, r));
		}
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
	info->data_offset = crypt_get_data_offset(cd) * 512ULL;
	uint64_t size = 0;
	int rc = device_bytes(path, &size, err);
	if (rc)
		return rc;
	if (size <= info->data_offset)
		return hv_fail(err, HV_EINTEGRITY,
			       "%s is %llu bytes, no room for data after the LUKS2 header", path,
			       (unsigned long long)size);
	info->data_size = size - info->data_offset;
	if (info->sector_size)
		info->data_size -= info->data_size % info->sector_size;
	int max = crypt_keyslot_max(CRYPT_LUKS2);
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
	struct crypt_device *cd;
	struct luks_log l;
	if (open_cd(path, &cd, &l, 0, err))
		return -1;
	int r = crypt_load(cd, NULL, NULL);
	crypt_free(cd);
	return r == 0;
}

static int set_pbkdf(struct crypt_device *cd, int fast, struct luks_log *l, hv_err *err)
{
	struct crypt_pbkdf_type p;
	const struct crypt_pbkdf_type *def = crypt_get_pbkdf_default(CRYPT_LUKS2);
	if (def)
		p = *def;
	else
		memset(&p, 0, sizeof(p));
	p.type = CRYPT_KDF_ARGON2ID;
	if (!p.hash)
		p.hash = "sha256";
	if (fast) {
		/* The cheapest values libcryptsetup accepts; no benchmark. */
		p.iterations = 4;
		p.max_memory_kb = 32;
		p.parallel_threads = 1;
		p.time_ms = 0;
		p.flags = CRYPT_PBKDF_NO_BENCHMARK;
	}
	int r = crypt_set_pbkdf_type(cd, &p);
	if (r < 0)
		return hv_fail(err, HV_EINTERNAL, "libcryptsetup refused the argon2id settings: %s",
			       why(l, r));
	return HV_OK;
}

/* 64 random bytes whose two AES-256 halves differ (OpenSSL's XTS refuses
 * equal halves). */
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
		secbuf **volume_key, hv_err *err)
{
	struct crypt_device *cd;
	struct luks_log l;
	secbuf *vk = NULL;
	int rc = new_volume_key(&vk, err);
	if (rc)
		return rc;
	if ((rc = open_cd(path, &cd, &l, 0, err))) {
		secbuf_free(vk);
		return rc;
	}
	if ((rc = set_pbkdf(cd, o->insecure_fast_kdf, &l, err)))
		goto out;
	struct crypt_params_luks2 params;
	memset(&params, 0, sizeof(params));
	params.sector_size = o->sector_size;
	params.label = o->label ? o->label : LUKS_DEFAULT_LABEL;
	int r = crypt_format(cd, CRYPT_LUKS2, "aes", "xts-plain64", NULL,
			     (const char *)vk->data, 64, &params);
	if (r < 0) {
		rc = hv_fail(err, r == -EBUSY ? HV_ESAFETY : HV_EIO,
			     "cannot write a LUKS2 header on %s: %s", path, why(&l, r));
		goto out;
	}
	r = crypt_keyslot_add_by_volume_key(cd, CRYPT_ANY_SLOT, (const char *)vk->data, 64,
					    (const char *)passphrase->data, passphrase->len);
	if (r < 0)
		rc = hv_fail(err, HV_EIO, "cannot add the passphrase to %s: %s", path, why(&l, r));
out:
	crypt_free(cd);
	if (rc == HV_OK && volume_key)
		*volume_key = vk;
	else
		secbuf_free(vk);
	return rc;
}

int luks_read_info(const char *path, luks_info *info, hv_err *err)
{
	struct crypt_device *cd;
	struct luks_log l;
	int rc = open_cd(path, &cd, &l, 1, err);
	if (rc)
		return rc;
	rc = fill_info(cd, path, info, err);
	crypt_free(cd);
	return rc;
}

int luks_unlock(const char *path, const secbuf *passphrase, secbuf **volume_key,
		luks_info *info, hv_err *err)
{
	struct crypt_device *cd;
	struct luks_log l;
	luks_info local;
	if (!info)
		info = &local;
	int rc = open_cd(path, &cd, &l, 1, err);
	if (rc)
		return rc;
	if ((rc = fill_info(cd, path, info, err)))
		goto out;
	if (strcmp(info->cipher, "aes") || strcmp(info->mode, "xts-plain64") ||
	    info->key_bits != 512 || crypt_get_iv_offset(cd) != 0 ||
	    (info->sector_size != 512 && info->sector_size != 4096)) {
		rc = hv_fail(err, HV_EINTEGRITY,
			     "%s uses %s-%s with %d-bit keys and %u-byte sectors: hsmvault reads only "
			     "aes-xts-plain64, 512 bits, 512/4096-byte sectors (open it with cryptsetup)",
			     path, info->cipher, info->mode, info->key_bits, info->sector_size);
		goto out;
	}
	secbuf *vk = secbuf_new(64);
	if (!vk) {
		rc = hv_fail(err, HV_ENOMEM, "out of memory for the volume key");
		goto out;
	}
	/* Unlocking a keyslot verifies the passphrase against the volume-key
	 * digest: one PBKDF run, no device-mapper. */
	size_t len = 64;
	int r = crypt_volume_key_get(cd, CRYPT_ANY_SLOT, (char *)vk->data, &len,
				     (const char *)passphrase->data, passphrase->len);
	if (r < 0 || len != 64) {
		secbuf_free(vk);
		rc = r == -EPERM ? hv_fail(err, HV_ESECRET, "wrong passphrase for %s", path)
				 : hv_fail(err, HV_EIO, "cannot unlock %s: %s", path, why(&l, r));
		goto out;
	}
	vk->len = 64;
	*volume_key = vk;
out:
	crypt_free(cd);
	return rc;
}

int luks_add_passphrase(const char *path, const secbuf *existing, const secbuf *new_pass,
			int insecure_fast_kdf, int *slot_out, hv_err *err)
{
	struct crypt_device *cd;
	struct luks_log l;
	int rc = open_cd(path, &cd, &l, 1, err);
	if (rc)
		return rc;
	if ((rc = set_pbkdf(cd, insecure_fast_kdf, &l, err)))
		goto out;
	int r = crypt_keyslot_add_by_passphrase(cd, CRYPT_ANY_SLOT,
						(const char *)existing->data, existing->len,
						(const char *)new_pass->data, new_pass->len);
	if (r < 0)
		rc = r == -EPERM ? hv_fail(err, HV_ESECRET, "wrong existing passphrase for %s", path)
				 : hv_fail(err, HV_EIO, "cannot add a passphrase to %s: %s", path,
					   why(&l, r));
	else if (slot_out)
		*slot_out = r;
out:
	crypt_free(cd);
	return rc;
}

int luks_remove_passphrase(const char *path, const secbuf *passphrase, int *slot_out,
			   hv_err *err)
{
	struct crypt_device *cd;
	struct luks_log l;
	int rc = open_cd(path, &cd, &l, 1, err);
	if (rc)
		return rc;
	int slot = crypt_activate_by_passphrase(cd, NULL, CRYPT_ANY_SLOT,
						(const char *)passphrase->data,
						passphrase->len, 0);
	if (slot < 0) {
		rc = slot == -EPERM ? hv_fail(err, HV_ESECRET, "wrong passphrase for %s", path)
				    : hv_fail(err, HV_EIO, "cannot check the passphrase on %s: %s",
					      path, why(&l, slot));
		goto out;
	}
	if (crypt_keyslot_status(cd, slot) == CRYPT_SLOT_ACTIVE_LAST) {
		rc = hv_fail(err, HV_ESAFETY,
			     "keyslot %d of %s holds the only passphrase: add another one first "
			     "('hsmvault stick passphrase add')", slot, path);
		goto out;
	}
	int r = crypt_keyslot_destroy(cd, slot);
	if (r < 0)
		rc = hv_fail(err, HV_EIO, "cannot remove keyslot %d of %s: %s", slot, path,
			     why(&l, r));
	else if (slot_out)
		*slot_out = slot;
out:
	crypt_free(cd);
	return rc;
}

int luks_header_backup(const char *path, const char *file, hv_err *err)
{
	struct crypt_device *cd;
	struct luks_log l;
	int rc = open_cd(path, &cd, &l, 1, err);
	if (rc)
		return rc;
	int r = crypt_header_backup(cd, CRYPT_LUKS2, file);
	if (r < 0)
		rc = hv_fail(err, r == -EEXIST ? HV_EUSAGE : HV_EIO,
			     "cannot back up the LUKS2 header of %s to %s: %s", path, file,
			     r == -EEXIST ? "the file exists; choose a new name" : why(&l, r));
	crypt_free(cd);
	return rc;
}
