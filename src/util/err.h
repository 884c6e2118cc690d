/* Errors as values: a code that maps to the process exit status, and a
 * one-line message that names what was wrong and what to do about it. */
#ifndef HV_UTIL_ERR_H
#define HV_UTIL_ERR_H

#include <stddef.h>

/* Codes double as exit statuses (documented in docs/hsmvault.1). */
enum hv_code {
	HV_OK = 0,
	HV_EMISMATCH = 1,  /* a check ran and found a difference (verify)      */
	HV_EUSAGE = 2,     /* bad command line or bad input file/format        */
	HV_ESECRET = 3,    /* wrong password, PIN or passphrase                */
	HV_ECARD = 4,      /* card or reader error                             */
	HV_EINTEGRITY = 5, /* vault/manifest/blob integrity broken             */
	HV_EIO = 6,        /* operating-system or device I/O failure           */
	HV_ESAFETY = 7,    /* refused by a safety rule; nothing was changed    */
	HV_ECANCEL = 8,    /* the operator cancelled or interrupted            */
	HV_ENOMEM = 9,     /* out of memory                                    */
	HV_EINTERNAL = 10, /* a bug: please report                             */
	HV_EINCOMPLETE = 11, /* a check could not run without a secret (verify:
			      * KCV hidden until the user PIN); all else matched */
};

#define HV_ERR_MSG_MAX 512

typedef struct hv_err {
	int code;
	char msg[HV_ERR_MSG_MAX];
} hv_err;

/* Records code and message in *e (when e is not NULL) and returns code,
 * so a failing path reads `return hv_fail(e, HV_EUSAGE, "...", ...);`. */
int hv_fail(hv_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with more context ("reading X: ..."). */
int hv_err_prefix(hv_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void hv_err_clear(hv_err *e);

/* A short name for a code, for --json output ("secret", "card", ...). */
const char *hv_code_name(int code);

#endif
