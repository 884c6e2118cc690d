/* Helpers shared by the crypto unit tests: hex literals and the fixture
 * files of the real sc-hsm-tool (found through HV_TEST_DATA, set by meson). */
#ifndef HV_TEST_CRYPTO_TEST_H
#define HV_TEST_CRYPTO_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/hex.h"

/* Test vector V6: an EC private key wrapped as a 363-byte key blob
 * (test_keyblob unwraps it; test_prkd_wrapfile only stores it). */
#define V6_BLOB "15021DA5133172200C000A04007F00070202020203000000000000" \
	"F81823C153E82C072D67D02D5A0BFB57C582942EB996578A173FDB3511122571" \
	"C50D05F94EAD6D0E4006BE1DA469034B2A37394BFD119E127B9651B453C3A889" \
	"CD16D4381FCA87203FE50894E8CF12016D8E5EF5FDFA080A5722466393FA33B4" \
	"670DDAEDC38977867F4FF6FFE9BDDCC505853B6CA39FBDE938EA48411BBEB5BE" \
	"0772673D916591A9696C1AF3792AF8DC37049C11F10E239896A51871DBB98C3E" \
	"7154B8F701C6B6AE8D49CA0F6A975B200C4FB6B4F7694E8F0F1983CD7DC3FA5B" \
	"6E8CB414B1AF602B08B56B4ED0B8B943B98A3883587FB94EDBC7CD15690AB7BA" \
	"6BD603564AB32EE719F30B77707D0D02437C9ED11050A94BF1FF9B6AFFA1ACFA" \
	"C707B9E2E65ACBC17FD0720AD3ED2DD930DB42D660DD022BB27D71E7AF03CB4F" \
	"71204AEA4BDD441D9C98B61B3AFA94CC0858FEB31213377CCB36AC5E604D568C" \
	"BCCBE3B4A6D093D2F69C85E5686E9B75"

/* Decodes a hex literal into a static-lifetime-free malloc'd buffer the
 * test frees; fails the test on a bad literal. */
static inline uint8_t *unhex(const char *text, size_t *len)
{
	size_t cap = strlen(text) / 2 + 1;
	uint8_t *b = malloc(cap);
	assert_non_null(b);
	long n = hex_decode(text, b, cap);
	assert_true(n >= 0);
	*len = (size_t)n;
	return b;
}

static inline void unhex_into(const char *text, uint8_t *out, size_t want)
{
	long n = hex_decode(text, out, want);
	assert_int_equal(n, (long)want);
}

/* Reads tests/data/sc-hsm-tool/<name>; a missing file fails the test. */
static inline uint8_t *fixture(const char *name, size_t *len)
{
	const char *dir = getenv("HV_TEST_DATA");
	assert_non_null(dir);
	char path[4096];
	snprintf(path, sizeof path, "%s/sc-hsm-tool/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open fixture %s", path);
	uint8_t *b = malloc(65536);
	assert_non_null(b);
	*len = fread(b, 1, 65536, f);
	fclose(f);
	return b;
}

static inline void assert_hex_equal(const uint8_t *got, size_t len, const char *want_hex)
{
	size_t wl;
	uint8_t *want = unhex(want_hex, &wl);
	if (wl != len || memcmp(got, want, len) != 0) {
		char *g = malloc(2 * len + 1);
		hex_encode(got, len, g, 1);
		fail_msg("got %s (%zu bytes)\nwant %s (%zu bytes)", g, len, want_hex, wl);
	}
	free(want);
}

#endif
