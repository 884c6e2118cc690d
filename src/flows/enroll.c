/* hsmvault enroll. Order matters for safety:
 *   1. every secret and every confirmation first (nothing touched yet);
 *   2. the cards, in parallel: initialize, import, verify PIN, KCV;
 *   3. the vault: data files, then the manifest version, then RECOVERY.md.
 * An interruption before 3 leaves the vault as it was; cards initialized
 * by an interrupted run are simply enrolled again (with --wipe). */
#include "flows/enroll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/dkek.h"
#include "flows/attest.h"
#include "flows/cardset.h"
#include "flows/share_create.h"
#include "util/hex.h"
#include "vault/manifest.h"
#include "vault/vault.h"

#define SO_PIN_HEX 16

struct enroll_ctx {
	const flow_ctx *fc;
	const policy *p;
	secbuf *pin;
	secbuf *so_pin;          /* 8 binary bytes */
	secbuf *current_so_pin;  /* for cards already initialized; may be NULL */
	secbuf *plain[POLICY_MAX_SHARES];
	size_t n_shares;
	char kcv[17];
	const devaut_anchors *anchors;
};

struct card_plan {
	int initialized;         /* needs the current SO-PIN */
	card_attest *att;        /* the card's device-chain verdict */
};

static int enroll_card(flow_card *c, void *ctxp, hv_err *err)
{
	struct enroll_ctx *e = ctxp;
	struct card_plan *plan = c->user;
	if (flow_interrupted())
		return flow_cancelled(err, "this card was not changed");
	schsm_init_params ip = {
		.options = 0x0001,
		.user_pin = e->pin,
		.so_pin = plan->initialized && e->current_so_pin ? e->current_so_pin : e->so_pin,
		.retry_counter = (uint8_t)e->p->retry_counter,
		.dkek_shares = (int)e->n_shares,
	};
	int rc = schsm_initialize(&c->sc, &ip, 0, err);
	if (rc != HV_OK)
		return rc;
	/* pico-hsm makes its device certificate at the first INITIALIZE:
	 * the identity recorded is the one the card shows now. */
	if ((rc = cardset_read_identity(c, 1, err)) != HV_OK)
		return rc;
	flow_say(e->fc, "card %s: initialized (%zu DKEK share%s expected)", c->ident.serial,
		 e->n_shares, e->n_shares == 1 ? "" : "s");
	if ((rc = attest_after_init(e->fc, c, e->anchors, e->p->unattested == UNATTESTED_ACCEPT,
				    plan->att, err)) != HV_OK)
		return rc;
	if (ip.so_pin != e->so_pin &&
	    secure_memcmp(ip.so_pin->data, e->so_pin->data, SCHSM_SO_PIN_LEN) != 0) {
		rc = schsm_change_pin(&c->sc, SCHSM_PIN_SO, ip.so_pin, e->so_pin, 0, err);
		if (rc != HV_OK)
			return hv_err_prefix(err, "setting the set's SO-PIN");
	}
	/* The PIN first, then the shares, then the KCV, in one card session:
	 * pico-hsm stores an imported share for good only inside a user PIN
	 * session (a reset before the next VERIFY loses it) and shows the
	 * KCV only after VERIFY. The real card does not mind the order. */
	rc = schsm_verify_pin(&c->sc, e->pin, 0, err);
	if (rc != HV_OK)
		return hv_err_prefix(err, "checking the new PIN");
	for (size_t i = 0; i < e->n_shares; i++) {
		rc = schsm_import_dkek_share(&c->sc, e->plain[i], &c->dkek, err);
		if (rc != HV_OK)
			return hv_err_prefix(err, "importing share %zu", i + 1);
	}
	rc = schsm_dkek_status(&c->sc, &c->dkek, err);
	if (rc != HV_OK)
		return rc;
	char kcv[17];
	cardset_kcv_hex(c, kcv);
	if (!kcv[0] || strcmp(kcv, e->kcv) != 0)
		return hv_fail(err, HV_ECARD,
			       "the card reports DKEK KCV %s after the import, the shares give %s: "
			       "do not use this card; run enroll again with --wipe %s",
			       kcv[0] ? kcv : "(unknown)", e->kcv, c->ident.serial);
	flow_say(e->fc, "card %s: shares imported, KCV %s", c->ident.serial, kcv);
	return HV_OK;
}

/* Whether a card may be initialized, asking the operator when it holds
 * something. */
static int plan_card(const flow_ctx *fc, flow_card *c, struct card_plan *plan, hv_err *err)
{
	plan->initialized = c->dev.state != SCHSM_DEV_UNINITIALIZED;
	if (!plan->initialized)
		return HV_OK;
	schsm_key_list keys;
	int rc = schsm_list_keys(&c->sc, &keys, err);
	if (rc != HV_OK)
		return hv_err_prefix(err, "card %s", c->ident.serial);
	size_t n = 0;
	for (size_t i = 0; i < keys.n; i++)
		n += !keys.keys[i].device_key;
	schsm_key_list_free(&keys);
	if (n == 0 && !c->dkek.configured)
		return HV_OK;
	char why[160];
	if (n)
		snprintf(why, sizeof(why), "holds %zu key%s", n, n == 1 ? "" : "s");
	else
		snprintf(why, sizeof(why), "already has a DKEK");
	if (flow_confirm_card(fc, c->card_id, c->ident.serial, why))
		return HV_OK;
	if (flow_interrupted())
		return flow_cancelled(err, "nothing was changed");
	return hv_fail(err, HV_ESAFETY,
		       "card %s in reader %s %s: enroll would erase it; nothing was changed. If "
		       "it really is to be wiped, run again with --wipe %s", c->ident.serial,
		       c->reader, why, c->ident.serial);
}

static int gather_shares(const flow_ctx *fc, const policy *p, struct enroll_ctx *e,
			 secbuf **pw, hv_err *err)
{
	for (size_t i = 0; i < p->n_shares; i++) {
		const policy_share *ps = &p->shares[i];
		const char *holders[POLICY_MAX_HOLDERS];
		for (size_t h = 0; h < ps->n_holders; h++)
			holders[h] = ps->holders[h];
		int rc = share_new_password(fc, "share", (unsigned)(i + 1), holders, ps->n_holders,
					    ps->threshold, &pw[i], err);
		if (rc != HV_OK)
			return rc;
		e->plain[i] = secbuf_new(DKEK_SHARE_LEN);
		if (!e->plain[i])
			return hv_fail(err, HV_ENOMEM, "out of memory");
		e->plain[i]->len = DKEK_SHARE_LEN;
		if ((rc = flow_random(e->plain[i]->data, DKEK_SHARE_LEN, err)) != HV_OK)
			return rc;
		e->n_shares = i + 1;
	}
	return HV_OK;
}

static int gather_pins(const flow_ctx *fc, const policy *p, struct enroll_ctx *e,
		       secbuf **so_hex, hv_err *err)
{
	int rc;
	if (p->so_pin == SO_PIN_VAULT) {
		uint8_t raw[SCHSM_SO_PIN_LEN];
		*so_hex = secbuf_new(SO_PIN_HEX + 2);
		if (!*so_hex)
			return hv_fail(err, HV_ENOMEM, "out of memory");
		if ((rc = flow_random(raw, sizeof(raw), err)) != HV_OK)
			return rc;
		hex_encode(raw, sizeof(raw), (char *)(*so_hex)->data, 1);
		secure_wipe(raw, sizeof(raw));
		(*so_hex)->len = SO_PIN_HEX;
	} else {
		rc = flow_secret_new(fc->secrets, "so-pin",
				     "SO-PIN for every card of the set (16 hex digits)", SO_PIN_HEX,
				     SO_PIN_HEX, so_hex, err);
		if (rc != HV_OK)
			return rc;
	}
	rc = flow_so_pin_bytes((*so_hex)->data, (*so_hex)->len, "SO-PIN", &e->so_pin, err);
	if (rc != HV_OK)
		return rc;
	return flow_secret_new(fc->secrets, "pin", "user PIN for every card of the set "
			       "(6 to 16 characters)", SCHSM_PIN_MIN, SCHSM_PIN_MAX, &e->pin, err);
}

static int record(vfs *v, const policy *p, const uint8_t *ptext, size_t plen,
		  struct enroll_ctx *e, const sealed_share *sealed, const secbuf *so_hex,
		  cardset *cs, manifest *cur, enroll_result *res, hv_err *err)
{
	int rc = vfs_write_atomic(v, VAULT_POLICY, ptext, plen, err);
	if (rc != HV_OK)
		return rc;
	if (p->so_pin == SO_PIN_VAULT) {
		secbuf *line = secbuf_new(SO_PIN_HEX + 1);
		if (!line)
			return hv_fail(err, HV_ENOMEM, "out of memory");
		memcpy(line->data, so_hex->data, SO_PIN_HEX);
		line->data[SO_PIN_HEX] = '\n';
		rc = vfs_write_atomic(v, "SO-PIN", line->data, SO_PIN_HEX + 1, err);
		secbuf_free(line);
		if (rc != HV_OK)
			return rc;
	}
	if ((rc = vfs_mkdir(v, VAULT_SHARES_DIR, err)) != HV_OK)
		return rc;
	manifest *next;
	if ((rc = manifest_clone(cur, &next, err)) != HV_OK)
		return rc;
	char psha[65];
	manifest_sha256_hex(ptext, plen, psha);
	int oom = manifest_set(&next->policy_name, p->name) ||
		  manifest_set(&next->policy_sha256, psha) ||
		  manifest_set(&next->dkek_kcv, e->kcv);
	next->share_count = (unsigned)e->n_shares;
	for (size_t i = 0; !oom && rc == HV_OK && i < e->n_shares; i++) {
		const policy_share *ps = &p->shares[i];
		char path[POLICY_FILE_MAX + 16];
		snprintf(path, sizeof(path), VAULT_SHARES_DIR "/%s", ps->file);
		rc = vfs_write_atomic(v, path, sealed[i].file, sizeof(sealed[i].file), err);
		if (rc != HV_OK)
			break;
		manifest_share s = {
			.index = (unsigned)(i + 1), .file = path, .sha256 = (char *)sealed[i].sha256,
			.check = (char *)sealed[i].check,
			.scheme = ps->threshold ? "n-of-m" : "password",
			.threshold = ps->threshold ? ps->threshold : 1,
		};
		char *items[POLICY_MAX_HOLDERS];
		for (size_t h = 0; h < ps->n_holders; h++)
			items[h] = (char *)ps->holders[h];
		s.holders.items = items;
		s.holders.count = ps->n_holders;
		oom = !manifest_add_share(next, &s);
	}
	for (size_t i = 0; !oom && rc == HV_OK && i < cs->n; i++) {
		flow_card *c = &cs->cards[i];
		char role[POLICY_NAME_MAX + 16], fw[16];
		if (i < p->n_card_labels)
			snprintf(role, sizeof(role), "%s", p->card_labels[i]);
		else
			snprintf(role, sizeof(role), "card-%zu", i + 1);
		snprintf(fw, sizeof(fw), "%u.%u", c->sc.fcp.fw_major, c->sc.fcp.fw_minor);
		const card_attest *att = ((struct card_plan *)c->user)->att;
		manifest_card mc = { .id = c->card_id, .serial = c->ident.serial, .role = role,
				     .firmware = c->sc.fcp.has_85 ? fw : NULL, .kcv = e->kcv,
				     .devcert = att->devcert_hex,
				     .attestation = (char *)devaut_status_name(att->r.status) };
		oom = !manifest_add_card(next, &mc);
	}
	if (oom)
		rc = hv_fail(err, HV_ENOMEM, "out of memory");
	if (rc == HV_OK) {
		char change[200];
		snprintf(change, sizeof(change), "enrolled %zu cards under policy %s, DKEK KCV %s",
			 cs->n, p->name, e->kcv);
		rc = flow_append_version(v, next, change, &res->version, err);
	}
	if (res->version) {
		manifest_free(next);
		if (rc != HV_OK)
			hv_err_prefix(err, "the cards are enrolled and recorded in manifest "
				      "version %lu, but RECOVERY.md was not written (run 'hsmvault "
				      "show' to check the vault)", res->version);
		return rc;
	}
	manifest_free(next);
	return rc;
}

int flow_enroll(const flow_ctx *fc, vfs *v, const policy *p, const uint8_t *policy_text,
		size_t policy_len, enroll_result *res, hv_err *err)
{
	memset(res, 0, sizeof(*res));
	struct enroll_ctx e = { .fc = fc, .p = p };
	secbuf *pw[POLICY_MAX_SHARES] = { 0 };
	secbuf *so_hex = NULL;
	sealed_share sealed[POLICY_MAX_SHARES];
	struct card_plan plans[POLICY_MAX_CARDS];
	card_attest att[POLICY_MAX_CARDS];
	memset(att, 0, sizeof(att));
	devaut_anchors own_anchors;
	cardset cs = { 0 };
	manifest *cur = NULL;
	int rc = attest_anchors(fc, &own_anchors, &e.anchors, err);
	if (rc != HV_OK)
		return rc;
	rc = manifest_load_current(v, &cur, err);
	if (rc != HV_OK) {
		devaut_anchors_free(&own_anchors);
		return rc;
	}
	/* an enroll killed after its version left RECOVERY.md one behind */
	if (cur->dkek_kcv && (rc = vault_settle_recovery(v, cur, err)) != HV_OK)
		goto out;
	if (cur->dkek_kcv) {
		rc = hv_fail(err, HV_ESAFETY,
			     "this vault already holds a card set (DKEK KCV %s): use 'hsmvault "
			     "restore' to rebuild cards or 'hsmvault reshare' to hand a share to a "
			     "new holder; enroll a new set into a new vault", cur->dkek_kcv);
		goto out;
	}
	flow_catch_interrupt();
	/* 1. cards present and confirmed, then every secret */
	if ((rc = cardset_open(fc, &cs, err)) != HV_OK)
		goto out;
	if (cs.n != p->card_count) {
		char list[512] = "";
		for (size_t i = 0; i < cs.n; i++) {
			size_t l = strlen(list);
			snprintf(list + l, sizeof(list) - l, "%s%s in %s", i ? ", " : "",
				 cs.cards[i].ident.serial, cs.cards[i].reader);
		}
		rc = hv_fail(err, HV_ECARD,
			     "policy %s needs %u cards, %zu %s present%s%s: insert exactly the "
			     "cards of the set", p->name, p->card_count, cs.n,
			     cs.n == 1 ? "is" : "are", cs.n ? ": " : "", list);
		goto out;
	}
	/* Only genuine cards receive the DKEK: judged before any secret is
	 * asked and anything is written. */
	if ((rc = attest_set_permit(fc, &cs, e.anchors, p->unattested == UNATTESTED_ACCEPT, att,
				    err)) != HV_OK)
		goto out;
	int any_initialized = 0;
	for (size_t i = 0; i < cs.n; i++) {
		plans[i].att = &att[i];
		cs.cards[i].user = &plans[i];
		if ((rc = plan_card(fc, &cs.cards[i], &plans[i], err)) != HV_OK)
			goto out;
		any_initialized |= plans[i].initialized;
	}
	if (flow_interrupted()) {
		rc = flow_cancelled(err, "nothing was changed");
		goto out;
	}
	if ((rc = gather_shares(fc, p, &e, pw, err)) != HV_OK)
		goto asked;
	if ((rc = gather_pins(fc, p, &e, &so_hex, err)) != HV_OK)
		goto asked;
	if (any_initialized && (flow_secrets_interactive(fc->secrets) ||
				flow_secret_has(fc->secrets, "current-so-pin"))) {
		secbuf *cur_hex = NULL;
		rc = flow_secret_get(fc->secrets, "current-so-pin",
				     "current SO-PIN of the initialized card(s) (16 hex digits): ",
				     SO_PIN_HEX, SO_PIN_HEX, &cur_hex, err);
		if (rc == HV_OK)
			rc = flow_so_pin_bytes(cur_hex->data, cur_hex->len, "current SO-PIN",
					       &e.current_so_pin, err);
		secbuf_free(cur_hex);
		if (rc != HV_OK)
			goto asked;
	}
	/* A misspelt batch line must stop us before anything changes. */
	if ((rc = flow_secrets_check_unused(fc->secrets, err)) != HV_OK)
		goto out;
	if (flow_interrupted()) {
		rc = flow_cancelled(err, "nothing was changed");
		goto out;
	}
	/* The DKEK the cards must report. */
	{
		secbuf *dkek = secbuf_new(DKEK_LEN);
		if (!dkek) {
			rc = hv_fail(err, HV_ENOMEM, "out of memory");
			goto out;
		}
		dkek->len = DKEK_LEN;
		for (size_t i = 0; i < e.n_shares; i++)
			dkek_add_share(dkek->data, e.plain[i]->data);
		uint8_t kcv[DKEK_KCV_LEN];
		dkek_kcv(dkek->data, kcv);
		hex_encode(kcv, sizeof(kcv), e.kcv, 1);
		secbuf_free(dkek);
	}
	flow_say(fc, "sealing %zu DKEK share file%s (10,000,000-round key derivation each)...",
		 e.n_shares, e.n_shares == 1 ? "" : "s");
	if ((rc = share_seal_all(e.plain, pw, e.n_shares, sealed, err)) != HV_OK)
		goto out;
	if (flow_interrupted()) {
		rc = flow_cancelled(err, "nothing was changed");
		goto out;
	}
	/* 2. cards */
	rc = cardset_each(&cs, enroll_card, &e, err);
	if (rc != HV_OK) {
		if (flow_interrupted())
			rc = flow_cancelled(err, "some cards may be initialized but nothing was "
						 "recorded in the vault: run enroll again with --wipe "
						 "for those cards");
		goto out;
	}
	if (flow_interrupted()) {
		rc = flow_cancelled(err, "the cards are initialized but nothing was recorded in "
					 "the vault: run enroll again with --wipe for each card");
		goto out;
	}
	/* 3. vault */
	rc = record(v, p, policy_text, policy_len, &e, sealed, so_hex, &cs, cur, res, err);
	if (rc == HV_OK) {
		memcpy(res->kcv, e.kcv, sizeof(res->kcv));
		res->cards = cs.n;
		flow_say(fc, "enrolled %zu cards, DKEK KCV %s, manifest version %lu", cs.n, e.kcv,
			 res->version);
	}
asked:
	/* Ctrl-C at a question: say plainly that nothing was touched. */
	if (rc == HV_ECANCEL)
		rc = flow_cancelled(err, "nothing was changed");
out:
	cardset_close(&cs);
	for (size_t i = 0; i < POLICY_MAX_SHARES; i++) {
		secbuf_free(pw[i]);
		secbuf_free(e.plain[i]);
	}
	secure_wipe(sealed, sizeof(sealed));
	secbuf_free(so_hex);
	secbuf_free(e.pin);
	secbuf_free(e.so_pin);
	secbuf_free(e.current_so_pin);
	manifest_free(cur);
	for (size_t i = 0; i < POLICY_MAX_CARDS; i++)
		attest_clear(&att[i]);
	devaut_anchors_free(&own_anchors);
	return rc;
}
