/* hsmvault backup. Blobs are written before the manifest version that
 * names them (vault/layout.md): a crash leaves unnamed files that the next
 * run writes again. */
#include "flows/backup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/wrapfile.h"
#include "flows/cardset.h"
#include "flows/keyinfo.h"
#include "util/buf.h"
#include "vault/manifest.h"
#include "vault/vault.h"

#define POLICY_MAX_CARDS_IN_SET 16

/* One key wrapped by a card thread, recorded by the main thread. */
struct wrapped {
	char id[130];
	char label[128];
	unsigned ref;
	char alg[40];
	char *pub_hex;
	bytebuf file;
	char sha256[65];
	char path[200];
	const char *card_id;
};

struct card_work {
	struct wrapped *w;
	size_t n;
	size_t already, skipped;
	char *key_ids[256];
	size_t n_ids;
};

struct backup_ctx {
	const flow_ctx *fc;
	const manifest *m;
	secbuf *pin;
};

static const manifest_key *recorded(const manifest *m, const char *kcv, const char *id)
{
	for (size_t i = 0; i < m->key_n; i++)
		if (m->keys[i].kcv && !strcasecmp(m->keys[i].kcv, kcv) && m->keys[i].id &&
		    !strcmp(m->keys[i].id, id))
			return &m->keys[i];
	return NULL;
}

static int backup_card(flow_card *c, void *ctxp, hv_err *err)
{
	struct backup_ctx *b = ctxp;
	struct card_work *cw = c->user;
	int rc = schsm_verify_pin(&c->sc, b->pin, 0, err);
	if (rc != HV_OK)
		return rc;
	/* A pico-hsm shows its KCV only now, after the PIN: check_members could
	 * not compare it, and a card re-enrolled under another DKEK would
	 * otherwise pass as "nothing to back up". */
	if (!c->dkek.kcv_known) {
		if ((rc = cardset_refresh_dkek(c, err)) != HV_OK)
			return rc;
		char kcv[17];
		cardset_kcv_hex(c, kcv);
		if (!kcv[0] || strcasecmp(kcv, b->m->dkek_kcv) != 0)
			return hv_fail(err, HV_EMISMATCH,
				       "card %s reports DKEK KCV %s after the PIN, the vault "
				       "records %s: its keys would not restore from this vault; "
				       "nothing was written", c->ident.serial,
				       kcv[0] ? kcv : "none", b->m->dkek_kcv);
	}
	schsm_key_list keys;
	if ((rc = schsm_list_keys(&c->sc, &keys, err)) != HV_OK)
		return rc;
	cw->w = calloc(keys.n ? keys.n : 1, sizeof(*cw->w));
	if (!cw->w) {
		schsm_key_list_free(&keys);
		return hv_fail(err, HV_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < keys.n && rc == HV_OK; i++) {
		schsm_key *k = &keys.keys[i];
		if (k->device_key)
			continue;
		if (flow_interrupted()) {
			rc = flow_cancelled(err, "nothing was recorded; run backup again");
			break;
		}
		struct wrapped *w = &cw->w[cw->n];
		keyinfo_id_hex(k, w->id, sizeof(w->id));
		if (cw->n_ids < 256)
			cw->key_ids[cw->n_ids++] = strdup(w->id);
		if ((rc = keyinfo_pub_hex(k->pub, &w->pub_hex, err)) != HV_OK) {
			hv_err_prefix(err, "key %s", w->id);
			break;
		}
		const manifest_key *mk = recorded(b->m, b->m->dkek_kcv, w->id);
		if (mk && mk->public_key && !strcmp(mk->public_key, w->pub_hex)) {
			free(w->pub_hex);
			w->pub_hex = NULL;
			cw->already++;
			continue;
		}
		if (mk) {
			rc = hv_fail(err, HV_EMISMATCH,
				     "key %s on card %s has another public key than the key with that "
				     "id in the vault: two different keys share an id; give one of "
				     "them a new id (pkcs11-tool) before backing up", w->id,
				     c->ident.serial);
			break;
		}
		bytebuf blob = { 0 };
		hv_err werr;
		hv_err_clear(&werr);
		int wrc = schsm_wrap_key(&c->sc, k->ref, &blob, &werr);
		if (wrc != HV_OK) {
			buf_free(&blob);
			if (wrc == HV_ECARD && !schsm_card_removed(&c->sc)) {
				flow_say(b->fc, "card %s: key %s (%s) cannot be exported, skipped: %s",
					 c->ident.serial, w->id, k->label[0] ? k->label : "no label",
					 werr.msg);
				cw->skipped++;
				free(w->pub_hex);
				w->pub_hex = NULL;
				continue;
			}
			*err = werr;
			rc = wrc;
			break;
		}
		rc = wrapfile_build(blob.data, blob.len, k->prkd.len ? k->prkd.data : NULL,
				    k->prkd.len, k->prkd.len && k->ce.len ? k->ce.data : NULL,
				    k->prkd.len ? k->ce.len : 0, &w->file, err);
		buf_free(&blob);
		if (rc != HV_OK)
			break;
		manifest_sha256_hex(w->file.data, w->file.len, w->sha256);
		snprintf(w->label, sizeof(w->label), "%s", k->label);
		w->ref = k->ref;
		keyinfo_alg_text(k, w->alg, sizeof(w->alg));
		snprintf(w->path, sizeof(w->path), VAULT_KEYS_DIR "/%s/%s.wrap", b->m->dkek_kcv,
			 w->id);
		w->card_id = c->card_id;
		cw->n++;
		flow_say(b->fc, "card %s: key %s (%s, %s) wrapped", c->ident.serial, w->id,
			 w->label[0] ? w->label : "no label", w->alg);
	}
	schsm_key_list_free(&keys);
	return rc;
}

static void free_work(struct card_work *cw, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < cw[i].n; k++) {
			free(cw[i].w[k].pub_hex);
			buf_free(&cw[i].w[k].file);
		}
		free(cw[i].w);
		for (size_t k = 0; k < cw[i].n_ids; k++)
			free(cw[i].key_ids[k]);
	}
}

/* Every card must be of this vault's set and carry its DKEK. */
static int check_members(const manifest *m, cardset *cs, hv_err *err)
{
	for (size_t i = 0; i < cs->n; i++) {
		flow_card *c = &cs->cards[i];
		if (!manifest_find_card(m, c->card_id))
			return hv_fail(err, HV_EMISMATCH,
				       "card %s in reader %s is not a card of this vault's set: "
				       "remove it, or check that this is the right vault",
				       c->ident.serial, c->reader);
		char kcv[17];
		cardset_kcv_hex(c, kcv);
		if (kcv[0] && strcasecmp(kcv, m->dkek_kcv) != 0)
			return hv_fail(err, HV_EMISMATCH,
				       "card %s reports DKEK KCV %s, the vault records %s: its keys "
				       "would not restore from this vault; nothing was written",
				       c->ident.serial, kcv, m->dkek_kcv);
	}
	return HV_OK;
}

int flow_backup(const flow_ctx *fc, vfs *v, backup_result *res, hv_err *err)
{
	memset(res, 0, sizeof(*res));
	manifest *m = NULL, *next = NULL;
	cardset cs = { 0 };
	struct card_work cw[POLICY_MAX_CARDS_IN_SET];
	memset(cw, 0, sizeof(cw));
	struct backup_ctx b = { .fc = fc };
	int rc = manifest_load_current(v, &m, err);
	if (rc != HV_OK)
		return rc;
	b.m = m;
	/* a killed run may have left RECOVERY.md a version behind */
	if ((rc = vault_settle_recovery(v, m, err)) != HV_OK)
		goto out;
	if (!m->dkek_kcv) {
		rc = hv_fail(err, HV_EUSAGE, "this vault has no card set yet: run hsmvault enroll");
		goto out;
	}
	flow_catch_interrupt();
	if ((rc = cardset_open(fc, &cs, err)) != HV_OK)
		goto out;
	if (cs.n > POLICY_MAX_CARDS_IN_SET) {
		rc = hv_fail(err, HV_EUSAGE, "more than %d cards present",
			     POLICY_MAX_CARDS_IN_SET);
		goto out;
	}
	if ((rc = check_members(m, &cs, err)) != HV_OK)
		goto out;
	rc = flow_secret_get(fc->secrets, "pin", "user PIN of the card set: ", SCHSM_PIN_MIN,
			     SCHSM_PIN_MAX, &b.pin, err);
	if (rc != HV_OK)
		goto out;
	for (size_t i = 0; i < cs.n; i++)
		cs.cards[i].user = &cw[i];
	if ((rc = cardset_each(&cs, backup_card, &b, err)) != HV_OK)
		goto out;
	size_t fresh = 0;
	for (size_t i = 0; i < cs.n; i++) {
		fresh += cw[i].n;
		res->already += cw[i].already;
		res->skipped += cw[i].skipped;
	}
	res->wrapped = fresh;
	if (fresh == 0) {
		flow_say(fc, "nothing to back up: %zu key%s already in the vault%s", res->already,
			 res->already == 1 ? "" : "s", res->skipped ? ", some not exportable" : "");
		goto out;
	}
	if ((rc = manifest_clone(m, &next, err)) != HV_OK)
		goto out;
	char dir[64];
	snprintf(dir, sizeof(dir), VAULT_KEYS_DIR "/%s", m->dkek_kcv);
	if ((rc = vfs_mkdir(v, VAULT_KEYS_DIR, err)) != HV_OK ||
	    (rc = vfs_mkdir(v, dir, err)) != HV_OK)
		goto out;
	char now[32];
	flow_time_now(now, sizeof(now));
	int oom = 0;
	for (size_t i = 0; i < cs.n && rc == HV_OK && !oom; i++) {
		for (size_t k = 0; k < cw[i].n && rc == HV_OK && !oom; k++) {
			struct wrapped *w = &cw[i].w[k];
			/* The same key on two cards of the set is backed up once. */
			if (manifest_find_key(next, m->dkek_kcv, w->id)) {
				fresh--;
				continue;
			}
			rc = vfs_write_atomic(v, w->path, w->file.data, w->file.len, err);
			if (rc != HV_OK)
				break;
			manifest_key mk = {
				.id = w->id, .label = w->label[0] ? w->label : NULL, .key_ref = w->ref,
				.algorithm = w->alg, .public_key = w->pub_hex, .kcv = m->dkek_kcv,
				.file = w->path, .sha256 = w->sha256, .source_card = (char *)w->card_id,
				.time = now,
			};
			oom = !manifest_add_key(next, &mk);
		}
		manifest_card *mc = manifest_find_card(next, cs.cards[i].card_id);
		if (mc && !oom) {
			for (size_t k = 0; k < cw[i].n_ids && !oom; k++) {
				int have = 0;
				for (size_t j = 0; j < mc->keys.count; j++)
					have |= !strcmp(mc->keys.items[j], cw[i].key_ids[k]);
				if (!have)
					oom = manifest_strlist_add(&mc->keys, cw[i].key_ids[k]) != HV_OK;
			}
		}
	}
	if (oom)
		rc = hv_fail(err, HV_ENOMEM, "out of memory");
	if (rc != HV_OK)
		goto out;
	res->wrapped = fresh;
	char change[160];
	snprintf(change, sizeof(change), "backup: %zu key%s wrapped under KCV %s", fresh,
		 fresh == 1 ? "" : "s", m->dkek_kcv);
	rc = flow_append_version(v, next, change, &res->version, err);
	if (rc == HV_OK)
		flow_say(fc, "backed up %zu key%s (manifest version %lu); %zu already in the "
			     "vault, %zu not exportable", fresh, fresh == 1 ? "" : "s",
			 res->version, res->already, res->skipped);
out:
	cardset_close(&cs);
	free_work(cw, POLICY_MAX_CARDS_IN_SET);
	secbuf_free(b.pin);
	manifest_free(next);
	manifest_free(m);
	return rc;
}
