/* The kernel backend: dm-crypt through libcryptsetup, ext4 through mount(2),
 * presented as the vault's folder vfs. Every mapping and mount this process
 * makes is recorded in a small table so that it can be torn down on close,
 * at exit and from a SIGINT/SIGTERM handler; the handler uses only
 * async-signal-safe system calls (umount2, the device-mapper ioctl, unlink,
 * rmdir) because it may interrupt libcryptsetup itself. */
#include "stick/kernel_backend.h"
#include "stick/luks.h"

#include <errno.h>
#include <fcntl.h>
#include <libcryptsetup.h>
#include <linux/dm-ioctl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vfs/vfs_dir.h"

#define NEEDS_MSG "the kernel backend needs root and device-mapper (dm-crypt); " \
	"use the default userspace backend"
#define DM_CONTROL "/dev/mapper/control"
#define NAME_PREFIX "hsmvault-"
/* The ext4 root is mounted one level below a 0700 folder of ours, so its
 * own mode (0755 from mkfs) does not open it to other users. */
#define MOUNT_LEAF "/vault"

/* One volume this process activated; keep = leave it for `stick close`.
 * pid: the activating process; a forked child that exits must not tear
 * down its parent's volumes. */
struct active {
	volatile sig_atomic_t used;
	pid_t pid;
	int keep;
	int mounted;
	char name[64];
	char mountpoint[128];
};

#define MAX_ACTIVE 8
static struct active active_tab[MAX_ACTIVE];
static int cleanup_installed;

/* Removes a mapping with the raw ioctl: usable from a signal handler. The
 * removal is deferred: at exit or on a signal the folder vfs may still
 * hold a descriptor inside the (lazily unmounted) filesystem, which keeps
 * the mapping open until the process is gone; the kernel then removes it. */
static int dm_remove_raw(const char *name)
{
	struct dm_ioctl dmi;
	int fd = open(DM_CONTROL, O_RDWR | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	memset(&dmi, 0, sizeof(dmi));
	dmi.version[0] = DM_VERSION_MAJOR;
	dmi.version[1] = 0;
	dmi.version[2] = 0;
	dmi.data_size = sizeof(dmi);
	dmi.data_start = sizeof(dmi);
	dmi.flags = DM_DEFERRED_REMOVE;
	/* strncpy into a zeroed field keeps the terminator: name < DM_NAME_LEN. */
	strncpy(dmi.name, name, sizeof(dmi.name) - 1);
	rc = ioctl(fd, DM_DEV_REMOVE, &dmi);
	close(fd);
	return rc;
}

/* Removes the mount folder "<base>/hsmvault-XXXXXX/vault" and its private
 * parent; other folders are left alone. Async-signal-safe. */
static void remove_mount_dirs(const char *mp)
{
	char parent[128];
	size_t n = strlen(mp);
	char *slash;

	if (n >= sizeof(parent) || n < sizeof(MOUNT_LEAF) ||
	    strcmp(mp + n - (sizeof(MOUNT_LEAF) - 1), MOUNT_LEAF) != 0)
		return;
	rmdir(mp);
	memcpy(parent, mp, n - (sizeof(MOUNT_LEAF) - 1));
	parent[n - (sizeof(MOUNT_LEAF) - 1)] = '\0';
	slash = strrchr(parent, '/');
	if (slash && strncmp(slash + 1, NAME_PREFIX, sizeof(NAME_PREFIX) - 1) == 0)
		rmdir(parent);
}

/* Async-signal-safe teardown of one entry. Without udev, libdevmapper made
 * the /dev/mapper node itself, so it is removed here too. */
static void teardown_raw(struct active *a)
{
	char node[128];
	size_t n = sizeof("/dev/mapper/") - 1;
	size_t l = strlen(a->name);

	if (a->mounted) {
		if (umount2(a->mountpoint, 0) != 0)
			umount2(a->mountpoint, MNT_DETACH);
		remove_mount_dirs(a->mountpoint);
	}
	if (dm_remove_raw(a->name) == 0 && n + l < sizeof(node)) {
		memcpy(node, "/dev/mapper/", n);
		memcpy(node + n, a->name, l + 1);
		unlink(node);
	}
	a->used = 0;
}

/* Everything this process set up, except volumes kept for `stick close`. */
static void cleanup_all(void)
{
	pid_t self = getpid();

	for (int i = 0; i < MAX_ACTIVE; i++)
		if (active_tab[i].used && active_tab[i].pid == self &&
		    !active_tab[i].keep)
			teardown_raw(&active_tab[i]);
}

static void cleanup_at_exit(void)
{
	cleanup_all();
}

static void cleanup_on_signal(int sig)
{
	cleanup_all();
	/* Die of the same signal so the parent sees what happened. */
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_cleanup(void)
{
	struct sigaction sa;

	if (cleanup_installed)
		return;
	cleanup_installed = 1;
	atexit(cleanup_at_exit);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cleanup_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static struct active *active_add(const char *name)
{
	for (int i = 0; i < MAX_ACTIVE; i++) {
		struct active *a = &active_tab[i];
		if (!a->used) {
			memset(a, 0, sizeof(*a));
			snprintf(a->name, sizeof(a->name), "%s", name);
			a->pid = getpid();
			a->used = 1;
			return a;
		}
	}
	return NULL;
}

/* Set by kernel_backend_set_read_only: the next opens map and mount read-only. */
static int open_read_only;

void kernel_backend_set_read_only(int read_only)
{
	open_read_only = read_only;
}

int kernel_backend_available(hv_err *err)
{
	struct dm_ioctl dmi;
	int fd, rc, e;

	if (geteuid() != 0)
		return hv_fail(err, HV_EUSAGE, NEEDS_MSG " (not running as root)");
	fd = open(DM_CONTROL, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return hv_fail(err, HV_EUSAGE, NEEDS_MSG " (%s: %s)", DM_CONTROL,
			       strerror(errno));
	memset(&dmi, 0, sizeof(dmi));
	dmi.version[0] = DM_VERSION_MAJOR;
	dmi.data_size = sizeof(dmi);
	dmi.data_start = sizeof(dmi);
	rc = ioctl(fd, DM_VERSION, &dmi);
	e = errno;
	close(fd);
	if (rc != 0)
		return hv_fail(err, HV_EUSAGE, NEEDS_MSG " (device-mapper does not answer: %s)",
			       strerror(e));
	return 0;
}

/* ext4 keeps 16 bytes of volume name. */
#define EXT4_LABEL_MAX 16

/* libcryptsetup's log lines: dropped, the return codes carry the cause. */
static void quiet_log(int level, const char *msg, void *usrptr)
{
	(void)level;
	(void)msg;
	(void)usrptr;
}

/* Activates device under a fresh name "hsmvault-<pid>[-n]", recorded for
 * teardown; label (may be NULL) receives the LUKS2 label. */
static int activate(const char *device, const secbuf *passphrase,
		    struct active **out, char *label, size_t label_len, hv_err *err)
{
	static unsigned counter;
	struct crypt_device *cd = NULL;
	char name[64];
	struct active *a;
	int r;

	if (kernel_backend_available(err) != 0)
		return err ? err->code : HV_EUSAGE;
	if (!passphrase || !passphrase->data)
		return hv_fail(err, HV_EINTERNAL, "no passphrase given to the kernel backend");
	if (counter == 0)
		snprintf(name, sizeof(name), NAME_PREFIX "%ld", (long)getpid());
	else
		snprintf(name, sizeof(name), NAME_PREFIX "%ld-%u", (long)getpid(), counter);
	counter++;

	/* libcryptsetup would rewrite a damaged header copy while loading it:
	 * only 'stick repair' may do that. Its own lines are never printed. */
	char damage[200];
	if ((r = luks_damage(device, damage, sizeof(damage), err)) != HV_OK)
		return r;
	if (damage[0])
		return hv_fail(err, HV_EINTEGRITY, "%s: %s; make a header backup ('hsmvault stick "
			       "header-backup %s FILE') and repair it ('hsmvault stick repair %s'), or "
			       "use the userspace backend, which reads it without writing", device,
			       damage, device, device);
	crypt_set_log_callback(NULL, quiet_log, NULL);
	r = crypt_init(&cd, device);
	if (r < 0)
		return hv_fail(err, HV_EIO, "%s: cannot open the device: %s", device,
			       strerror(-r));
	crypt_set_log_callback(cd, quiet_log, NULL);
	r = crypt_load(cd, CRYPT_LUKS, NULL); /* LUKS1 or LUKS2: sticks made by hand too */
	if (r < 0) {
		crypt_free(cd);
		return hv_fail(err, HV_EUSAGE, "%s: no LUKS header (%s): is this a stick "
			       "prepared by hsmvault?", device, strerror(-r));
	}
	if (label && label_len > 0) {
		const char *l = crypt_get_label(cd);
		snprintf(label, label_len, "%s", l ? l : "");
	}
	install_cleanup();
	a = active_add(name);
	if (!a) {
		crypt_free(cd);
		return hv_fail(err, HV_EINTERNAL, "too many volumes open at once");
	}
	r = crypt_activate_by_passphrase(cd, name, CRYPT_ANY_SLOT,
					 (const char *)passphrase->data, passphrase->len,
					 open_read_only ? CRYPT_ACTIVATE_READONLY : 0);
	crypt_free(cd);
	if (r < 0) {
		a->used = 0;
		if (r == -EPERM)
			return hv_fail(err, HV_ESECRET, "%s: wrong passphrase", device);
		if (r == -EBUSY || r == -EEXIST)
			return hv_fail(err, HV_EIO, "%s: already in use (open elsewhere, "
				       "or a mapping named %s exists)", device, name);
		return hv_fail(err, HV_EIO, "%s: dm-crypt activation failed: %s (" NEEDS_MSG ")",
			       device, strerror(-r));
	}
	*out = a;
	return 0;
}

/* Deactivates through libcryptsetup (which also removes the node). */
static int deactivate(struct active *a, hv_err *err)
{
	int r = crypt_deactivate(NULL, a->name);

	if (r < 0 && r != -ENODEV) {
		/* Fall back to the raw ioctl before giving up. */
		if (dm_remove_raw(a->name) != 0)
			return hv_fail(err, HV_EIO, "cannot remove the mapping %s: %s",
				       a->name, strerror(-r));
	}
	a->used = 0;
	return 0;
}

static int mapper_path(const struct active *a, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", crypt_get_dir(), a->name);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Runs the system's mkfs.ext4: full paths first, because a busybox in PATH
 * may answer to mke2fs names with a different option set. */
static int run_mkfs(const char *target, const char *label, hv_err *err)
{
	static const char *const paths[] = { "/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4" };
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return hv_fail(err, HV_EIO, "cannot start mkfs.ext4: %s", strerror(errno));
	if (pid == 0) {
		/* The ext4 label repeats the LUKS2 label, as the userspace
		 * backend's mkfs does. */
		char *argv[] = { "mkfs.ext4", "-q", "-F", "-b", "4096", "-L", (char *)label,
				 (char *)target, NULL };
		int fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 0);
			if (fd > 2)
				close(fd);
		}
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
			execv(paths[i], argv);
		execvp("mkfs.ext4", argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return hv_fail(err, HV_EIO, "waiting for mkfs.ext4: %s", strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return hv_fail(err, HV_EIO, "mkfs.ext4 not found: install e2fsprogs");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return hv_fail(err, HV_EIO, "mkfs.ext4 on %s failed (status %d)", target,
			       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}

int kernel_stick_format_fs(const char *device, const secbuf *passphrase,
			   hv_err *err)
{
	struct active *a;
	char node[256], label[EXT4_LABEL_MAX + 1];
	int rc;

	rc = activate(device, passphrase, &a, label, sizeof(label), err);
	if (rc != 0)
		return rc;
	if (mapper_path(a, node, sizeof(node)) != 0)
		rc = hv_fail(err, HV_EINTERNAL, "mapping path too long");
	else
		rc = run_mkfs(node, label, err);
	if (rc != 0) {
		deactivate(a, NULL);
		return hv_err_prefix(err, "making ext4 on %s", device);
	}
	return deactivate(a, err);
}

/* The wrapping vfs: every operation goes to the folder vfs on the mount
 * point; close also unmounts and deactivates (unless kept). */
struct kernel_vfs {
	vfs self;
	vfs *inner;
	struct active *a;
};

static vfs *inner_of(vfs *v)
{
	return ((struct kernel_vfs *)v->impl)->inner;
}

static int kv_read(vfs *v, const char *p, size_t max, uint8_t **d, size_t *l, hv_err *e)
{
	return vfs_read(inner_of(v), p, max, d, l, e);
}

static int kv_list(vfs *v, const char *dir, char ***n, size_t *c, hv_err *e)
{
	return vfs_list(inner_of(v), dir, n, c, e);
}

static int kv_write_atomic(vfs *v, const char *p, const void *d, size_t l, hv_err *e)
{
	return vfs_write_atomic(inner_of(v), p, d, l, e);
}

static int kv_mkdir(vfs *v, const char *p, hv_err *e)
{
	return vfs_mkdir(inner_of(v), p, e);
}

static int kv_exists(vfs *v, const char *p, hv_err *e)
{
	return vfs_exists(inner_of(v), p, e);
}

static int kv_sync(vfs *v, hv_err *e)
{
	return vfs_sync(inner_of(v), e);
}

static int release(struct active *a, hv_err *err)
{
	if (a->mounted) {
		if (umount2(a->mountpoint, 0) != 0) {
			int e = errno;
			/* Busy (a shell sits in it): detach now, freed when idle. */
			if (umount2(a->mountpoint, MNT_DETACH) != 0)
				return hv_fail(err, HV_EIO, "cannot unmount %s: %s",
					       a->mountpoint, strerror(e));
		}
		a->mounted = 0;
		remove_mount_dirs(a->mountpoint);
	}
	return deactivate(a, err);
}

static void kv_close(vfs *v)
{
	struct kernel_vfs *k = v->impl;

	vfs_close(k->inner);
	sync();
	if (!k->a->keep)
		release(k->a, NULL);
	free(k);
}

static const struct vfs_ops kernel_vfs_ops = {
	.read = kv_read,
	.list = kv_list,
	.write_atomic = kv_write_atomic,
	.mkdir = kv_mkdir,
	.exists = kv_exists,
	.sync = kv_sync,
	.close = kv_close,
};

static int make_mountpoint(char *buf, size_t len, hv_err *err)
{
	static const char *const bases[] = { "/run", "/tmp" };

	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		int n = snprintf(buf, len, "%s/" NAME_PREFIX "XXXXXX", bases[i]);
		if (n < 0 || (size_t)n + sizeof(MOUNT_LEAF) > len)
			break;
		/* mkdtemp makes the folder 0700: only root looks inside. */
		if (!mkdtemp(buf))
			continue;
		memcpy(buf + n, MOUNT_LEAF, sizeof(MOUNT_LEAF));
		if (mkdir(buf, 0700) == 0)
			return 0;
		buf[n] = '\0';
		rmdir(buf);
	}
	return hv_fail(err, HV_EIO, "cannot make a private mount folder under /run or /tmp: %s",
		       strerror(errno));
}

int kernel_vault_open(const char *device, const secbuf *passphrase,
		      int keep_mounted, vfs **out, char *mountpoint_out,
		      size_t mp_len, hv_err *err)
{
	struct kernel_vfs *k;
	struct active *a;
	char node[256];
	int rc;

	*out = NULL;
	/* Until the vfs is ready, an interrupted open is torn down. */
	rc = activate(device, passphrase, &a, NULL, 0, err);
	if (rc != 0)
		return rc;
	if (mapper_path(a, node, sizeof(node)) != 0) {
		deactivate(a, NULL);
		return hv_fail(err, HV_EINTERNAL, "mapping path too long");
	}
	rc = make_mountpoint(a->mountpoint, sizeof(a->mountpoint), err);
	if (rc != 0) {
		deactivate(a, NULL);
		return rc;
	}
	if (mount(node, a->mountpoint, "ext4",
		  MS_NOSUID | MS_NODEV | MS_NOEXEC | (open_read_only ? MS_RDONLY : 0), "") != 0) {
		int e = errno;
		remove_mount_dirs(a->mountpoint);
		deactivate(a, NULL);
		return hv_fail(err, HV_EIO, "%s: cannot mount its ext4 filesystem: %s "
			       "(is the ext4 module loaded? was the stick prepared by hsmvault?)",
			       device, strerror(e));
	}
	a->mounted = 1;

	k = calloc(1, sizeof(*k));
	if (!k) {
		release(a, NULL);
		return hv_fail(err, HV_ENOMEM, "out of memory");
	}
	rc = vfs_dir_open(a->mountpoint, 0, &k->inner, err);
	if (rc != 0) {
		free(k);
		release(a, NULL);
		return rc;
	}
	k->a = a;
	k->self.ops = &kernel_vfs_ops;
	k->self.impl = k;
	snprintf(k->self.where, sizeof(k->self.where), "stick %s (kernel, %s)", device,
		 a->mountpoint);
	if (mountpoint_out && mp_len > 0)
		snprintf(mountpoint_out, mp_len, "%s", a->mountpoint);
	a->keep = keep_mounted;
	*out = &k->self;
	return 0;
}

/* Copies src when it fits (with its terminator); -1 otherwise. */
static int copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* Reads /proc/self/mounts for the device mounted on mountpoint. */
static int device_of_mount(const char *mountpoint, char *dev, size_t len)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char line[1024];
	int found = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char d[512], m[512];
		if (sscanf(line, "%511s %511s", d, m) == 2 && strcmp(m, mountpoint) == 0) {
			/* the last entry wins: it is the one on top */
			found = copy_str(dev, len, d);
		}
	}
	fclose(f);
	return found;
}

/* The mount point of a mapping (first match), or -1. */
static int mount_of_device(const char *node, char *mp, size_t len)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char line[1024];
	int found = -1;

	if (!f)
		return -1;
	while (found != 0 && fgets(line, sizeof(line), f)) {
		char d[512], m[512];
		if (sscanf(line, "%511s %511s", d, m) == 2 && strcmp(d, node) == 0) {
			found = copy_str(mp, len, m);
		}
	}
	fclose(f);
	return found;
}

int kernel_vault_close(const char *what, hv_err *err)
{
	struct active a;
	char node[256], mp[128] = "", dev[256];
	const char *base;
	int rc;

	if (geteuid() != 0)
		return hv_fail(err, HV_EUSAGE, NEEDS_MSG " (not running as root)");
	memset(&a, 0, sizeof(a));
	base = strrchr(what, '/');
	base = base ? base + 1 : what;

	if (what[0] == '/' && strncmp(what, "/dev/", 5) != 0) {
		/* A mount point: find the mapping behind it. */
		snprintf(mp, sizeof(mp), "%s", what);
		if (device_of_mount(mp, dev, sizeof(dev)) != 0)
			return hv_fail(err, HV_EUSAGE, "%s is not mounted: give a mount point "
				       "or mapping name that `stick open` printed", what);
		base = strrchr(dev, '/');
		base = base ? base + 1 : dev;
	}
	if (strncmp(base, NAME_PREFIX, sizeof(NAME_PREFIX) - 1) != 0 ||
	    strlen(base) >= sizeof(a.name))
		return hv_fail(err, HV_EUSAGE, "%s is not a volume opened by hsmvault "
			       "(names start with " NAME_PREFIX ")", what);
	memcpy(a.name, base, strlen(base) + 1);
	snprintf(node, sizeof(node), "%s/%s", crypt_get_dir(), a.name);
	if (mp[0] == '\0')
		mount_of_device(node, mp, sizeof(mp));
	if (mp[0] != '\0') {
		/* Only our own private folders are removed after unmounting. */
		snprintf(a.mountpoint, sizeof(a.mountpoint), "%s", mp);
		a.mounted = 1;
	}
	a.used = 1;
	if (a.mounted) {
		sync();
		if (umount2(a.mountpoint, 0) != 0)
			return hv_fail(err, HV_EIO, "cannot unmount %s: %s (is a program "
				       "still using it?)", a.mountpoint, strerror(errno));
		a.mounted = 0;
		remove_mount_dirs(a.mountpoint);
	}
	rc = crypt_deactivate(NULL, a.name);
	if (rc == -ENODEV)
		return hv_fail(err, HV_EUSAGE, "no open volume named %s", a.name);
	if (rc < 0)
		return hv_fail(err, HV_EIO, "cannot remove the mapping %s: %s", a.name,
			       strerror(-rc));
	return 0;
}
