/* libFuzzer harness: a hostile ext4 file system inside an opened stick.
 * The input is the start of the decrypted volume (the rest is zeros); it
 * is encrypted under a fixed key into an anonymous memory file, opened
 * read-only through the userspace backend (AES-XTS + libext2fs, what
 * 'hsmvault' does with a stick whose LUKS2 header already opened), and
 * walked: every folder listed, every file read. The LUKS2 header itself
 * is libcryptsetup's to parse. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stick/ext4_vfs.h"
#include "stick/xts.h"
#include "util/secbuf.h"
#include "vfs/vfs.h"

#define IMAGE_BYTES (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(vfs *v, const char *dir, int depth)
{
	char **names = NULL;
	size_t n = 0;
	hv_err err;
	if (depth > 4 || vfs_list(v, dir, &names, &n, &err) != HV_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s%s%s", dir, *dir ? "/" : "", names[i]);
		uint8_t *d = NULL;
		size_t len = 0;
		if (vfs_read(v, path, 1 << 20, &d, &len, &err) == HV_OK)
			free(d);
		else
			walk(v, path, depth + 1);
	}
	vfs_names_free(names, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t image[IMAGE_BYTES];
	if (size > IMAGE_BYTES)
		return 0;
	hv_err err;
	int fd = memfd_create("fuzz-ext4", 0);
	if (fd < 0)
		return 0;
	secbuf *key = secbuf_new(64);
	xts_volume *vol = NULL;
	if (!key || ftruncate(fd, IMAGE_BYTES) != 0) {
		secbuf_free(key);
		close(fd);
		return 0;
	}
	for (size_t i = 0; i < 64; i++)
		key->data[i] = (uint8_t)(0xA0 + i);
	key->len = 64;
	memset(image, 0, sizeof(image));
	memcpy(image, data, size);
	if (xts_volume_new(fd, 0, IMAGE_BYTES, 512, key, &vol, &err) != HV_OK ||
	    xts_write(vol, 0, image, sizeof(image), &err) != HV_OK) {
		xts_volume_free(vol);
		secbuf_free(key);
		close(fd);
		return 0;
	}
	secbuf_free(key);
	vfs *v = NULL;
	if (ext4_vfs_open(vol, fd, "fuzz stick", 0, &v, &err) != HV_OK)
		return 0; /* vol and fd are released by ext4_vfs_open */
	walk(v, "", 0);
	vfs_close(v);
	return 0;
}
