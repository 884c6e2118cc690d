/* hsmvault restore. The run is planned before anything changes: cards
 * classified and confirmed, every secret asked and every share decrypted
 * and checked, every blob read and checked. Only then are the cards worked,
 * in parallel. Each card step looks at the card first, so a rerun after a
 * pulled card, a crash or Ctrl-C continues where the last run stopped:
 *   - a card that already carries the vault's DKEK is not initialized again;
 *   - a card whose DKEK import stopped half way gets the remaining shares;
 *   - a key already on the card with the recorded public key is kept;
 *   - a key with the same id but another public key is replaced only after
 *     the vault's key is in (unwrap first, delete second). */
#include "flows/restore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/wrapfile.h"
#include "flows/attest.h"
#include "flows/cardset.h"
#include "flows/keyinfo.h"
#include "flows/shares.h"
#include "util/hex.h"
#include "vault/manifest.h"
#include "vault/vault.h"

#define SO_PIN_HEX 16

enum card_action {
	ACT_INIT,        /* blank, or empty: initialize */
	ACT_REINIT,      /* holds something, confirmed: initialize over it */
	ACT_CONTINUE,    /* ours already, or half imported: no initialization */
};

struct vault_key {
	const manifest_key *mk;
	uint8_t *file;
	size_t file_len;
	wrapfile wf;
	EVP_PKEY *pub;
};

struct card_plan {
	int action;
	size_t unwrapped, present;
	card_attest *att;        /* the card's device-chain verdict */
};

struct restore_ctx {
	const flow_ctx *fc;
	const manifest *m;
	const policy *p;
	unlocked_shares shares;
	secbuf *pin;
	secbuf *so_pin;           /* 8 bytes */
	secbuf *current_so_pin;   /* 8 bytes or NULL */
	struct vault_key *keys;
	size_t n_keys;
	const devaut_anchors *anchors;
};

static size_t user_keys(flow_card *c, schsm_key_list *keys, hv_err *err, int *rc)
{
	*rc = schsm_list_keys(&c->sc, keys, err);
	if (*rc != HV_OK)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < keys->n; i++)
		n += !keys->keys[i].device_key;
	return n;
}

/* What to do with one card, asking for confirmation when it holds
 * anything that restore would destroy. */
static int plan_card(struct restore_ctx *r, flow_card *c, struct card_plan *plan, hv_err *err)
{
	if (c->dev.state == SCHSM_DEV_UNINITIALIZED) {
		plan->action = ACT_INIT;
		return HV_OK;
	}
	schsm_key_list keys;
	int rc;
	size_t nkeys = user_keys(c, &keys, err, &rc);
	if (rc != HV_OK)
		return hv_err_prefix(err, "card %s", c->ident.serial);
	schsm_key_list_free(&keys);
	char kcv[17];
	cardset_kcv_hex(c, kcv);
	int ours = c->dkek.configured && c->dkek.shares_missing == 0 && kcv[0] &&
		   !strcasecmp(kcv, r->m->dkek_kcv);
	int half = c->dkek.configured && c->dkek.shares_missing > 0 &&
		   c->dkek.shares_total == (int)r->m->share_count && nkeys == 0;
	/* pico-hsm shows an all-zero KCV until the PIN is verified: a complete
	 * DKEK of unknown KCV is checked after the PIN, in the card step. */
	int unknown = c->dkek.configured && c->dkek.shares_missing == 0 && !kcv[0];
	if (ours || half || unknown) {
		plan->action = ACT_CONTINUE;
		flow_say(r->fc, "card %s: %s, continuing without initializing it", c->ident.serial,
			 ours ? "already carries this vault's DKEK" :
			 half ? "DKEK import was interrupted" : "DKEK present (KCV shown after PIN)");
		return HV_OK;
	}
	if (nkeys == 0 && !c->dkek.configured) {
		plan->action = ACT_REINIT;
		return HV_OK;
	}
	char why[200];
	if (nkeys)
		snprintf(why, sizeof(why), "holds %zu key%s not restored from this vault", nkeys,
			 nkeys == 1 ? "" : "s");
	else
		snprintf(why, sizeof(why), "carries another DKEK (KCV %s)", kcv[0] ? kcv : "?");
	if (!flow_confirm_card(r->fc, c->card_id, c->ident.serial, why))
		return hv_fail(err, HV_ESAFETY,
			       "card %s in reader %s %s: restore would erase it; nothing was "
			       "changed. If it really is to be wiped, run again with --wipe %s",
			       c->ident.serial, c->reader, why, c->ident.serial);
	plan->action = ACT_REINIT;
	return HV_OK;
}

static int import_missing(struct restore_ctx *r, flow_card *c, hv_err *err)
{
	int rc = schsm_dkek_status(&c->sc, &c->dkek, err);
	if (rc != HV_OK)
		return rc;
	if (!c->dkek.configured || c->dkek.shares_missing <= 0)
		return HV_OK;
	size_t n = r->shares.n, missing = (size_t)c->dkek.shares_missing;
	if (missing > n)
		return hv_fail(err, HV_ECARD,
			       "the card expects %zu more shares, the vault has %zu: run restore "
			       "again with --wipe %s", missing, n, c->ident.serial);
	for (size_t i = n - missing; i < n; i++) {
		if (flow_interrupted())
			return flow_cancelled(err, "run restore again to continue");
		secbuf share = { .data = r->shares.plain->data + i * DKEK_SHARE_LEN,
				 .len = DKEK_SHARE_LEN, .cap = DKEK_SHARE_LEN };
		if ((rc = schsm_import_dkek_share(&c->sc, &share, &c->dkek, err)) != HV_OK)
			return hv_err_prefix(err, "importing share %zu", i + 1);
	}
	flow_say(r->fc, "card %s: %zu share%s imported", c->ident.serial, missing,
		 missing == 1 ? "" : "s");
	return HV_OK;
}

static const schsm_key *find_key(const schsm_key_list *l, const char *id)
{
	char h[130];
	for (size_t i = 0; i < l->n; i++) {
		if (l->keys[i].device_key)
			continue;
		keyinfo_id_hex(&l->keys[i], h, sizeof(h));
		if (!strcmp(h, id))
			return &l->keys[i];
	}
	return NULL;
}

static int same_pub(EVP_PKEY *a, EVP_PKEY *b)
{
	return a && b && EVP_PKEY_eq(a, b) == 1;
}

/* A run stopped inside schsm_restore_key leaves a key whose PRKD or
 * certificate is missing, so its public key cannot be read from the card
 * (and without a PRKD not even its id). Which vault key it is shows by
 * signing a challenge checked against the recorded public key; the
 * missing files are then written, which finishes that key instead of
 * unwrapping it a second time. */
static int complete_half_restored(struct restore_ctx *r, flow_card *c, schsm_key_list *have,
				  hv_err *err)
{
	int rc = HV_OK;
	for (size_t i = 0; i < have->n && rc == HV_OK; i++) {
		schsm_key *k = &have->keys[i];
		if (k->device_key || k->pub)
			continue;
		char kid[130] = "";
		if (k->has_prkd && k->id_len)
			keyinfo_id_hex(k, kid, sizeof(kid));
		int matched = 0;
		for (size_t v = 0; v < r->n_keys && !matched; v++) {
			struct vault_key *vk = &r->keys[v];
			/* Candidates: the vault key of the same id, and any vault
			 * key not on the card yet whatever this key's PRKD says:
			 * pico-hsm's UNWRAP writes a PRKD of its own (id = the
			 * reference, no label) that ours replaces only afterwards.
			 * The signature decides. */
			int same_id = kid[0] && !strcmp(kid, vk->mk->id);
			if (!same_id && find_key(have, vk->mk->id) != NULL)
				continue;
			schsm_key probe = *k;
			probe.alg = EVP_PKEY_get_base_id(vk->pub) == EVP_PKEY_EC ? SCHSM_KEY_EC :
				    SCHSM_KEY_RSA;
			hv_err perr;
			hv_err_clear(&perr);
			int prc = keyinfo_prove(&c->sc, &probe, vk->pub, &perr);
			if (prc != HV_OK) {
				if (schsm_card_removed(&c->sc)) {
					*err = perr;
					return prc;
				}
				continue;
			}
			matched = 1;
			if ((!k->has_prkd || !same_id) && vk->wf.prkd)
				rc = schsm_replace_ef(&c->sc, (uint16_t)(SCHSM_PREFIX_PRKD << 8 | k->ref),
						      vk->wf.prkd, vk->wf.prkd_len, err);
			if (rc == HV_OK && !k->ce.len && vk->wf.cert)
				rc = schsm_replace_ef(&c->sc, (uint16_t)(SCHSM_PREFIX_CERT << 8 | k->ref),
						      vk->wf.cert, vk->wf.cert_len, err);
			if (rc == HV_OK)
				flow_say(r->fc, "card %s: key %s at reference %u was half restored by "
					     "an interrupted run: finished", c->ident.serial,
					 vk->mk->id, k->ref);
		}
		if (!matched)
			flow_say(r->fc, "card %s: the key at reference %u shows no public key and "
				     "matches no key of the vault: left as it is", c->ident.serial,
				 k->ref);
	}
	return rc;
}

/* Which C4n / CEn files the card holds (SCHSM_RESTORE_* per reference),
 * orphans without a key included: only those need a DELETE before they are
 * written. A card initialized by this run holds none, and is not asked. */
static int files_present(flow_card *c, const struct card_plan *plan, uint8_t exists[256],
			 hv_err *err)
{
	memset(exists, 0, 256);
	if (plan->action != ACT_CONTINUE)
		return HV_OK;
	uint16_t *fids;
	size_t n;
	int rc = schsm_enumerate(&c->sc, &fids, &n, err);
	if (rc != HV_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		uint8_t pre = (uint8_t)(fids[i] >> 8), ref = (uint8_t)fids[i];
		if (pre == SCHSM_PREFIX_PRKD)
			exists[ref] |= SCHSM_RESTORE_PRKD_EXISTS;
		else if (pre == SCHSM_PREFIX_CERT)
			exists[ref] |= SCHSM_RESTORE_CERT_EXISTS;
	}
	free(fids);
	return HV_OK;
}

/* refs[k] receives the reference at which vault key k is on the card
 * (restored now or already there), for prove_keys. */
static int unwrap_keys(struct restore_ctx *r, flow_card *c, struct card_plan *plan,
		       uint8_t *refs, hv_err *err)
{
	schsm_key_list have;
	int rc = schsm_list_keys(&c->sc, &have, err);
	if (rc != HV_OK)
		return rc;
	int half = 0;
	for (size_t i = 0; i < have.n; i++)
		half |= !have.keys[i].device_key && !have.keys[i].pub;
	if (half) {
		if ((rc = complete_half_restored(r, c, &have, err)) != HV_OK) {
			schsm_key_list_free(&have);
			return rc;
		}
		schsm_key_list_free(&have);
		if ((rc = schsm_list_keys(&c->sc, &have, err)) != HV_OK)
			return rc;
	}
	uint8_t used[256] = { 0 };
	for (size_t i = 0; i < have.n; i++)
		used[have.keys[i].ref] = 1;
	used[0] = 1;
	uint8_t exists[256];
	int listed = 0;
	for (size_t k = 0; k < r->n_keys && rc == HV_OK; k++) {
		struct vault_key *vk = &r->keys[k];
		const schsm_key *old = find_key(&have, vk->mk->id);
		if (old && same_pub(old->pub, vk->pub)) {
			refs[k] = old->ref;
			plan->present++;
			continue;
		}
		if (!listed && (rc = files_present(c, plan, exists, err)) != HV_OK)
			break;
		listed = 1;
		if (flow_interrupted()) {
			rc = flow_cancelled(err, "run restore again to continue");
			break;
		}
		int ref = 1;
		while (ref < 256 && used[ref])
			ref++;
		if (ref == 256) {
			rc = hv_fail(err, HV_ECARD, "the card has no free key reference left");
			break;
		}
		rc = schsm_restore_key(&c->sc, (uint8_t)ref, vk->wf.blob, vk->wf.blob_len,
				       vk->wf.prkd, vk->wf.prkd ? vk->wf.prkd_len : 0, vk->wf.cert,
				       vk->wf.cert ? vk->wf.cert_len : 0, exists[ref], err);
		if (rc != HV_OK) {
			hv_err_prefix(err, "unwrapping key %s", vk->mk->id);
			break;
		}
		used[ref] = 1;
		refs[k] = (uint8_t)ref;
		plan->unwrapped++;
		flow_say(r->fc, "card %s: key %s (%s) restored at reference %d", c->ident.serial,
			 vk->mk->id, vk->mk->label ? vk->mk->label : "no label", ref);
		if (old) {
			/* Only now, with its replacement in, does the stale key go. */
			rc = schsm_delete_key(&c->sc, old->ref, err);
			if (rc != HV_OK)
				hv_err_prefix(err, "removing the stale key %s", vk->mk->id);
		}
	}
	schsm_key_list_free(&have);
	return rc;
}

/* One SIGN per key at the reference unwrap_keys used, checked against the
 * recorded public key: nothing is read back, the unwrap step knows where
 * each key is and the card's status words showed its files written. */
static int prove_keys(struct restore_ctx *r, flow_card *c, const uint8_t *refs, hv_err *err)
{
	int rc = HV_OK;
	for (size_t k = 0; k < r->n_keys && rc == HV_OK; k++) {
		if (!refs[k]) {
			rc = hv_fail(err, HV_EINTERNAL, "key %s is not on the card after the restore",
				     r->keys[k].mk->id);
			break;
		}
		schsm_key at = { .ref = refs[k] };
		rc = keyinfo_prove(&c->sc, &at, r->keys[k].pub, err);
		if (rc != HV_OK)
			hv_err_prefix(err, "key %s", r->keys[k].mk->id);
	}
	return rc;
}

static int restore_card(flow_card *c, void *ctxp, hv_err *err)
{
	struct restore_ctx *r = ctxp;
	struct card_plan *plan = c->user;
	int rc;
	if (flow_interrupted())
		return flow_cancelled(err, "this card was not changed");
	if (plan->action != ACT_CONTINUE) {
		const secbuf *so = plan->action == ACT_REINIT && r->current_so_pin ?
				   r->current_so_pin : r->so_pin;
		schsm_init_params ip = {
			.options = 0x0001, .user_pin = r->pin, .so_pin = so,
			.retry_counter = (uint8_t)r->p->retry_counter,
			.dkek_shares = (int)r->shares.n,
		};
		if ((rc = schsm_initialize(&c->sc, &ip, 0, err)) != HV_OK)
			return rc;
		/* pico-hsm makes its device certificate at the first
		 * INITIALIZE: the identity recorded is the one shown now. */
		if ((rc = cardset_read_identity(c, 1, err)) != HV_OK)
			return rc;
		if ((rc = attest_after_init(r->fc, c, r->anchors,
					    r->p->unattested == UNATTESTED_ACCEPT, plan->att,
					    err)) != HV_OK)
			return rc;
		if (so != r->so_pin &&
		    secure_memcmp(so->data, r->so_pin->data, SCHSM_SO_PIN_LEN) != 0 &&
		    (rc = schsm_change_pin(&c->sc, SCHSM_PIN_SO, so, r->so_pin, 0, err)) != HV_OK)
			return hv_err_prefix(err, "setting the set's SO-PIN");
		flow_say(r->fc, "card %s: initialized", c->ident.serial);
	}
	/* The PIN first, then the shares, then the KCV, in one card session:
	 * pico-hsm stores an imported share for good only inside a user PIN
	 * session (a reset before the next VERIFY loses it) and shows the
	 * KCV only after VERIFY. The real card does not mind the order. */
	if ((rc = schsm_verify_pin(&c->sc, r->pin, 0, err)) != HV_OK)
		return rc;
	if ((rc = import_missing(r, c, err)) != HV_OK)
		return rc;
	if ((rc = schsm_dkek_status(&c->sc, &c->dkek, err)) != HV_OK)
		return rc;
	char kcv[17];
	cardset_kcv_hex(c, kcv);
	if (!kcv[0] || strcasecmp(kcv, r->m->dkek_kcv) != 0)
		return hv_fail(err, HV_ECARD,
			       "the card reports DKEK KCV %s, the vault's is %s: its shares were "
			       "not imported in this vault's order; run restore again with --wipe %s",
			       kcv[0] ? kcv : "(unknown)", r->m->dkek_kcv, c->ident.serial);
	uint8_t *refs = calloc(r->n_keys ? r->n_keys : 1, 1);
	if (!refs)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	rc = unwrap_keys(r, c, plan, refs, err);
	if (rc == HV_OK)
		rc = prove_keys(r, c, refs, err);
	free(refs);
	if (rc != HV_OK)
		return rc;
	flow_say(r->fc, "card %s: KCV %s, %zu key%s restored, %zu already there, every key "
		     "proven by a signature", c->ident.serial, kcv, plan->unwrapped,
		 plan->unwrapped == 1 ? "" : "s", plan->present);
	return HV_OK;
}

static int load_keys(struct restore_ctx *r, vfs *v, hv_err *err)
{
	r->keys = calloc(r->m->key_n ? r->m->key_n : 1, sizeof(*r->keys));
	if (!r->keys)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	for (size_t i = 0; i < r->m->key_n; i++) {
		const manifest_key *mk = &r->m->keys[i];
		if (!mk->kcv || strcasecmp(mk->kcv, r->m->dkek_kcv) != 0)
			continue; /* wrapped under an older DKEK */
		struct vault_key *vk = &r->keys[r->n_keys++];
		vk->mk = mk;
		int rc = vfs_read(v, mk->file, MANIFEST_KEYFILE_MAX_BYTES, &vk->file, &vk->file_len,
				  err);
		if (rc != HV_OK)
			return hv_err_prefix(err, "key %s", mk->id);
		char h[65];
		manifest_sha256_hex(vk->file, vk->file_len, h);
		if (strcmp(h, mk->sha256) != 0)
			return hv_fail(err, HV_EINTEGRITY,
				       "key %s: %s does not match the manifest: the file was changed "
				       "or damaged; use another copy of the vault", mk->id, mk->file);
		if ((rc = wrapfile_parse(vk->file, vk->file_len, &vk->wf, err)) != HV_OK)
			return hv_err_prefix(err, "key %s (%s)", mk->id, mk->file);
		vk->pub = keyinfo_pub_from_hex(mk->public_key);
		if (!vk->pub)
			return hv_fail(err, HV_EINTEGRITY,
				       "key %s: the manifest holds no usable public key, so the "
				       "restored key could not be proven", mk->id);
	}
	return HV_OK;
}

static int load_policy(vfs *v, const manifest *m, const policy *given, policy *own,
		       const policy **out, hv_err *err)
{
	if (given) {
		*out = given;
		return HV_OK;
	}
	uint8_t *text;
	size_t len;
	int rc = vfs_read(v, VAULT_POLICY, MANIFEST_POLICY_MAX_BYTES, &text, &len, err);
	if (rc != HV_OK)
		return hv_err_prefix(err, "the vault's policy");
	rc = policy_parse(VAULT_POLICY, text, len, own, err);
	free(text);
	if (rc != HV_OK)
		return rc;
	(void)m;
	*out = own;
	return HV_OK;
}

static int gather_secrets(struct restore_ctx *r, vfs *v, int any_reinit, hv_err *err)
{
	int rc = shares_unlock(r->fc, v, r->m, &r->shares, err);
	if (rc != HV_OK)
		return rc;
	flow_say(r->fc, "DKEK KCV %s matches the vault", r->shares.kcv);
	secbuf *hexpin = NULL;
	if (r->p->so_pin == SO_PIN_VAULT) {
		uint8_t *data;
		size_t len;
		if ((rc = vfs_read(v, "SO-PIN", 64, &data, &len, err)) != HV_OK)
			return hv_err_prefix(err, "the SO-PIN kept in the vault");
		hexpin = secbuf_dup(data, len && data[len - 1] == '\n' ? len - 1 : len);
		secure_wipe(data, len);
		free(data);
		if (!hexpin)
			return hv_fail(err, HV_ENOMEM, "out of memory");
	} else {
		rc = flow_secret_new(r->fc->secrets, "so-pin",
				     "SO-PIN for every card of the set (16 hex digits)", SO_PIN_HEX,
				     SO_PIN_HEX, &hexpin, err);
		if (rc != HV_OK)
			return rc;
	}
	rc = flow_so_pin_bytes(hexpin->data, hexpin->len, "SO-PIN", &r->so_pin, err);
	secbuf_free(hexpin);
	if (rc != HV_OK)
		return rc;
	if (any_reinit && (flow_secrets_interactive(r->fc->secrets) ||
			   flow_secret_has(r->fc->secrets, "current-so-pin"))) {
		secbuf *cur = NULL;
		rc = flow_secret_get(r->fc->secrets, "current-so-pin",
				     "current SO-PIN of the card(s) to wipe (16 hex digits): ",
				     SO_PIN_HEX, SO_PIN_HEX, &cur, err);
		if (rc == HV_OK)
			rc = flow_so_pin_bytes(cur->data, cur->len, "current SO-PIN",
					       &r->current_so_pin, err);
		secbuf_free(cur);
		if (rc != HV_OK)
			return rc;
	}
	return flow_secret_new(r->fc->secrets, "pin",
			       "user PIN for every card of the set (6 to 16 characters)",
			       SCHSM_PIN_MIN, SCHSM_PIN_MAX, &r->pin, err);
}

static int record(struct restore_ctx *r, vfs *v, cardset *cs, restore_result *res,
		  hv_err *err)
{
	manifest *next;
	int rc = manifest_clone(r->m, &next, err);
	if (rc != HV_OK)
		return rc;
	/* The restored cards are the set now; the lost ones leave it. */
	manifest *fresh = manifest_new();
	int oom = !fresh;
	char now[32];
	flow_time_now(now, sizeof(now));
	for (size_t i = 0; !oom && i < cs->n; i++) {
		flow_card *c = &cs->cards[i];
		char role[POLICY_NAME_MAX + 16];
		const manifest_card *old = manifest_find_card(r->m, c->card_id);
		if (old && old->role)
			snprintf(role, sizeof(role), "%s", old->role);
		else if (i < r->p->n_card_labels)
			snprintf(role, sizeof(role), "%s", r->p->card_labels[i]);
		else
			snprintf(role, sizeof(role), "card-%zu", i + 1);
		char fw[16];
		snprintf(fw, sizeof(fw), "%u.%u", c->sc.fcp.fw_major, c->sc.fcp.fw_minor);
		const card_attest *att = ((struct card_plan *)c->user)->att;
		manifest_card mc = { .id = c->card_id, .serial = c->ident.serial, .role = role,
				     .firmware = c->sc.fcp.has_85 ? fw : NULL,
				     .kcv = r->m->dkek_kcv, .last_verified = now,
				     .devcert = att->devcert_hex,
				     .attestation = (char *)devaut_status_name(att->r.status) };
		manifest_card *added = manifest_add_card(fresh, &mc);
		oom = !added;
		for (size_t k = 0; !oom && k < r->n_keys; k++)
			oom = manifest_strlist_add(&added->keys, r->keys[k].mk->id) != HV_OK;
		manifest_verification x = { .time = now, .card = c->card_id, .kind = "deep",
					    .result = "ok",
					    .detail = "restored: every key signed a challenge" };
		oom = oom || !manifest_add_verification(next, &x);
	}
	if (!oom) {
		manifest_card *tmp = next->cards;
		size_t tn = next->card_n;
		next->cards = fresh->cards;
		next->card_n = fresh->card_n;
		fresh->cards = tmp;
		fresh->card_n = tn;
	}
	manifest_free(fresh);
	if (oom) {
		manifest_free(next);
		return hv_fail(err, HV_ENOMEM, "out of memory");
	}
	char change[200];
	snprintf(change, sizeof(change), "restore: %zu card%s rebuilt with %zu key%s, KCV %s",
		 cs->n, cs->n == 1 ? "" : "s", r->n_keys, r->n_keys == 1 ? "" : "s",
		 r->m->dkek_kcv);
	rc = flow_append_version(v, next, change, &res->version, err);
	manifest_free(next);
	return rc;
}

int flow_restore(const flow_ctx *fc, vfs *v, const policy *p, restore_result *res,
		 hv_err *err)
{
	memset(res, 0, sizeof(*res));
	struct restore_ctx r = { .fc = fc };
	manifest *m = NULL;
	policy own;
	cardset cs = { 0 };
	struct card_plan plans[POLICY_MAX_CARDS];
	memset(plans, 0, sizeof(plans));
	card_attest att[POLICY_MAX_CARDS];
	memset(att, 0, sizeof(att));
	devaut_anchors own_anchors;
	devaut_anchors_init(&own_anchors);
	int rc = manifest_load_current(v, &m, err);
	if (rc != HV_OK)
		return rc;
	r.m = m;
	/* a killed run may have left RECOVERY.md a version behind */
	if ((rc = vault_settle_recovery(v, m, err)) != HV_OK)
		goto out;
	if (!m->dkek_kcv || m->share_n == 0) {
		rc = hv_fail(err, HV_EUSAGE,
			     "this vault holds no card set (no DKEK recorded): nothing to restore");
		goto out;
	}
	if ((rc = load_policy(v, m, p, &own, &r.p, err)) != HV_OK)
		goto out;
	if ((rc = load_keys(&r, v, err)) != HV_OK)
		goto out;
	flow_catch_interrupt();
	if ((rc = cardset_open(fc, &cs, err)) != HV_OK)
		goto out;
	if (cs.n != r.p->card_count) {
		rc = hv_fail(err, HV_ECARD,
			     "the policy's set has %u cards, %zu %s present: insert exactly the "
			     "cards to restore onto", r.p->card_count, cs.n,
			     cs.n == 1 ? "is" : "are");
		goto out;
	}
	/* Only genuine cards receive the DKEK (and the keys): judged before
	 * any secret is asked and anything is written. */
	if ((rc = attest_anchors(fc, &own_anchors, &r.anchors, err)) != HV_OK)
		goto out;
	if ((rc = attest_set_permit(fc, &cs, r.anchors, r.p->unattested == UNATTESTED_ACCEPT,
				    att, err)) != HV_OK)
		goto out;
	int any_reinit = 0;
	for (size_t i = 0; i < cs.n; i++) {
		plans[i].att = &att[i];
		cs.cards[i].user = &plans[i];
		if ((rc = plan_card(&r, &cs.cards[i], &plans[i], err)) != HV_OK)
			goto out;
		any_reinit |= plans[i].action == ACT_REINIT;
	}
	if ((rc = gather_secrets(&r, v, any_reinit, err)) != HV_OK)
		goto out;
	/* A misspelt batch line must stop us before anything changes. */
	if ((rc = flow_secrets_check_unused(fc->secrets, err)) != HV_OK)
		goto out;
	if (flow_interrupted()) {
		rc = flow_cancelled(err, "nothing was changed");
		goto out;
	}
	rc = cardset_each(&cs, restore_card, &r, err);
	for (size_t i = 0; i < cs.n; i++) {
		res->keys_unwrapped += plans[i].unwrapped;
		res->keys_present += plans[i].present;
	}
	if (rc != HV_OK) {
		if (flow_interrupted())
			rc = flow_cancelled(err, "run restore again: it continues where it stopped");
		else
			hv_err_prefix(err, "restore stopped (run it again once the cause is "
					   "fixed: it continues where it stopped)");
		goto out;
	}
	res->cards = cs.n;
	if ((rc = record(&r, v, &cs, res, err)) == HV_OK)
		flow_say(fc, "restored %zu card%s (manifest version %lu)", cs.n,
			 cs.n == 1 ? "" : "s", res->version);
out:
	cardset_close(&cs);
	for (size_t i = 0; i < r.n_keys; i++) {
		free(r.keys[i].file);
		EVP_PKEY_free(r.keys[i].pub);
	}
	free(r.keys);
	unlocked_shares_free(&r.shares);
	secbuf_free(r.pin);
	secbuf_free(r.so_pin);
	secbuf_free(r.current_so_pin);
	manifest_free(m);
	for (size_t i = 0; i < POLICY_MAX_CARDS; i++)
		attest_clear(&att[i]);
	devaut_anchors_free(&own_anchors);
	return rc;
}
