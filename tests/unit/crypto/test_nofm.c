/* n-of-m password shares: V5, the real 2-of-3 set of sc-hsm-tool
 * (share-nm.*), the tool's decimal/hex and leading-zero faults, and bad
 * input. */
#include "crypto_test.h"

#include <openssl/rand.h>

#include "crypto/dkek.h"
#include "crypto/dkek_share.h"
#include "crypto/nofm.h"

#define V5_PRIME UINT64_C(0xf55646c9a5a10187)

static void test_v5_split(void **state)
{
	(void)state;
	uint8_t s[8];
	unhex_into("1122334455667788", s, 8);
	uint64_t a1 = UINT64_C(0x0123456789ABCDEF);
	nofm_share sh[3];
	hv_err err;
	assert_int_equal(nofm_split_with(s, V5_PRIME, &a1, 2, 3, sh, &err), 0);
	char t[NOFM_HEX_MAX];
	nofm_format_hex(V5_PRIME, t);
	assert_string_equal(t, "f5:56:46:c9:a5:a1:01:87");
	static const char *want[3] = { "12:45:78:ab:df:12:45:77", "13:68:be:13:68:be:13:66",
				       "14:8c:03:7a:f2:69:e1:55" };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sh[i].id, i + 1);
		nofm_format_hex(sh[i].value, t);
		assert_string_equal(t, want[i]);
	}
}

static void test_v5_combine(void **state)
{
	(void)state;
	nofm_share all[3];
	hv_err err;
	static const char *val[3] = { "12:45:78:ab:df:12:45:77", "13:68:be:13:68:be:13:66",
				      "14:8c:03:7a:f2:69:e1:55" };
	uint64_t p;
	assert_int_equal(nofm_parse_hex("f5:56:46:c9:a5:a1:01:87", "prime", &p, &err), 0);
	assert_true(p == V5_PRIME);
	for (int i = 0; i < 3; i++) {
		char id[4];
		snprintf(id, sizeof id, "%d", i + 1);
		assert_int_equal(nofm_parse_id(id, &all[i].id, &err), 0);
		assert_int_equal(nofm_parse_hex(val[i], "share value", &all[i].value, &err), 0);
	}
	int pairs[6][2] = { { 0, 1 }, { 0, 2 }, { 1, 2 }, { 1, 0 }, { 2, 0 }, { 2, 1 } };
	for (int k = 0; k < 6; k++) {
		nofm_share two[2] = { all[pairs[k][0]], all[pairs[k][1]] };
		uint8_t s[8];
		assert_int_equal(nofm_combine(p, two, 2, s, &err), 0);
		assert_hex_equal(s, 8, "1122334455667788");
	}
	uint8_t s[8];
	assert_int_equal(nofm_combine(p, all, 3, s, &err), 0);
	assert_hex_equal(s, 8, "1122334455667788");
}

/* Random splits for thresholds 2..5 of 5: any threshold-sized subset
 * rebuilds the secret. */
static void test_random_splits(void **state)
{
	(void)state;
	hv_err err;
	for (unsigned t = 2; t <= 5; t++) {
		uint8_t pw[8], s[8];
		assert_int_equal(nofm_new_password(pw, &err), 0);
		assert_true(pw[0] < 0x80);
		assert_true(pw[0] != 0);
		uint64_t p = 0;
		nofm_share sh[5];
		assert_int_equal(nofm_split(pw, t, 5, &p, sh, &err), 0);
		assert_true(p >> 62 == 3);
		for (unsigned mask = 0; mask < 32; mask++) {
			if ((unsigned)__builtin_popcount(mask) != t)
				continue;
			nofm_share pick[5];
			size_t k = 0;
			for (int i = 0; i < 5; i++)
				if (mask & (1u << i))
					pick[k++] = sh[i];
			assert_int_equal(nofm_combine(p, pick, k, s, &err), 0);
			assert_memory_equal(s, pw, 8);
		}
	}
	/* Impossible splits. */
	uint8_t pw[8] = { 0x01 };
	uint64_t p;
	nofm_share sh[3];
	assert_int_equal(nofm_split(pw, 1, 3, &p, sh, &err), HV_EUSAGE);
	assert_int_equal(nofm_split(pw, 4, 3, &p, sh, &err), HV_EUSAGE);
	pw[0] = 0x80;
	assert_int_equal(nofm_split(pw, 2, 3, &p, sh, &err), HV_EUSAGE);
}

/* A password whose first byte is 00: sc-hsm-tool would rebuild 7 bytes;
 * hsmvault returns all 8. */
static void test_leading_zero(void **state)
{
	(void)state;
	uint8_t pw[8], s[8];
	unhex_into("00a1b2c3d4e5f601", pw, 8);
	uint64_t a1 = UINT64_C(0x7777777777777777);
	nofm_share sh[3];
	hv_err err;
	assert_int_equal(nofm_split_with(pw, V5_PRIME, &a1, 2, 3, sh, &err), 0);
	assert_int_equal(nofm_combine(V5_PRIME, sh + 1, 2, s, &err), 0);
	assert_hex_equal(s, 8, "00a1b2c3d4e5f601");
	/* Even two leading zero bytes. */
	unhex_into("0000000000000005", pw, 8);
	assert_int_equal(nofm_split_with(pw, V5_PRIME, &a1, 2, 3, sh, &err), 0);
	assert_int_equal(nofm_combine(V5_PRIME, sh, 2, s, &err), 0);
	assert_hex_equal(s, 8, "0000000000000005");
	/* A share value with a leading zero byte prints shorter, as the tool. */
	char t[NOFM_HEX_MAX];
	nofm_format_hex(UINT64_C(0x00ff000000000001), t);
	assert_string_equal(t, "ff:00:00:00:00:00:01");
	nofm_format_hex(0, t);
	assert_string_equal(t, "00");
	uint64_t v;
	assert_int_equal(nofm_parse_hex(t, "v", &v, &err), 0);
	assert_true(v == 0);
}

/* Without the redraw 1 in 128 passwords starts with 00, which sc-hsm-tool
 * cannot rebuild: 20,000 draws would show about 156 of them. */
static void test_new_password_never_leading_zero(void **state)
{
	(void)state;
	hv_err err;
	uint8_t pw[8];
	unsigned seen_low = 0;
	for (int i = 0; i < 20000; i++) {
		assert_int_equal(nofm_new_password(pw, &err), 0);
		assert_int_not_equal(pw[0], 0);
		assert_true(pw[0] < 0x80);
		seen_low += pw[0] == 1;
	}
	assert_true(seen_low > 0); /* the redraw keeps the rest of the range */
}

static void test_bad_input(void **state)
{
	(void)state;
	hv_err err;
	uint8_t s[8];
	nofm_share sh[3] = { { 1, UINT64_C(0x124578abdf124577) },
			     { 2, UINT64_C(0x1368be1368be1366) },
			     { 3, UINT64_C(0x148c037af269e155) } };
	/* Fewer than two. */
	assert_int_equal(nofm_combine(V5_PRIME, sh, 1, s, &err), HV_EUSAGE);
	assert_int_equal(nofm_combine(V5_PRIME, sh, 0, s, &err), HV_EUSAGE);
	/* Duplicate IDs. */
	nofm_share dup[2] = { sh[0], sh[0] };
	assert_int_equal(nofm_combine(V5_PRIME, dup, 2, s, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "twice"));
	dup[1].value ^= 1;
	assert_int_equal(nofm_combine(V5_PRIME, dup, 2, s, &err), HV_EUSAGE);
	/* ID 0. */
	nofm_share z[2] = { { 0, 5 }, sh[1] };
	assert_int_equal(nofm_combine(V5_PRIME, z, 2, s, &err), HV_EUSAGE);
	/* Value >= prime, and == prime. */
	nofm_share big[2] = { sh[0], { 2, V5_PRIME } };
	assert_int_equal(nofm_combine(V5_PRIME, big, 2, s, &err), HV_EUSAGE);
	big[1].value = UINT64_MAX;
	assert_int_equal(nofm_combine(V5_PRIME, big, 2, s, &err), HV_EUSAGE);
	/* Prime not 64 bits (a leading byte lost in typing), not prime. */
	assert_int_equal(nofm_combine(V5_PRIME >> 8, sh, 2, s, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "64 bits"));
	assert_int_equal(nofm_combine(V5_PRIME + 2, sh, 2, s, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "not prime"));
	/* A mistyped value: usually gives a result >= 2^63 (refused) and
	 * otherwise a wrong password; never the right one. */
	nofm_share typo[2] = { sh[0], sh[2] };
	int refused = 0;
	for (int b = 0; b < 48; b++) {
		typo[1].value = sh[2].value ^ (UINT64_C(1) << b);
		int r = nofm_combine(V5_PRIME, typo, 2, s, &err);
		if (r == HV_ESECRET)
			refused++;
		else
			assert_memory_not_equal(s, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	}
	assert_true(refused > 0);

	/* IDs: decimal as printed; hex letters refused with the reason. */
	unsigned id;
	assert_int_equal(nofm_parse_id("10", &id, &err), 0);
	assert_int_equal(id, 10);
	assert_int_equal(nofm_parse_id(" 3 ", &id, &err), 0);
	assert_int_equal(id, 3);
	assert_int_equal(nofm_parse_id("a", &id, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "decimal"));
	assert_int_equal(nofm_parse_id("0", &id, &err), HV_EUSAGE);
	assert_int_equal(nofm_parse_id("256", &id, &err), HV_EUSAGE);
	assert_int_equal(nofm_parse_id("", &id, &err), HV_EUSAGE);
	assert_int_equal(nofm_parse_id("1x", &id, &err), HV_EUSAGE);
	assert_int_equal(nofm_parse_id("99999999999999999999", &id, &err), HV_EUSAGE);
	/* Hex: separators, case, odd digit counts; too long; bad digits. */
	uint64_t v;
	assert_int_equal(nofm_parse_hex("DC 7F 0C 87 A6 BC BE 3B", "prime", &v, &err), 0);
	assert_true(v == UINT64_C(0xdc7f0c87a6bcbe3b));
	assert_int_equal(nofm_parse_hex("dc7f0c87a6bcbe3b", "prime", &v, &err), 0);
	assert_true(v == UINT64_C(0xdc7f0c87a6bcbe3b));
	assert_int_equal(nofm_parse_hex("1:23", "v", &v, &err), 0);
	assert_true(v == 0x123);
	assert_int_equal(nofm_parse_hex("00:dc7f0c87a6bcbe3b", "prime", &v, &err), 0);
	assert_int_equal(nofm_parse_hex("01:dc7f0c87a6bcbe3b", "prime", &v, &err), HV_EUSAGE);
	assert_int_equal(nofm_parse_hex("dc:7g", "prime", &v, &err), HV_EUSAGE);
	assert_int_equal(nofm_parse_hex(" : ", "prime", &v, &err), HV_EUSAGE);
}

/* The real 2-of-3 share file: every pair rebuilds password
 * 1b78093166f694d6, which decrypts share-nm.pbe (10,000,000 iterations)
 * to a share whose 1-share KCV is AB1D4DC2B92D42A2. */
static void test_real_share_nm(void **state)
{
	(void)state;
	size_t len;
	uint8_t *file = fixture("share-nm.pbe", &len);
	hv_err err;
	uint64_t p;
	assert_int_equal(nofm_parse_hex("dc:7f:0c:87:a6:bc:be:3b", "prime", &p, &err), 0);
	nofm_share all[3];
	static const char *val[3] = { "54:ba:69:b4:b5:b5:57:10", "8d:fc:ca:38:04:74:19:4a",
				      "c7:3f:2a:bb:53:32:db:84" };
	for (int i = 0; i < 3; i++) {
		all[i].id = (unsigned)i + 1;
		assert_int_equal(nofm_parse_hex(val[i], "share value", &all[i].value, &err), 0);
	}
	int pairs[3][2] = { { 0, 2 }, { 0, 1 }, { 1, 2 } };
	for (int k = 0; k < 3; k++) {
		nofm_share two[2] = { all[pairs[k][0]], all[pairs[k][1]] };
		uint8_t pw[8], share[32], kcv[8];
		assert_int_equal(nofm_combine(p, two, 2, pw, &err), 0);
		assert_hex_equal(pw, 8, "1b78093166f694d6");
		if (dkek_share_decrypt(file, len, pw, 8, DKEK_SHARE_ITERATIONS, share, &err) != 0)
			fail_msg("%s", err.msg);
		dkek_kcv(share, kcv);
		assert_hex_equal(kcv, 8, "AB1D4DC2B92D42A2");
	}
	free(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v5_split),
		cmocka_unit_test(test_v5_combine),
		cmocka_unit_test(test_random_splits),
		cmocka_unit_test(test_leading_zero),
		cmocka_unit_test(test_new_password_never_leading_zero),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_real_share_nm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
