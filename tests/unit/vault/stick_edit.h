/* Test-only edits to a stick image through libext2fs, bypassing the
 * vault's vfs (which has no remove, rename or symlink): each call unlocks
 * the image, opens its ext4 a second time, edits and closes it. No vfs may
 * be open on the image meanwhile. Paths are relative to the filesystem
 * root, as in the vault. */
#ifndef HV_TEST_VAULT_STICK_EDIT_H
#define HV_TEST_VAULT_STICK_EDIT_H

#include "util/err.h"
#include "util/secbuf.h"

/* Unlinks the regular file rel and frees its inode and blocks. */
int stick_edit_remove(const char *img, const secbuf *pass, const char *rel, hv_err *err);
/* Links the inode of from under the absent name to, then unlinks from.
 * A folder moves only within its parent (its ".." stays right). */
int stick_edit_rename(const char *img, const secbuf *pass, const char *from, const char *to,
		      hv_err *err);
/* A symbolic link rel whose text is target. */
int stick_edit_symlink(const char *img, const secbuf *pass, const char *target,
		       const char *rel, hv_err *err);
/* The inode mode of rel, not following a final link; -1 when absent. */
int stick_edit_mode(const char *img, const secbuf *pass, const char *rel, int *mode,
		    hv_err *err);
/* Decrypts the data segment into the new file plain (for e2fsck). */
int stick_edit_decrypt(const char *img, const secbuf *pass, const char *plain, hv_err *err);

#endif
