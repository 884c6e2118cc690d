/* Is a card genuine, and may it receive the DKEK?
 *
 * A card's EF 2F02 is judged by crypto/devaut.h against the operator's
 * trust anchors (the installed ones, CardContact's built-in root, and
 * every --trust-dir): GENUINE, NOT_ATTESTED (nothing to check: pico-hsm's
 * self-signed device certificate, or no certificate yet) or FAILED.
 * Enroll and restore ask attest_permit() before anything is written to a
 * card: a FAILED chain is always refused, a NOT_ATTESTED card only when
 * the policy says cards.unattested: accept. A card without any device
 * certificate (a pico-hsm before its first INITIALIZE) is judged again
 * right after INITIALIZE, before any share is imported. */
#ifndef HV_FLOWS_ATTEST_H
#define HV_FLOWS_ATTEST_H

#include <stddef.h>

#include "card/schsm.h"
#include "crypto/devaut.h"
#include "flows/cardset.h"
#include "flows/flow.h"
#include "util/err.h"

typedef struct card_attest {
	devaut_result r;
	int checked;         /* attest_card() ran */
	int empty;           /* EF 2F02 absent or empty: no certificate yet */
	char *devcert_hex;   /* the device 7F21 TLV in lowercase hex (the
			      * manifest's devcert); NULL when there is none */
} card_attest;

/* The anchors a flow checks against: fc->anchors when the command loaded
 * them (--trust-dir), else the default set loaded into *own (free it with
 * devaut_anchors_free). */
int attest_anchors(const flow_ctx *fc, devaut_anchors *own, const devaut_anchors **use,
		   hv_err *err);

/* Reads EF 2F02 of c and judges it. An absent or empty EF is
 * NOT_ATTESTED "no device certificate until first initialization". Only
 * card/reader failures and HV_ENOMEM are errors. *out is reset first. */
int attest_card(schsm_card *c, const devaut_anchors *a, card_attest *out, hv_err *err);

/* attest_card for every card of the set, in parallel; out[i] for
 * cs->cards[i]. */
int attest_cardset(cardset *cs, const devaut_anchors *a, card_attest *out, hv_err *err);

/* What enroll and restore do before anything else touches the cards:
 * attest_cardset, one progress line per card with its verdict, and
 * attest_permit for each ("nothing was changed"). */
int attest_set_permit(const flow_ctx *fc, cardset *cs, const devaut_anchors *a,
		      int accept_unattested, card_attest *out, hv_err *err);

/* Right after INITIALIZE, in the card's thread, before any share is
 * imported: the card is judged again (a pico-hsm makes its certificate at
 * the first INITIALIZE and re-signs it at later ones), *att updated, and
 * refused like attest_permit. A progress line when the verdict is new. */
int attest_after_init(const flow_ctx *fc, flow_card *c, const devaut_anchors *a,
		      int accept_unattested, card_attest *att, hv_err *err);

void attest_clear(card_attest *a);

/* 1 when two device certificates (lowercase hex) have the same body
 * (7F4E: holder, key, issuer, dates): the same certificate up to its
 * signature, which pico-hsm makes anew at each INITIALIZE. */
int attest_same_devcert(const char *hex_a, const char *hex_b);

/* "genuine (DECM010444800000 <- DEDICM0100002 <- DESRCACC100001)",
 * "not attested: self-signed device certificate ...", "failed: ...". */
void attest_text(const card_attest *a, char *out, size_t outsz);

/* The chain alone: "DEVICE <- ISSUER <- ROOT" (GENUINE), else "". */
void attest_chain(const card_attest *a, char *out, size_t outsz);

/* May this card receive the DKEK? HV_OK, or HV_ESAFETY with one line
 * naming the card (`who`: serial, or "in reader R" text) and saying what
 * to do: a FAILED chain is always refused; a NOT_ATTESTED card unless
 * accept_unattested. `state` ends the message with what happened to the
 * card ("nothing was changed", "it was initialized but received no DKEK
 * share"). */
int attest_permit(const card_attest *a, const char *who, int accept_unattested,
		  const char *state, hv_err *err);

#endif
