#include "crypto/kdf.h"

#include <string.h>

#include "crypto/md5.h"
#include "util/secbuf.h"

void kdf_bytes_to_key_md5(const uint8_t *pw, size_t pw_len,
			  const uint8_t salt[KDF_SALT_LEN], uint64_t iterations,
			  uint8_t key[KDF_KEY_LEN], uint8_t iv[KDF_IV_LEN])
{
	uint8_t d[MD5_LEN], out[KDF_KEY_LEN + KDF_IV_LEN];
	md5_ctx c;
	if (iterations == 0)
		iterations = 1;
	for (int round = 0; round < 3; round++) {
		md5_init(&c);
		if (round > 0)
			md5_update(&c, d, sizeof d);
		md5_update(&c, pw, pw_len);
		md5_update(&c, salt, KDF_SALT_LEN);
		md5_final(&c, d);
		md5_iterate16(d, iterations - 1);
		memcpy(out + round * MD5_LEN, d, MD5_LEN);
	}
	memcpy(key, out, KDF_KEY_LEN);
	memcpy(iv, out + KDF_KEY_LEN, KDF_IV_LEN);
	secure_wipe(d, sizeof d);
	secure_wipe(out, sizeof out);
}
