/* Secret buffers. That memory is wiped after free cannot be observed
 * safely, so this checks what can be: sizes, copies, zeroing, comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/secbuf.h"

static void new_is_zeroed(void **state)
{
	(void)state;
	secbuf *b = secbuf_new(100);
	assert_non_null(b);
	assert_int_equal(b->len, 0);
	assert_int_equal(b->cap, 100);
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(b->data[i], 0);
	memset(b->data, 0xAB, b->cap); /* the whole capacity is writable */
	secbuf_free(b);
	/* larger than a page */
	b = secbuf_new(10000);
	assert_non_null(b);
	memset(b->data, 1, b->cap);
	secbuf_free(b);
	b = secbuf_new(0);
	assert_non_null(b);
	assert_int_equal(b->cap, 0);
	secbuf_free(b);
	secbuf_free(NULL);
}

static void impossible_size_refused(void **state)
{
	(void)state;
	assert_null(secbuf_new(SIZE_MAX));
	assert_null(secbuf_new(SIZE_MAX - 8));
}

static void dup_copies(void **state)
{
	(void)state;
	const char s[] = "share1password";
	secbuf *b = secbuf_dup(s, strlen(s));
	assert_non_null(b);
	assert_int_equal(b->len, strlen(s));
	assert_int_equal(b->cap, strlen(s));
	assert_memory_equal(b->data, s, strlen(s));
	secbuf *c = secbuf_dup(b->data, b->len);
	assert_int_equal(c->len, b->len);
	assert_int_equal(secure_memcmp(b->data, c->data, b->len), 0);
	c->data[3] ^= 1;
	assert_int_not_equal(secure_memcmp(b->data, c->data, b->len), 0);
	secbuf_free(b);
	secbuf_free(c);
	secbuf *e = secbuf_dup(NULL, 0);
	assert_non_null(e);
	assert_int_equal(e->len, 0);
	secbuf_free(e);
}

static void wipe(void **state)
{
	(void)state;
	uint8_t x[32];
	memset(x, 0x5A, sizeof(x));
	secure_wipe(x, 16);
	for (int i = 0; i < 16; i++)
		assert_int_equal(x[i], 0);
	for (int i = 16; i < 32; i++)
		assert_int_equal(x[i], 0x5A);
	secure_wipe(NULL, 10);
	assert_int_equal(secure_memcmp("abc", "abd", 2), 0);
	assert_int_not_equal(secure_memcmp("abc", "abd", 3), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new_is_zeroed),
		cmocka_unit_test(impossible_size_refused),
		cmocka_unit_test(dup_copies),
		cmocka_unit_test(wipe),
	};
	return cmocka_run_group_tests_name("secbuf", tests, NULL, NULL);
}
