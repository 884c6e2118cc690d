/* Card attestation for the flows: read EF 2F02, judge it (crypto/devaut),
 * and turn the verdict plus the policy into "go" or a refusal. */
#include "flows/attest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "util/buf.h"
#include "util/hex.h"
#include "util/tlv.h"

int attest_anchors(const flow_ctx *fc, devaut_anchors *own, const devaut_anchors **use,
		   hv_err *err)
{
	devaut_anchors_init(own);
	if (fc && fc->anchors) {
		*use = fc->anchors;
		return HV_OK;
	}
	int rc = devaut_anchors_add_default(own, err);
	if (rc != HV_OK) {
		devaut_anchors_free(own);
		return rc;
	}
	*use = own;
	return HV_OK;
}

void attest_clear(card_attest *a)
{
	free(a->devcert_hex);
	memset(a, 0, sizeof(*a));
}

/* The device certificate's own bytes, for the manifest: the top-level
 * 7F21 whose hash devaut_check reported (the first one; pico-hsm's old
 * firmware puts a 67 request ahead of it). */
static int devcert_hex(const uint8_t *ef, size_t len, const devaut_result *r, char **out,
		       hv_err *err)
{
	*out = NULL;
	if (!r->has_devcert)
		return HV_OK;
	size_t off = 0;
	tlv t;
	while (off < len && tlv_next(ef, len, &off, &t) == 0) {
		if (t.tag != 0x7F21)
			continue;
		uint8_t h[32];
		SHA256(t.raw, t.raw_len, h);
		if (memcmp(h, r->devcert_sha256, sizeof(h)) != 0)
			continue;
		*out = malloc(2 * t.raw_len + 1);
		if (!*out)
			return hv_fail(err, HV_ENOMEM, "out of memory");
		hex_encode(t.raw, t.raw_len, *out, 0);
		return HV_OK;
	}
	return HV_OK;
}

int attest_card(schsm_card *c, const devaut_anchors *a, card_attest *out, hv_err *err)
{
	attest_clear(out);
	bytebuf ef = { 0 };
	int exists = 0;
	int rc = schsm_read_ef(c, SCHSM_EF_DEVAUT, &ef, &exists, err);
	if (rc != HV_OK) {
		buf_free(&ef);
		return hv_err_prefix(err, "reading the device certificate (file 2F02)");
	}
	if (ef.failed) {
		buf_free(&ef);
		return hv_fail(err, HV_ENOMEM, "out of memory reading the device certificate");
	}
	size_t len = exists ? ef.len : 0;
	rc = devaut_check(a, ef.data, len, &out->r, err);
	if (rc == HV_OK && len == 0) {
		/* pico-hsm creates its device key and certificate at the first
		 * INITIALIZE: say so in the operator's terms. */
		out->empty = 1;
		snprintf(out->r.reason, sizeof(out->r.reason),
			 "no device certificate until first initialization");
	}
	if (rc == HV_OK)
		rc = devcert_hex(ef.data, len, &out->r, &out->devcert_hex, err);
	buf_free(&ef);
	out->checked = rc == HV_OK;
	return rc;
}

typedef struct attest_job {
	cardset *cs;
	const devaut_anchors *a;
	card_attest *out;
} attest_job;

static int attest_one(flow_card *c, void *ctx, hv_err *err)
{
	attest_job *j = ctx;
	return attest_card(&c->sc, j->a, &j->out[c - j->cs->cards], err);
}

int attest_cardset(cardset *cs, const devaut_anchors *a, card_attest *out, hv_err *err)
{
	attest_job j = { cs, a, out };
	return cardset_each(cs, attest_one, &j, err);
}

void attest_chain(const card_attest *a, char *out, size_t outsz)
{
	const devaut_result *r = &a->r;
	if (r->status != DEVAUT_GENUINE)
		snprintf(out, outsz, "%s", "");
	else if (!strcmp(r->root_chr, r->device_chr))
		snprintf(out, outsz, "%s (itself a trusted anchor)", r->device_chr);
	else if (!strcmp(r->issuer_chr, r->root_chr) || !r->issuer_chr[0])
		snprintf(out, outsz, "%s <- %s", r->device_chr, r->root_chr);
	else
		snprintf(out, outsz, "%s <- %s <- %s", r->device_chr, r->issuer_chr, r->root_chr);
}

void attest_text(const card_attest *a, char *out, size_t outsz)
{
	char chain[96];
	switch (a->r.status) {
	case DEVAUT_GENUINE:
		attest_chain(a, chain, sizeof(chain));
		snprintf(out, outsz, "genuine (%s)", chain);
		break;
	case DEVAUT_NOT_ATTESTED:
		snprintf(out, outsz, "not attested: %s", a->r.reason);
		break;
	default:
		snprintf(out, outsz, "failed: %s", a->r.reason[0] ? a->r.reason : "no verdict");
		break;
	}
}

int attest_permit(const card_attest *a, const char *who, int accept_unattested,
		  const char *state, hv_err *err)
{
	if (a->r.status == DEVAUT_GENUINE)
		return HV_OK;
	if (a->r.status == DEVAUT_NOT_ATTESTED && accept_unattested)
		return HV_OK;
	char name[220];
	snprintf(name, sizeof(name), "%s%s", who && who[0] ? "card " : "the card",
		 who ? who : "");
	if (a->r.status == DEVAUT_NOT_ATTESTED)
		return hv_fail(err, HV_ESAFETY,
			       "%s is not attested (%s): the policy gives the DKEK only to "
			       "cards that prove they are genuine; %s. To accept cards that cannot "
			       "prove it, set cards.unattested: accept in the policy", name,
			       a->r.reason, state);
	/* Only a chain that ends at a root nobody named may be the operator's
	 * to fix; a signature that does not verify is not. */
	int unknown_root = strstr(a->r.reason, "trusted anchor") != NULL;
	return hv_fail(err, HV_ESAFETY,
		       "%s failed its device authentication check (%s): it may not be "
		       "a genuine card and never receives the DKEK; %s%s", name,
		       a->r.reason[0] ? a->r.reason : "no verdict", state,
		       unknown_root ? ". If its root is one you trust, name the folder holding "
		       "it with --trust-dir DIR" : "");
}

int attest_set_permit(const flow_ctx *fc, cardset *cs, const devaut_anchors *a,
		      int accept_unattested, card_attest *out, hv_err *err)
{
	int rc = attest_cardset(cs, a, out, err);
	for (size_t i = 0; rc == HV_OK && i < cs->n; i++) {
		const flow_card *c = &cs->cards[i];
		char text[320], who[200];
		attest_text(&out[i], text, sizeof(text));
		snprintf(who, sizeof(who), "%s%sin reader %s", c->ident.serial,
			 c->ident.serial[0] ? " " : "", c->reader);
		flow_say(fc, "card %s: %s", who, text);
		rc = attest_permit(&out[i], who, accept_unattested, "nothing was changed", err);
	}
	return rc;
}

int attest_after_init(const flow_ctx *fc, flow_card *c, const devaut_anchors *a,
		      int accept_unattested, card_attest *att, hv_err *err)
{
	/* Read again in every case: pico-hsm makes its certificate at the
	 * first INITIALIZE and signs it anew at a later one (same key, new
	 * signature), and the manifest records what the card holds now. */
	int was_empty = att->empty, before = att->r.status;
	int rc = attest_card(&c->sc, a, att, err);
	if (rc != HV_OK)
		return rc;
	char text[320];
	attest_text(att, text, sizeof(text));
	if (was_empty || att->r.status != before)
		flow_say(fc, "card %s: %s", c->ident.serial, text);
	/* cardset_each names the card and reader in front of the message */
	return attest_permit(att, "", accept_unattested,
			     "it was initialized but received no DKEK share", err);
}

/* The 7F4E body of a device certificate given in hex, into buf. */
static int devcert_body(const char *hex, uint8_t *buf, size_t cap, const uint8_t **body,
			size_t *len)
{
	long got = hex_decode(hex, buf, cap);
	if (got <= 0)
		return -1;
	size_t n = (size_t)got;
	tlv cert, b;
	size_t off = 0;
	if (tlv_next(buf, n, &off, &cert) != 0 || cert.tag != 0x7F21 ||
	    tlv_find(cert.val, cert.len, 0x7F4E, &b) != 0)
		return -1;
	*body = b.raw;
	*len = b.raw_len;
	return 0;
}

int attest_same_devcert(const char *hex_a, const char *hex_b)
{
	if (!hex_a || !hex_b)
		return 0;
	if (!strcmp(hex_a, hex_b))
		return 1;
	uint8_t *a = malloc(strlen(hex_a) / 2 + 1), *b = malloc(strlen(hex_b) / 2 + 1);
	const uint8_t *ba, *bb;
	size_t la, lb;
	int same = a && b &&
		   devcert_body(hex_a, a, strlen(hex_a) / 2 + 1, &ba, &la) == 0 &&
		   devcert_body(hex_b, b, strlen(hex_b) / 2 + 1, &bb, &lb) == 0 &&
		   la == lb && memcmp(ba, bb, la) == 0;
	free(a);
	free(b);
	return same;
}
