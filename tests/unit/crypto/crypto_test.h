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
