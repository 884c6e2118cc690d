/* The vault's vfs (vfs/vfs.h) over the ext4 filesystem inside an
 * unlocked stick, through libext2fs: nothing is mounted.
 *
 * Crash safety without a journal comes from the write order: blocks and
 * inodes are marked allocated on disk before anything refers to them, a
 * new file is complete before its name points to it, a replaced name is
 * switched in one directory-block write, and old blocks are freed only
 * after nothing refers to them. A crash therefore leaves the old or the
 * new content under every name; what e2fsck can find afterwards is only
 * leaked (allocated but unused) blocks and inodes, one complete file not
 * yet named (an unattached inode), or, for a new folder, its parent's link
 * count one short. Folders that the kernel has indexed (htree) grow
 * through libext2fs's own code, without this ordering. */
#ifndef HV_STICK_EXT4_VFS_H
#define HV_STICK_EXT4_VFS_H

#include "stick/xts.h"
#include "util/err.h"
#include "vfs/vfs.h"

/* Takes ownership of vol and of fd (both released by vfs_close, the key
 * wiped). writable 0 opens read-only. where names the stick in messages. */
int ext4_vfs_open(xts_volume *vol, int fd, const char *where, int writable,
		  vfs **out, hv_err *err);

#endif
