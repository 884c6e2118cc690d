/* DKEK share files at test speed (1000 iterations, V1's fast variant):
 * format, padding check, check values, damage. */
#include "crypto_test.h"

#include "crypto/dkek_share.h"

#define SHARE1 "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
#define V1_PW "TestPassword123"
#define V1_FILE_1000 "53616C7465645F5F0102030405060708BE180DB00062AD41EFC987E45953031A905C709EF3BC9CCBF07ABF15F3CC288363B9D6A97EEEA0A6031C69C30973C2D3"
#define IT 1000

static const uint8_t *pw = (const uint8_t *)V1_PW;

static void test_v1_fast(void **state)
{
	(void)state;
	uint8_t share[32], salt[8], file[64];
	unhex_into(SHARE1, share, 32);
	unhex_into("0102030405060708", salt, 8);
	hv_err err;
	assert_int_equal(dkek_share_encrypt(share, pw, 15, salt, IT, file, &err), 0);
	assert_hex_equal(file, 64, V1_FILE_1000);
	uint8_t out[32];
	assert_int_equal(dkek_share_decrypt(file, 64, pw, 15, IT, out, &err), 0);
	assert_memory_equal(out, share, 32);
	/* Fresh random salt round-trips and differs. */
	uint8_t f2[64];
	assert_int_equal(dkek_share_encrypt(share, pw, 15, NULL, IT, f2, &err), 0);
	assert_memory_not_equal(f2 + 8, salt, 8);
	assert_int_equal(dkek_share_decrypt(f2, 64, pw, 15, IT, out, &err), 0);
	assert_memory_equal(out, share, 32);
	/* Empty password refused on creation. */
	assert_int_equal(dkek_share_encrypt(share, pw, 0, NULL, IT, f2, &err), HV_EUSAGE);
}

static void test_wrong_password(void **state)
{
	(void)state;
	size_t len;
	uint8_t *file = unhex(V1_FILE_1000, &len);
	uint8_t out[32];
	hv_err err;
	assert_int_equal(dkek_share_decrypt(file, len, (const uint8_t *)"TestPassword124", 15,
					    IT, out, &err), HV_ESECRET);
	assert_non_null(strstr(err.msg, "wrong password"));
	assert_int_equal(dkek_share_decrypt(file, len, pw, 14, IT, out, &err), HV_ESECRET);
	/* Right password, wrong iteration count: same as a wrong password. */
	assert_int_equal(dkek_share_decrypt(file, len, pw, 15, 999, out, &err), HV_ESECRET);
	free(file);
}

static void test_sizes_and_magic(void **state)
{
	(void)state;
	size_t len;
	uint8_t *file = unhex(V1_FILE_1000, &len);
	uint8_t out[32], share[32];
	unhex_into(SHARE1, share, 32);
	hv_err err;
	for (size_t l = 0; l < 64; l++)
		assert_int_equal(dkek_share_decrypt(file, l, pw, 15, IT, out, &err), HV_EUSAGE);
	/* Extra bytes are ignored, like sc-hsm-tool. */
	uint8_t big[100];
	memcpy(big, file, 64);
	memset(big + 64, 0xEE, 36);
	assert_int_equal(dkek_share_decrypt(big, sizeof big, pw, 15, IT, out, &err), 0);
	assert_memory_equal(out, share, 32);
	file[0] = 's';
	assert_int_equal(dkek_share_decrypt(file, 64, pw, 15, IT, out, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "Salted__"));
	free(file);
}

/* All 16 padding bytes are checked: a plaintext whose last byte is 0x10
 * but whose other padding bytes are not must be refused (OpenSSL's own
 * check would accept some such blocks only by their last byte). */
static void test_padding_all_bytes(void **state)
{
	(void)state;
	uint8_t share[32], salt[8], file[64], out[32];
	unhex_into(SHARE1, share, 32);
	unhex_into("0102030405060708", salt, 8);
	hv_err err;
	assert_int_equal(dkek_share_encrypt(share, pw, 15, salt, IT, file, &err), 0);
	/* Flipping a bit of cipher block 2 flips the same bit of plaintext
	 * block 3 (the padding): try each padding byte but the last. */
	for (int i = 0; i < 15; i++) {
		file[32 + i] ^= 0x01;
		assert_int_equal(dkek_share_decrypt(file, 64, pw, 15, IT, out, &err), HV_ESECRET);
		file[32 + i] ^= 0x01;
	}
}

/* Every bit of the file: the padding catches damage to magic, salt and
 * cipher blocks 2 and 3; block 1 (bytes 16..31) damage yields another
 * share, caught only by the check value. */
static void test_bit_flips(void **state)
{
	(void)state;
	uint8_t share[32], salt[8], file[64], out[32];
	unhex_into(SHARE1, share, 32);
	unhex_into("0102030405060708", salt, 8);
	hv_err err;
	assert_int_equal(dkek_share_encrypt(share, pw, 15, salt, IT, file, &err), 0);
	char check[65];
	dkek_share_check_value(share, check);
	for (int bit = 0; bit < 64 * 8; bit++) {
		int byte = bit / 8;
		file[byte] ^= (uint8_t)(1 << (bit % 8));
		int r = dkek_share_decrypt(file, 64, pw, 15, IT, out, &err);
		if (byte < 8)
			assert_int_equal(r, HV_EUSAGE);
		else if (byte >= 16 && byte < 32)
			assert_int_equal(r, 0), assert_memory_not_equal(out, share, 32);
		else
			assert_int_equal(r, HV_ESECRET);
		int checked = -1;
		r = dkek_share_decrypt_checked(file, 64, pw, 15, IT, check, out, &checked, &err);
		assert_int_not_equal(r, 0);
		file[byte] ^= (uint8_t)(1 << (bit % 8));
	}
}

static void test_check_value(void **state)
{
	(void)state;
	uint8_t share[32], other[32], salt[8], file[64], out[32];
	unhex_into(SHARE1, share, 32);
	memset(other, 0x5A, 32);
	unhex_into("0102030405060708", salt, 8);
	char c1[65], c2[65];
	dkek_share_check_value(share, c1);
	dkek_share_check_value(other, c2);
	assert_int_equal(strlen(c1), 16);
	assert_string_not_equal(c1, c2);
	/* V2: the KCV of a one-share DKEK made of share 1. */
	assert_string_equal(c1, "630DCD2966C43366");
	hv_err err;
	int checked = -1;
	assert_int_equal(dkek_share_encrypt(share, pw, 15, salt, IT, file, &err), 0);
	assert_int_equal(dkek_share_decrypt_checked(file, 64, pw, 15, IT, c1, out, &checked, &err), 0);
	assert_int_equal(checked, 1);
	assert_memory_equal(out, share, 32);
	/* A lower-case recorded value is fine too. */
	for (char *p = c1; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p + 32);
	assert_int_equal(dkek_share_decrypt_checked(file, 64, pw, 15, IT, c1, out, &checked, &err), 0);
	/* Without a recorded value: decrypts, and says it did not check. */
	assert_int_equal(dkek_share_decrypt_checked(file, 64, pw, 15, IT, NULL, out, &checked, &err), 0);
	assert_int_equal(checked, 0);
	/* Another share's check value: refused, share wiped. */
	assert_int_equal(dkek_share_decrypt_checked(file, 64, pw, 15, IT, c2, out, &checked, &err),
			 HV_ESECRET);
	assert_int_equal(checked, 1);
	uint8_t zero[32] = { 0 };
	assert_memory_equal(out, zero, 32);
	/* Wrong password. */
	assert_int_equal(dkek_share_decrypt_checked(file, 64, (const uint8_t *)"x", 1, IT, c2, out,
						    &checked, &err), HV_ESECRET);
	assert_non_null(strstr(err.msg, "wrong password"));
	/* A malformed recorded value. */
	assert_int_equal(dkek_share_decrypt_checked(file, 64, pw, 15, IT, "abc", out, &checked, &err),
			 HV_EUSAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_fast),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_sizes_and_magic),
		cmocka_unit_test(test_padding_all_bytes),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_check_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
