/* The folder backend of vfs.h: a vault kept in a plain folder (tests, the
 * sample vault, a vault copied off a stick by hand). */
#ifndef HV_VAULT_VFS_DIR_H
#define HV_VAULT_VFS_DIR_H

#include "vfs/vfs.h"

/* Opens the folder at path; with create, makes it (mode 0700) when absent.
 * The folder itself and every component below it are opened without
 * following symbolic links: a link anywhere in the vault is refused. */
int vfs_dir_open(const char *path, int create, vfs **out, hv_err *err);

/* Checks a vault-relative path: '/'-separated, not absolute, no empty,
 * "." or ".." component. 0 when fine, else an HV_EUSAGE error naming it. */
int vfs_path_check(const char *path, hv_err *err);

#endif
