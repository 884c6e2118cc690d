#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int hv_fail(hv_err *e, int code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
		e->code = code;
	}
	return code;
}

int hv_err_prefix(hv_err *e, const char *fmt, ...)
{
	if (!e)
		return HV_OK;
	char prefix[HV_ERR_MSG_MAX];
	char old[HV_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* Truncation of an over-long message is acceptable. */
	size_t n = strnlen(prefix, sizeof(prefix) - 1);
	memcpy(e->msg, prefix, n);
	size_t left = sizeof(e->msg) - n;
	if (left > 3) {
		memcpy(e->msg + n, ": ", 2);
		size_t m = strnlen(old, left - 3);
		memcpy(e->msg + n + 2, old, m);
		n += 2 + m;
	}
	e->msg[n] = '\0';
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
