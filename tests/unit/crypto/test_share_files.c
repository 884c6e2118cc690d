/* The real 10,000,000-iteration share files: V1 and V5 (reproduced
 * exactly) and sc-hsm-tool's own dkek-share-1/2.pbe. Slow by nature
 * (each derivation is 3 x 10^7 MD5 compressions). */
#include "crypto_test.h"

#include "crypto/dkek.h"
#include "crypto/dkek_share.h"
#include "crypto/kdf.h"

#define IT DKEK_SHARE_ITERATIONS

static void test_v1_full(void **state)
{
	(void)state;
	uint8_t salt[8], key[32], iv[16], share[32], file[64];
	unhex_into("0102030405060708", salt, 8);
	kdf_bytes_to_key_md5((const uint8_t *)"TestPassword123", 15, salt, IT, key, iv);
	assert_hex_equal(key, 32, "19186A5B17CEA06C25CFCF340B497DF781054AB8842286FDC0260525B42A8D13");
	assert_hex_equal(iv, 16, "448C291D7A0C8EA96F1B041F119A5A40");
	unhex_into("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", share, 32);
	hv_err err;
	assert_int_equal(dkek_share_encrypt(share, (const uint8_t *)"TestPassword123", 15, salt,
					    IT, file, &err), 0);
	assert_hex_equal(file, 64, "53616C7465645F5F0102030405060708FEC2B737BA811B5E37BC01CDD36785D4B066AEE2C5271C719A18EBC6C9B953144F61BC19F432AF607545B1D2F4357872");
}

static void test_v5_file(void **state)
{
	(void)state;
	uint8_t salt[8], pw[8], key[32], iv[16];
	unhex_into("0102030405060708", salt, 8);
	unhex_into("1122334455667788", pw, 8);
	kdf_bytes_to_key_md5(pw, 8, salt, IT, key, iv);
	assert_hex_equal(key, 32, "7FDE640509501E9DD1DE435B1A1491B30F6AFA7658B095D743CD9917307287EA");
	assert_hex_equal(iv, 16, "BD228AB7698567DD623CA9BC4227D5F6");
	size_t len;
	uint8_t *file = unhex("53616C7465645F5F0102030405060708741217F77946E2C187BC4935FA845DC82F7109A2EA0D07CCA5311E91AF59016BBFD122418CA7E1B1C824C1E9BA538D5F", &len);
	uint8_t share[32];
	hv_err err;
	assert_int_equal(dkek_share_decrypt(file, len, pw, 8, IT, share, &err), 0);
	assert_hex_equal(share, 32, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
	free(file);
}

static void test_real_shares(void **state)
{
	(void)state;
	size_t l1, l2;
	uint8_t *f1 = fixture("dkek-share-1.pbe", &l1);
	uint8_t *f2 = fixture("dkek-share-2.pbe", &l2);
	assert_int_equal(l1, 64);
	assert_int_equal(l2, 64);
	uint8_t s[2][32], dkek[32], kcv[8];
	hv_err err;
	int checked = -1;
	assert_int_equal(dkek_share_decrypt_checked(f1, l1, (const uint8_t *)"share1password", 14,
						    IT, NULL, s[0], &checked, &err), 0);
	assert_int_equal(checked, 0);
	assert_hex_equal(s[0], 32, "ef20b17736ac1e33c6286081b274d9c8a7042eed9cf05a6adf0b171d8b0adea5");
	char check[65];
	dkek_share_check_value(s[1], check); /* garbage: s[1] not yet set */
	assert_int_equal(dkek_share_decrypt(f2, l2, (const uint8_t *)"share2password", 14, IT,
					    s[1], &err), 0);
	assert_hex_equal(s[1], 32, "5fda8a85eefcd1d90a0cfbdd58f1930c3b8f5345fa7983375859d4f2bf16e0bd");
	dkek_combine((const uint8_t(*)[32])s, 2, dkek);
	assert_hex_equal(dkek, 32, "b0fa3bf2d850cfeacc249b5cea854ac49c8b7da86689d95d8752c3ef341c3e18");
	dkek_kcv(dkek, kcv);
	assert_hex_equal(kcv, 8, "DBFFED54BA9E1D5B");

	/* Wrong password (share 2's on file 1). */
	uint8_t out[32];
	assert_int_equal(dkek_share_decrypt(f1, l1, (const uint8_t *)"share2password", 14, IT,
					    out, &err), HV_ESECRET);
	/* A flipped bit in the last cipher block of the real file. */
	f2[63] ^= 0x40;
	assert_int_equal(dkek_share_decrypt(f2, l2, (const uint8_t *)"share2password", 14, IT,
					    out, &err), HV_ESECRET);
	/* A flipped bit in the first cipher block: only the check value sees it. */
	f2[63] ^= 0x40;
	f2[20] ^= 0x02;
	dkek_share_check_value(s[1], check);
	assert_int_equal(dkek_share_decrypt_checked(f2, l2, (const uint8_t *)"share2password", 14,
						    IT, check, out, &checked, &err), HV_ESECRET);
	assert_int_equal(checked, 1);
	free(f1);
	free(f2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_full),
		cmocka_unit_test(test_v5_file),
		cmocka_unit_test(test_real_shares),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
