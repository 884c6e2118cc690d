/* Files the operator names on the command line (a policy, a public
 * record): unlike the files inside a vault, they may be reached through a
 * symbolic link or be a pipe (a shell's process substitution, <(...)).
 * A folder, a device or a missing file is refused with a message naming
 * it and what to give instead. */
#ifndef HV_UTIL_INPUT_FILE_H
#define HV_UTIL_INPUT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Reads all of path (at most max bytes) into a malloc'd *data (non-NULL,
 * the caller frees it) and its length into *len. `what` names the kind of
 * file in messages ("policy", "record"). HV_EUSAGE for a missing file, a
 * folder, a device or a file over max bytes; HV_EIO for a read error. */
int input_file_read(const char *path, const char *what, size_t max, uint8_t **data,
		    size_t *len, hv_err *err);

#endif
