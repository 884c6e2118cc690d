/* The folder backend: path rules, links refused anywhere, sizes, modes,
 * sorted listings and atomic replacement. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "testutil.h"
#include "vfs/vfs_dir.h"
#include "vfs/vfs_walk.h"

struct fx {
	char *dir;
	vfs *v;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->dir = tu_mkdtemp();
	hv_err err;
	assert_int_equal(vfs_dir_open(f->dir, 0, &f->v, &err), HV_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	vfs_close(f->v);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void write_read_roundtrip(void **state)
{
	struct fx *f = *state;
	hv_err err;
	assert_int_equal(vfs_mkdir(f->v, "keys/ABCD", &err), HV_OK);
	assert_int_equal(vfs_write_atomic(f->v, "keys/ABCD/k.wrap", "hello", 5, &err), HV_OK);
	uint8_t *d;
	size_t n;
	assert_int_equal(vfs_read(f->v, "keys/ABCD/k.wrap", 100, &d, &n, &err), HV_OK);
	assert_int_equal(n, 5);
	assert_memory_equal(d, "hello", 5);
	free(d);
	/* replace */
	assert_int_equal(vfs_write_atomic(f->v, "keys/ABCD/k.wrap", "bye", 3, &err), HV_OK);
	assert_int_equal(vfs_read(f->v, "keys/ABCD/k.wrap", 100, &d, &n, &err), HV_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(d, "bye", 3);
	free(d);
	/* empty file */
	assert_int_equal(vfs_write_atomic(f->v, "empty", "", 0, &err), HV_OK);
	assert_int_equal(vfs_read(f->v, "empty", 100, &d, &n, &err), HV_OK);
	assert_int_equal(n, 0);
	free(d);
	assert_int_equal(vfs_exists(f->v, "keys/ABCD/k.wrap", &err), 1);
	assert_int_equal(vfs_exists(f->v, "keys/ABCD/nope", &err), 0);
	assert_int_equal(vfs_exists(f->v, "nofolder/nope", &err), 0);
	assert_int_equal(vfs_sync(f->v, &err), HV_OK);
}

static void modes(void **state)
{
	struct fx *f = *state;
	hv_err err;
	mode_t old = umask(0);
	assert_int_equal(vfs_mkdir(f->v, "a/b", &err), HV_OK);
	assert_int_equal(vfs_write_atomic(f->v, "a/b/file", "x", 1, &err), HV_OK);
	umask(old);
	struct stat st;
	assert_int_equal(stat(tu_path(f->dir, "a/b/file"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(tu_path(f->dir, "a/b"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(tu_path(f->dir, "a"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* an existing folder is fine */
	assert_int_equal(vfs_mkdir(f->v, "a/b", &err), HV_OK);
}

static void list_sorted(void **state)
{
	struct fx *f = *state;
	hv_err err;
	const char *names[] = { "b", "a", "Z", "000010.yaml", "000002.yaml", "ab" };
	assert_int_equal(vfs_mkdir(f->v, "d", &err), HV_OK);
	for (size_t i = 0; i < 6; i++) {
		char p[64];
		snprintf(p, sizeof(p), "d/%s", names[i]);
		assert_int_equal(vfs_write_atomic(f->v, p, "x", 1, &err), HV_OK);
	}
	char **l;
	size_t n;
	assert_int_equal(vfs_list(f->v, "d", &l, &n, &err), HV_OK);
	assert_int_equal(n, 6);
	const char *want[] = { "000002.yaml", "000010.yaml", "Z", "a", "ab", "b" };
	for (size_t i = 0; i < n; i++)
		assert_string_equal(l[i], want[i]);
	vfs_names_free(l, n);
	/* a missing folder is an empty list */
	assert_int_equal(vfs_list(f->v, "missing", &l, &n, &err), HV_OK);
	assert_int_equal(n, 0);
	vfs_names_free(l, n);
	/* the root */
	assert_int_equal(vfs_list(f->v, "", &l, &n, &err), HV_OK);
	assert_int_equal(n, 1);
	assert_string_equal(l[0], "d");
	vfs_names_free(l, n);
}

static void bad_paths(void **state)
{
	struct fx *f = *state;
	const char *bad[] = { "", "/etc/passwd", "../x", "a/../b", "a/..", "a//b", "a/",
			      "./a", "a/./b", "..", "." };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hv_err err;
		uint8_t *d;
		size_t n;
		hv_err_clear(&err);
		assert_int_equal(vfs_read(f->v, bad[i], 100, &d, &n, &err), HV_EUSAGE);
		assert_true(strlen(err.msg) > 0);
		assert_int_equal(vfs_write_atomic(f->v, bad[i], "x", 1, &err), HV_EUSAGE);
		assert_int_equal(vfs_mkdir(f->v, bad[i], &err), HV_EUSAGE);
		assert_true(vfs_exists(f->v, bad[i], &err) < 0);
	}
	hv_err err;
	assert_int_equal(vfs_path_check("a/../b", &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, ".."));
	assert_int_equal(vfs_path_check("/abs", &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "absolute"));
	assert_int_equal(vfs_path_check("a//b", &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "empty"));
	assert_int_equal(vfs_path_check("manifest/000001.yaml", &err), HV_OK);
	/* nothing escaped the vault */
	assert_null(tu_read(tu_path(f->dir, "../x"), NULL));
}

static void symlink_file_refused(void **state)
{
	struct fx *f = *state;
	hv_err err;
	char *outside = tu_mkdtemp();
	tu_write(tu_path(outside, "secret"), "outside", 7);
	assert_int_equal(vfs_mkdir(f->v, "shares", &err), HV_OK);
	assert_int_equal(symlink(tu_path(outside, "secret"), tu_path(f->dir, "shares/s.pbe")), 0);

	uint8_t *d;
	size_t n;
	hv_err_clear(&err);
	assert_int_equal(vfs_read(f->v, "shares/s.pbe", 100, &d, &n, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "shares/s.pbe is a symbolic link"));
	assert_true(vfs_exists(f->v, "shares/s.pbe", &err) < 0);
	assert_non_null(strstr(err.msg, "symbolic link"));
	assert_int_equal(vfs_write_atomic(f->v, "shares/s.pbe", "new", 3, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "symbolic link"));
	/* the target is untouched */
	char *t = tu_read(tu_path(outside, "secret"), NULL);
	assert_string_equal(t, "outside");
	free(t);
	tu_rmrf(outside);
	free(outside);
}

static void symlink_folder_refused(void **state)
{
	struct fx *f = *state;
	hv_err err;
	char *outside = tu_mkdtemp();
	tu_write(tu_path(outside, "k.wrap"), "outside", 7);
	assert_int_equal(symlink(outside, tu_path(f->dir, "keys")), 0);

	uint8_t *d;
	size_t n;
	char **l;
	hv_err_clear(&err);
	assert_int_equal(vfs_read(f->v, "keys/k.wrap", 100, &d, &n, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "keys is a symbolic link"));
	assert_int_equal(vfs_list(f->v, "keys", &l, &n, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "keys is a symbolic link"));
	assert_int_equal(vfs_write_atomic(f->v, "keys/new", "x", 1, &err), HV_EINTEGRITY);
	assert_int_equal(vfs_mkdir(f->v, "keys/sub", &err), HV_EINTEGRITY);
	assert_true(vfs_exists(f->v, "keys/k.wrap", &err) < 0);
	assert_null(tu_read(tu_path(outside, "new"), NULL));
	struct stat st;
	assert_true(lstat(tu_path(outside, "sub"), &st) != 0);

	/* deeper: a link in the middle of a path */
	assert_int_equal(vfs_mkdir(f->v, "a", &err), HV_OK);
	assert_int_equal(symlink(outside, tu_path(f->dir, "a/b")), 0);
	assert_int_equal(vfs_read(f->v, "a/b/k.wrap", 100, &d, &n, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "a/b is a symbolic link"));

	/* the vault folder itself */
	char *link = strdup(tu_path(outside, "vault-link"));
	assert_int_equal(symlink(f->dir, link), 0);
	vfs *v2;
	assert_int_equal(vfs_dir_open(link, 0, &v2, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "symbolic link"));
	char slash[4200];
	snprintf(slash, sizeof(slash), "%s/", link);
	assert_int_equal(vfs_dir_open(slash, 0, &v2, &err), HV_EINTEGRITY);
	free(link);
	tu_rmrf(outside);
	free(outside);
}

static void size_limit_and_special_files(void **state)
{
	struct fx *f = *state;
	hv_err err;
	char big[1000];
	memset(big, 'a', sizeof(big));
	assert_int_equal(vfs_write_atomic(f->v, "big", big, sizeof(big), &err), HV_OK);
	uint8_t *d;
	size_t n;
	assert_int_equal(vfs_read(f->v, "big", 999, &d, &n, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "1000 bytes"));
	assert_int_equal(vfs_read(f->v, "big", 1000, &d, &n, &err), HV_OK);
	assert_int_equal(n, 1000);
	free(d);
	/* a FIFO must be refused, not waited on */
	assert_int_equal(mkfifo(tu_path(f->dir, "fifo"), 0600), 0);
	assert_int_equal(vfs_read(f->v, "fifo", 100, &d, &n, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "not a regular file"));
	/* a folder where a file is expected */
	assert_int_equal(vfs_mkdir(f->v, "dir", &err), HV_OK);
	assert_int_equal(vfs_read(f->v, "dir", 100, &d, &n, &err), HV_EINTEGRITY);
	/* a file where a folder is expected */
	assert_int_equal(vfs_read(f->v, "big/x", 100, &d, &n, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "big is not a folder"));
	/* missing */
	assert_int_equal(vfs_read(f->v, "nope", 100, &d, &n, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "nope does not exist"));
	assert_int_equal(vfs_write_atomic(f->v, "nodir/x", "x", 1, &err), HV_EUSAGE);
}

static int count_entries(const char *dir)
{
	char **l;
	size_t n;
	vfs *v;
	hv_err err;
	assert_int_equal(vfs_dir_open(dir, 0, &v, &err), HV_OK);
	assert_int_equal(vfs_list(v, "", &l, &n, &err), HV_OK);
	vfs_names_free(l, n);
	vfs_close(v);
	return (int)n;
}

/* RLIMIT_FSIZE makes the temporary file's write fail (EFBIG) at a fixed
 * size: a deterministic write failure, even for root. */
static void atomic_write_failure_keeps_old(void **state)
{
	struct fx *f = *state;
	hv_err err;
	assert_int_equal(vfs_write_atomic(f->v, "file", "old content", 11, &err), HV_OK);
	assert_int_equal(count_entries(f->dir), 1);

	struct rlimit old, small = { 100, 100 };
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	char big[4096];
	memset(big, 'n', sizeof(big));
	int rc = vfs_write_atomic(f->v, "file", big, sizeof(big), &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);

	assert_int_equal(rc, HV_EIO);
	assert_non_null(strstr(err.msg, "file"));
	size_t n;
	char *c = tu_read(tu_path(f->dir, "file"), &n);
	assert_int_equal(n, 11);
	assert_string_equal(c, "old content");
	free(c);
	/* no temporary file left behind */
	assert_int_equal(count_entries(f->dir), 1);
}

static void open_errors(void **state)
{
	struct fx *f = *state;
	hv_err err;
	vfs *v;
	assert_int_equal(vfs_dir_open(tu_path(f->dir, "missing"), 0, &v, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "no vault folder"));
	tu_write(tu_path(f->dir, "plain"), "x", 1);
	assert_int_equal(vfs_dir_open(tu_path(f->dir, "plain"), 0, &v, &err), HV_EUSAGE);
	assert_int_equal(vfs_dir_open(tu_path(f->dir, "new"), 1, &v, &err), HV_OK);
	assert_non_null(strstr(v->where, "folder "));
	vfs_close(v);
	struct stat st;
	assert_int_equal(stat(tu_path(f->dir, "new"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

/* vfs_walk: every name once, a folder before its contents, lost+found at
 * the root passed over, and a tree deeper than the limit refused. */
struct walk_log {
	char text[512];
	int stop_at;
	int seen;
};

static int log_name(void *ctx, const char *path, int is_dir, hv_err *err)
{
	struct walk_log *l = ctx;
	size_t n = strlen(l->text);
	snprintf(l->text + n, sizeof(l->text) - n, "%s%s;", path, is_dir ? "/" : "");
	if (++l->seen == l->stop_at)
		return hv_fail(err, HV_ECANCEL, "stopped");
	return HV_OK;
}

static void walk_tree_order_and_depth(void **state)
{
	struct fx *f = *state;
	hv_err err;
	assert_int_equal(vfs_mkdir(f->v, "lost+found", &err), HV_OK);
	assert_int_equal(vfs_write_atomic(f->v, "lost+found/x", "x", 1, &err), HV_OK);
	assert_int_equal(vfs_mkdir(f->v, "b/c", &err), HV_OK);
	assert_int_equal(vfs_write_atomic(f->v, "b/c/d", "d", 1, &err), HV_OK);
	assert_int_equal(vfs_write_atomic(f->v, "a", "a", 1, &err), HV_OK);
	assert_int_equal(vfs_write_atomic(f->v, "b/lost+found", "l", 1, &err), HV_OK);
	struct walk_log l = { "", 0, 0 };
	assert_int_equal(vfs_walk(f->v, 8, log_name, &l, &err), HV_OK);
	assert_string_equal(l.text, "a;b/;b/c/;b/c/d;b/lost+found;");
	/* the visitor stops the walk with its own code */
	struct walk_log stop = { "", 2, 0 };
	assert_int_equal(vfs_walk(f->v, 8, log_name, &stop, &err), HV_ECANCEL);
	assert_string_equal(stop.text, "a;b/;");
	/* b/c is two folders down: a limit of 1 refuses it, by name */
	struct walk_log deep = { "", 0, 0 };
	assert_int_equal(vfs_walk(f->v, 1, log_name, &deep, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "b/c is nested deeper than 1 folders"));
	assert_true(vfs_is_temp_name(".k.wrap.123.tmp"));
	assert_false(vfs_is_temp_name("k.wrap"));
	assert_false(vfs_is_temp_name(".tmp"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(write_read_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(modes, setup, teardown),
		cmocka_unit_test_setup_teardown(list_sorted, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(symlink_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(symlink_folder_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(size_limit_and_special_files, setup, teardown),
		cmocka_unit_test_setup_teardown(atomic_write_failure_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(walk_tree_order_and_depth, setup, teardown),
	};
	return cmocka_run_group_tests_name("vfs_dir", tests, NULL, NULL);
}
