#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/hex.h"

static void encode(void **state)
{
	(void)state;
	const uint8_t in[] = { 0x00, 0x9f, 0xab, 0x10, 0xff };
	char out[11];
	hex_encode(in, sizeof(in), out, 0);
	assert_string_equal(out, "009fab10ff");
	hex_encode(in, sizeof(in), out, 1);
	assert_string_equal(out, "009FAB10FF");
	out[0] = 'x';
	hex_encode(in, 0, out, 0);
	assert_string_equal(out, "");
}

static void decode_plain_and_separated(void **state)
{
	(void)state;
	uint8_t b[16];
	const uint8_t want[] = { 0xdc, 0x7f, 0x0c, 0x87 };
	const char *ok[] = { "dc7f0c87", "DC7F0C87", "dc:7f:0c:87", "dc 7f 0c 87", "dc-7f-0c-87",
			     " dc7f:0C87 ", "dc\n7f\t0c87" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		memset(b, 0, sizeof(b));
		assert_int_equal(hex_decode(ok[i], b, sizeof(b)), 4);
		assert_memory_equal(b, want, 4);
	}
	assert_int_equal(hex_decode("", b, sizeof(b)), 0);
	assert_int_equal(hex_decode("::", b, sizeof(b)), 0);
	/* exactly the capacity */
	assert_int_equal(hex_decode("0102", b, 2), 2);
}

static void decode_bad_input(void **state)
{
	(void)state;
	uint8_t b[4];
	assert_int_equal(hex_decode("0g", b, sizeof(b)), -1);      /* bad digit */
	assert_int_equal(hex_decode("abc", b, sizeof(b)), -1);     /* odd count */
	assert_int_equal(hex_decode("a:bc", b, sizeof(b)), -1);    /* separator inside a byte */
	assert_int_equal(hex_decode("0x12", b, sizeof(b)), -1);    /* prefix */
	assert_int_equal(hex_decode("0102030405", b, 4), -1);      /* over capacity */
	assert_int_equal(hex_decode("12;34", b, sizeof(b)), -1);   /* other separator */
	assert_int_equal(hex_decode("\xc3\xa9", b, sizeof(b)), -1); /* non-ASCII */
	/* no write past cap on refusal */
	uint8_t guard[6] = { 0, 0, 0, 0, 0xAA, 0xAA };
	assert_int_equal(hex_decode("0102030405", guard, 4), -1);
	assert_int_equal(guard[4], 0xAA);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encode),
		cmocka_unit_test(decode_plain_and_separated),
		cmocka_unit_test(decode_bad_input),
	};
	return cmocka_run_group_tests_name("hex", tests, NULL, NULL);
}
