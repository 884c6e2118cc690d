/* Walking a vault's whole tree, for the commands that take every file as
 * it comes: adopt (a stick made by hand) and stick copy. */
#ifndef HV_VFS_WALK_H
#define HV_VFS_WALK_H

#include "vfs/vfs.h"

/* Called for every name below the walked folder: path is relative to the
 * root, is_dir says whether it lists as a folder (a regular file, a link
 * or a special file does not). A non-zero return stops the walk. */
typedef int (*vfs_visit_fn)(void *ctx, const char *path, int is_dir, hv_err *err);

/* Depth first, in each folder's listing order (bytewise), a folder before
 * what it holds; lost+found at the root is passed over (mkfs made it). A
 * folder more than max_depth levels down is refused with HV_EUSAGE: no
 * vault and no hand-made backup nests that deep. */
int vfs_walk(vfs *v, int max_depth, vfs_visit_fn visit, void *ctx, hv_err *err);

/* ".NAME.PID.tmp": the temporary of an atomic write that did not finish
 * (util/fileio.c); never data. base is a name without folders. */
int vfs_is_temp_name(const char *base);

#endif
