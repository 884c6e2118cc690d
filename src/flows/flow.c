#include <pthread.h>
#include <signal.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "flows/flow.h"
#include "util/hex.h"
#include "util/prompt.h"
#include "vault/vault.h"

static pthread_mutex_t say_lock = PTHREAD_MUTEX_INITIALIZER;

void flow_say(const flow_ctx *fc, const char *fmt, ...)
{
	if (!fc || !fc->out)
		return;
	va_list ap;
	va_start(ap, fmt);
	/* One lock for the whole line: card threads must not interleave. */
	pthread_mutex_lock(&say_lock);
	vfprintf(fc->out, fmt, ap);
	fputc('\n', fc->out);
	fflush(fc->out);
	pthread_mutex_unlock(&say_lock);
	va_end(ap);
}

int flow_confirm_card(const flow_ctx *fc, const char *card_id, const char *serial,
		      const char *why)
{
	for (size_t i = 0; i < fc->n_confirmed; i++) {
		const char *c = fc->confirmed[i];
		if ((card_id && !strcmp(c, card_id)) || (serial && !strcasecmp(c, serial)))
			return 1;
	}
	if (fc->batch || !flow_secrets_interactive(fc->secrets))
		return 0;
	char q[512];
	snprintf(q, sizeof(q),
		 "Card %s %s.\nEverything on it will be erased. Type its serial (%s) to go on: ",
		 serial ? serial : card_id, why, serial ? serial : card_id);
	hv_err err;
	hv_err_clear(&err);
	return prompt_confirm(q, serial ? serial : card_id, &err) == 0;
}

void flow_time_now(char *out, size_t outsz)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

void flow_catch_interrupt(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a prompt waiting on the terminal must return. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int flow_interrupted(void)
{
	return interrupted != 0;
}

int flow_cancelled(hv_err *err, const char *state)
{
	return hv_fail(err, HV_ECANCEL, "interrupted: %s", state);
}

int flow_random(void *out, size_t len, hv_err *err)
{
	if (RAND_priv_bytes(out, (int)len) != 1)
		return hv_fail(err, HV_EINTERNAL, "the random generator failed");
	return HV_OK;
}

int flow_append_version(vfs *v, const manifest *next, const char *change,
			unsigned long *version, hv_err *err)
{
	int rc = manifest_append(v, next, change, err);
	if (rc != HV_OK)
		return rc;
	if (version)
		*version = next->version + 1;
	manifest *cur;
	if ((rc = manifest_load_current(v, &cur, err)) == HV_OK) {
		rc = vault_write_recovery(v, cur, err);
		manifest_free(cur);
	}
	return rc;
}

int flow_so_pin_bytes(const uint8_t *hexdigits, size_t len, const char *what, secbuf **out,
		      hv_err *err)
{
	char tmp[17];
	if (len != 16)
		return hv_fail(err, HV_EUSAGE, "the %s must be exactly 16 hex digits", what);
	memcpy(tmp, hexdigits, 16);
	tmp[16] = '\0';
	secbuf *b = secbuf_new(8);
	long n = b ? hex_decode(tmp, b->data, 8) : -1;
	secure_wipe(tmp, sizeof(tmp));
	if (!b)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	if (n != 8) {
		secbuf_free(b);
		return hv_fail(err, HV_EUSAGE, "the %s must be exactly 16 hex digits (0-9, A-F)",
			       what);
	}
	b->len = 8;
	*out = b;
	return HV_OK;
}
