/* killshim: an LD_PRELOAD library for the kill campaign (tests only, never
 * installed, never linked into hsmvault). It counts the operations that
 * change a file system below one folder and kills its own process with
 * SIGKILL at operation number N, before that operation runs, as a power
 * cut or `kill -9` would stop hsmvault between two system calls.
 *
 * Counted ("writes"): write, pwrite, writev, pwritev on a regular file;
 * fsync, fdatasync, syncfs, ftruncate on a regular file or a folder;
 * rename/renameat/renameat2, unlink/unlinkat, rmdir, mkdir/mkdirat, and
 * open/openat with O_CREAT or O_TRUNC (creating an empty file changes the
 * tree too). Only paths below KILLSHIM_ROOT count: hsmvault's own output to
 * a file (stdout redirected) or a library's cache never shifts the points.
 * The stick image lives below the root as well, so libcryptsetup's and the
 * XTS layer's writes to it are points of their own.
 *
 * Environment, read here only (hsmvault reads no fault variable):
 *   KILLSHIM_ROOT  absolute folder; unset: the shim counts nothing
 *   KILLSHIM_AT    kill at this write (1-based); 0 or unset: never kill
 *   KILLSHIM_LOG   file that receives one line per write counted
 *                  ("N op path"); the last line of a killed run is the
 *                  write that did not happen.
 *
 * Why not strace --inject=...:signal=KILL:when=N: its counter runs per
 * system call (and per tracee), not across the set, and it cannot tell a
 * write to the vault from one to a pipe or to stderr. */
/* Both the plain and the *64 symbols are defined here, so the header must
 * not rename one into the other. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static char root[PATH_MAX];
static size_t root_len;
static long kill_at;
static int log_fd = -1;
static atomic_long counter;
static atomic_int ready; /* 0: not yet, 1: configured, 2: inactive */

static void setup(void)
{
	if (atomic_load(&ready))
		return;
	const char *r = getenv("KILLSHIM_ROOT");
	const char *a = getenv("KILLSHIM_AT");
	const char *l = getenv("KILLSHIM_LOG");
	if (!r || r[0] != '/' || strlen(r) >= sizeof(root)) {
		atomic_store(&ready, 2);
		return;
	}
	strcpy(root, r);
	root_len = strlen(root);
	while (root_len > 1 && root[root_len - 1] == '/')
		root[--root_len] = '\0';
	kill_at = a ? strtol(a, NULL, 10) : 0;
	if (l && *l)
		/* a raw syscall: open() is interposed below */
		log_fd = (int)syscall(SYS_openat, AT_FDCWD, l,
				      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	atomic_store(&ready, 1);
}

__attribute__((constructor)) static void killshim_init(void)
{
	setup();
}

static int below_root(const char *path)
{
	return !strncmp(path, root, root_len) &&
	       (path[root_len] == '/' || path[root_len] == '\0');
}

/* The absolute path of name relative to dirfd (AT_FDCWD or a folder). */
static int resolve(int dirfd, const char *name, char *out, size_t cap)
{
	if (!name)
		return -1;
	if (name[0] == '/') {
		snprintf(out, cap, "%s", name);
		return 0;
	}
	char link[64], base[PATH_MAX];
	if (dirfd == AT_FDCWD)
		snprintf(link, sizeof(link), "/proc/self/cwd");
	else
		snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	ssize_t n = readlink(link, base, sizeof(base) - 1);
	if (n < 0)
		return -1;
	base[n] = '\0';
	if (name[0] == '\0')
		snprintf(out, cap, "%s", base);
	else
		snprintf(out, cap, "%s/%s", base, name);
	return 0;
}

static void count(const char *op, const char *path)
{
	long n = atomic_fetch_add(&counter, 1) + 1;
	if (log_fd >= 0) {
		char line[PATH_MAX + 64];
		int len = snprintf(line, sizeof(line), "%ld %s %s\n", n, op, path);
		if (len > 0)
			syscall(SYS_write, log_fd, line,
				(size_t)(len < (int)sizeof(line) ? len : (int)sizeof(line) - 1));
	}
	if (kill_at > 0 && n == kill_at) {
		syscall(SYS_kill, getpid(), SIGKILL);
		for (;;)
			pause();
	}
}

static void count_path(const char *op, int dirfd, const char *name)
{
	setup();
	if (atomic_load(&ready) != 1)
		return;
	char p[PATH_MAX + 256];
	if (resolve(dirfd, name, p, sizeof(p)) == 0 && below_root(p))
		count(op, p);
}

/* regular_only: data writes count on regular files only (a folder fsync
 * or a pipe write is not one). */
static void count_fd(const char *op, int fd, int regular_only)
{
	setup();
	if (atomic_load(&ready) != 1 || fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) != 0)
		return;
	if (regular_only ? !S_ISREG(st.st_mode) : !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
		return;
	char link[64], p[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, p, sizeof(p) - 1);
	if (n < 0)
		return;
	p[n] = '\0';
	if (below_root(p))
		count(op, p);
}

#define REAL(name, ret, ...)                                                     \
	static ret (*real_##name)(__VA_ARGS__);                                  \
	static void load_##name(void)                                            \
	{                                                                        \
		if (!real_##name)                                                \
			real_##name = (ret (*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name); \
	}

REAL(write, ssize_t, int, const void *, size_t)
ssize_t write(int fd, const void *b, size_t n)
{
	count_fd("write", fd, 1);
	load_write();
	return real_write(fd, b, n);
}

REAL(pwrite, ssize_t, int, const void *, size_t, off_t)
ssize_t pwrite(int fd, const void *b, size_t n, off_t o)
{
	count_fd("pwrite", fd, 1);
	load_pwrite();
	return real_pwrite(fd, b, n, o);
}

REAL(pwrite64, ssize_t, int, const void *, size_t, off64_t)
ssize_t pwrite64(int fd, const void *b, size_t n, off64_t o)
{
	count_fd("pwrite", fd, 1);
	load_pwrite64();
	return real_pwrite64(fd, b, n, o);
}

REAL(writev, ssize_t, int, const struct iovec *, int)
ssize_t writev(int fd, const struct iovec *v, int c)
{
	count_fd("writev", fd, 1);
	load_writev();
	return real_writev(fd, v, c);
}

REAL(pwritev, ssize_t, int, const struct iovec *, int, off_t)
ssize_t pwritev(int fd, const struct iovec *v, int c, off_t o)
{
	count_fd("pwritev", fd, 1);
	load_pwritev();
	return real_pwritev(fd, v, c, o);
}

REAL(pwritev64, ssize_t, int, const struct iovec *, int, off64_t)
ssize_t pwritev64(int fd, const struct iovec *v, int c, off64_t o)
{
	count_fd("pwritev", fd, 1);
	load_pwritev64();
	return real_pwritev64(fd, v, c, o);
}

REAL(fsync, int, int)
int fsync(int fd)
{
	count_fd("fsync", fd, 0);
	load_fsync();
	return real_fsync(fd);
}

REAL(fdatasync, int, int)
int fdatasync(int fd)
{
	count_fd("fdatasync", fd, 0);
	load_fdatasync();
	return real_fdatasync(fd);
}

REAL(syncfs, int, int)
int syncfs(int fd)
{
	count_fd("syncfs", fd, 0);
	load_syncfs();
	return real_syncfs(fd);
}

REAL(ftruncate, int, int, off_t)
int ftruncate(int fd, off_t len)
{
	count_fd("ftruncate", fd, 1);
	load_ftruncate();
	return real_ftruncate(fd, len);
}

REAL(ftruncate64, int, int, off64_t)
int ftruncate64(int fd, off64_t len)
{
	count_fd("ftruncate", fd, 1);
	load_ftruncate64();
	return real_ftruncate64(fd, len);
}

REAL(fallocate, int, int, int, off_t, off_t)
int fallocate(int fd, int mode, off_t off, off_t len)
{
	count_fd("fallocate", fd, 1);
	load_fallocate();
	return real_fallocate(fd, mode, off, len);
}

REAL(fallocate64, int, int, int, off64_t, off64_t)
int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
	count_fd("fallocate", fd, 1);
	load_fallocate64();
	return real_fallocate64(fd, mode, off, len);
}

REAL(rename, int, const char *, const char *)
int rename(const char *a, const char *b)
{
	count_path("rename", AT_FDCWD, b);
	load_rename();
	return real_rename(a, b);
}

REAL(renameat, int, int, const char *, int, const char *)
int renameat(int da, const char *a, int db, const char *b)
{
	count_path("rename", db, b);
	load_renameat();
	return real_renameat(da, a, db, b);
}

REAL(renameat2, int, int, const char *, int, const char *, unsigned int)
int renameat2(int da, const char *a, int db, const char *b, unsigned int f)
{
	count_path("rename", db, b);
	load_renameat2();
	return real_renameat2(da, a, db, b, f);
}

REAL(unlink, int, const char *)
int unlink(const char *p)
{
	count_path("unlink", AT_FDCWD, p);
	load_unlink();
	return real_unlink(p);
}

REAL(unlinkat, int, int, const char *, int)
int unlinkat(int d, const char *p, int f)
{
	count_path("unlink", d, p);
	load_unlinkat();
	return real_unlinkat(d, p, f);
}

REAL(rmdir, int, const char *)
int rmdir(const char *p)
{
	count_path("rmdir", AT_FDCWD, p);
	load_rmdir();
	return real_rmdir(p);
}

REAL(mkdir, int, const char *, mode_t)
int mkdir(const char *p, mode_t m)
{
	count_path("mkdir", AT_FDCWD, p);
	load_mkdir();
	return real_mkdir(p, m);
}

REAL(mkdirat, int, int, const char *, mode_t)
int mkdirat(int d, const char *p, mode_t m)
{
	count_path("mkdir", d, p);
	load_mkdirat();
	return real_mkdirat(d, p, m);
}

/* open with O_CREAT or O_TRUNC changes the tree (a new empty file, or a
 * file cut to nothing). */
static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | __O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

REAL(open, int, const char *, int, ...)
int open(const char *p, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	if (flags & (O_CREAT | O_TRUNC))
		count_path("open", AT_FDCWD, p);
	load_open();
	return real_open(p, flags, m);
}

REAL(open64, int, const char *, int, ...)
int open64(const char *p, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	if (flags & (O_CREAT | O_TRUNC))
		count_path("open", AT_FDCWD, p);
	load_open64();
	return real_open64(p, flags, m);
}

REAL(openat, int, int, const char *, int, ...)
int openat(int d, const char *p, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	if (flags & (O_CREAT | O_TRUNC))
		count_path("open", d, p);
	load_openat();
	return real_openat(d, p, flags, m);
}

REAL(openat64, int, int, const char *, int, ...)
int openat64(int d, const char *p, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	if (flags & (O_CREAT | O_TRUNC))
		count_path("open", d, p);
	load_openat64();
	return real_openat64(d, p, flags, m);
}
