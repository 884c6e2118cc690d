#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/tlv.h"

static void simple_and_nested(void **state)
{
	(void)state;
	const uint8_t b[] = { 0x30, 0x06, 0x04, 0x01, 0xAA, 0x02, 0x01, 0x05, 0x80, 0x00 };
	size_t off = 0;
	tlv t;
	assert_int_equal(tlv_next(b, sizeof(b), &off, &t), 0);
	assert_int_equal(t.tag, 0x30);
	assert_true(t.constructed);
	assert_int_equal(t.len, 6);
	assert_ptr_equal(t.val, b + 2);
	assert_ptr_equal(t.raw, b);
	assert_int_equal(t.raw_len, 8);
	assert_int_equal(off, 8);
	/* inside */
	size_t in = 0;
	tlv c;
	assert_int_equal(tlv_next(t.val, t.len, &in, &c), 0);
	assert_int_equal(c.tag, 0x04);
	assert_false(c.constructed);
	assert_int_equal(c.len, 1);
	assert_int_equal(c.val[0], 0xAA);
	assert_int_equal(tlv_next(t.val, t.len, &in, &c), 0);
	assert_int_equal(c.tag, 0x02);
	assert_int_equal(tlv_next(t.val, t.len, &in, &c), -1); /* end */
	/* empty value */
	assert_int_equal(tlv_next(b, sizeof(b), &off, &t), 0);
	assert_int_equal(t.tag, 0x80);
	assert_int_equal(t.len, 0);
	assert_int_equal(off, sizeof(b));
	assert_int_equal(tlv_next(b, sizeof(b), &off, &t), -1);
}

static void multibyte_tags(void **state)
{
	(void)state;
	const uint8_t two[] = { 0x7F, 0x49, 0x01, 0x11 };
	const uint8_t three[] = { 0x5F, 0x81, 0x01, 0x01, 0x22 };
	const uint8_t four[] = { 0x5F, 0x81, 0x82, 0x03, 0x01, 0x33 };
	size_t off = 0;
	tlv t;
	assert_int_equal(tlv_next(two, sizeof(two), &off, &t), 0);
	assert_int_equal(t.tag, 0x7F49);
	assert_true(t.constructed);
	off = 0;
	assert_int_equal(tlv_next(three, sizeof(three), &off, &t), 0);
	assert_int_equal(t.tag, 0x5F8101);
	assert_int_equal(t.val[0], 0x22);
	off = 0;
	assert_int_equal(tlv_next(four, sizeof(four), &off, &t), -1);
	assert_int_equal(off, 0); /* untouched on failure */
	/* a tag that ends with the buffer */
	const uint8_t cut[] = { 0x5F, 0x81 };
	off = 0;
	assert_int_equal(tlv_next(cut, sizeof(cut), &off, &t), -1);
}

static void long_lengths(void **state)
{
	(void)state;
	uint8_t b[300];
	memset(b, 0x55, sizeof(b));
	b[0] = 0x04;
	b[1] = 0x81;
	b[2] = 0x80;
	size_t off = 0;
	tlv t;
	assert_int_equal(tlv_next(b, 3 + 0x80, &off, &t), 0);
	assert_int_equal(t.len, 0x80);
	b[1] = 0x82;
	b[2] = 0x01;
	b[3] = 0x00;
	off = 0;
	assert_int_equal(tlv_next(b, 4 + 0x100, &off, &t), 0);
	assert_int_equal(t.len, 0x100);
	/* four length bytes are the most */
	const uint8_t four[] = { 0x04, 0x84, 0x00, 0x00, 0x00, 0x01, 0x99 };
	off = 0;
	assert_int_equal(tlv_next(four, sizeof(four), &off, &t), 0);
	assert_int_equal(t.len, 1);
	assert_int_equal(t.val[0], 0x99);
}

static void hostile_lengths(void **state)
{
	(void)state;
	size_t off;
	tlv t;
	/* length beyond the buffer */
	const uint8_t over[] = { 0x04, 0x05, 0x01, 0x02 };
	off = 0;
	assert_int_equal(tlv_next(over, sizeof(over), &off, &t), -1);
	/* a huge 4-byte length must not wrap */
	const uint8_t huge[] = { 0x04, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0x00 };
	off = 0;
	assert_int_equal(tlv_next(huge, sizeof(huge), &off, &t), -1);
	/* five length bytes */
	const uint8_t five[] = { 0x04, 0x85, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00 };
	off = 0;
	assert_int_equal(tlv_next(five, sizeof(five), &off, &t), -1);
	/* indefinite length */
	const uint8_t indef[] = { 0x30, 0x80, 0x00, 0x00 };
	off = 0;
	assert_int_equal(tlv_next(indef, sizeof(indef), &off, &t), -1);
	/* length bytes cut off */
	const uint8_t cut[] = { 0x30, 0x82, 0x01 };
	off = 0;
	assert_int_equal(tlv_next(cut, sizeof(cut), &off, &t), -1);
	/* tag without length */
	const uint8_t lone[] = { 0x30 };
	off = 0;
	assert_int_equal(tlv_next(lone, sizeof(lone), &off, &t), -1);
	/* offset past the end */
	off = 5;
	assert_int_equal(tlv_next(lone, sizeof(lone), &off, &t), -1);
	/* a valid TLV followed by an overlong one: find stops with -1 */
	const uint8_t tail[] = { 0x01, 0x00, 0x02, 0x10, 0x00 };
	assert_int_equal(tlv_find(tail, sizeof(tail), 0x02, &t), -1);
	assert_int_equal(tlv_find(tail, sizeof(tail), 0x01, &t), 0);
}

static void find(void **state)
{
	(void)state;
	const uint8_t b[] = { 0x80, 0x01, 0x11, 0x5F, 0x29, 0x01, 0x22, 0x7F, 0x49, 0x00 };
	tlv t;
	assert_int_equal(tlv_find(b, sizeof(b), 0x5F29, &t), 0);
	assert_int_equal(t.val[0], 0x22);
	assert_int_equal(tlv_find(b, sizeof(b), 0x7F49, &t), 0);
	assert_int_equal(t.len, 0);
	assert_int_equal(tlv_find(b, sizeof(b), 0x81, &t), -1);
}

static void header_roundtrip(void **state)
{
	(void)state;
	const size_t lens[] = { 0, 1, 127, 128, 255, 256, 65535, 65536, 0xFFFFFF, 0x1000000 };
	const size_t want_hdr[] = { 2, 2, 2, 3, 3, 4, 4, 5, 5, 6 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t h[8];
		size_t n = tlv_header(h, 0x04, lens[i]);
		assert_int_equal(n, want_hdr[i]);
		/* parse the header back over a buffer claiming that length */
		size_t total = n + lens[i];
		uint8_t *buf = calloc(1, total ? total : 1);
		memcpy(buf, h, n);
		size_t off = 0;
		tlv t;
		assert_int_equal(tlv_next(buf, total, &off, &t), 0);
		assert_int_equal(t.len, lens[i]);
		assert_int_equal(off, total);
		free(buf);
	}
	uint8_t h[8];
	assert_int_equal(tlv_header(h, 0x7F49, 3), 3);
	assert_int_equal(h[0], 0x7F);
	assert_int_equal(h[1], 0x49);
	assert_int_equal(h[2], 3);
	assert_int_equal(tlv_header(h, 0x5F8101, 0x1000000), 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(simple_and_nested),
		cmocka_unit_test(multibyte_tags),
		cmocka_unit_test(long_lengths),
		cmocka_unit_test(hostile_lengths),
		cmocka_unit_test(find),
		cmocka_unit_test(header_roundtrip),
	};
	return cmocka_run_group_tests_name("tlv", tests, NULL, NULL);
}
