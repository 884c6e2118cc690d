/* The userspace stick backend through its public API (stick.h): vfs round
 * trips, folder growth, replacement, reopening, read-only and wrong
 * passphrase, e2fsck of a decrypted copy, and the plain64 IV checked by an
 * independent AES-XTS decryption (OpenSSL directly) past block 0, for 512-
 * and 4096-byte sectors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "stick/luks.h"
#include "stick/stick.h"
#include "stick/xts.h"
#include "vault/manifest.h"
#include "vault/vault.h"

static const char passphrase[] = "test passphrase, not secret";

struct fixture {
	char dir[64];
	char img[128];
	secbuf *pass;
	unsigned ss;
};

static int give_pass(void *ctx, const secbuf **out, hv_err *err)
{
	(void)err;
	*out = ((struct fixture *)ctx)->pass;
	return HV_OK;
}

static int setup(void **state, unsigned ss)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/hv-stick-vfs.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->img, sizeof(f->img), "%s/stick.img", f->dir);
	f->pass = secbuf_dup(passphrase, strlen(passphrase));
	f->ss = ss;
	stick_prepare_opts o = { .size = 40 << 20, .sector_size = ss, .insecure_fast_kdf = 1,
				 .batch = 1 };
	hv_err e;
	hv_err_clear(&e);
	vfs *v = NULL;
	int rc = stick_prepare(f->img, &o, give_pass, f, &v, &e);
	if (rc)
		fail_msg("prepare: %s", e.msg);
	vfs_close(v);
	*state = f;
	return 0;
}
static int setup512(void **s) { return setup(s, 512); }
static int setup4096(void **s) { return setup(s, 4096); }

static int teardown(void **state)
{
	struct fixture *f = *state;
	unlink(f->img);
	char p[160];
	snprintf(p, sizeof(p), "%s/plain", f->dir);
	unlink(p);
	rmdir(f->dir);
	secbuf_free(f->pass);
	free(f);
	return 0;
}

static vfs *open_rw(struct fixture *f, int writable)
{
	hv_err e;
	hv_err_clear(&e);
	vfs *v = NULL;
	if (stick_open_vfs(f->img, f->pass, writable, &v, &e))
		fail_msg("open: %s", e.msg);
	return v;
}

static void expect_file(vfs *v, const char *path, const void *data, size_t len)
{
	hv_err e;
	hv_err_clear(&e);
	uint8_t *d = NULL;
	size_t n = 0;
	if (vfs_read(v, path, 64 << 20, &d, &n, &e))
		fail_msg("read %s: %s", path, e.msg);
	assert_int_equal(n, len);
	assert_memory_equal(d, data, len);
	free(d);
}

static void put(vfs *v, const char *path, const void *data, size_t len)
{
	hv_err e;
	hv_err_clear(&e);
	if (vfs_write_atomic(v, path, data, len, &e))
		fail_msg("write %s: %s", path, e.msg);
}

/* Decrypts the data segment with the stick's own layer and runs e2fsck -fn. */
static void fsck_clean(struct fixture *f)
{
	hv_err e;
	hv_err_clear(&e);
	luks_info info;
	secbuf *vk = NULL;
	assert_int_equal(luks_unlock(f->img, f->pass, &vk, &info, &e), HV_OK);
	int fd = open(f->img, O_RDONLY);
	char plain[160];
	snprintf(plain, sizeof(plain), "%s/plain", f->dir);
	int out = open(plain, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && out >= 0);
	xts_volume *x;
	assert_int_equal(xts_volume_new(fd, info.data_offset, info.data_size, info.sector_size, vk,
					&x, &e), HV_OK);
	secbuf_free(vk);
	uint8_t *buf = malloc(1 << 20);
	for (uint64_t off = 0; off < xts_volume_size(x); off += 1 << 20) {
		assert_int_equal(xts_read(x, off, buf, 1 << 20, &e), HV_OK);
		assert_int_equal(pwrite(out, buf, 1 << 20, (off_t)off), 1 << 20);
	}
	free(buf);
	xts_volume_free(x);
	close(fd);
	close(out);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "e2fsck -fn %s >/dev/null 2>&1", plain);
	int st = system(cmd);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) != 0) {
		snprintf(cmd, sizeof(cmd), "e2fsck -fn %s", plain);
		(void)!system(cmd);
		fail_msg("e2fsck -fn exit %d", WEXITSTATUS(st));
	}
}

static void test_roundtrip(void **state)
{
	struct fixture *f = *state;
	hv_err e;
	hv_err_clear(&e);
	vfs *v = open_rw(f, 1);

	put(v, "a.txt", "hello", 5);
	expect_file(v, "a.txt", "hello", 5);
	put(v, "empty", "", 0);
	expect_file(v, "empty", "", 0);
	assert_int_equal(vfs_exists(v, "a.txt", &e), 1);
	assert_int_equal(vfs_exists(v, "nope", &e), 0);
	assert_int_equal(vfs_exists(v, "nope/deeper", &e), 0);

	/* replace: bigger over several blocks and extents, then smaller */
	size_t big = 3 * 1024 * 1024 + 123;
	uint8_t *data = malloc(big);
	for (size_t i = 0; i < big; i++)
		data[i] = (uint8_t)(i * 7 + i / 4096);
	put(v, "a.txt", data, big);
	expect_file(v, "a.txt", data, big);
	put(v, "a.txt", "small again", 11);
	expect_file(v, "a.txt", "small again", 11);

	/* folders: nested creation, an existing folder is fine */
	assert_int_equal(vfs_mkdir(v, "keys/0123456789ABCDEF", &e), HV_OK);
	assert_int_equal(vfs_mkdir(v, "keys/0123456789ABCDEF", &e), HV_OK);
	put(v, "keys/0123456789ABCDEF/01.wrap", "blob", 4);
	put(v, "manifest/000001.yaml", "v1", 2); /* parent made on the way */
	char **names;
	size_t n;
	assert_int_equal(vfs_list(v, "", &names, &n, &e), HV_OK);
	const char *want[] = { "a.txt", "empty", "keys", "lost+found", "manifest" };
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(names[i], want[i]);
	vfs_names_free(names, n);
	assert_int_equal(vfs_list(v, "missing/folder", &names, &n, &e), HV_OK);
	assert_int_equal(n, 0);
	vfs_names_free(names, n);

	/* many names: the folder grows past one block, listing stays sorted */
	char path[128];
	for (int i = 299; i >= 0; i--) {
		snprintf(path, sizeof(path), "many/file-with-a-longish-name-%03d.yaml", i);
		put(v, path, path, strlen(path));
	}
	assert_int_equal(vfs_list(v, "many", &names, &n, &e), HV_OK);
	assert_int_equal(n, 300);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "file-with-a-longish-name-%03zu.yaml", i);
		assert_string_equal(names[i], path);
	}
	vfs_names_free(names, n);

	/* refusals */
	assert_int_not_equal(vfs_write_atomic(v, "keys", "x", 1, &e), HV_OK);
	assert_int_not_equal(vfs_write_atomic(v, "../x", "x", 1, &e), HV_OK);
	assert_int_not_equal(vfs_write_atomic(v, "/abs", "x", 1, &e), HV_OK);
	assert_int_not_equal(vfs_write_atomic(v, "a//b", "x", 1, &e), HV_OK);
	assert_int_not_equal(vfs_mkdir(v, "a.txt/sub", &e), HV_OK);
	uint8_t *d;
	assert_int_not_equal(vfs_read(v, "missing", 100, &d, &n, &e), HV_OK);
	assert_int_not_equal(vfs_read(v, "keys", 100, &d, &n, &e), HV_OK);
	assert_int_not_equal(vfs_read(v, "manifest/000001.yaml", 1, &d, &n, &e), HV_OK);
	assert_int_equal(vfs_sync(v, &e), HV_OK);
	vfs_close(v);

	/* persisted; read-only open reads and refuses writes */
	v = open_rw(f, 0);
	expect_file(v, "a.txt", "small again", 11);
	expect_file(v, "keys/0123456789ABCDEF/01.wrap", "blob", 4);
	expect_file(v, "many/file-with-a-longish-name-123.yaml",
		    "many/file-with-a-longish-name-123.yaml", 38);
	assert_int_not_equal(vfs_write_atomic(v, "b", "x", 1, &e), HV_OK);
	vfs_close(v);
	free(data);
	fsck_clean(f);
}

static void test_wrong_passphrase(void **state)
{
	struct fixture *f = *state;
	hv_err e;
	hv_err_clear(&e);
	secbuf *wrong = secbuf_dup("wrong", 5);
	vfs *v = NULL;
	assert_int_equal(stick_open_vfs(f->img, wrong, 0, &v, &e), HV_ESECRET);
	assert_null(v);
	secbuf_free(wrong);
	/* one writer at a time */
	vfs *first = open_rw(f, 1);
	assert_int_equal(stick_open_vfs(f->img, f->pass, 1, &v, &e), HV_ESAFETY);
	assert_non_null(strstr(e.msg, "another hsmvault has it open"));
	assert_null(v);
	vfs_close(first);
	v = open_rw(f, 1);
	vfs_close(v);
}

/* Independent AES-XTS: one sector with IV = little-endian iv_index. */
static void decrypt_sector(const uint8_t *key, uint64_t iv_index, const uint8_t *in, uint8_t *out,
			   int len)
{
	uint8_t iv[16] = { 0 };
	for (int i = 0; i < 8; i++)
		iv[i] = (uint8_t)(iv_index >> (8 * i));
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0;
	assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_256_xts(), NULL, key, iv), 1);
	assert_int_equal(EVP_DecryptUpdate(c, out, &n, in, len), 1);
	assert_int_equal(n, len);
	EVP_CIPHER_CTX_free(c);
}

static void test_iv_past_block_zero(void **state)
{
	struct fixture *f = *state;
	hv_err e;
	hv_err_clear(&e);
	/* a recognizable 64 KiB file somewhere after block 0 */
	size_t plen = 64 * 1024;
	uint8_t *probe = malloc(plen);
	for (size_t i = 0; i < plen; i++)
		probe[i] = (uint8_t)((i * 131) ^ (i >> 8) ^ 0x5a);
	memcpy(probe, "IV-PROBE", 8);
	vfs *v = open_rw(f, 1);
	put(v, "probe.bin", probe, plen);
	vfs_close(v);

	luks_info info;
	secbuf *vk = NULL;
	assert_int_equal(luks_unlock(f->img, f->pass, &vk, &info, &e), HV_OK);
	assert_int_equal(info.sector_size, f->ss);
	assert_int_equal(info.data_offset, 16 << 20);
	int fd = open(f->img, O_RDONLY);
	assert_true(fd >= 0);
	uint64_t nsec = info.data_size / f->ss;
	uint8_t *raw = malloc(info.data_size), *plain = malloc(info.data_size);
	assert_int_equal(pread(fd, raw, info.data_size, (off_t)info.data_offset),
			 (ssize_t)info.data_size);
	/* dm-crypt's plain64 with LUKS2 defaults: 512-byte units whatever
	 * the sector size (sector n of 4096 bytes uses IV 8n) */
	for (uint64_t s = 0; s < nsec; s++)
		decrypt_sector(vk->data, s * (f->ss / 512), raw + s * f->ss, plain + s * f->ss,
			       (int)f->ss);
	uint8_t *hit = memmem(plain, info.data_size, probe, plen);
	assert_non_null(hit);
	uint64_t at = (uint64_t)(hit - plain);
	assert_true(at >= 4096); /* past block 0 */
	/* the superblock agrees too */
	assert_int_equal(plain[1024 + 56] | plain[1024 + 57] << 8, 0xEF53);
	if (f->ss == 4096) {
		/* the iv_large_sectors rule (IV n) must NOT give the plaintext */
		uint64_t s = at / 4096;
		uint8_t wrong[4096];
		decrypt_sector(vk->data, s, raw + s * 4096, wrong, 4096);
		assert_memory_not_equal(wrong, plain + s * 4096, 4096);
	}
	/* and the stick's own layer reads the same bytes */
	xts_volume *x;
	assert_int_equal(xts_volume_new(fd, info.data_offset, info.data_size, info.sector_size, vk,
					&x, &e), HV_OK);
	uint8_t *mine = malloc(plen + 1000);
	assert_int_equal(xts_read(x, at - 500, mine, plen + 1000, &e), HV_OK);
	assert_memory_equal(mine, plain + at - 500, plen + 1000);
	xts_volume_free(x);
	secbuf_free(vk);
	close(fd);
	free(raw);
	free(plain);
	free(probe);
	free(mine);
}

/* --vault IMAGE: vault_open hands a non-folder to the stick layer, which
 * reads the passphrase from the descriptor set by stick_set_passphrase_fd. */
static void test_vault_open(void **state)
{
	struct fixture *f = *state;
	hv_err e;
	hv_err_clear(&e);
	int p[2];
	assert_int_equal(pipe(p), 0);
	char line[64];
	int n = snprintf(line, sizeof(line), "%s\n%s\n", passphrase, passphrase);
	assert_int_equal(write(p[1], line, (size_t)n), n);
	close(p[1]);
	stick_set_passphrase_fd(p[0]);
	vfs *v = NULL;
	if (vault_open(f->img, 0, &v, &e))
		fail_msg("vault_open: %s", e.msg);
	assert_int_not_equal(vault_check(v, &e), HV_OK); /* no marker yet */
	if (vault_init(v, NULL, &e))
		fail_msg("vault_init: %s", e.msg);
	vfs_close(v);
	if (vault_open_existing(f->img, &v, &e))
		fail_msg("vault_open_existing: %s", e.msg);
	manifest *m = NULL;
	assert_int_equal(manifest_load_current(v, &m, &e), HV_OK);
	assert_int_equal(m->version, 1);
	manifest_free(m);
	vfs_close(v);
	/* the pipe is empty now: a third open fails cleanly, asks nothing */
	assert_int_not_equal(vault_open(f->img, 0, &v, &e), HV_OK);
	assert_null(v);
	stick_set_passphrase_fd(-1);
	close(p[0]);
	fsck_clean(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup512, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup4096, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_passphrase, setup4096, teardown),
		cmocka_unit_test_setup_teardown(test_iv_past_block_zero, setup512, teardown),
		cmocka_unit_test_setup_teardown(test_iv_past_block_zero, setup4096, teardown),
		cmocka_unit_test_setup_teardown(test_vault_open, setup4096, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
