/* Secrets from a file descriptor (batch mode). The terminal prompts need
 * a tty and are exercised by the flow tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/prompt.h"

static int pipe_with(const char *text, size_t n)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], text, n), (ssize_t)n);
	close(p[1]);
	return p[0];
}

static void expect_secret(int fd, size_t max, const char *want)
{
	secbuf *s = NULL;
	hv_err err;
	hv_err_clear(&err);
	if (secret_from_fd(fd, max, &s, &err) != HV_OK)
		fail_msg("expected \"%s\", got error: %s", want, err.msg);
	assert_int_equal(s->len, strlen(want));
	assert_memory_equal(s->data, want, s->len);
	secbuf_free(s);
}

static void two_secrets_in_order(void **state)
{
	(void)state;
	const char t[] = "first secret\nsecond\r\nthird";
	int fd = pipe_with(t, strlen(t));
	expect_secret(fd, 64, "first secret");
	expect_secret(fd, 64, "second");   /* CRLF */
	expect_secret(fd, 64, "third");    /* last line without newline */
	secbuf *s = NULL;
	hv_err err;
	assert_int_equal(secret_from_fd(fd, 64, &s, &err), HV_EUSAGE);
	assert_null(s);
	assert_non_null(strstr(err.msg, "file descriptor"));
	close(fd);
}

static void eof_before_any_byte(void **state)
{
	(void)state;
	int fd = pipe_with("", 0);
	secbuf *s = NULL;
	hv_err err;
	assert_int_equal(secret_from_fd(fd, 64, &s, &err), HV_EUSAGE);
	assert_null(s);
	assert_non_null(strstr(err.msg, "ended before a secret was read"));
	close(fd);
	/* an empty line is an empty secret, not the end */
	fd = pipe_with("\n", 1);
	expect_secret(fd, 64, "");
	close(fd);
}

static void over_long(void **state)
{
	(void)state;
	int fd = pipe_with("abcde\n", 6);
	secbuf *s = NULL;
	hv_err err;
	assert_int_equal(secret_from_fd(fd, 4, &s, &err), HV_EUSAGE);
	assert_null(s);
	assert_non_null(strstr(err.msg, "longer than 4 bytes"));
	close(fd);
	/* exactly max is fine, also with CRLF */
	fd = pipe_with("abcd\nabcd\r\nabcd\rx\n", 18);
	expect_secret(fd, 4, "abcd");
	expect_secret(fd, 4, "abcd");
	assert_int_equal(secret_from_fd(fd, 4, &s, &err), HV_EUSAGE);
	close(fd);
}

static void bad_fd(void **state)
{
	(void)state;
	secbuf *s = NULL;
	hv_err err;
	assert_int_not_equal(secret_from_fd(-1, 64, &s, &err), HV_OK);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_secrets_in_order),
		cmocka_unit_test(eof_before_any_byte),
		cmocka_unit_test(over_long),
		cmocka_unit_test(bad_fd),
	};
	return cmocka_run_group_tests_name("prompt", tests, NULL, NULL);
}
