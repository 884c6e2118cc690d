/* Host side of the qemu tests: reads and writes the files of a stick image
 * through the userspace backend (stick_open_vfs: LUKS2 unlock, AES-XTS,
 * libext2fs), the same path hsmvault takes.
 *
 *   stick_files hash IMAGE        one "sha256  path" line per file, sorted
 *   stick_files put IMAGE FOLDER  copies FOLDER's files into the vault
 *   stick_files cat IMAGE PATH    one file to stdout
 *
 * The passphrase is read from descriptor 3 (one line). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stick/stick.h"
#include "util/fileio.h"
#include "util/prompt.h"

#define MAX_FILE (64u << 20)

static void print_hash(const char *path, const uint8_t *data, size_t len)
{
	uint8_t md[32];
	unsigned n = 0;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (unsigned i = 0; i < n; i++)
		printf("%02x", md[i]);
	printf("  %s\n", path);
}

/* Depth-first in sorted order; a name that reads is a file, one that
 * lists is a folder. */
static int hash_tree(vfs *v, const char *dir, hv_err *err)
{
	char **names = NULL;
	size_t count = 0;
	int rc = vfs_list(v, dir, &names, &count, err);

	for (size_t i = 0; rc == 0 && i < count; i++) {
		char path[1024];
		uint8_t *data = NULL;
		size_t len = 0;
		hv_err ferr = { 0 };

		if (strcmp(names[i], "lost+found") == 0 && dir[0] == '\0')
			continue; /* made by mkfs, not part of any vault */
		snprintf(path, sizeof(path), "%s%s%s", dir, dir[0] ? "/" : "", names[i]);
		if (vfs_read(v, path, MAX_FILE, &data, &len, &ferr) == 0) {
			print_hash(path, data, len);
			free(data);
		} else {
			rc = hash_tree(v, path, err);
		}
	}
	vfs_names_free(names, count);
	return rc;
}

static int put_tree(vfs *v, const char *src, const char *dst, hv_err *err)
{
	DIR *d = opendir(src);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return hv_fail(err, HV_EIO, "%s: %s", src, strerror(errno));
	while (rc == 0 && (e = readdir(d))) {
		char s[1024], t[1024];
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(s, sizeof(s), "%s/%s", src, e->d_name);
		snprintf(t, sizeof(t), "%s%s%s", dst, dst[0] ? "/" : "", e->d_name);
		if (lstat(s, &st) != 0) {
			rc = hv_fail(err, HV_EIO, "%s: %s", s, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			rc = vfs_mkdir(v, t, err);
			if (rc == 0)
				rc = put_tree(v, s, t, err);
		} else if (S_ISREG(st.st_mode)) {
			uint8_t *data = NULL;
			size_t len = 0;
			rc = file_read(s, MAX_FILE, &data, &len, err);
			if (rc == 0)
				rc = vfs_write_atomic(v, t, data, len, err);
			free(data);
		}
	}
	closedir(d);
	return rc;
}

static int cat_file(vfs *v, const char *path, hv_err *err)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int rc = vfs_read(v, path, MAX_FILE, &data, &len, err);

	if (rc == 0 && fwrite(data, 1, len, stdout) != len)
		rc = hv_fail(err, HV_EIO, "writing %s to stdout failed", path);
	free(data);
	return rc;
}

int main(int argc, char **argv)
{
	hv_err err = { 0 };
	secbuf *pass = NULL;
	vfs *v = NULL;
	int put, cat, rc;

	put = argc == 4 && strcmp(argv[1], "put") == 0;
	cat = argc == 4 && strcmp(argv[1], "cat") == 0;
	if (!put && !cat && !(argc == 3 && strcmp(argv[1], "hash") == 0)) {
		fprintf(stderr, "usage: stick_files hash IMAGE | put IMAGE FOLDER | "
			"cat IMAGE PATH (passphrase on descriptor 3)\n");
		return HV_EUSAGE;
	}
	rc = secret_from_fd(3, LUKS_PASSPHRASE_MAX, &pass, &err);
	if (rc == 0)
		rc = stick_open_vfs(argv[2], pass, put, &v, &err);
	if (rc == 0)
		rc = put ? put_tree(v, argv[3], "", &err)
			 : cat ? cat_file(v, argv[3], &err) : hash_tree(v, "", &err);
	if (rc == 0 && put)
		rc = vfs_sync(v, &err);
	vfs_close(v);
	secbuf_free(pass);
	if (rc != 0)
		fprintf(stderr, "stick_files: %s\n", err.msg);
	return rc;
}
