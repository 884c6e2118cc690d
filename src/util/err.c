#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Head of an over-long message that is kept; the rest of the room goes to
 * its tail, where the reason and the advice usually stand ("PATH: is a
 * folder: name the file"): a 100 KB path must not push them out. */
#define HV_ERR_HEAD_KEPT 96
static const char elision[] = " [...] ";

static void set_msg(hv_err *e, const char *full, size_t n)
{
	if (n < sizeof(e->msg)) {
		memcpy(e->msg, full, n + 1);
		return;
	}
	size_t tail = sizeof(e->msg) - 1 - HV_ERR_HEAD_KEPT - (sizeof(elision) - 1);
	memcpy(e->msg, full, HV_ERR_HEAD_KEPT);
	memcpy(e->msg + HV_ERR_HEAD_KEPT, elision, sizeof(elision) - 1);
	memcpy(e->msg + HV_ERR_HEAD_KEPT + sizeof(elision) - 1, full + n - tail, tail + 1);
}

/* Formats into a buffer of the full length (malloc'd; *n its length), or
 * into `fallback` cut at its size when memory is short. */
static char *format_full(char *fallback, size_t fallback_size, size_t *n,
			 const char *fmt, va_list ap)
{
	va_list again;
	va_copy(again, ap);
	int len = vsnprintf(fallback, fallback_size, fmt, ap);
	if (len < 0) {
		va_end(again);
		fallback[0] = '\0';
		*n = 0;
		return fallback;
	}
	char *full = (size_t)len < fallback_size ? NULL : malloc((size_t)len + 1);
	if (full)
		vsnprintf(full, (size_t)len + 1, fmt, again);
	va_end(again);
	*n = full ? (size_t)len : strlen(fallback);
	return full ? full : fallback;
}

int hv_fail(hv_err *e, int code, const char *fmt, ...)
{
	if (e) {
		char small[HV_ERR_MSG_MAX];
		size_t n;
		va_list ap;
		va_start(ap, fmt);
		char *full = format_full(small, sizeof(small), &n, fmt, ap);
		va_end(ap);
		set_msg(e, full, n);
		if (full != small)
			free(full);
		e->code = code;
	}
	return code;
}

int hv_err_prefix(hv_err *e, const char *fmt, ...)
{
	if (!e)
		return HV_OK;
	char small[HV_ERR_MSG_MAX];
	size_t pn;
	va_list ap;
	va_start(ap, fmt);
	char *prefix = format_full(small, sizeof(small), &pn, fmt, ap);
	va_end(ap);
	/* prefix ": " old, shortened in its middle when too long, so that
	 * the old message (the reason) stays visible. */
	size_t on = strnlen(e->msg, sizeof(e->msg) - 1);
	char *joined = malloc(pn + 2 + on + 1);
	if (joined) {
		memcpy(joined, prefix, pn);
		memcpy(joined + pn, ": ", 2);
		memcpy(joined + pn + 2, e->msg, on);
		joined[pn + 2 + on] = '\0';
		set_msg(e, joined, pn + 2 + on);
		free(joined);
	}
	if (prefix != small)
		free(prefix);
	return e->code;
}

void hv_err_clear(hv_err *e)
{
	if (e) {
		e->code = HV_OK;
		e->msg[0] = '\0';
	}
}

const char *hv_code_name(int code)
{
	switch (code) {
	case HV_OK: return "ok";
	case HV_EMISMATCH: return "mismatch";
	case HV_EUSAGE: return "usage";
	case HV_ESECRET: return "secret";
	case HV_ECARD: return "card";
	case HV_EINTEGRITY: return "integrity";
	case HV_EIO: return "io";
	case HV_ESAFETY: return "safety";
	case HV_ECANCEL: return "cancelled";
	case HV_ENOMEM: return "nomem";
	case HV_EINCOMPLETE: return "incomplete";
	default: return "internal";
	}
}
