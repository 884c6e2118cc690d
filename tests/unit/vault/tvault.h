/* The storage a vault test runs on, chosen by HV_VAULT_BACKEND (set by
 * meson): "dir" (the default) is a temporary folder through vfs_dir;
 * "stick" is a fresh LUKS2 image file (fast KDF, for tests only) opened
 * with stick_open_vfs. The helpers below edit the vault from outside the
 * code under test, the way damage would happen: on a folder with plain
 * POSIX calls, on a stick through its vfs (writes) or, for what the vfs
 * cannot do (remove, rename, symlink, inode modes), through libext2fs on
 * the image opened a second time while the vault's vfs is closed. */
#ifndef HV_TEST_VAULT_TVAULT_H
#define HV_TEST_VAULT_TVAULT_H

#include <stddef.h>

#include "util/secbuf.h"
#include "vfs/vfs.h"

typedef struct tvault {
	vfs *v;        /* the open, writable vault storage; tv_remove, tv_rename,
			  tv_symlink and tv_mode replace it on a stick */
	int stick;     /* 1 stick image, 0 folder */
	char *tmp;     /* temporary folder holding the folder or the image */
	char *spec;    /* the folder, or the image file */
	secbuf *pass;  /* the stick's passphrase */
} tvault;

/* 1 when HV_VAULT_BACKEND is "stick", 0 for "dir" or unset; other values
 * fail the test. */
int tv_backend_is_stick(void);
/* "folder" or "stick", for messages. */
const char *tv_backend_name(void);

/* Fresh empty storage under $TMPDIR (or /tmp). */
tvault *tv_new(void);
/* Closes and removes it; a stick must first pass e2fsck -fn (decrypted
 * copy; E2FSCK names the program). */
void tv_free(tvault *t);

/* Whole file (NUL-terminated, malloc'd); NULL when absent. */
char *tv_read(tvault *t, const char *rel, size_t *len);
/* Creates or replaces rel with exactly these bytes (mode 0600). */
void tv_write(tvault *t, const char *rel, const void *data, size_t len);
/* Removes the file rel; it must exist. */
void tv_remove(tvault *t, const char *rel);
/* Moves from to the absent name to, in the same folder or another one
 * (folders only within their own parent). */
void tv_rename(tvault *t, const char *from, const char *to);
/* A symbolic link rel pointing to target (the text stored in the link). */
void tv_symlink(tvault *t, const char *target, const char *rel);
/* Creates a folder; an existing one is fine. */
void tv_mkdir(tvault *t, const char *rel);
/* The mode (file type and permission bits) of rel, not following a link;
 * -1 when absent. */
int tv_mode(tvault *t, const char *rel);
/* 1 when rel exists (any type). */
int tv_exists(tvault *t, const char *rel);
/* vault_open_existing on the storage's own path, as a command opens it
 * (a stick's passphrase goes through a pipe to stick_set_passphrase_fd).
 * On a stick t->v is closed first: call tv_resume after closing *out. */
int tv_open_existing(tvault *t, vfs **out, hv_err *err);
/* Opens t->v again after tv_open_existing or tv_suspend closed it; the
 * other helpers call it themselves. */
void tv_resume(tvault *t);
/* Closes t->v on a stick, so that another process may open the image. */
void tv_suspend(tvault *t);
/* A pipe's read end holding the stick's passphrase and a newline, for
 * stick_set_passphrase_fd or HSMVAULT_STICK_PASSPHRASE_FD. */
int tv_passphrase_pipe(tvault *t);
/* Copies the files srcdir/rel[i] (created folders as needed). */
void tv_copy_in(tvault *t, const char *srcdir, const char *const *rel, size_t n);

#endif
