/* A small streaming JSON writer for --json output. Keys are NULL inside
 * arrays and at the top level. Strings are escaped; nesting is limited to
 * JSON_MAX_DEPTH levels. */
#ifndef HV_UTIL_JSON_H
#define HV_UTIL_JSON_H

#include <stdio.h>

#define JSON_MAX_DEPTH 16

typedef struct json_out {
	FILE *f;
	int depth;
	int count[JSON_MAX_DEPTH + 1]; /* members written at each level */
} json_out;

void json_init(json_out *j, FILE *f);
void json_obj_begin(json_out *j, const char *key);
void json_obj_end(json_out *j);
void json_arr_begin(json_out *j, const char *key);
void json_arr_end(json_out *j);
void json_str(json_out *j, const char *key, const char *val); /* NULL -> null */
void json_int(json_out *j, const char *key, long long v);
void json_bool(json_out *j, const char *key, int v);
void json_null(json_out *j, const char *key);
/* Ends the document with a newline. */
void json_finish(json_out *j);

#endif
