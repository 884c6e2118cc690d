#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/secbuf.h"

int file_read_at(int dirfd, const char *path, size_t max,
		 uint8_t **data, size_t *len, hv_err *err)
{
	*data = NULL;
	*len = 0;
	/* O_NONBLOCK: opening a FIFO planted where a file belongs must not
	 * hang; fstat below refuses it. Regular files ignore the flag. */
	int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP)
			return hv_fail(err, HV_EINTEGRITY,
				"%s is a symbolic link; hsmvault never follows links in a vault: "
				"replace it with the real file", path);
		return hv_fail(err, errno == ENOENT ? HV_EUSAGE : HV_EIO,
			       "cannot open %s: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return hv_fail(err, HV_EUSAGE, "%s is not a regular file", path);
	}
	if ((unsigned long long)st.st_size > max) {
		close(fd);
		return hv_fail(err, HV_EUSAGE,
			       "%s is %lld bytes, more than the %zu expected: check the file name",
			       path, (long long)st.st_size, max);
	}
	int rc = file_read_fd(fd, (size_t)st.st_size, path, data, err);
	close(fd);
	if (rc == HV_OK)
		*len = (size_t)st.st_size;
	return rc;
}

int file_read_fd(int fd, size_t size, const char *name, uint8_t **data, hv_err *err)
{
	*data = NULL;
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return hv_fail(err, HV_ENOMEM, "out of memory reading %s", name);
	size_t got = 0;
	while (got < size) {
		ssize_t r = read(fd, buf + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got != size) {
		free(buf);
		return hv_fail(err, HV_EIO, "short read on %s", name);
	}
	*data = buf;
	return HV_OK;
}

int file_read(const char *path, size_t max, uint8_t **data, size_t *len,
	      hv_err *err)
{
	return file_read_at(AT_FDCWD, path, max, data, len, err);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int file_write_atomic_at(int dirfd, const char *name, const void *data,
			 size_t len, hv_err *err)
{
	/* The temporary name lives in the same folder so that rename() is
	 * atomic; a leftover ".tmp" from a crash is never read as data. */
	char tmp[4096];
	const char *slash = strrchr(name, '/');
	int dlen = slash ? (int)(slash - name + 1) : 0;
	if (snprintf(tmp, sizeof(tmp), "%.*s.%s.%ld.tmp", dlen, name,
		     slash ? slash + 1 : name, (long)getpid()) >= (int)sizeof(tmp))
		return hv_fail(err, HV_EUSAGE, "path too long: %s", name);

	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return hv_fail(err, HV_EINTEGRITY,
			"%s is a symbolic link; refusing to write through it: remove the link", name);

	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		/* Left by a crashed process that had our pid: no live process
		 * can own this name but us, so it is stale. */
		unlinkat(dirfd, tmp, 0);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return hv_fail(err, HV_EIO, "cannot create %s: %s", tmp, strerror(errno));
	if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		int e = errno;
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return hv_fail(err, HV_EIO, "cannot write %s: %s", name, strerror(e));
	}
	if (close(fd) != 0 || renameat(dirfd, tmp, dirfd, name) != 0) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		return hv_fail(err, HV_EIO, "cannot replace %s: %s", name, strerror(e));
	}
	/* The rename is durable only once the folder itself is synced. */
	char dir[4096];
	snprintf(dir, sizeof(dir), "%.*s", dlen ? dlen : 1, dlen ? name : ".");
	int dfd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		int e = errno;
		if (dfd >= 0)
			close(dfd);
		return hv_fail(err, HV_EIO, "cannot sync the folder of %s: %s", name, strerror(e));
	}
	close(dfd);
	return HV_OK;
}

int file_write_atomic(const char *path, const void *data, size_t len,
		      hv_err *err)
{
	return file_write_atomic_at(AT_FDCWD, path, data, len, err);
}
