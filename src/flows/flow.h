/* What every flow (enroll, backup, verify, restore, reshare, drill) is
 * given by its caller: where secrets come from, where progress lines go,
 * whether a person is there to answer questions, and which cards the
 * operator confirmed for wiping. Flows never call exit() and never print
 * errors: they return an hv_code with the message in *err. */
#ifndef HV_FLOWS_FLOW_H
#define HV_FLOWS_FLOW_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "flows/secrets.h"
#include "util/err.h"
#include "util/secbuf.h"
#include "vault/manifest.h"
#include "vfs/vfs.h"

typedef struct flow_ctx {
	flow_secrets *secrets;   /* never NULL */
	FILE *out;               /* progress lines for people; NULL = quiet
				  * (--json: the command prints a document) */
	int batch;               /* no terminal questions: confirmations come
				  * only from `confirmed` */
	/* Cards the operator named (--wipe ID|SERIAL, or answered at the
	 * terminal) as allowed to be initialized although they hold keys
	 * or belong to another set. */
	const char *const *confirmed;
	size_t n_confirmed;
	const char *reader;      /* --reader: only this reader; NULL = all */
	/* Trust anchors for the cards' device chains (flows/attest.h):
	 * the default set plus every --trust-dir; NULL = the default set. */
	const struct devaut_anchors *anchors;
	int deep;                /* verify: sign a challenge with each key */
} flow_ctx;

/* One progress line ("card DESIM00001: shares imported, KCV 1A2B..."),
 * newline added; thread-safe (cards are worked in parallel). */
void flow_say(const flow_ctx *fc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* May card (id "SERIAL-hash" or serial) be wiped? 1 when named in
 * fc->confirmed; otherwise, with a terminal and !batch, shows `why`
 * and asks the operator to type the serial (0 on a wrong answer);
 * in batch mode 0. Never called from a card thread. */
int flow_confirm_card(const flow_ctx *fc, const char *card_id, const char *serial,
		      const char *why);

/* Ctrl-C: after flow_catch_interrupt(), SIGINT and SIGTERM only set a
 * flag (and make a waiting prompt return HV_ECANCEL); flows check
 * flow_interrupted() between steps so that nothing is left half done. */
void flow_catch_interrupt(void);
int flow_interrupted(void);
/* HV_ECANCEL with a message saying what state things were left in. */
int flow_cancelled(hv_err *err, const char *state);

/* Fresh secret random bytes (OpenSSL's private generator). */
int flow_random(void *out, size_t len, hv_err *err);

/* The last step of every flow that changes the vault: manifest_append of
 * next (a changed clone of the current version) as `change`, then
 * RECOVERY.md rewritten from the new version. *version (may be NULL) gets
 * the number written, also when only RECOVERY.md failed. */
int flow_append_version(vfs *v, const manifest *next, const char *change,
			unsigned long *version, hv_err *err);

/* A SO-PIN given as 16 hex digits into its 8 bytes (a new secbuf). what
 * names it in messages ("SO-PIN", "current SO-PIN"). */
int flow_so_pin_bytes(const uint8_t *hexdigits, size_t len, const char *what, secbuf **out,
		      hv_err *err);

/* The current UTC time as "2026-11-28T04:07:09Z" (out >= 21 bytes). */
void flow_time_now(char *out, size_t outsz);

#endif
