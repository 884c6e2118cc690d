#include "vfs/vfs_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileio.h"

#define VFS_PATH_MAX 1024

struct dir_impl {
	int rootfd;
	/* The folder of the last file read or looked at, kept open: reading
	 * every key of keys/<KCV>/ then walks that path once, not once per
	 * file (one openat per file instead of a walk from the root). */
	char cached[VFS_PATH_MAX];
	int cachedfd;            /* -1: none */
	/* Folders already cleared of a killed writer's temporary files
	 * (sweep_stale_temps): each is listed once per process. */
	char **swept;
	size_t n_swept, cap_swept;
};

static int rootfd_of(vfs *v)
{
	return ((struct dir_impl *)v->impl)->rootfd;
}

int vfs_path_check(const char *path, hv_err *err)
{
	if (!path || !*path)
		return hv_fail(err, HV_EUSAGE, "empty path inside the vault");
	size_t n = strlen(path);
	if (n >= VFS_PATH_MAX)
		return hv_fail(err, HV_EUSAGE, "vault path is longer than %d bytes: %.60s...",
			       VFS_PATH_MAX - 1, path);
	if (path[0] == '/')
		return hv_fail(err, HV_EUSAGE,
			       "%s is an absolute path: paths in a vault are relative to the vault", path);
	const char *p = path;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0)
			return hv_fail(err, HV_EUSAGE, "%s has an empty path component", path);
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return hv_fail(err, HV_EUSAGE,
				       "%s contains a \".\" or \"..\" component: "
				       "paths in a vault never leave or revisit a folder", path);
		if (len > NAME_MAX)
			return hv_fail(err, HV_EUSAGE, "%s has a component longer than %d bytes",
				       path, NAME_MAX);
		if (!slash)
			return HV_OK;
		p = slash + 1;
	}
}

static int link_refused(vfs *v, const char *path, size_t prefix_len, hv_err *err)
{
	return hv_fail(err, HV_EINTEGRITY,
		       "%.*s is a symbolic link; hsmvault never follows links in a vault (%s): "
		       "replace it with the real file or folder",
		       (int)prefix_len, path, v->where);
}

/* Opens folder comp inside at (comp = path[start .. start+len)), making it
 * when create is set. *out is -1 when it does not exist (and !create). */
static int open_sub(vfs *v, int at, const char *path, size_t start, size_t len,
		    int create, int *out, hv_err *err)
{
	char comp[NAME_MAX + 1];
	memcpy(comp, path + start, len);
	comp[len] = '\0';
	int created = 0;
	*out = -1;
	if (create) {
		if (mkdirat(at, comp, 0700) == 0)
			created = 1;
		else if (errno != EEXIST)
			return hv_fail(err, HV_EIO, "cannot create folder %.*s (%s): %s",
				       (int)(start + len), path, v->where, strerror(errno));
	}
	int fd = openat(at, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		struct stat st;
		if (e == ENOENT)
			return HV_OK;
		if (fstatat(at, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (S_ISLNK(st.st_mode))
				return link_refused(v, path, start + len, err);
			if (!S_ISDIR(st.st_mode))
				return hv_fail(err, HV_EINTEGRITY,
					       "%.*s is not a folder (%s): move it away",
					       (int)(start + len), path, v->where);
		}
		return hv_fail(err, HV_EIO, "cannot open folder %.*s (%s): %s",
			       (int)(start + len), path, v->where, strerror(e));
	}
	/* A new folder entry is durable only once its parent is synced. */
	if (created && fsync(at) != 0) {
		int e = errno;
		close(fd);
		return hv_fail(err, HV_EIO, "cannot sync the folder above %.*s (%s): %s",
			       (int)(start + len), path, v->where, strerror(e));
	}
	*out = fd;
	return HV_OK;
}

/* Walks the folders of path from the vault root. With whole set, the last
 * component is a folder too; otherwise it is left for the caller and
 * *base points at it. *dirfd is -1 when a folder is missing. */
static int walk(vfs *v, const char *path, int whole, int create, int *dirfd,
		const char **base, hv_err *err)
{
	int cur = dup(rootfd_of(v));
	*dirfd = -1;
	if (cur < 0)
		return hv_fail(err, HV_EIO, "cannot use %s: %s", v->where, strerror(errno));
	size_t start = 0;
	for (;;) {
		const char *slash = strchr(path + start, '/');
		size_t len = slash ? (size_t)(slash - (path + start)) : strlen(path + start);
		if (!slash && !whole) {
			if (base)
				*base = path + start;
			break;
		}
		int next;
		int rc = open_sub(v, cur, path, start, len, create, &next, err);
		close(cur);
		if (rc != HV_OK)
			return rc;
		if (next < 0)
			return HV_OK;
		cur = next;
		if (!slash)
			break;
		start += len + 1;
	}
	*dirfd = cur;
	return HV_OK;
}

/* The open folder holding path's last component, borrowed (the caller
 * does not close it): the root, or the cached folder, or a fresh walk
 * that then replaces the cache. *dfd is -1 when the folder is missing. */
static int parent_fd(vfs *v, const char *path, int *dfd, const char **base, hv_err *err)
{
	struct dir_impl *d = v->impl;
	const char *slash = strrchr(path, '/');
	*dfd = -1;
	if (!slash) {
		*base = path;
		*dfd = d->rootfd;
		return HV_OK;
	}
	size_t n = (size_t)(slash - path);
	*base = slash + 1;
	if (d->cachedfd >= 0 && strlen(d->cached) == n && !memcmp(d->cached, path, n)) {
		*dfd = d->cachedfd;
		return HV_OK;
	}
	int fd;
	const char *b;
	int rc = walk(v, path, 0, 0, &fd, &b, err);
	if (rc != HV_OK || fd < 0)
		return rc;
	if (d->cachedfd >= 0)
		close(d->cachedfd);
	memcpy(d->cached, path, n);
	d->cached[n] = '\0';
	d->cachedfd = fd;
	*dfd = fd;
	return HV_OK;
}

static void forget_cached(vfs *v)
{
	struct dir_impl *d = v->impl;
	if (d->cachedfd >= 0)
		close(d->cachedfd);
	d->cachedfd = -1;
	d->cached[0] = '\0';
}

static int dir_read(vfs *v, const char *path, size_t max, uint8_t **data,
		    size_t *len, hv_err *err)
{
	*data = NULL;
	*len = 0;
	int rc = vfs_path_check(path, err);
	if (rc)
		return rc;
	int dfd;
	const char *base;
	if ((rc = parent_fd(v, path, &dfd, &base, err)) != HV_OK)
		return rc;
	if (dfd < 0)
		return hv_fail(err, HV_EUSAGE, "%s does not exist (%s)", path, v->where);
	/* O_NONBLOCK: a FIFO planted in the vault must not hang the open. */
	int fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	int e = errno;
	if (fd < 0) {
		if (e == ELOOP)
			return link_refused(v, path, strlen(path), err);
		if (e == ENOENT)
			return hv_fail(err, HV_EUSAGE, "%s does not exist (%s)", path, v->where);
		return hv_fail(err, HV_EIO, "cannot open %s (%s): %s", path, v->where, strerror(e));
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return hv_fail(err, HV_EINTEGRITY, "%s is not a regular file (%s): move it away",
			       path, v->where);
	}
	if ((unsigned long long)st.st_size > max) {
		close(fd);
		return hv_fail(err, HV_EINTEGRITY,
			       "%s is %lld bytes, more than the %zu a vault file of its kind may have (%s)",
			       path, (long long)st.st_size, max, v->where);
	}
	char name[HV_ERR_MSG_MAX + sizeof(v->where)]; /* never cut: -Wformat-truncation */
	snprintf(name, sizeof(name), "%s (%s)", path, v->where);
	rc = file_read_fd(fd, (size_t)st.st_size, name, data, err);
	close(fd);
	if (rc == HV_OK)
		*len = (size_t)st.st_size;
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int dir_list(vfs *v, const char *dir, char ***names, size_t *count, hv_err *err)
{
	*names = NULL;
	*count = 0;
	int dfd;
	int rc;
	if (dir && *dir) {
		if ((rc = vfs_path_check(dir, err)) != HV_OK)
			return rc;
		if ((rc = walk(v, dir, 1, 0, &dfd, NULL, err)) != HV_OK)
			return rc;
		if (dfd < 0)
			return HV_OK;
	} else {
		/* not dup(): a dup shares the read position, and a second
		 * listing of the root would start at its end */
		dfd = openat(rootfd_of(v), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return hv_fail(err, HV_EIO, "cannot use %s: %s", v->where, strerror(errno));
	}
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return hv_fail(err, HV_EIO, "cannot list %s (%s): %s", dir ? dir : ".", v->where,
			       strerror(errno));
	}
	char **list = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 32;
			char **nl = realloc(list, nc * sizeof(*nl));
			if (!nl)
				goto nomem;
			list = nl;
			cap = nc;
		}
		if (!(list[n] = strdup(de->d_name)))
			goto nomem;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(list, n, sizeof(*list), cmp_names);
	*names = list;
	*count = n;
	return HV_OK;
nomem:
	closedir(d);
	vfs_names_free(list, n);
	return hv_fail(err, HV_ENOMEM, "out of memory listing %s", dir ? dir : ".");
}

/* The pid in a temporary name ".NAME.PID.tmp" (util/fileio.c), or 0
 * when name is not one. */
static long temp_owner(const char *name)
{
	size_t n = strlen(name);
	if (n < 8 || name[0] != '.' || strcmp(name + n - 4, ".tmp"))
		return 0;
	const char *end = name + n - 4, *p = end;
	while (p > name + 1 && p[-1] >= '0' && p[-1] <= '9')
		p--;
	if (p == end || p[-1] != '.' || p - 1 == name + 1 || end - p > 9)
		return 0;
	return strtol(p, NULL, 10);
}

/* A process killed between creating its temporary file and the rename
 * (kill -9, power cut) leaves ".NAME.PID.tmp" behind: never read as
 * data, but it stays on the stick for good. The first write into a
 * folder removes those whose writer no longer runs (a live pid may be
 * another hsmvault writing now, and is left alone). */
static int sweep_stale_temps(vfs *v, const char *path, int dfd, hv_err *err)
{
	struct dir_impl *d = v->impl;
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	for (size_t i = 0; i < d->n_swept; i++)
		if (strlen(d->swept[i]) == n && !memcmp(d->swept[i], path, n))
			return HV_OK;
	if (d->n_swept == d->cap_swept) {
		size_t nc = d->cap_swept ? d->cap_swept * 2 : 8;
		char **ns = realloc(d->swept, nc * sizeof(*ns));
		if (!ns)
			return hv_fail(err, HV_ENOMEM, "out of memory writing %s", path);
		d->swept = ns;
		d->cap_swept = nc;
	}
	if (!(d->swept[d->n_swept] = strndup(path, n)))
		return hv_fail(err, HV_ENOMEM, "out of memory writing %s", path);
	d->n_swept++;
	/* a new open file description: a dup() would share the folder's read
	 * position with dfd (at its end after an earlier listing) */
	int lfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = lfd >= 0 ? fdopendir(lfd) : NULL;
	if (!dir) {
		if (lfd >= 0)
			close(lfd);
		return hv_fail(err, HV_EIO, "cannot list the folder of %s (%s): %s", path,
			       v->where, strerror(errno));
	}
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		long pid = temp_owner(de->d_name);
		if (pid <= 0 || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		/* durable with the folder's fsync after the write that follows */
		unlinkat(dfd, de->d_name, 0);
	}
	closedir(dir);
	return HV_OK;
}

static int dir_write_atomic(vfs *v, const char *path, const void *data, size_t len,
			    hv_err *err)
{
	int rc = vfs_path_check(path, err);
	if (rc)
		return rc;
	int dfd;
	const char *base;
	if ((rc = walk(v, path, 0, 0, &dfd, &base, err)) != HV_OK)
		return rc;
	if (dfd < 0)
		return hv_fail(err, HV_EUSAGE,
			       "cannot write %s: its folder does not exist (%s)", path, v->where);
	rc = sweep_stale_temps(v, path, dfd, err);
	if (rc == HV_OK)
		rc = file_write_atomic_at(dfd, base, data, len, err);
	close(dfd);
	if (rc != HV_OK)
		hv_err_prefix(err, "%s (%s)", path, v->where);
	return rc;
}

static int dir_mkdir(vfs *v, const char *path, hv_err *err)
{
	int rc = vfs_path_check(path, err);
	if (rc)
		return rc;
	int dfd;
	forget_cached(v); /* a folder made now must be seen by the next walk */
	if ((rc = walk(v, path, 1, 1, &dfd, NULL, err)) != HV_OK)
		return rc;
	if (dfd >= 0)
		close(dfd);
	return HV_OK;
}

static int dir_exists(vfs *v, const char *path, hv_err *err)
{
	if (vfs_path_check(path, err) != HV_OK)
		return -1;
	int dfd;
	const char *base;
	if (parent_fd(v, path, &dfd, &base, err) != HV_OK)
		return -1;
	if (dfd < 0)
		return 0;
	struct stat st;
	int r = fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW);
	int e = errno;
	if (r != 0) {
		if (e == ENOENT)
			return 0;
		hv_fail(err, HV_EIO, "cannot look at %s (%s): %s", path, v->where, strerror(e));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		link_refused(v, path, strlen(path), err);
		return -1;
	}
	return 1;
}

static int dir_sync(vfs *v, hv_err *err)
{
	if (syncfs(rootfd_of(v)) != 0)
		return hv_fail(err, HV_EIO, "cannot sync %s: %s", v->where, strerror(errno));
	return HV_OK;
}

static void dir_close(vfs *v)
{
	struct dir_impl *d = v->impl;
	if (d) {
		/* Every write was already made durable (fsync of file and
		 * folder); a syncfs here would flush unrelated data too. */
		if (d->rootfd >= 0)
			close(d->rootfd);
		if (d->cachedfd >= 0)
			close(d->cachedfd);
		vfs_names_free(d->swept, d->n_swept);
		free(d);
	}
	free(v);
}

static const struct vfs_ops dir_ops = {
	.read = dir_read,
	.list = dir_list,
	.write_atomic = dir_write_atomic,
	.mkdir = dir_mkdir,
	.exists = dir_exists,
	.sync = dir_sync,
	.close = dir_close,
};

int vfs_dir_open(const char *path, int create, vfs **out, hv_err *err)
{
	*out = NULL;
	if (!path || !*path)
		return hv_fail(err, HV_EUSAGE, "no vault folder given");
	/* "v/" would resolve a link named v despite O_NOFOLLOW. */
	char p[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(p))
		return hv_fail(err, HV_EUSAGE, "vault folder path is too long");
	memcpy(p, path, n + 1);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';

	if (create && mkdir(p, 0700) != 0 && errno != EEXIST)
		return hv_fail(err, HV_EIO, "cannot create vault folder %s: %s", p, strerror(errno));
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode))
			return hv_fail(err, HV_EINTEGRITY,
				       "vault folder %s is a symbolic link: give the real folder's path", p);
		if (e == ENOENT)
			return hv_fail(err, HV_EUSAGE, "no vault folder %s: check the path", p);
		if (e == ENOTDIR)
			return hv_fail(err, HV_EUSAGE, "%s is not a folder", p);
		return hv_fail(err, HV_EIO, "cannot open vault folder %s: %s", p, strerror(e));
	}
	vfs *v = calloc(1, sizeof(*v));
	struct dir_impl *d = calloc(1, sizeof(*d));
	if (!v || !d) {
		free(v);
		free(d);
		close(fd);
		return hv_fail(err, HV_ENOMEM, "out of memory opening %s", p);
	}
	d->rootfd = fd;
	d->cachedfd = -1;
	v->ops = &dir_ops;
	v->impl = d;
	int w = snprintf(v->where, sizeof(v->where), "folder %s", p);
	if (w < 0 || (size_t)w >= sizeof(v->where))
		/* Only messages read it: a cut path is marked as cut, not passed off as whole. */
		memcpy(v->where + sizeof(v->where) - 4, "...", 4);
	*out = v;
	return HV_OK;
}
