#include <dirent.h>
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

#include "util/fileio.h"

struct fx {
	char dir[4096];
	int dfd;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *t = getenv("TMPDIR");
	snprintf(f->dir, sizeof(f->dir), "%s/hv-fileio-XXXXXX", t && *t ? t : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	f->dfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(f->dfd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	DIR *d = fdopendir(f->dfd);
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int entries(struct fx *f)
{
	int n = 0;
	DIR *d = opendir(f->dir);
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void write_then_read(void **state)
{
	struct fx *f = *state;
	hv_err err;
	assert_int_equal(file_write_atomic_at(f->dfd, "a.bin", "\x00\x01\x02", 3, &err), HV_OK);
	uint8_t *d;
	size_t n;
	assert_int_equal(file_read_at(f->dfd, "a.bin", 3, &d, &n, &err), HV_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(d, "\x00\x01\x02", 3);
	free(d);
	struct stat st;
	assert_int_equal(fstatat(f->dfd, "a.bin", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* replacing keeps one entry: no temporary file left behind */
	assert_int_equal(file_write_atomic_at(f->dfd, "a.bin", "new", 3, &err), HV_OK);
	assert_int_equal(entries(f), 1);
	/* the path variants */
	char p[4200];
	snprintf(p, sizeof(p), "%s/b.txt", f->dir);
	assert_int_equal(file_write_atomic(p, "hello", 5, &err), HV_OK);
	assert_int_equal(file_read(p, 100, &d, &n, &err), HV_OK);
	assert_memory_equal(d, "hello", 5);
	free(d);
	assert_int_equal(entries(f), 2);
}

static void symlinks_refused(void **state)
{
	struct fx *f = *state;
	hv_err err;
	assert_int_equal(file_write_atomic_at(f->dfd, "target", "keep", 4, &err), HV_OK);
	assert_int_equal(symlinkat("target", f->dfd, "link"), 0);
	uint8_t *d;
	size_t n;
	assert_int_equal(file_read_at(f->dfd, "link", 100, &d, &n, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "link is a symbolic link"));
	assert_int_equal(file_write_atomic_at(f->dfd, "link", "evil", 4, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "symbolic link"));
	assert_int_equal(file_read_at(f->dfd, "target", 100, &d, &n, &err), HV_OK);
	assert_memory_equal(d, "keep", 4);
	free(d);
	struct stat st;
	assert_int_equal(fstatat(f->dfd, "link", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));
}

static void oversize_and_odd_files(void **state)
{
	struct fx *f = *state;
	hv_err err;
	assert_int_equal(file_write_atomic_at(f->dfd, "ten", "0123456789", 10, &err), HV_OK);
	uint8_t *d = (uint8_t *)"x";
	size_t n = 7;
	assert_int_equal(file_read_at(f->dfd, "ten", 9, &d, &n, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "10 bytes"));
	assert_null(d);
	assert_int_equal(n, 0);
	assert_int_equal(file_read_at(f->dfd, "ten", 10, &d, &n, &err), HV_OK);
	free(d);
	assert_int_equal(file_read_at(f->dfd, "missing", 10, &d, &n, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "missing"));
	assert_int_equal(mkdirat(f->dfd, "sub", 0700), 0);
	assert_int_equal(file_read_at(f->dfd, "sub", 10, &d, &n, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "not a regular file"));
	unlinkat(f->dfd, "sub", AT_REMOVEDIR);
	/* a FIFO is refused at once instead of blocking the open */
	assert_int_equal(mkfifoat(f->dfd, "fifo", 0600), 0);
	assert_int_equal(file_read_at(f->dfd, "fifo", 10, &d, &n, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "not a regular file"));
}

static void stale_temp_replaced(void **state)
{
	struct fx *f = *state;
	hv_err err;
	/* what a crashed run with our pid would have left */
	char tmp[64];
	snprintf(tmp, sizeof(tmp), ".f.%ld.tmp", (long)getpid());
	int fd = openat(f->dfd, tmp, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(file_write_atomic_at(f->dfd, "f", "data", 4, &err), HV_OK);
	assert_int_equal(entries(f), 1);
}

static void failed_write_keeps_old(void **state)
{
	struct fx *f = *state;
	hv_err err;
	assert_int_equal(file_write_atomic_at(f->dfd, "f", "old", 3, &err), HV_OK);
	struct rlimit old, small;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_cur = 16;
	small.rlim_max = old.rlim_max;
	void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	char big[1000];
	memset(big, 'x', sizeof(big));
	int rc = file_write_atomic_at(f->dfd, "f", big, sizeof(big), &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	assert_int_equal(rc, HV_EIO);
	uint8_t *d;
	size_t n;
	assert_int_equal(file_read_at(f->dfd, "f", 100, &d, &n, &err), HV_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(d, "old", 3);
	free(d);
	assert_int_equal(entries(f), 1);
}

int main(void)
{
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(write_then_read),
		T(symlinks_refused),
		T(oversize_and_odd_files),
		T(stale_temp_replaced),
		T(failed_write_keeps_old),
	};
	return cmocka_run_group_tests_name("fileio", tests, NULL, NULL);
}
