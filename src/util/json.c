#include "util/json.h"

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void member(json_out *j, const char *key)
{
	if (j->count[j->depth]++)
		fputc(',', j->f);
	if (key) {
		put_string(j->f, key);
		fputc(':', j->f);
	}
}

void json_init(json_out *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	for (int i = 0; i <= JSON_MAX_DEPTH; i++)
		j->count[i] = 0;
}

static void open_level(json_out *j, const char *key, char c)
{
	member(j, key);
	fputc(c, j->f);
	if (j->depth < JSON_MAX_DEPTH)
		j->count[++j->depth] = 0;
}

static void close_level(json_out *j, char c)
{
	fputc(c, j->f);
	if (j->depth > 0)
		j->depth--;
}

void json_obj_begin(json_out *j, const char *key) { open_level(j, key, '{'); }
void json_obj_end(json_out *j) { close_level(j, '}'); }
void json_arr_begin(json_out *j, const char *key) { open_level(j, key, '['); }
void json_arr_end(json_out *j) { close_level(j, ']'); }

void json_str(json_out *j, const char *key, const char *val)
{
	member(j, key);
	if (val)
		put_string(j->f, val);
	else
		fputs("null", j->f);
}

void json_int(json_out *j, const char *key, long long v)
{
	member(j, key);
	fprintf(j->f, "%lld", v);
}

void json_bool(json_out *j, const char *key, int v)
{
	member(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_null(json_out *j, const char *key)
{
	member(j, key);
	fputs("null", j->f);
}

void json_finish(json_out *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}
