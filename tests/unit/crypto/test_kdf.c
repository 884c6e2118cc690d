/* The share-file KDF against OpenSSL's EVP_BytesToKey, and V1 at 1000
 * iterations. The 10,000,000-iteration cases live in test_share_files.c. */
#include "crypto_test.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto/kdf.h"
#include "crypto/md5.h"

#define V1_PW "TestPassword123"

static void test_md5_known(void **state)
{
	(void)state;
	/* RFC 1321 test suite values. */
	static const struct { const char *in, *hex; } v[] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		  "57edf4a22be3c955ac49da2e2107b67a" },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		md5_ctx c;
		uint8_t d[16];
		md5_init(&c);
		md5_update(&c, v[i].in, strlen(v[i].in));
		md5_final(&c, d);
		assert_hex_equal(d, 16, v[i].hex);
	}
}

/* md5_iterate16 against OpenSSL's MD5 applied n times. */
static void test_iterate16(void **state)
{
	(void)state;
	uint8_t a[16], b[16];
	assert_int_equal(RAND_bytes(a, 16), 1);
	memcpy(b, a, 16);
	for (int n = 0; n < 300; n++) {
		uint8_t t[16];
		unsigned l = 16;
		if (n > 0) {
			assert_int_equal(EVP_Digest(b, 16, t, &l, EVP_md5(), NULL), 1);
			memcpy(b, t, 16);
		}
		uint8_t c[16];
		memcpy(c, a, 16);
		md5_iterate16(c, (uint64_t)n);
		assert_memory_equal(c, b, 16);
	}
}

static void openssl_kdf(const uint8_t *pw, size_t pwl, const uint8_t salt[8], int iter,
			uint8_t key[32], uint8_t iv[16])
{
	assert_int_equal(EVP_BytesToKey(EVP_aes_256_cbc(), EVP_md5(), salt, pw, (int)pwl,
					iter, key, iv), 32);
}

/* 50 random passwords (0..200 bytes: shorter and longer than one MD5
 * block), salts and iteration counts 1..5000. */
static void test_random_vs_openssl(void **state)
{
	(void)state;
	for (int i = 0; i < 50; i++) {
		uint8_t pw[200], salt[8], r[4];
		assert_int_equal(RAND_bytes(r, 4), 1);
		size_t pwl = r[0] % 201;
		unsigned iter = 1 + (unsigned)((r[1] << 8 | r[2]) % 5000);
		if (i == 0)
			iter = 1;
		assert_int_equal(RAND_bytes(pw, sizeof pw), 1);
		assert_int_equal(RAND_bytes(salt, 8), 1);
		uint8_t k1[32], v1[16], k2[32], v2[16];
		kdf_bytes_to_key_md5(pw, pwl, salt, iter, k1, v1);
		openssl_kdf(pw, pwl, salt, (int)iter, k2, v2);
		if (memcmp(k1, k2, 32) != 0 || memcmp(v1, v2, 16) != 0)
			fail_msg("case %d: pw %zu bytes, %u iterations differ", i, pwl, iter);
	}
}

static void test_v1_1000(void **state)
{
	(void)state;
	uint8_t salt[8], key[32], iv[16];
	unhex_into("0102030405060708", salt, 8);
	kdf_bytes_to_key_md5((const uint8_t *)V1_PW, 15, salt, 1000, key, iv);
	assert_hex_equal(key, 32, "565149346C6F7E8E574A0CFDDF70B636D1F0351A798A54535B46C4E321DC209B");
	assert_hex_equal(iv, 16, "F88819F5F3C6998DA855B3EF2C6115FD");
	/* 0 iterations behaves like 1, as in OpenSSL. */
	uint8_t k0[32], i0[16], k1[32], i1[16];
	kdf_bytes_to_key_md5((const uint8_t *)V1_PW, 15, salt, 0, k0, i0);
	kdf_bytes_to_key_md5((const uint8_t *)V1_PW, 15, salt, 1, k1, i1);
	assert_memory_equal(k0, k1, 32);
	assert_memory_equal(i0, i1, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md5_known),
		cmocka_unit_test(test_iterate16),
		cmocka_unit_test(test_random_vs_openssl),
		cmocka_unit_test(test_v1_1000),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
