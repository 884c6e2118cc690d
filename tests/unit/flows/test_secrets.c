/* flows/secrets.c: the batch secrets table. Every malformed input must be
 * refused with a message naming the line or the secret, and a secret nobody
 * asked for must not pass unseen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "flows/secrets.h"

/* A table read from a pipe holding text. */
static int table(const char *text, flow_secrets **s, hv_err *err)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
	close(p[1]);
	int rc = flow_secrets_from_fd(p[0], -1, s, err);
	close(p[0]);
	return rc;
}

static void get_ok(flow_secrets *s, const char *name, const char *want)
{
	secbuf *v = NULL;
	hv_err err;
	hv_err_clear(&err);
	assert_int_equal(flow_secret_get(s, name, "?", 0, 256, &v, &err), HV_OK);
	assert_int_equal(v->len, strlen(want));
	assert_memory_equal(v->data, want, v->len);
	secbuf_free(v);
}

static void test_lines(void **state)
{
	(void)state;
	flow_secrets *s;
	hv_err err;
	hv_err_clear(&err);
	assert_int_equal(table("share-1 pass word  with spaces\r\n\npin 123456\n"
			       "share-2-Bob f5:56 2 3a:99", &s, &err), HV_OK);
	assert_false(flow_secrets_interactive(s));
	get_ok(s, "share-1", "pass word  with spaces");
	get_ok(s, "pin", "123456");
	/* holder names are compared ignoring case; no trailing newline needed */
	assert_true(flow_secret_has(s, "share-2-bob"));
	get_ok(s, "share-2-BOB", "f5:56 2 3a:99");
	assert_int_equal(flow_secrets_check_unused(s, &err), HV_OK);
	flow_secrets_free(s);
	/* a holder called "Erin Smith" is share-1-erin_smith on a batch line */
	assert_int_equal(table("share-1-erin_smith f5 1 9a\n", &s, &err), HV_OK);
	get_ok(s, "share-1-Erin Smith", "f5 1 9a");
	flow_secrets_free(s);
}

static void test_missing_and_unused(void **state)
{
	(void)state;
	flow_secrets *s;
	hv_err err;
	hv_err_clear(&err);
	assert_int_equal(table("pin 123456\npni 654321\n", &s, &err), HV_OK);
	secbuf *v = NULL;
	assert_int_equal(flow_secret_get(s, "so-pin", "?", 16, 16, &v, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "secret so-pin is missing from --secrets-fd"));
	assert_non_null(strstr(err.msg, "'so-pin VALUE'"));
	get_ok(s, "pin", "123456");
	assert_int_equal(flow_secrets_check_unused(s, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "secret pni (line 2"));
	flow_secrets_free(s);
}

static void test_refused_input(void **state)
{
	(void)state;
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "pin\n", "line 1 of --secrets-fd has no value" },
		{ "pin 111111\npin 222222\n", "secret pin is given twice on --secrets-fd (lines 1 and 2)" },
		{ "pin \n", "secret pin is empty" },
		{ "p!n 1\n", "is not valid" },
		{ " 1\n", "is not valid" },
		/* the terminal's rules, by name, before any card or KDF */
		{ "pin 42421\n", "secret pin must be 6 to 16 characters long, 5 were given" },
		{ "pin 42424242424242424\n", "secret pin must be 6 to 16 characters long" },
		{ "pin 424242 \n", "secret pin starts or ends with a space" },
		{ "pin  424242\n", "secret pin starts or ends with a space" },
		{ "pin 424\r242\n", "secret pin holds a carriage return" },
		{ "pin 424\t242\n", "secret pin holds a control character" },
		{ "pin 424242\xc3\xa9\n", "secret pin holds a character that is not printable ASCII" },
		{ "so-pin 353736353433323\n", "secret so-pin must be exactly 16 hex digits" },
		{ "current-so-pin 353736353433323g\n", "secret current-so-pin must be exactly 16 hex" },
		{ "share-1 4242secret \n", "secret share-1 starts or ends with a space" },
		{ "new-share-2 4242\x01b\n", "secret new-share-2 holds a control character" },
		{ "share-2-bob f5:56 2\n", "secret share-2-bob must be 'PRIME ID VALUE'" },
		{ "share-2-bob f5:56 x2 3a\n", "secret share-2-bob must be 'PRIME ID VALUE'" },
		{ "share-2-bob f5:56  2 3a\n", "secret share-2-bob must be 'PRIME ID VALUE'" },
		{ "share-2-bob f5:5g 2 3a\n", "secret share-2-bob must be 'PRIME ID VALUE'" },
		{ "share-2-bob f5 2 3a 4\n", "secret share-2-bob must be 'PRIME ID VALUE'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		flow_secrets *s = NULL;
		hv_err err;
		hv_err_clear(&err);
		assert_int_equal(table(bad[i].text, &s, &err), HV_EUSAGE);
		/* the message names the secret, never its value */
		if (strstr(err.msg, "4242"))
			fail_msg("input %zu: message shows the value: %s", i, err.msg);
		assert_null(strstr(err.msg, "3537"));
		assert_null(s);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("input %zu: '%s' lacks '%s'", i, err.msg, bad[i].msg);
	}
}

/* A NUL inside a line is refused (it would cut the PIN the card sees);
 * well-formed PIN and SO-PIN lines pass. */
static void test_nul_and_good_pins(void **state)
{
	(void)state;
	static const char text[] = "pin 123\0" "456\n";
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(p[1]);
	flow_secrets *s = NULL;
	hv_err err;
	hv_err_clear(&err);
	assert_int_equal(flow_secrets_from_fd(p[0], -1, &s, &err), HV_EUSAGE);
	close(p[0]);
	assert_null(s);
	assert_non_null(strstr(err.msg, "secret pin holds a NUL byte"));
	assert_int_equal(table("so-pin 3537363534333231\nPIN 12 34 56\n"
			       "current-so-pin ABCDEF0123456789\n", &s, &err), HV_OK);
	get_ok(s, "pin", "12 34 56");
	get_ok(s, "current-so-pin", "ABCDEF0123456789");
	flow_secrets_free(s);
	assert_int_equal(flow_secret_check("pin", "12345\x7e", 6, &err), HV_OK);
	assert_int_equal(flow_secret_check("pin", "12345\x7f", 6, &err), HV_EUSAGE);
}

static void test_length_limits(void **state)
{
	(void)state;
	flow_secrets *s;
	hv_err err;
	hv_err_clear(&err);
	/* a flow's own limits still apply to names without fixed rules */
	assert_int_equal(table("new-share-1 short\n", &s, &err), HV_OK);
	secbuf *v = NULL;
	assert_int_equal(flow_secret_new(s, "new-share-1", "?", 8, 256, &v, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "secret new-share-1 must be 8 to 256 characters long"));
	assert_null(v);
	flow_secrets_free(s);
}

static void test_memory_and_reveal(void **state)
{
	(void)state;
	flow_secrets *s;
	hv_err err;
	hv_err_clear(&err);
	/* memory: what is shown is stored under its name */
	assert_int_equal(flow_secrets_memory(&s, &err), HV_OK);
	assert_int_equal(flow_secret_show(s, "share-2-carol", "carol", "p 3 v", &err), HV_OK);
	get_ok(s, "share-2-carol", "p 3 v");
	flow_secrets_free(s);
	/* fd: parts go to the reveal descriptor as "NAME VALUE" lines */
	int p[2], r[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(r), 0);
	close(p[1]);
	assert_int_equal(flow_secrets_from_fd(p[0], r[1], &s, &err), HV_OK);
	assert_int_equal(flow_secret_show(s, "share-2-Dave", "Dave", "p 4 w", &err), HV_OK);
	close(r[1]);
	char buf[64] = { 0 };
	assert_true(read(r[0], buf, sizeof(buf) - 1) > 0);
	assert_string_equal(buf, "share-2-dave p 4 w\n");
	flow_secrets_free(s);
	close(p[0]);
	close(r[0]);
	/* fd without a reveal descriptor: refused, naming the holder */
	assert_int_equal(table("", &s, &err), HV_OK);
	assert_int_equal(flow_secret_show(s, "share-1-erin", "erin", "x", &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "--reveal-fd"));
	flow_secrets_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_missing_and_unused),
		cmocka_unit_test(test_refused_input),
		cmocka_unit_test(test_nul_and_good_pins),
		cmocka_unit_test(test_length_limits),
		cmocka_unit_test(test_memory_and_reveal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
