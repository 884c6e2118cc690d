#include "stick/device.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <blkid.h>

#include "stick/luks_hdr.h"

/* snprintf without truncation warnings: sysfs names are short, and a
 * truncated path only makes an attribute read as absent. */
static int fmt(char *out, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *out, size_t cap, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int n = vsnprintf(out, cap, f, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < cap ? 0 : -1;
}

/* Reads a small sysfs attribute, trimmed; "" when absent. */
static void read_attr(const char *dir, const char *file, char *out, size_t cap)
{
	char p[PATH_MAX];
	out[0] = '\0';
	fmt(p, sizeof(p), "%s/%s", dir, file);
	FILE *f = fopen(p, "re");
	if (!f)
		return;
	if (!fgets(out, (int)cap, f))
		out[0] = '\0';
	fclose(f);
	size_t n = strlen(out);
	while (n && (out[n - 1] == '\n' || out[n - 1] == ' ' || out[n - 1] == '\t'))
		out[--n] = '\0';
	size_t s = 0;
	while (out[s] == ' ')
		s++;
	memmove(out, out + s, strlen(out + s) + 1);
}

static int has_attr(const char *dir, const char *file)
{
	char p[PATH_MAX];
	fmt(p, sizeof(p), "%s/%s", dir, file);
	return access(p, F_OK) == 0;
}

static void append(char *buf, size_t cap, const char *sep, const char *s)
{
	size_t n = strlen(buf);
	if (n + 1 >= cap)
		return;
	fmt(buf + n, cap - n, "%s%s", n ? sep : "", s);
}

/* The serial of a USB stick lives on an ancestor (the USB device), not on
 * the SCSI disk: look upward from device/. */
static void find_serial(const char *sysdir, char *out, size_t cap)
{
	char p[PATH_MAX], real[PATH_MAX];
	fmt(p, sizeof(p), "%s/device", sysdir);
	if (!realpath(p, real)) {
		out[0] = '\0';
		return;
	}
	for (int i = 0; i < 8; i++) {
		read_attr(real, "serial", out, cap);
		if (out[0])
			return;
		read_attr(real, "wwid", out, cap);
		if (out[0])
			return;
		char *slash = strrchr(real, '/');
		if (!slash || slash == real)
			break;
		*slash = '\0';
	}
	out[0] = '\0';
}

static void probe_signatures(stick_device *d)
{
	blkid_probe pr = blkid_new_probe_from_filename(d->path);
	if (!pr)
		return;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL);
	blkid_probe_enable_partitions(pr, 1);
	int r = blkid_do_safeprobe(pr);
	if (r == -2) {
		fmt(d->type, sizeof(d->type), "several (ambiguous)");
	} else if (r == 0) {
		const char *v;
		if (blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0)
			fmt(d->type, sizeof(d->type), "%s", v);
		if (blkid_probe_lookup_value(pr, "LABEL", &v, NULL) == 0)
			fmt(d->label, sizeof(d->label), "%s", v);
		if (blkid_probe_lookup_value(pr, "PTTYPE", &v, NULL) == 0)
			fmt(d->pttype, sizeof(d->pttype), "%s", v);
	}
	blkid_free_probe(pr);
}

static int range_nonzero(int fd, uint64_t off, size_t len, uint64_t size, unsigned char *buf)
{
	if (off >= size)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, buf, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			if (buf[i])
				return 1;
		got += (size_t)r;
	}
	return 0;
}

int device_holds_data(const char *path, uint64_t size, hv_err *err)
{
	if (size == 0)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return hv_fail(err, HV_EIO, "cannot read %s to see whether it is empty: %s", path,
			       strerror(errno)), -1;
	static unsigned char buf[1 << 20];
	const uint64_t mib = 1 << 20, blk = 4096;
	int r = range_nonzero(fd, 0, mib, size, buf);
	for (uint64_t at = 16 * 1024; r == 0 && at <= 4 * mib; at *= 2)
		r = range_nonzero(fd, at, blk, size, buf);
	if (r == 0 && size > mib)
		r = range_nonzero(fd, size - mib, mib, size, buf);
	for (int i = 1; r == 0 && i <= 256; i++)
		r = range_nonzero(fd, (size / 257 * (uint64_t)i) & ~(blk - 1), blk, size, buf);
	close(fd);
	if (r < 0)
		return hv_fail(err, HV_EIO, "cannot read %s to see whether it is empty: %s", path,
			       strerror(errno)), -1;
	return r;
}

void device_probe_contents(stick_device *d)
{
	if (!d->size)
		return;
	hv_err e;
	hv_err_clear(&e);
	int r = device_holds_data(d->path, d->size, &e);
	d->holds_data = r != 0;
	luks_hdr_state h;
	if (strcmp(d->type, "crypto_LUKS") && luks_hdr_inspect(d->path, &h, &e) == HV_OK) {
		if (h.version == 2 && luks_hdr_needs_repair(&h))
			fmt(d->luks_note, sizeof(d->luks_note), "a LUKS2 header with a damaged copy "
			    "(a vault a header backup or 'hsmvault stick repair' could still open)");
		else if (h.version == 2)
			fmt(d->luks_note, sizeof(d->luks_note), "a LUKS2 header");
	}
}

/* Mounts and swaps that use one of devs (the disk and its partitions). */
static void check_mounts(stick_device *d, const dev_t *devs, size_t ndev)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	while (f && fgets(line, sizeof(line), f)) {
		unsigned ma, mi;
		char mnt[1024];
		/* id parent major:minor root mountpoint ... */
		if (sscanf(line, "%*d %*d %u:%u %*s %1023s", &ma, &mi, mnt) != 3)
			continue;
		for (size_t i = 0; i < ndev; i++) {
			if (devs[i] == makedev(ma, mi)) {
				d->mounted = 1;
				char w[1100];
				fmt(w, sizeof(w), "%u:%u on %s", ma, mi, mnt);
				append(d->mounted_what, sizeof(d->mounted_what), ", ", w);
			}
		}
	}
	if (f)
		fclose(f);
	f = fopen("/proc/swaps", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char dev[1024];
		struct stat st;
		if (sscanf(line, "%1023s", dev) != 1 || stat(dev, &st) != 0)
			continue;
		for (size_t i = 0; i < ndev; i++)
			if (S_ISBLK(st.st_mode) && st.st_rdev == devs[i]) {
				d->held = 1;
				append(d->held_by, sizeof(d->held_by), ", ", "swap");
			}
	}
	if (f)
		fclose(f);
}

static void check_holders(stick_device *d, const char *sysdir)
{
	char p[PATH_MAX];
	fmt(p, sizeof(p), "%s/holders", sysdir);
	DIR *dir = opendir(p);
	struct dirent *de;
	while (dir && (de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		d->held = 1;
		char w[300];
		fmt(w, sizeof(w), "held by %s", de->d_name);
		append(d->held_by, sizeof(d->held_by), ", ", w);
	}
	if (dir)
		closedir(dir);
}

static int inspect_block(const char *path, const struct stat *st, stick_device *d, hv_err *err)
{
	char link[PATH_MAX], sysdir[PATH_MAX];
	fmt(link, sizeof(link), "/sys/dev/block/%u:%u", major(st->st_rdev),
		 minor(st->st_rdev));
	if (!realpath(link, sysdir))
		return hv_fail(err, HV_EIO, "%s: no sysfs entry %s: %s", path, link, strerror(errno));
	const char *base = strrchr(sysdir, '/');
	fmt(d->name, sizeof(d->name), "%s", base ? base + 1 : sysdir);
	if (has_attr(sysdir, "partition")) {
		d->is_partition = 1;
		char parent[PATH_MAX];
		fmt(parent, sizeof(parent), "%s", sysdir);
		char *slash = strrchr(parent, '/');
		if (slash)
			*slash = '\0';
		const char *pb = strrchr(parent, '/');
		fmt(d->parent, sizeof(d->parent), "%s", pb ? pb + 1 : parent);
	}
	char v[64];
	read_attr(sysdir, "removable", v, sizeof(v));
	d->removable = atoi(v) == 1;
	read_attr(sysdir, "size", v, sizeof(v));
	d->size = strtoull(v, NULL, 10) * 512ULL;
	char devdir[PATH_MAX];
	fmt(devdir, sizeof(devdir), "%s/device", sysdir);
	read_attr(devdir, "vendor", d->vendor, sizeof(d->vendor));
	read_attr(devdir, "model", d->model, sizeof(d->model));
	find_serial(sysdir, d->serial, sizeof(d->serial));
	if (!d->model[0] && has_attr(sysdir, "loop")) {
		char back[400];
		fmt(devdir, sizeof(devdir), "%s/loop", sysdir);
		read_attr(devdir, "backing_file", back, sizeof(back));
		fmt(d->model, sizeof(d->model), "loop device on %.100s", back[0] ? back : "?");
	}

	/* partitions, and every dev_t that counts as "this device" */
	dev_t devs[130];
	size_t ndev = 0;
	devs[ndev++] = st->st_rdev;
	DIR *dir = opendir(sysdir);
	struct dirent *de;
	while (dir && (de = readdir(dir))) {
		if (strncmp(de->d_name, d->name, strlen(d->name)) != 0)
			continue;
		char pdir[PATH_MAX];
		fmt(pdir, sizeof(pdir), "%s/%s", sysdir, de->d_name);
		if (!has_attr(pdir, "partition"))
			continue;
		d->npartitions++;
		append(d->partitions, sizeof(d->partitions), " ", de->d_name);
		unsigned ma, mi;
		read_attr(pdir, "dev", v, sizeof(v));
		if (sscanf(v, "%u:%u", &ma, &mi) == 2 && ndev < 130)
			devs[ndev++] = makedev(ma, mi);
		check_holders(d, pdir);
	}
	if (dir)
		closedir(dir);
	check_holders(d, sysdir);
	check_mounts(d, devs, ndev);
	/* The kernel refuses O_EXCL on a block device that is mounted or
	 * claimed by anything (md, dm, another O_EXCL opener). */
	int fd = open(path, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	else if (errno == EBUSY) {
		d->held = 1;
		append(d->held_by, sizeof(d->held_by), ", ", "in use (exclusive open refused)");
	}
	if (d->size)
		probe_signatures(d);
	return HV_OK;
}

/* An image attached to a loop device is in use through it. */
static void check_loop_attachment(stick_device *d)
{
	char real[PATH_MAX];
	if (!realpath(d->path, real))
		return;
	DIR *dir = opendir("/sys/block");
	struct dirent *de;
	while (dir && (de = readdir(dir))) {
		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		char ldir[PATH_MAX], back[PATH_MAX];
		fmt(ldir, sizeof(ldir), "/sys/block/%s/loop", de->d_name);
		read_attr(ldir, "backing_file", back, sizeof(back));
		if (back[0] && strcmp(back, real) == 0) {
			d->held = 1;
			char w[300];
			fmt(w, sizeof(w), "attached to /dev/%s", de->d_name);
			append(d->held_by, sizeof(d->held_by), ", ", w);
		}
	}
	if (dir)
		closedir(dir);
}

int device_inspect(const char *path, stick_device *d, hv_err *err)
{
	memset(d, 0, sizeof(*d));
	fmt(d->path, sizeof(d->path), "%s", path);
	struct stat st;
	if (stat(path, &st) != 0) {
		if (errno != ENOENT)
			return hv_fail(err, HV_EIO, "cannot inspect %s: %s", path, strerror(errno));
		d->is_image = 1;
		d->removable = 1;
		return HV_OK;
	}
	d->exists = 1;
	if (S_ISBLK(st.st_mode))
		return inspect_block(path, &st, d, err);
	if (!S_ISREG(st.st_mode))
		return hv_fail(err, HV_EUSAGE,
			       "%s is neither a block device nor a regular image file", path);
	d->is_image = 1;
	d->removable = 1;
	d->size = (uint64_t)st.st_size;
	fmt(d->model, sizeof(d->model), "image file");
	check_loop_attachment(d);
	if (d->size)
		probe_signatures(d);
	return HV_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int device_list(stick_device **out, size_t *count, hv_err *err)
{
	*out = NULL;
	*count = 0;
	DIR *dir = opendir("/sys/block");
	if (!dir)
		return hv_fail(err, HV_EIO, "cannot list /sys/block: %s", strerror(errno));
	char *names[256];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dir)) && n < 256) {
		if (de->d_name[0] == '.' || !strncmp(de->d_name, "ram", 3) ||
		    !strncmp(de->d_name, "zram", 4))
			continue;
		char v[64], sysdir[PATH_MAX];
		fmt(sysdir, sizeof(sysdir), "/sys/block/%s", de->d_name);
		read_attr(sysdir, "size", v, sizeof(v));
		if (strtoull(v, NULL, 10) == 0) /* empty loop devices, card readers */
			continue;
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(dir);
	qsort(names, n, sizeof(char *), cmp_str);
	stick_device *devs = calloc(n ? n : 1, sizeof(*devs));
	if (!devs) {
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		return hv_fail(err, HV_ENOMEM, "out of memory listing devices");
	}
	size_t got = 0;
	for (size_t i = 0; i < n; i++) {
		char path[300];
		hv_err e;
		hv_err_clear(&e);
		fmt(path, sizeof(path), "/dev/%s", names[i]);
		if (device_inspect(path, &devs[got], &e) == HV_OK && !devs[got].is_image)
			got++;
		free(names[i]);
	}
	*out = devs;
	*count = got;
	return HV_OK;
}

int device_check_erasable(const stick_device *d, char *reasons, size_t cap, hv_err *err)
{
	reasons[0] = '\0';
	if (d->is_partition)
		return hv_fail(err, HV_EUSAGE,
			       "%s is a partition of /dev/%s: a vault stick uses the whole device; "
			       "name /dev/%s (after checking it is the right one with 'hsmvault stick list')",
			       d->path, d->parent, d->parent);
	if (d->mounted)
		return hv_fail(err, HV_ESAFETY,
			       "%s is mounted (%s): unmount it first if it really is the stick to erase; "
			       "nothing was changed", d->path, d->mounted_what);
	if (d->held)
		return hv_fail(err, HV_ESAFETY,
			       "%s is in use (%s): release it first if it really is the stick to erase; "
			       "nothing was changed", d->path, d->held_by);
	char w[300];
	if (d->pttype[0]) {
		fmt(w, sizeof(w), "it holds a partition table (%s)", d->pttype);
		append(reasons, cap, "; ", w);
	}
	if (d->npartitions) {
		fmt(w, sizeof(w), "it has partitions (%s)", d->partitions);
		append(reasons, cap, "; ", w);
	}
	if (d->type[0]) {
		fmt(w, sizeof(w), "it holds a filesystem or other signature (%s%s%s)", d->type,
			 d->label[0] ? ", label " : "", d->label);
		append(reasons, cap, "; ", w);
	}
	if (d->luks_note[0]) {
		fmt(w, sizeof(w), "it holds %s", d->luks_note);
		append(reasons, cap, "; ", w);
	}
	if (d->holds_data && !d->type[0] && !d->pttype[0] && !d->luks_note[0])
		append(reasons, cap, "; ", "it holds data no tool recognizes, not all zeros: "
		       "random bytes may be an old encrypted stick");
	if (!d->removable)
		append(reasons, cap, "; ", "the kernel does not report it as removable");
	return HV_OK;
}

void device_format_size(uint64_t bytes, char *out, size_t cap)
{
	const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		fmt(out, cap, "%llu B", (unsigned long long)bytes);
	else
		fmt(out, cap, "%.1f %s", v, unit[u]);
}

void device_describe(const stick_device *d, char *out, size_t cap)
{
	char size[32];
	device_format_size(d->size, size, sizeof(size));
	fmt(out, cap,
		 "  device:     %s\n"
		 "  model:      %s%s%s\n"
		 "  size:       %s (%llu bytes)\n"
		 "  serial:     %s\n"
		 "  removable:  %s\n"
		 "  contents:   %s%s%s%s%s\n"
		 "  partitions: %s\n",
		 d->path, d->vendor, d->vendor[0] ? " " : "", d->model[0] ? d->model : "(unknown)",
		 size, (unsigned long long)d->size, d->serial[0] ? d->serial : "(unknown)",
		 d->is_image ? "image file" : d->removable ? "yes" : "no",
		 d->pttype[0] ? "partition table " : "", d->pttype, d->pttype[0] && d->type[0] ? ", " : "",
		 d->type[0] ? d->type : "",
		 d->pttype[0] || d->type[0] ? "" : d->luks_note[0] ? d->luks_note
		 : d->holds_data ? "unrecognized data (not all zeros)" : "empty (all zeros)",
		 d->npartitions ? d->partitions : "none");
}

int device_same(const char *a, const char *b)
{
	struct stat sa, sb;
	if (!a || !b || stat(a, &sa) != 0 || stat(b, &sb) != 0)
		return 0;
	if (S_ISBLK(sa.st_mode) || S_ISBLK(sb.st_mode))
		return S_ISBLK(sa.st_mode) && S_ISBLK(sb.st_mode) && sa.st_rdev == sb.st_rdev;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
