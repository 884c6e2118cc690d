#include "util/input_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int refuse_kind(const char *path, const char *what, mode_t mode, hv_err *err)
{
	if (S_ISDIR(mode))
		return hv_fail(err, HV_EUSAGE, "%s is a folder, not a %s file: name the file itself",
			       path, what);
	return hv_fail(err, HV_EUSAGE, "%s is a %s, not a %s file: name a regular file", path,
		       S_ISCHR(mode) ? "character device" : S_ISBLK(mode) ? "block device"
		       : S_ISSOCK(mode) ? "socket" : "special file", what);
}

/* A pipe has no size: read until its end, one byte past max to tell a
 * file that is too large. */
static int read_to_end(int fd, const char *path, const char *what, size_t max,
		       uint8_t **data, size_t *len, hv_err *err)
{
	size_t cap = 4096, got = 0;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return hv_fail(err, HV_ENOMEM, "out of memory reading %s", path);
	for (;;) {
		if (got == cap) {
			uint8_t *bigger = cap > max ? NULL : realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				if (cap > max)
					return hv_fail(err, HV_EUSAGE, "%s holds more than the %zu bytes "
						       "a %s file may have: is it the right file?",
						       path, max, what);
				return hv_fail(err, HV_ENOMEM, "out of memory reading %s", path);
			}
			buf = bigger;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			return hv_fail(err, HV_EIO, "reading %s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got > max) {
		free(buf);
		return hv_fail(err, HV_EUSAGE, "%s holds more than the %zu bytes a %s file may "
			       "have: is it the right file?", path, max, what);
	}
	*data = buf;
	*len = got;
	return HV_OK;
}

int input_file_read(const char *path, const char *what, size_t max, uint8_t **data,
		    size_t *len, hv_err *err)
{
	*data = NULL;
	*len = 0;
	struct stat st;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return hv_fail(err, HV_EUSAGE, "%s does not exist: check the %s file's name",
				       path, what);
		return hv_fail(err, HV_EUSAGE, "cannot open %s: %s: check the %s file's name", path,
			       strerror(errno), what);
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
		return refuse_kind(path, what, st.st_mode, err);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return hv_fail(err, errno == EACCES ? HV_EUSAGE : HV_EIO,
			       "cannot open %s: %s", path, strerror(errno));
	/* What was opened counts, not what stat saw a moment before. */
	if (fstat(fd, &st) != 0 || (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))) {
		int rc = refuse_kind(path, what, st.st_mode, err);
		close(fd);
		return rc;
	}
	int rc = read_to_end(fd, path, what, max, data, len, err);
	close(fd);
	return rc;
}
