#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/buf.h"

static void builds_bytes(void **state)
{
	(void)state;
	bytebuf b = { 0 };
	buf_put(&b, "ab", 2);
	buf_put_u8(&b, 0x01);
	buf_put_u16be(&b, 0x1234);
	buf_put_tlv(&b, 0x5F29, "\x07", 1);
	buf_put_lv(&b, "xyz", 3);
	buf_put(&b, NULL, 0);
	const uint8_t want[] = { 'a', 'b', 0x01, 0x12, 0x34, 0x5F, 0x29, 0x01, 0x07,
				 0x00, 0x03, 'x', 'y', 'z' };
	assert_false(b.failed);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

static void grows(void **state)
{
	(void)state;
	bytebuf b = { 0 };
	for (int i = 0; i < 10000; i++)
		buf_put_u8(&b, (uint8_t)i);
	assert_false(b.failed);
	assert_int_equal(b.len, 10000);
	assert_true(b.cap >= 10000);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(b.data[i], (uint8_t)i);
	/* a long TLV gets a 3-byte length */
	uint8_t *v = calloc(1, 300);
	bytebuf t = { 0 };
	buf_put_tlv(&t, 0x04, v, 300);
	assert_int_equal(t.len, 304);
	assert_int_equal(t.data[1], 0x82);
	assert_int_equal(t.data[2], 0x01);
	assert_int_equal(t.data[3], 0x2C);
	free(v);
	buf_free(&t);
	buf_free(&b);
}

static void failure_is_sticky(void **state)
{
	(void)state;
	bytebuf b = { 0 };
	uint8_t *big = calloc(1, 0x10000);
	buf_put(&b, "x", 1);
	buf_put_lv(&b, big, 0x10000); /* over the 2-byte length */
	assert_true(b.failed);
	buf_put(&b, "y", 1);
	assert_int_equal(b.len, 1); /* later appends are ignored */
	assert_int_equal(b.data[0], 'x');
	free(big);
	buf_free(&b);
	assert_false(b.failed);
	/* an impossible size fails instead of wrapping */
	bytebuf c = { 0 };
	buf_put(&c, "x", 1);
	buf_put(&c, "y", SIZE_MAX - 2);
	assert_true(c.failed);
	assert_int_equal(c.len, 1);
	buf_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(builds_bytes),
		cmocka_unit_test(grows),
		cmocka_unit_test(failure_is_sticky),
	};
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
