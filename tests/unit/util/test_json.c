#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/json.h"

static char *render(void (*fn)(json_out *j))
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	json_out j;
	json_init(&j, f);
	fn(&j);
	fclose(f);
	return text;
}

static void doc(json_out *j)
{
	json_obj_begin(j, NULL);
	json_str(j, "name", "a\"b\\c\n\r\t\x01\x1f end");
	json_str(j, "none", NULL);
	json_int(j, "neg", -42);
	json_int(j, "big", 9007199254740993LL);
	json_bool(j, "yes", 1);
	json_bool(j, "no", 0);
	json_null(j, "nil");
	json_arr_begin(j, "list");
	json_int(j, NULL, 1);
	json_str(j, NULL, "two");
	json_obj_begin(j, NULL);
	json_obj_end(j);
	json_arr_begin(j, NULL);
	json_arr_end(j);
	json_arr_end(j);
	json_str(j, "utf8", "caf\xc3\xa9");
	json_str(j, "k\"ey", "v");
	json_obj_end(j);
	json_finish(j);
}

static void escapes_and_structure(void **state)
{
	(void)state;
	char *t = render(doc);
	assert_string_equal(t,
		"{\"name\":\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f end\",\"none\":null,\"neg\":-42,"
		"\"big\":9007199254740993,\"yes\":true,\"no\":false,\"nil\":null,"
		"\"list\":[1,\"two\",{},[]],\"utf8\":\"caf\xc3\xa9\",\"k\\\"ey\":\"v\"}\n");
	free(t);
}

static void top_level_array(json_out *j)
{
	json_arr_begin(j, NULL);
	json_str(j, NULL, "");
	json_str(j, NULL, "/");
	json_arr_end(j);
	json_finish(j);
}

static void arrays(void **state)
{
	(void)state;
	char *t = render(top_level_array);
	assert_string_equal(t, "[\"\",\"/\"]\n");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escapes_and_structure),
		cmocka_unit_test(arrays),
	};
	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
