/* Test helper for the stick suite: works on a stick image or device with
 * the passphrase on standard input (one line), never in argv.
 *   decrypt STICK OUT   the whole data segment, decrypted, into file OUT
 *   encrypt STICK IN    file IN (plaintext) encrypted over the data segment
 *   write STICK PATH    standard input after the passphrase line becomes
 *                       vault file PATH (vfs_write_atomic)
 *   cat STICK PATH      vault file PATH to standard output
 *   ls STICK DIR        names in DIR, one a line
 *   update STICK N      the crash-test writer: writes shares/share-N.pbe,
 *                       then manifest version N+1 naming it, then replaces
 *                       RECOVERY.md (vault layer)
 *   current STICK -     loads the current manifest version (chain and file
 *                       hashes checked) and prints its number */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stick/luks.h"
#include "stick/stick.h"
#include "stick/xts.h"
#include "stick/xts_io.h"
#include "util/prompt.h"
#include "vault/manifest.h"
#include "vault/vault.h"

static int die(const hv_err *e)
{
	fprintf(stderr, "stick_testtool: %s\n", e->msg);
	return e->code ? e->code : 1;
}

static int crypt_whole(const char *stick, const char *file, const secbuf *pass, int decrypt,
		       hv_err *e)
{
	luks_info info;
	secbuf *vk = NULL;
	int rc = luks_unlock(stick, pass, &vk, &info, e);
	if (rc)
		return rc;
	int fd = open(stick, decrypt ? O_RDONLY : O_RDWR);
	int ffd = decrypt ? open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600) : open(file, O_RDONLY);
	if (fd < 0 || ffd < 0) {
		perror("open");
		return 6;
	}
	xts_volume *v;
	rc = xts_volume_new_cipher(fd, info.data_offset, info.data_size, info.sector_size,
				   info.cipher, info.mode, info.iv_offset, vk, &v, e);
	secbuf_free(vk);
	if (rc)
		return rc;
	size_t chunk = 1 << 20;
	uint8_t *buf = malloc(chunk);
	for (uint64_t off = 0; off < xts_volume_size(v) && !rc; off += chunk) {
		size_t n = xts_volume_size(v) - off < chunk ? (size_t)(xts_volume_size(v) - off) : chunk;
		if (decrypt) {
			rc = xts_read(v, off, buf, n, e);
			if (!rc && pwrite(ffd, buf, n, (off_t)off) != (ssize_t)n)
				rc = hv_fail(e, HV_EIO, "writing %s", file);
		} else {
			if (pread(ffd, buf, n, (off_t)off) != (ssize_t)n)
				rc = hv_fail(e, HV_EIO, "%s is shorter than the data segment", file);
			else
				rc = xts_write(v, off, buf, n, e);
		}
	}
	free(buf);
	xts_volume_free(v);
	close(fd);
	close(ffd);
	return rc;
}

static int read_stdin(uint8_t **data, size_t *len)
{
	size_t cap = 4096;
	*data = malloc(cap);
	*len = 0;
	for (;;) {
		if (*len == cap)
			*data = realloc(*data, cap *= 2);
		ssize_t r = read(0, *data + *len, cap - *len);
		if (r <= 0)
			return r < 0 ? -1 : 0;
		*len += (size_t)r;
	}
}

static int update(vfs *v, unsigned long n, hv_err *e)
{
	char path[64], content[128];
	snprintf(path, sizeof(path), "shares/share-%lu.pbe", n);
	int len = snprintf(content, sizeof(content), "share %lu content, padded to be distinct\n", n);
	int rc = vfs_write_atomic(v, path, content, (size_t)len, e);
	if (rc)
		return rc;
	manifest *cur = NULL, *next = NULL;
	if ((rc = manifest_load_current(v, &cur, e)) || (rc = manifest_clone(cur, &next, e)))
		goto out;
	manifest_share s;
	memset(&s, 0, sizeof(s));
	char sha[65];
	manifest_sha256_hex(content, (size_t)len, sha);
	s.index = (unsigned)next->share_n + 1;
	s.file = path;
	s.sha256 = sha;
	s.scheme = (char *)"password";
	s.threshold = 1;
	char *holder = (char *)"tester";
	s.holders.items = &holder;
	s.holders.count = 1;
	if (!manifest_add_share(next, &s)) {
		rc = hv_fail(e, HV_ENOMEM, "out of memory");
		goto out;
	}
	next->share_count = (unsigned)next->share_n;
	if ((rc = manifest_append(v, next, "crash-test update", e)))
		goto out;
	/* and a replacement of an existing name, as after every append */
	manifest_free(cur);
	cur = NULL;
	if (!(rc = manifest_load_current(v, &cur, e)))
		rc = vault_write_recovery(v, cur, e);
out:
	manifest_free(cur);
	manifest_free(next);
	return rc;
}

int main(int argc, char **argv)
{
	hv_err e;
	hv_err_clear(&e);
	if (argc != 4) {
		fprintf(stderr, "usage: stick_testtool decrypt|encrypt|write|cat|ls|update|current STICK ARG\n");
		return 2;
	}
	const char *cmd = argv[1], *stick = argv[2], *arg = argv[3];
	/* The crash test asks this tool (not hsmvault) to die after N writes. */
	const char *kill_after = getenv("HSMVAULT_TEST_KILL_AFTER_WRITES");
	if (kill_after && *kill_after)
		xts_io_kill_after_writes(strtol(kill_after, NULL, 10));
	secbuf *pass = NULL;
	if (secret_from_fd(0, LUKS_PASSPHRASE_MAX, &pass, &e))
		return die(&e);
	int rc;
	if (!strcmp(cmd, "decrypt") || !strcmp(cmd, "encrypt")) {
		rc = crypt_whole(stick, arg, pass, cmd[0] == 'd', &e);
		secbuf_free(pass);
		return rc ? die(&e) : 0;
	}
	vfs *v = NULL;
	int writable = !strcmp(cmd, "write") || !strcmp(cmd, "update");
	rc = stick_open_vfs(stick, pass, writable, &v, &e);
	secbuf_free(pass);
	if (rc)
		return die(&e);
	if (!strcmp(cmd, "write")) {
		uint8_t *d;
		size_t n;
		read_stdin(&d, &n);
		rc = vfs_write_atomic(v, arg, d, n, &e);
		free(d);
	} else if (!strcmp(cmd, "cat")) {
		uint8_t *d;
		size_t n;
		rc = vfs_read(v, arg, 1 << 30, &d, &n, &e);
		if (!rc) {
			fwrite(d, 1, n, stdout);
			free(d);
		}
	} else if (!strcmp(cmd, "ls")) {
		char **names;
		size_t n;
		rc = vfs_list(v, arg, &names, &n, &e);
		for (size_t i = 0; !rc && i < n; i++)
			printf("%s\n", names[i]);
		if (!rc)
			vfs_names_free(names, n);
	} else if (!strcmp(cmd, "current")) {
		manifest *m = NULL;
		rc = manifest_load_current(v, &m, &e);
		if (!rc) {
			printf("%lu\n", m->version);
			manifest_free(m);
		}
	} else if (!strcmp(cmd, "update")) {
		rc = update(v, strtoul(arg, NULL, 10), &e);
	} else {
		rc = hv_fail(&e, HV_EUSAGE, "unknown command %s", cmd);
	}
	vfs_close(v);
	return rc ? die(&e) : 0;
}
