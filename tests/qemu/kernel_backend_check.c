/* The kernel backend's own contract, run inside the test VM as root on
 * the device given as argument (a LUKS2 volume the host formatted with the
 * passphrase below):
 * mkfs through the mapping, open/write/read/close through the vfs, nothing
 * left mapped or mounted after close, exit or SIGTERM, keep_mounted plus
 * kernel_vault_close, wrong passphrase. With the argument "host" it checks
 * instead that a machine without device-mapper gets the clear refusal. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "stick/kernel_backend.h"
#include "util/secbuf.h"

static const char *device = "/dev/vda";
#define PASSPHRASE "vm test passphrase"

static secbuf *pass(const char *s)
{
	secbuf *b = secbuf_dup(s, strlen(s));
	assert_non_null(b);
	return b;
}

/* Counts /proc/self/mounts lines whose text contains needle. */
static int mounts_with(const char *needle)
{
	FILE *f = fopen("/proc/self/mounts", "r");
	char line[1024];
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

/* Our mappings still present in /dev/mapper (by name prefix). */
static int our_mappings(void)
{
	FILE *p = popen("dmsetup ls 2>/dev/null | grep -c '^hsmvault-'", "r");
	int n = -1;

	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

/* 1 when the mount on mountpoint shows option list opts. */
static int mount_has_options(const char *mountpoint, const char *opts)
{
	FILE *f = fopen("/proc/self/mounts", "r");
	char line[1024], d[512], m[512], t[64], o[512];
	int found = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%511s %511s %63s %511s", d, m, t, o) == 4 &&
		    strcmp(m, mountpoint) == 0 && strstr(o, opts))
			found = 1;
	fclose(f);
	return found;
}

static void assert_nothing_left(void)
{
	/* A mapping removed at exit or on a signal goes a moment after the
	 * process (deferred removal); give it up to 3 s. */
	for (int i = 0; i < 30 && our_mappings() != 0; i++)
		usleep(100000);
	assert_int_equal(our_mappings(), 0);
	assert_int_equal(mounts_with("/hsmvault-"), 0);
	assert_int_equal(mounts_with("/dev/mapper/"), 0);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static void test_available(void **state)
{
	hv_err err = { 0 };
	(void)state;
	assert_int_equal(kernel_backend_available(&err), 0);
}

static void test_format_fs(void **state)
{
	hv_err err = { 0 };
	secbuf *wrong = pass("not the passphrase"), *right = pass(PASSPHRASE);
	(void)state;

	assert_int_equal(kernel_stick_format_fs(device, wrong, &err), HV_ESECRET);
	assert_non_null(strstr(err.msg, "wrong passphrase"));
	assert_nothing_left();
	hv_err_clear(&err);
	assert_int_equal(kernel_stick_format_fs(device, right, &err), 0);
	assert_nothing_left();
	secbuf_free(wrong);
	secbuf_free(right);
}

static void test_open_write_close_reopen(void **state)
{
	hv_err err = { 0 };
	secbuf *pw = pass(PASSPHRASE);
	static uint8_t data[200000];
	char mp[256] = "", opts[512], parent[256];
	struct stat st;
	uint8_t *back = NULL;
	size_t len = 0, count = 0;
	char **names = NULL;
	vfs *v = NULL;
	(void)state;

	fill(data, sizeof(data), 7);
	assert_int_equal(kernel_vault_open(device, pw, 0, &v, mp, sizeof(mp), &err), 0);
	assert_non_null(v);
	/* A private folder, mounted nosuid,nodev,noexec. */
	assert_int_equal(strncmp(mp, "/run/hsmvault-", 14), 0);
	assert_non_null(strstr(mp, "/vault"));
	snprintf(parent, sizeof(parent), "%.*s", (int)(strstr(mp, "/vault") - mp), mp);
	assert_int_equal(stat(parent, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(opts, sizeof(opts), " %s ext4 ", mp);
	assert_int_equal(mounts_with(opts), 1);
	assert_true(mount_has_options(mp, "nosuid,nodev,noexec"));
	assert_int_equal(our_mappings(), 1);

	assert_int_equal(vfs_mkdir(v, "keys", &err), 0);
	assert_int_equal(vfs_write_atomic(v, "keys/blob.bin", data, sizeof(data), &err), 0);
	assert_int_equal(vfs_write_atomic(v, "HSMVAULT", "x\n", 2, &err), 0);
	assert_int_equal(vfs_sync(v, &err), 0);
	assert_int_equal(vfs_list(v, "keys", &names, &count, &err), 0);
	assert_int_equal(count, 1);
	assert_string_equal(names[0], "blob.bin");
	vfs_names_free(names, count);
	vfs_close(v);
	assert_nothing_left();
	assert_int_equal(stat(mp, &st), -1);
	assert_int_equal(stat(parent, &st), -1);

	assert_int_equal(kernel_vault_open(device, pw, 0, &v, NULL, 0, &err), 0);
	assert_int_equal(vfs_read(v, "keys/blob.bin", 1 << 20, &back, &len, &err), 0);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(back, data, sizeof(data));
	free(back);
	assert_int_equal(vfs_exists(v, "HSMVAULT", &err), 1);
	assert_int_equal(vfs_exists(v, "absent", &err), 0);
	vfs_close(v);
	assert_nothing_left();
	secbuf_free(pw);
}

static void test_wrong_passphrase_open(void **state)
{
	hv_err err = { 0 };
	secbuf *pw = pass("wrong");
	vfs *v = NULL;
	(void)state;

	assert_int_equal(kernel_vault_open(device, pw, 0, &v, NULL, 0, &err), HV_ESECRET);
	assert_null(v);
	assert_nothing_left();
	secbuf_free(pw);
}

static void test_keep_mounted_then_close(void **state)
{
	hv_err err = { 0 };
	secbuf *pw = pass(PASSPHRASE);
	char mp[256] = "", name[64];
	struct stat st;
	vfs *v = NULL;
	FILE *p;
	(void)state;

	/* By mount point. */
	assert_int_equal(kernel_vault_open(device, pw, 1, &v, mp, sizeof(mp), &err), 0);
	vfs_close(v);
	assert_int_equal(mounts_with(mp), 1);
	assert_int_equal(kernel_vault_close(mp, &err), 0);
	assert_nothing_left();
	assert_int_equal(stat(mp, &st), -1);

	/* By mapping name, as `dmsetup ls` shows it. */
	assert_int_equal(kernel_vault_open(device, pw, 1, &v, mp, sizeof(mp), &err), 0);
	vfs_close(v);
	p = popen("dmsetup ls | awk '/^hsmvault-/ { print $1 }'", "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%63s", name), 1);
	pclose(p);
	assert_int_equal(kernel_vault_close(name, &err), 0);
	assert_nothing_left();

	/* Something that is not ours is refused. */
	assert_int_equal(kernel_vault_close("/proc", &err), HV_EUSAGE);
	assert_int_equal(kernel_vault_close("hsmvault-999999", &err), HV_EUSAGE);
	secbuf_free(pw);
}

/* A child opens the vault and then ends by exit or by a signal; whatever
 * it set up must be gone afterwards. */
static void child_ends(int how)
{
	int up[2], down[2];
	pid_t pid;
	char c;
	int status;

	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		hv_err err = { 0 };
		secbuf *pw = secbuf_dup(PASSPHRASE, strlen(PASSPHRASE));
		vfs *v = NULL;
		close(up[0]);
		close(down[1]);
		if (kernel_vault_open(device, pw, 0, &v, NULL, 0, &err) != 0) {
			fprintf(stderr, "child: %s\n", err.msg);
			_exit(20);
		}
		if (vfs_write_atomic(v, "child.txt", "c", 1, &err) != 0)
			_exit(21);
		if (write(up[1], "o", 1) != 1)
			_exit(22);
		if (how != 0)
			pause();
		/* Wait until the parent saw the mapping, then exit without
		 * vfs_close: the atexit handler must clean up. */
		if (read(down[0], &c, 1) != 1)
			_exit(23);
		exit(0);
	}
	close(up[1]);
	close(down[0]);
	assert_int_equal(read(up[0], &c, 1), 1);
	close(up[0]);
	assert_int_equal(our_mappings(), 1);
	if (how != 0)
		kill(pid, how);
	else
		assert_int_equal(write(down[1], "g", 1), 1);
	close(down[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (how == 0) {
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	} else {
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), how);
	}
	assert_nothing_left();
}

static void test_cleanup_at_exit(void **state)
{
	(void)state;
	child_ends(0);
}

static void test_cleanup_on_sigterm(void **state)
{
	(void)state;
	child_ends(SIGTERM);
}

static void test_cleanup_on_sigint(void **state)
{
	(void)state;
	child_ends(SIGINT);
}

/* Off the VM: this machine has no device-mapper (or we are not root). */
static void test_host_refuses(void **state)
{
	hv_err err = { 0 };
	secbuf *pw = pass(PASSPHRASE);
	vfs *v = NULL;
	(void)state;

	/* A host with a working device-mapper fails here: this check is for
	 * the machines the test suite is made for (design.md section 6). */
	assert_int_equal(kernel_backend_available(&err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "the kernel backend needs root and device-mapper "
				       "(dm-crypt); use the default userspace backend"));
	hv_err_clear(&err);
	assert_int_equal(kernel_vault_open("/nonexistent", pw, 0, &v, NULL, 0, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "needs root and device-mapper"));
	assert_null(v);
	secbuf_free(pw);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest vm[] = {
		cmocka_unit_test(test_available),
		cmocka_unit_test(test_format_fs),
		cmocka_unit_test(test_open_write_close_reopen),
		cmocka_unit_test(test_wrong_passphrase_open),
		cmocka_unit_test(test_keep_mounted_then_close),
		cmocka_unit_test(test_cleanup_at_exit),
		cmocka_unit_test(test_cleanup_on_sigterm),
		cmocka_unit_test(test_cleanup_on_sigint),
	};
	const struct CMUnitTest host[] = {
		cmocka_unit_test(test_host_refuses),
	};

	if (argc > 1 && strcmp(argv[1], "host") == 0)
		return cmocka_run_group_tests_name("kernel backend on the host", host, NULL, NULL);
	if (argc > 1)
		device = argv[1];
	return cmocka_run_group_tests_name("kernel backend in the VM", vm, NULL, NULL);
}
