#include "testutil.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

char *tu_mkdtemp(void)
{
	const char *t = getenv("TMPDIR");
	char tmpl[4096];
	snprintf(tmpl, sizeof(tmpl), "%s/hsmvault-test-XXXXXX", t && *t ? t : "/tmp");
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return strdup(d);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		chmod(p, 0700), rmdir(p);
	else
		unlink(p);
	return 0;
}

void tu_rmrf(const char *path)
{
	nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

const char *tu_path(const char *dir, const char *rel)
{
	static char buf[2][4096];
	static int k;
	k ^= 1;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	return buf[k];
}

char *tu_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *b = malloc(cap + 1);
	size_t r;
	while ((r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			b = realloc(b, (cap *= 2) + 1);
	}
	fclose(f);
	b[n] = '\0';
	if (len)
		*len = n;
	return b;
}

void tu_write(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

void tu_copy_tree(const char *src, const char *dst)
{
	pid_t p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		execlp("cp", "cp", "-R", src, dst, (char *)NULL);
		_exit(127);
	}
	int st;
	assert_int_equal(waitpid(p, &st, 0), p);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

const char *tu_env(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v)
		fail_msg("%s is not set: run this test through 'meson test'", name);
	return v;
}

static char *slurp_fd(int fd)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap + 1);
	ssize_t r;
	while ((r = read(fd, b + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap)
			b = realloc(b, (cap *= 2) + 1);
	}
	b[n] = '\0';
	return b;
}

int tu_run(char *const argv[], char **out, char **errout)
{
	char *dir = tu_mkdtemp();
	char o[4200], e[4200];
	snprintf(o, sizeof(o), "%s/out", dir);
	snprintf(e, sizeof(e), "%s/err", dir);
	pid_t p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fo < 0 || fe < 0)
			_exit(126);
		dup2(fo, 1);
		dup2(fe, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	int st;
	assert_int_equal(waitpid(p, &st, 0), p);
	int fd = open(o, O_RDONLY);
	*out = slurp_fd(fd);
	close(fd);
	fd = open(e, O_RDONLY);
	*errout = slurp_fd(fd);
	close(fd);
	tu_rmrf(dir);
	free(dir);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
