/* An empty ext4 filesystem (4096-byte blocks) inside an unlocked stick,
 * made through libext2fs: what mke2fs -t ext4 would make, except that every
 * inode table is really written (as encrypted zeros), never left lazy. */
#ifndef HV_STICK_EXT4_MKFS_H
#define HV_STICK_EXT4_MKFS_H

#include "stick/xts.h"
#include "util/err.h"

#define EXT4_MKFS_BLOCK_SIZE 4096
/* One inode per 64 KiB: a vault holds few, small files. */
#define EXT4_MKFS_INODE_RATIO 65536

/* label: the ext4 volume name (at most 16 bytes kept). */
int ext4_mkfs(xts_volume *v, const char *label, hv_err *err);

#endif
