/* Secrets from a file descriptor (batch mode). The terminal prompts need
 * a tty and are exercised by the flow tests. */
#include <fcntl.h>
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
	/* a closed descriptor and a directory say what they are */
	int fd = pipe_with("x\n", 2);
	close(fd);
	assert_int_equal(secret_from_fd(fd, 64, &s, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "is not open"));
	fd = open("/", O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(secret_from_fd(fd, 64, &s, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "is a directory"));
	close(fd);
	assert_null(s);
}

/* A new secret: one line, or two equal lines; a differing confirmation or
 * one shorter than the terminal's minimum is refused. */
static void new_secret_lines(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int rc;
		const char *msg;
	} cases[] = {
		{ "longenough\n", HV_OK, NULL },
		{ "longenough", HV_OK, NULL },
		{ "longenough\nlongenough\n", HV_OK, NULL },
		{ "longenough\r\nlongenough\n", HV_OK, NULL },
		{ "longenough\nlongenougH\n", HV_EUSAGE, "confirmation line on file descriptor" },
		{ "longenough\n\n", HV_EUSAGE, "confirmation line" },
		{ "abc\nabc\n", HV_EUSAGE, "too short: at least 8 characters" },
		{ "", HV_EUSAGE, "ended before a secret was read" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = pipe_with(cases[i].text, strlen(cases[i].text));
		secbuf *s = NULL;
		hv_err err;
		hv_err_clear(&err);
		int rc = new_secret_from_fd(fd, "passphrase", 8, 64, &s, &err);
		close(fd);
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d (%s)", i, rc, cases[i].rc, err.msg);
		if (rc == HV_OK) {
			assert_int_equal(s->len, 10);
			assert_memory_equal(s->data, "longenough", 10);
			secbuf_free(s);
		} else {
			assert_null(s);
			if (!strstr(err.msg, cases[i].msg))
				fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
			assert_null(strstr(err.msg, "longenou"));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_secrets_in_order),
		cmocka_unit_test(eof_before_any_byte),
		cmocka_unit_test(over_long),
		cmocka_unit_test(bad_fd),
		cmocka_unit_test(new_secret_lines),
	};
	return cmocka_run_group_tests_name("prompt", tests, NULL, NULL);
}
