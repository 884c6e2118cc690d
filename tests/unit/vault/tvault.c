#include "tvault.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "stick/stick.h"
#include "stick_edit.h"
#include "testutil.h"
#include "vault/vault.h"
#include "vfs/vfs_dir.h"

/* Small enough to stay fast, large enough for 1,000 manifest versions
 * plus their replaced inodes (the image file is sparse). */
#define TV_STICK_SIZE (64ULL << 20)

int tv_backend_is_stick(void)
{
	const char *b = getenv("HV_VAULT_BACKEND");
	if (!b || !*b || strcmp(b, "dir") == 0)
		return 0;
	if (strcmp(b, "stick") == 0)
		return 1;
	fail_msg("HV_VAULT_BACKEND=%s: expected 'dir' or 'stick'", b);
	return -1;
}

const char *tv_backend_name(void)
{
	return tv_backend_is_stick() ? "stick" : "folder";
}

static int give_pass(void *ctx, const secbuf **out, hv_err *err)
{
	(void)err;
	*out = ((tvault *)ctx)->pass;
	return HV_OK;
}

static void reopen(tvault *t)
{
	hv_err err;
	hv_err_clear(&err);
	if (stick_open_vfs(t->spec, t->pass, 1, &t->v, &err) != HV_OK)
		fail_msg("reopening the test stick: %s", err.msg);
}

tvault *tv_new(void)
{
	tvault *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	t->stick = tv_backend_is_stick();
	t->tmp = tu_mkdtemp();
	hv_err err;
	hv_err_clear(&err);
	if (!t->stick) {
		t->spec = strdup(t->tmp);
		assert_int_equal(vfs_dir_open(t->spec, 0, &t->v, &err), HV_OK);
		return t;
	}
	t->spec = malloc(strlen(t->tmp) + 16);
	sprintf(t->spec, "%s/stick.img", t->tmp);
	/* random, so that nothing could pass by knowing it */
	uint8_t raw[24];
	FILE *r = fopen("/dev/urandom", "rb");
	assert_non_null(r);
	assert_int_equal(fread(raw, 1, sizeof(raw), r), sizeof(raw));
	fclose(r);
	char text[sizeof(raw) * 2];
	for (size_t i = 0; i < sizeof(raw); i++) {
		text[2 * i] = "0123456789abcdef"[raw[i] >> 4];
		text[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
	}
	t->pass = secbuf_dup(text, sizeof(text));
	secure_wipe(text, sizeof(text));
	secure_wipe(raw, sizeof(raw));
	assert_non_null(t->pass);
	stick_prepare_opts o = { .size = TV_STICK_SIZE, .insecure_fast_kdf = 1, .batch = 1 };
	if (stick_prepare(t->spec, &o, give_pass, t, &t->v, &err) != HV_OK)
		fail_msg("preparing a test stick: %s", err.msg);
	return t;
}

/* What the stick's vfs and the edits above left must be a clean ext4. */
static void fsck_stick(tvault *t)
{
	char plain[4200];
	snprintf(plain, sizeof(plain), "%s/plain.ext4", t->tmp);
	hv_err err;
	hv_err_clear(&err);
	if (stick_edit_decrypt(t->spec, t->pass, plain, &err) != HV_OK)
		fail_msg("decrypting the test stick: %s", err.msg);
	char *argv[] = { (char *)tu_env("E2FSCK"), "-fn", plain, NULL };
	char *out, *errout;
	int st = tu_run(argv, &out, &errout);
	if (st != 0)
		fail_msg("e2fsck -fn of the test stick exited %d:\n%s%s", st, out, errout);
	free(out);
	free(errout);
}

void tv_free(tvault *t)
{
	if (!t)
		return;
	vfs_close(t->v);
	t->v = NULL;
	if (t->stick)
		fsck_stick(t);
	tu_rmrf(t->tmp);
	free(t->tmp);
	free(t->spec);
	secbuf_free(t->pass);
	free(t);
}

char *tv_read(tvault *t, const char *rel, size_t *len)
{
	if (!t->stick)
		return tu_read(tu_path(t->spec, rel), len);
	hv_err err;
	if (!tv_exists(t, rel))
		return NULL;
	tv_resume(t);
	uint8_t *d;
	size_t n;
	if (vfs_read(t->v, rel, 64 << 20, &d, &n, &err) != HV_OK)
		fail_msg("reading %s from the test stick: %s", rel, err.msg);
	char *s = malloc(n + 1);
	memcpy(s, d, n);
	s[n] = '\0';
	free(d);
	if (len)
		*len = n;
	return s;
}

void tv_write(tvault *t, const char *rel, const void *data, size_t len)
{
	if (!t->stick) {
		tu_write(tu_path(t->spec, rel), data, len);
		return;
	}
	hv_err err;
	tv_resume(t);
	if (vfs_write_atomic(t->v, rel, data, len, &err) != HV_OK ||
	    vfs_sync(t->v, &err) != HV_OK)
		fail_msg("writing %s on the test stick: %s", rel, err.msg);
}

/* Runs one libext2fs edit with the vault's vfs closed, then reopens it. */
#define STICK_EDIT(t, call)                                                          \
	do {                                                                         \
		hv_err err_;                                                         \
		hv_err_clear(&err_);                                                 \
		vfs_close((t)->v);                                                   \
		(t)->v = NULL;                                                       \
		if ((call) != HV_OK)                                                 \
			fail_msg("%s", err_.msg);                                    \
		reopen(t);                                                           \
	} while (0)

void tv_remove(tvault *t, const char *rel)
{
	if (!t->stick) {
		if (unlink(tu_path(t->spec, rel)) != 0)
			fail_msg("unlink %s: %s", rel, strerror(errno));
		return;
	}
	STICK_EDIT(t, stick_edit_remove(t->spec, t->pass, rel, &err_));
}

void tv_rename(tvault *t, const char *from, const char *to)
{
	if (!t->stick) {
		char a[4200];
		snprintf(a, sizeof(a), "%s", tu_path(t->spec, from));
		if (rename(a, tu_path(t->spec, to)) != 0)
			fail_msg("rename %s %s: %s", from, to, strerror(errno));
		return;
	}
	STICK_EDIT(t, stick_edit_rename(t->spec, t->pass, from, to, &err_));
}

void tv_symlink(tvault *t, const char *target, const char *rel)
{
	if (!t->stick) {
		if (symlink(target, tu_path(t->spec, rel)) != 0)
			fail_msg("symlink %s: %s", rel, strerror(errno));
		return;
	}
	STICK_EDIT(t, stick_edit_symlink(t->spec, t->pass, target, rel, &err_));
}

void tv_mkdir(tvault *t, const char *rel)
{
	if (!t->stick) {
		if (mkdir(tu_path(t->spec, rel), 0700) != 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", rel, strerror(errno));
		return;
	}
	hv_err err;
	tv_resume(t);
	if (vfs_mkdir(t->v, rel, &err) != HV_OK)
		fail_msg("mkdir %s on the test stick: %s", rel, err.msg);
}

int tv_mode(tvault *t, const char *rel)
{
	if (!t->stick) {
		struct stat st;
		if (lstat(tu_path(t->spec, rel), &st) != 0)
			return -1;
		return (int)st.st_mode;
	}
	int mode = -1;
	STICK_EDIT(t, stick_edit_mode(t->spec, t->pass, rel, &mode, &err_));
	return mode;
}

int tv_exists(tvault *t, const char *rel)
{
	if (!t->stick)
		return tv_mode(t, rel) != -1; /* a dangling link exists too */
	hv_err err;
	tv_resume(t);
	int rc = vfs_exists(t->v, rel, &err);
	if (rc < 0)
		fail_msg("checking %s on the test stick: %s", rel, err.msg);
	return rc;
}

int tv_open_existing(tvault *t, vfs **out, hv_err *err)
{
	if (!t->stick)
		return vault_open_existing(t->spec, out, err);
	tv_suspend(t);
	int fd = tv_passphrase_pipe(t);
	stick_set_passphrase_fd(fd);
	int rc = vault_open_existing(t->spec, out, err);
	stick_set_passphrase_fd(-1);
	close(fd);
	return rc;
}

int tv_passphrase_pipe(tvault *t)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], t->pass->data, t->pass->len), (ssize_t)t->pass->len);
	assert_int_equal(write(p[1], "\n", 1), 1);
	close(p[1]);
	return p[0];
}

void tv_suspend(tvault *t)
{
	if (t->stick) {
		vfs_close(t->v);
		t->v = NULL;
	}
}

void tv_resume(tvault *t)
{
	if (!t->v)
		reopen(t);
}

void tv_copy_in(tvault *t, const char *srcdir, const char *const *rel, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* the folders along the way */
		char dir[1024];
		for (const char *s = strchr(rel[i], '/'); s; s = strchr(s + 1, '/')) {
			snprintf(dir, sizeof(dir), "%.*s", (int)(s - rel[i]), rel[i]);
			tv_mkdir(t, dir);
		}
		size_t len;
		char *d = tu_read(tu_path(srcdir, rel[i]), &len);
		if (!d)
			fail_msg("cannot read %s/%s", srcdir, rel[i]);
		tv_write(t, rel[i], d, len);
		free(d);
	}
}
