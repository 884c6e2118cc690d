#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/err.h"

static void fail_and_prefix(void **state)
{
	(void)state;
	hv_err e;
	hv_err_clear(&e);
	assert_int_equal(e.code, HV_OK);
	assert_string_equal(e.msg, "");
	assert_int_equal(hv_fail(&e, HV_EUSAGE, "bad %s: %d", "thing", 7), HV_EUSAGE);
	assert_int_equal(e.code, HV_EUSAGE);
	assert_string_equal(e.msg, "bad thing: 7");
	assert_int_equal(hv_err_prefix(&e, "reading %s", "f.yaml"), HV_EUSAGE);
	assert_string_equal(e.msg, "reading f.yaml: bad thing: 7");
	/* NULL is allowed everywhere */
	assert_int_equal(hv_fail(NULL, HV_EIO, "x"), HV_EIO);
	assert_int_equal(hv_err_prefix(NULL, "x"), HV_OK);
	hv_err_clear(NULL);
}

static void long_messages_truncate(void **state)
{
	(void)state;
	hv_err e;
	char big[2000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	hv_fail(&e, HV_EIO, "%s", big);
	assert_int_equal(strlen(e.msg), HV_ERR_MSG_MAX - 1);
	hv_err_prefix(&e, "%s", big);
	assert_int_equal(strlen(e.msg), HV_ERR_MSG_MAX - 1);
	hv_fail(&e, HV_EIO, "tail");
	hv_err_prefix(&e, "%.*s", HV_ERR_MSG_MAX - 5, big);
	assert_true(strlen(e.msg) <= HV_ERR_MSG_MAX - 1);
	/* a long path in the middle: the start and the reason after it stay */
	hv_fail(&e, HV_EUSAGE, "cannot open %s: is a folder: name the file", big);
	assert_int_equal(strlen(e.msg), HV_ERR_MSG_MAX - 1);
	assert_memory_equal(e.msg, "cannot open aaa", 15);
	assert_non_null(strstr(e.msg, "a [...] aaa"));
	assert_non_null(strstr(e.msg, "aaa: is a folder: name the file"));
	hv_fail(&e, HV_EUSAGE, "is a folder");
	hv_err_prefix(&e, "reading %s", big);
	assert_int_equal(strlen(e.msg), HV_ERR_MSG_MAX - 1);
	assert_non_null(strstr(e.msg, "aaa: is a folder"));
}

static void code_names(void **state)
{
	(void)state;
	assert_string_equal(hv_code_name(HV_OK), "ok");
	assert_string_equal(hv_code_name(HV_EINTEGRITY), "integrity");
	assert_string_equal(hv_code_name(HV_ESECRET), "secret");
	assert_string_equal(hv_code_name(HV_ECANCEL), "cancelled");
	assert_string_equal(hv_code_name(1234), "internal");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fail_and_prefix),
		cmocka_unit_test(long_messages_truncate),
		cmocka_unit_test(code_names),
	};
	return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
