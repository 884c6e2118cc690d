#include "stick/stick.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "stick/ext4_mkfs.h"
#include "stick/ext4_vfs.h"
#include "stick/kernel_backend.h"
#include "stick/xts.h"
#include "util/prompt.h"

/* The size rules for image files, checked before anything is asked. */
static int check_image(const stick_device *d, const stick_prepare_opts *o, hv_err *err)
{
	if (d->exists && d->size > 0) {
		if (o->size && o->size != d->size)
			return hv_fail(err, HV_EUSAGE,
				       "image %s exists with %llu bytes: drop --size to use it as it "
				       "is, or remove the file", d->path, (unsigned long long)d->size);
		return HV_OK;
	}
	if (!o->size)
		return hv_fail(err, HV_EUSAGE,
			       "image %s %s: give its size with --size (e.g. --size 4G)", d->path,
			       d->exists ? "is empty" : "does not exist");
	return HV_OK;
}

/* Creates or sizes an image file; *created tells the caller to remove it
 * on failure. */
static int prepare_image(stick_device *d, const stick_prepare_opts *o, int *created,
			 hv_err *err)
{
	*created = 0;
	if (d->exists && d->size > 0)
		return HV_OK;
	int flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW | (d->exists ? 0 : O_CREAT | O_EXCL);
	int fd = open(d->path, flags, 0600);
	if (fd < 0)
		return hv_fail(err, HV_EIO, "cannot create image %s: %s", d->path, strerror(errno));
	*created = !d->exists;
	/* sparse: only what the layers write takes space */
	if (ftruncate(fd, (off_t)o->size) != 0) {
		int e = errno;
		close(fd);
		if (*created)
			unlink(d->path);
		*created = 0;
		return hv_fail(err, HV_EIO, "cannot size image %s: %s", d->path, strerror(e));
	}
	close(fd);
	d->size = o->size;
	d->exists = 1;
	return HV_OK;
}

static int confirm(const stick_device *d, const char *reasons, const stick_prepare_opts *o,
		   hv_err *err)
{
	char desc[2048];
	device_describe(d, desc, sizeof(desc));
	if (o->confirm_device) {
		if (!device_same(o->confirm_device, d->path))
			return hv_fail(err, HV_ESAFETY,
				       "--confirm-device %s does not name %s: nothing was changed",
				       o->confirm_device, d->path);
		fprintf(stderr, "Erasing %s (confirmed by --confirm-device):\n%s  because: %s\n",
			d->path, desc, reasons);
		return HV_OK;
	}
	int tty = isatty(STDIN_FILENO) && !o->batch;
	if (tty) {
		int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
		tty = fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	if (!tty)
		return hv_fail(err, HV_ESAFETY,
			       "%s needs a confirmation (%s): in batch mode name it a second time with "
			       "--confirm-device %s; nothing was changed", d->path, reasons, d->path);
	fprintf(stderr, "ALL DATA ON THIS DEVICE WILL BE DESTROYED:\n%s  because: %s\n", desc,
		reasons);
	char q[700];
	snprintf(q, sizeof(q), "Type the device path (%s) to erase it: ", d->path);
	hv_err e;
	hv_err_clear(&e);
	if (prompt_confirm(q, d->path, &e) != HV_OK)
		return hv_fail(err, HV_ESAFETY, "%s", e.msg);
	return HV_OK;
}

static void wipe_progress(uint64_t done, uint64_t total, void *ctx)
{
	time_t *last = ctx;
	time_t now = time(NULL);
	if (done != total && now == *last)
		return;
	*last = now;
	fprintf(stderr, "\rwiping: %llu of %llu MiB (%3d%%)", (unsigned long long)(done >> 20),
		(unsigned long long)(total >> 20), (int)(total ? done * 100 / total : 100));
	if (done == total)
		fputc('\n', stderr);
	fflush(stderr);
}

/* The device open for the data segment; block devices exclusively. */
static int open_data(const char *path, int writable, int *fd, hv_err *err)
{
	struct stat st;
	int flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC;
	if (stat(path, &st) == 0 && S_ISBLK(st.st_mode))
		flags |= O_EXCL;
	else
		flags |= O_NOFOLLOW;
	*fd = open(path, flags);
	if (*fd < 0)
		return hv_fail(err, errno == EBUSY ? HV_ESAFETY : HV_EIO, "cannot open %s: %s", path,
			       errno == EBUSY ? "it is in use" : strerror(errno));
	/* Two writers on one image would interleave their metadata. An OFD
	 * record lock, not flock(): libcryptsetup flocks image files itself
	 * (its header lock) and the two kinds do not interact. */
	struct flock fl = { .l_type = writable ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET };
	if (fcntl(*fd, F_OFD_SETLK, &fl) != 0) {
		int e = errno;
		close(*fd);
		*fd = -1;
		int busy = e == EAGAIN || e == EACCES;
		return hv_fail(err, busy ? HV_ESAFETY : HV_EIO, "cannot lock %s: %s", path,
			       busy ? "another hsmvault has it open" : strerror(e));
	}
	return HV_OK;
}

static int fill_volume(const char *path, const stick_prepare_opts *o, secbuf *vk, vfs **out,
		       hv_err *err)
{
	luks_info info;
	int rc = luks_read_info(path, &info, err);
	if (rc)
		return rc;
	int fd;
	if ((rc = open_data(path, 1, &fd, err)))
		return rc;
	xts_volume *vol;
	if ((rc = xts_volume_new(fd, info.data_offset, info.data_size, info.sector_size, vk, &vol,
				 err))) {
		close(fd);
		return rc;
	}
	if (o->wipe) {
		time_t last = 0;
		rc = xts_write_zeros(vol, 0, xts_volume_size(vol), wipe_progress, &last, err);
	}
	if (!rc && !o->skip_filesystem)
		rc = ext4_mkfs(vol, o->label ? o->label : LUKS_DEFAULT_LABEL, err);
	if (!rc && fdatasync(fd) != 0 && errno != EINVAL)
		rc = hv_fail(err, HV_EIO, "flushing %s: %s", path, strerror(errno));
	if (rc || !out || o->skip_filesystem) {
		xts_volume_free(vol);
		close(fd);
		return rc;
	}
	char where[600];
	snprintf(where, sizeof(where), "stick %s", path);
	return ext4_vfs_open(vol, fd, where, 1, out, err);
}

int stick_prepare(const char *path, const stick_prepare_opts *o,
		  stick_passphrase_fn get_passphrase, void *ctx, vfs **out, hv_err *err)
{
	if (out)
		*out = NULL;
	if (o->sector_size != 0 && o->sector_size != 512 && o->sector_size != 4096)
		return hv_fail(err, HV_EUSAGE, "sector size %u: use 512, 4096 or auto",
			       o->sector_size);
	if (o->label && strlen(o->label) > 47)
		return hv_fail(err, HV_EUSAGE, "label '%s' is longer than 47 bytes", o->label);
	stick_device d;
	int rc = device_inspect(path, &d, err);
	if (rc)
		return rc;
	if (!d.is_image && o->size)
		return hv_fail(err, HV_EUSAGE, "--size applies to image files only, not %s", path);
	char reasons[1024];
	device_probe_contents(&d);
	if ((rc = device_check_erasable(&d, reasons, sizeof(reasons), err)))
		return rc;
	if (d.exists && d.size && d.size < STICK_MIN_SIZE)
		return hv_fail(err, HV_EUSAGE, "%s has %llu bytes: a stick needs at least %llu MiB",
			       path, (unsigned long long)d.size, STICK_MIN_SIZE >> 20);
	if (d.is_image && o->size && o->size < STICK_MIN_SIZE)
		return hv_fail(err, HV_EUSAGE, "--size %llu is too small: a stick needs at least %llu MiB",
			       (unsigned long long)o->size, STICK_MIN_SIZE >> 20);
	if (d.is_image && (rc = check_image(&d, o, err)))
		return rc;
	if (reasons[0] && (rc = confirm(&d, reasons, o, err)))
		return rc;
	const secbuf *pass = NULL;
	if ((rc = get_passphrase(ctx, &pass, err)))
		return rc;
	int created = 0;
	if (d.is_image && (rc = prepare_image(&d, o, &created, err)))
		return rc;

	luks_format_opts lo = {
		.label = o->label, .sector_size = o->sector_size,
		.insecure_fast_kdf = o->insecure_fast_kdf, .pbkdf_memory_kb = o->pbkdf_memory_kb,
		.iter_time_ms = o->iter_time_ms, .pbkdf_iterations = o->pbkdf_iterations,
	};
	secbuf *vk = NULL;
	rc = luks_format(path, &lo, pass, &vk, o->kdf_out, err);
	if (!rc)
		rc = fill_volume(path, o, vk, out, err);
	secbuf_free(vk);
	if (rc && created)
		unlink(path);
	return rc;
}

int stick_choose_backend(const char *path, const luks_info *info, int *kernel, hv_err *err)
{
	char why[300];
	*kernel = 0;
	if (luks_userspace_can(info, why, sizeof(why)))
		return HV_OK;
	hv_err e;
	hv_err_clear(&e);
	if (kernel_backend_available(&e) == HV_OK) {
		*kernel = 1;
		return HV_OK;
	}
	/* nothing here can read it: say what it is and where it can be read,
	 * never anything that would rewrite it */
	return hv_fail(err, HV_EUSAGE,
		       "%s is %s; only the kernel backend reads that, and it cannot run here (%s): "
		       "run hsmvault as root on a machine with device-mapper (it then uses the "
		       "kernel backend by itself), or open the stick by hand with 'cryptsetup "
		       "open' and mount", path, why,
		       geteuid() != 0 ? "not root" : "no device-mapper");
}

int stick_open_vfs(const char *path, const secbuf *passphrase, int writable, vfs **out,
		   hv_err *err)
{
	*out = NULL;
	luks_info info;
	int kernel = 0;
	int rc = luks_read_info(path, &info, err);
	if (rc || (rc = stick_choose_backend(path, &info, &kernel, err)))
		return rc;
	if (kernel) {
		char fmt[160];
		luks_describe_format(&info, fmt, sizeof(fmt));
		fprintf(stderr, "note: %s is %s, which the userspace backend lacks: opening it "
			"with the kernel backend (dm-crypt)\n", path, fmt);
		/* a reading command maps and mounts read-only there too */
		kernel_backend_set_read_only(!writable);
		rc = kernel_vault_open(path, passphrase, 0, out, NULL, 0, err);
		kernel_backend_set_read_only(0);
		return rc;
	}
	secbuf *vk = NULL;
	rc = luks_unlock(path, passphrase, &vk, &info, err);
	if (rc)
		return rc;
	stick_warn_damage(path, &info);
	int fd;
	if ((rc = open_data(path, writable, &fd, err))) {
		secbuf_free(vk);
		return rc;
	}
	xts_volume *vol;
	rc = xts_volume_new_cipher(fd, info.data_offset, info.data_size, info.sector_size,
				   info.cipher, info.mode, info.iv_offset, vk, &vol, err);
	secbuf_free(vk);
	if (rc) {
		close(fd);
		return rc;
	}
	char where[600];
	snprintf(where, sizeof(where), "stick %s", path);
	return ext4_vfs_open(vol, fd, where, writable, out, err);
}

int stick_status(const char *path, luks_info *info, hv_err *err)
{
	return luks_read_info(path, info, err);
}

static int passphrase_fd = -1;
static int open_read_only;

void stick_set_passphrase_fd(int fd)
{
	passphrase_fd = fd;
}

void stick_set_read_only(int read_only)
{
	open_read_only = read_only;
}

void stick_warn_damage(const char *path, const luks_info *info)
{
	static char warned[512];
	if (!info->damage[0] || !strcmp(warned, path))
		return;
	snprintf(warned, sizeof(warned), "%s", path);
	fprintf(stderr,
		"warning: %s: %s; repair with 'hsmvault stick repair %s' (or 'cryptsetup repair %s') "
		"after making a header backup ('hsmvault stick header-backup %s FILE')\n",
		path, info->damage, path, path, path);
}

int stick_open_vault(const char *path, vfs **out, hv_err *err)
{
	*out = NULL;
	int fd = passphrase_fd;
	const char *env = getenv("HSMVAULT_STICK_PASSPHRASE_FD");
	if (fd < 0 && env && *env) {
		char *end;
		long v = strtol(env, &end, 10);
		if (*end || v < 0 || v > 1 << 20)
			return hv_fail(err, HV_EUSAGE,
				       "HSMVAULT_STICK_PASSPHRASE_FD=%s is not a descriptor number", env);
		fd = (int)v;
	}
	/* check the header first: no passphrase asked for a non-stick */
	luks_info info;
	int kernel;
	int rc = luks_read_info(path, &info, err);
	if (rc || (rc = stick_choose_backend(path, &info, &kernel, err)))
		return rc;
	secbuf *pass = NULL;
	if (fd >= 0)
		rc = secret_from_fd(fd, LUKS_PASSPHRASE_MAX, &pass, err);
	else {
		char prompt[600];
		snprintf(prompt, sizeof(prompt), "Passphrase for stick %s: ", path);
		rc = prompt_secret(prompt, LUKS_PASSPHRASE_MAX, &pass, err);
	}
	if (rc)
		return rc;
	rc = stick_open_vfs(path, pass, !open_read_only, out, err);
	secbuf_free(pass);
	return rc;
}
