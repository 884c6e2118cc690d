/* Files of the vault and of the operator: read without following links,
 * written atomically so that a crash leaves either the old or the new
 * content, never a mix. */
#ifndef HV_UTIL_FILEIO_H
#define HV_UTIL_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Reads a whole regular file relative to dirfd (AT_FDCWD for the current
 * folder), opened with O_NOFOLLOW: a symlink, a non-regular file or a file
 * larger than max bytes is refused with a message naming it. *data is
 * malloc'd; the caller frees it. */
int file_read_at(int dirfd, const char *path, size_t max,
		 uint8_t **data, size_t *len, hv_err *err);
int file_read(const char *path, size_t max, uint8_t **data, size_t *len,
	      hv_err *err);

/* Reads exactly size bytes (the size fstat gave; the caller has checked
 * it) from the open fd into a malloc'd *data, which the caller frees; an
 * empty file still gives a non-NULL buffer. The fd stays open. A short
 * read is HV_EIO; errors name `name`. */
int file_read_fd(int fd, size_t size, const char *name, uint8_t **data, hv_err *err);

/* Creates or replaces name in dirfd: temporary file in the same folder
 * (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600), write, fsync, rename over name,
 * fsync of the folder. A symlink at name is refused. */
int file_write_atomic_at(int dirfd, const char *name, const void *data,
			 size_t len, hv_err *err);
int file_write_atomic(const char *path, const void *data, size_t len,
		      hv_err *err);

#endif
