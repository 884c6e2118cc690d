/* hsmvault verify. Nothing here stops at the first difference: every
 * check runs and each difference becomes one finding, so that a scheduled
 * run tells the operator everything at once. Only failures to run a check
 * at all (no card, no PIN, a broken vault chain) end the run early. */
#include "flows/verify.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto/keyblob.h"
#include "crypto/wrapfile.h"
#include "flows/attest.h"
#include "flows/cardset.h"
#include "flows/keyinfo.h"
#include "flows/record.h"
#include "flows/shares.h"
#include "flows/verify_record.h"
#include "vault/history.h"
#include "vault/journal.h"
#include "vault/manifest.h"
#include "vault/vault.h"

struct findings {
	pthread_mutex_t lock;
	verify_report *rep;
};

/* Appends one line to a report list under the findings lock. A list is
 * short (a few lines per card), so growing it one entry at a time is fine;
 * a line that cannot be stored for lack of memory is dropped, never half
 * written. */
static void push_line(struct findings *f, verify_finding **list, size_t *n, const char *card,
		      const char *check, const char *fmt, va_list ap)
{
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	pthread_mutex_lock(&f->lock);
	verify_finding *v = realloc(*list, (*n + 1) * sizeof(*v));
	if (v) {
		*list = v;
		v[*n] = (verify_finding){ .card = card ? strdup(card) : NULL,
					  .what = strdup(line),
					  .check = check ? strdup(check) : NULL };
		(*n)++;
	}
	pthread_mutex_unlock(&f->lock);
}

static void add_finding(struct findings *f, const char *card, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add_finding(struct findings *f, const char *card, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	push_line(f, &f->rep->findings, &f->rep->n_findings, card, NULL, fmt, ap);
	va_end(ap);
}

/* A check that could not run without a secret: not a difference. */
static void add_incomplete(struct findings *f, const char *card, const char *check,
			   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void add_incomplete(struct findings *f, const char *card, const char *check,
			   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	push_line(f, &f->rep->incomplete, &f->rep->n_incomplete, card, check, fmt, ap);
	va_end(ap);
}

struct verify_ctx {
	const flow_ctx *fc;
	const manifest *m;
	const verify_opts *o;
	const devaut_anchors *anchors;
	secbuf *pin;
	struct findings f;
	pthread_mutex_t count_lock;
	size_t keys_checked;
};

struct card_result {
	int member;
	size_t before;            /* findings before this card */
	int mismatch;
};

static const manifest_key *vault_key(const manifest *m, const char *id)
{
	return manifest_find_key(m, m->dkek_kcv, id);
}

/* A card of the set by serial whose device certificate is not the one
 * recorded: the card was replaced, or its identity forged. */
static const manifest_card *same_serial(const manifest *m, const char *serial)
{
	for (size_t i = 0; serial[0] && i < m->card_n; i++)
		if (m->cards[i].serial && !strcmp(m->cards[i].serial, serial))
			return &m->cards[i];
	return NULL;
}

/* The device certificate against the one recorded, and its chain checked
 * again with today's anchors. Card failures end the card's check. */
static int verify_device(struct verify_ctx *x, flow_card *c, const manifest_card *mc,
			 hv_err *err)
{
	card_attest att = { 0 };
	int rc = attest_card(&c->sc, x->anchors, &att, err);
	if (rc != HV_OK)
		return rc;
	const char *who = c->card_id;
	char text[320];
	attest_text(&att, text, sizeof(text));
	if (mc->devcert && !attest_same_devcert(att.devcert_hex, mc->devcert))
		add_finding(&x->f, who, "card %s: its device certificate differs from the one "
			    "recorded when it joined the set: it is not the card that was enrolled "
			    "(replaced, or its identity forged)", c->ident.serial);
	if (att.r.status == DEVAUT_FAILED)
		add_finding(&x->f, who, "card %s: its device authentication chain does not "
			    "verify: %s", c->ident.serial, att.r.reason);
	else if (mc->attestation && !strcmp(mc->attestation, "genuine") &&
		 att.r.status != DEVAUT_GENUINE)
		add_finding(&x->f, who, "card %s was recorded as genuine but is now %s",
			    c->ident.serial, text);
	attest_clear(&att);
	return HV_OK;
}

/* A card whose id is not in the set: say what it is. */
static int not_member(struct verify_ctx *x, flow_card *c, hv_err *err)
{
	card_attest att = { 0 };
	int rc = attest_card(&c->sc, x->anchors, &att, err);
	if (rc != HV_OK)
		return rc;
	const manifest_card *same_key = NULL;
	for (size_t i = 0; att.devcert_hex && i < x->m->card_n && !same_key; i++)
		if (attest_same_devcert(att.devcert_hex, x->m->cards[i].devcert))
			same_key = &x->m->cards[i];
	const manifest_card *twin = same_serial(x->m, c->ident.serial);
	if (same_key)
		add_finding(&x->f, c->card_id, "card %s in reader %s is card %s of this set with "
			    "its device certificate signed anew (pico-hsm does so at INITIALIZE, "
			    "which erases the card): it was initialized since it was recorded",
			    c->ident.serial, c->reader, same_key->id);
	else if (twin && twin->devcert)
		add_finding(&x->f, c->card_id, "card %s in reader %s has the serial of a card of "
			    "this set but another device certificate than the one recorded: it is "
			    "not the card that was enrolled (replaced, or its identity forged)",
			    c->ident.serial, c->reader);
	else
		add_finding(&x->f, c->card_id, "card %s in reader %s is not a card of this set",
			    c->ident.serial, c->reader);
	attest_clear(&att);
	return HV_OK;
}

static int verify_card(flow_card *c, void *ctxp, hv_err *err)
{
	struct verify_ctx *x = ctxp;
	struct card_result *cr = c->user;
	const manifest_card *mc = manifest_find_card(x->m, c->card_id);
	const char *who = c->card_id;
	if (!mc) {
		cr->mismatch = 1;
		return not_member(x, c, err);
	}
	cr->member = 1;
	int rc;
	if ((rc = verify_device(x, c, mc, err)) != HV_OK)
		return rc;
	if (x->pin && (rc = schsm_verify_pin(&c->sc, x->pin, 0, err)) != HV_OK)
		return rc;
	char kcv[17];
	cardset_kcv_hex(c, kcv);
	if (!kcv[0] && x->pin) {
		/* pico-hsm reports the KCV only once the PIN is verified */
		if ((rc = schsm_dkek_status(&c->sc, &c->dkek, err)) != HV_OK)
			return rc;
		cardset_kcv_hex(c, kcv);
	}
	if (!kcv[0] && !c->dkek.configured)
		add_finding(&x->f, who, "card %s has no DKEK: its keys cannot be backed up or "
			    "restored under this vault's (KCV %s)", c->ident.serial, x->m->dkek_kcv);
	else if (!kcv[0] && c->dkek.shares_missing > 0)
		add_finding(&x->f, who, "card %s: its DKEK is incomplete (%d share%s outstanding)",
			    c->ident.serial, c->dkek.shares_missing,
			    c->dkek.shares_missing == 1 ? "" : "s");
	else if (!kcv[0] && !x->pin)
		/* pico-hsm shows its KCV only after the user PIN: unknown is
		 * not different, and says how to check it */
		add_incomplete(&x->f, who, "kcv", "KCV not checked: card %s shows its DKEK check "
			       "value only after the user PIN (pico-hsm); rerun with --check-kcv",
			       c->ident.serial);
	else if (!kcv[0])
		add_finding(&x->f, who, "card %s: its DKEK KCV is still unknown after the user "
			    "PIN was verified", c->ident.serial);
	else if (strcasecmp(kcv, x->m->dkek_kcv) != 0)
		add_finding(&x->f, who, "card %s reports DKEK KCV %s, the vault records %s",
			    c->ident.serial, kcv, x->m->dkek_kcv);
	schsm_key_list keys;
	if ((rc = schsm_list_keys(&c->sc, &keys, err)) != HV_OK)
		return rc;
	size_t checked = 0;
	for (size_t i = 0; i < keys.n && rc == HV_OK; i++) {
		schsm_key *k = &keys.keys[i];
		if (k->device_key)
			continue;
		char id[130];
		keyinfo_id_hex(k, id, sizeof(id));
		const char *label = k->label[0] ? k->label : "no label";
		checked++;
		const manifest_key *mk = vault_key(x->m, id);
		if (!mk) {
			add_finding(&x->f, who, "card %s: key %s (%s) has no blob in the vault: run "
				    "hsmvault backup (a key the card refuses to export cannot be "
				    "restored at all)", c->ident.serial, id, label);
			continue;
		}
		EVP_PKEY *recorded = keyinfo_pub_from_hex(mk->public_key);
		if (!recorded || !k->pub || EVP_PKEY_eq(recorded, k->pub) != 1) {
			add_finding(&x->f, who, "card %s: key %s (%s) has another public key than "
				    "the vault records", c->ident.serial, id, label);
			EVP_PKEY_free(recorded);
			continue;
		}
		if (x->fc->deep) {
			hv_err perr;
			hv_err_clear(&perr);
			int prc = keyinfo_prove(&c->sc, k, recorded, &perr);
			if (prc == HV_EMISMATCH ||
			    (prc == HV_ECARD && !schsm_card_removed(&c->sc) &&
			     schsm_sign_refused(c->sc.last_sw)))
				add_finding(&x->f, who, "card %s: key %s (%s) is not proven: %s",
					    c->ident.serial, id, label, perr.msg);
			else if (prc != HV_OK) {
				*err = perr;
				rc = prc;
			}
		}
		EVP_PKEY_free(recorded);
	}
	/* keys the vault says this card had */
	for (size_t i = 0; rc == HV_OK && i < mc->keys.count; i++) {
		int found = 0;
		char id[130];
		for (size_t k = 0; k < keys.n && !found; k++) {
			keyinfo_id_hex(&keys.keys[k], id, sizeof(id));
			found = !keys.keys[k].device_key && !strcmp(id, mc->keys.items[i]);
		}
		if (!found)
			add_finding(&x->f, who, "card %s: key %s, recorded on this card, is missing "
				    "from it", c->ident.serial, mc->keys.items[i]);
	}
	schsm_key_list_free(&keys);
	pthread_mutex_lock(&x->count_lock);
	x->keys_checked += checked;
	pthread_mutex_unlock(&x->count_lock);
	return rc;
}

/* The current manifest without its file checks (those become findings),
 * its sha256 (the journal entry names it) and the last verification. */
struct last_version {
	manifest *m;
	char sha256[65];
	char last_verified[21];  /* "" when never */
};

/* Chain and journal: by hashes, or (deep verify, full) every version
 * parsed; the current version's files are checked as findings below. */
static int load_vault(vfs *v, int full, struct last_version *lv, hv_err *err)
{
	vault_history h;
	int rc = vault_history_load(v, full, 0, &h, err);
	if (rc == HV_OK) {
		lv->m = h.current;
		h.current = NULL;
		memcpy(lv->sha256, h.current_sha256, sizeof(lv->sha256));
		memcpy(lv->last_verified, h.last_verified, sizeof(lv->last_verified));
	}
	vault_history_free(&h);
	return rc;
}

static int check_blobs(struct verify_ctx *x, vfs *v, verify_report *rep, hv_err *err)
{
	unlocked_shares sh = { 0 };
	int rc;
	if (x->o->with_shares && (rc = shares_unlock(x->fc, v, x->m, &sh, err)) != HV_OK)
		return rc;
	for (size_t i = 0; i < x->m->key_n; i++) {
		const manifest_key *mk = &x->m->keys[i];
		uint8_t *data = NULL;
		size_t len = 0;
		hv_err e;
		hv_err_clear(&e);
		rep->blobs_checked++;
		if (vfs_read(v, mk->file, MANIFEST_KEYFILE_MAX_BYTES, &data, &len, &e) != HV_OK) {
			add_finding(&x->f, NULL, "key %s: its blob %s cannot be read: %s", mk->id,
				    mk->file, e.msg);
			continue;
		}
		char h[65];
		manifest_sha256_hex(data, len, h);
		wrapfile wf;
		if (strcmp(h, mk->sha256) != 0)
			add_finding(&x->f, NULL, "key %s: blob %s was changed or damaged (sha256 "
				    "differs from the manifest)", mk->id, mk->file);
		else if (wrapfile_parse(data, len, &wf, &e) != HV_OK)
			add_finding(&x->f, NULL, "key %s: blob %s is not a wrap file: %s", mk->id,
				    mk->file, e.msg);
		else if (sh.dkek && mk->kcv && !strcasecmp(mk->kcv, x->m->dkek_kcv) &&
			 keyblob_check(wf.blob, wf.blob_len, sh.dkek->data, &e) != HV_OK)
			add_finding(&x->f, NULL, "key %s: blob %s fails its MAC under the DKEK: %s",
				    mk->id, mk->file, e.msg);
		free(data);
	}
	for (size_t i = 0; i < x->m->share_n; i++) {
		const manifest_share *s = &x->m->shares[i];
		uint8_t *data = NULL;
		size_t len = 0;
		hv_err e;
		if (vfs_read(v, s->file, MANIFEST_SHARE_MAX_BYTES, &data, &len, &e) != HV_OK) {
			add_finding(&x->f, NULL, "share %u: %s cannot be read: %s", s->index, s->file,
				    e.msg);
			continue;
		}
		char h[65];
		manifest_sha256_hex(data, len, h);
		if (strcmp(h, s->sha256) != 0)
			add_finding(&x->f, NULL, "share %u: %s was changed or damaged", s->index,
				    s->file);
		free(data);
	}
	if (sh.dkek)
		flow_say(x->fc, "every blob's MAC checked under the DKEK (KCV %s)", sh.kcv);
	unlocked_shares_free(&sh);
	return HV_OK;
}

/* --vault with --record: the vault's newest version against the one the
 * record was exported from. A difference is a finding like any other. */
static int check_record(struct verify_ctx *x, vfs *v, const char *path, hv_err *err)
{
	vault_chain c;
	int rc = vault_chain_load(v, &c, err);
	if (rc != HV_OK)
		return rc;
	record_comparison rc_out;
	rc = verify_record_compare(path, &c, &rc_out, err);
	if (rc == HV_OK && rc_out.relation == RECORD_SAME)
		flow_say(x->fc, "the vault's newest version %lu is the record's (sha256 %s)",
			 rc_out.vault_version, rc_out.vault_sha256);
	else if (rc == HV_OK)
		add_finding(&x->f, NULL, "%s", rc_out.text);
	vault_chain_free(&c);
	return rc;
}

static time_t parse_time(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return 0;
	return timegm(&tm);
}

/* Staleness from the journal's last entry (or, in a format-1 vault not
 * verified since, the last entry of its `verifications` list). */
static void check_age(struct verify_ctx *x, const char *last_verified, unsigned max_age,
		      verify_report *rep)
{
	const char *last = last_verified[0] ? last_verified : NULL;
	if (last)
		snprintf(rep->last_verified, sizeof(rep->last_verified), "%s", last);
	if (!max_age)
		return;
	time_t since = parse_time(last ? last : x->m->time);
	if (since && time(NULL) - since > (time_t)max_age * 86400) {
		rep->stale = 1;
		flow_say(x->fc, "warning: the last verification (%s) is older than the policy's "
			     "%u days", last ? last : "never; set recorded", max_age);
	}
}

/* One journal entry for the run (vault format 2): the manifest is not
 * touched, so a weekly verify no longer grows the chain. */
static int record_results(struct verify_ctx *x, vfs *v, const char *manifest_sha256,
			  cardset *cs, struct card_result *cr, verify_report *rep, hv_err *err)
{
	journal_entry e = { .manifest_version = x->m->version,
			    .differences = rep->n_findings };
	memcpy(e.manifest_sha256, manifest_sha256, sizeof(e.manifest_sha256));
	snprintf(e.kind, sizeof(e.kind), "%s", x->fc->deep ? "deep" : "quick");
	snprintf(e.result, sizeof(e.result), "%s", rep->n_findings ? "mismatch" : "ok");
	int rc = HV_OK;
	for (size_t i = 0; i < cs->n && rc == HV_OK; i++) {
		if (!cr[i].member)
			continue;
		const char *detail = NULL;
		for (size_t k = 0; k < rep->n_findings && !detail; k++)
			if (rep->findings[k].card && !strcmp(rep->findings[k].card,
							    cs->cards[i].card_id))
				detail = rep->findings[k].what;
		/* a KCV hidden until the PIN: nothing differs, but the card
		 * was not fully checked: the entry says which check was left */
		const char *unchecked = NULL;
		for (size_t k = 0; k < rep->n_incomplete && !unchecked; k++)
			if (rep->incomplete[k].card && !strcmp(rep->incomplete[k].card,
							      cs->cards[i].card_id))
				unchecked = rep->incomplete[k].what;
		journal_card jc = { .id = cs->cards[i].card_id,
				    .result = detail ? "mismatch" : "ok",
				    .detail = (char *)(detail ? detail : unchecked) };
		if (journal_add_card(&e, &jc) != HV_OK)
			rc = hv_fail(err, HV_ENOMEM, "out of memory");
	}
	if (rc == HV_OK)
		rc = journal_append(v, &e, time(NULL), &rep->recorded, err);
	for (size_t i = 0; i < e.card_n; i++) {
		free(e.cards[i].id);
		free(e.cards[i].result);
		free(e.cards[i].detail);
	}
	free(e.cards);
	return rc;
}

int flow_verify(const flow_ctx *fc, vfs *v, const verify_opts *o, verify_report *rep,
		hv_err *err)
{
	memset(rep, 0, sizeof(*rep));
	struct verify_ctx x = { .fc = fc, .o = o };
	pthread_mutex_init(&x.f.lock, NULL);
	pthread_mutex_init(&x.count_lock, NULL);
	x.f.rep = rep;
	struct last_version lv = { 0 };
	unsigned max_age = 0;
	cardset cs = { 0 };
	struct card_result cr[16];
	memset(cr, 0, sizeof(cr));
	devaut_anchors own_anchors;
	int rc = attest_anchors(fc, &own_anchors, &x.anchors, err);
	if (rc != HV_OK)
		goto out;
	if (o->record_path && !v) {
		rc = record_load(o->record_path, &lv.m, &max_age, lv.last_verified, err);
	} else {
		rc = load_vault(v, fc->deep || o->full, &lv, err);
		if (rc == HV_OK)
			rc = record_policy_max_age(v, &max_age, err);
	}
	if (rc != HV_OK)
		goto out;
	x.m = lv.m;
	rep->version = x.m->version;
	if (!x.m->dkek_kcv) {
		rc = hv_fail(err, HV_EUSAGE, "this vault has no card set yet: run hsmvault enroll");
		goto out;
	}
	if (v && (rc = check_blobs(&x, v, rep, err)) != HV_OK)
		goto out;
	if (v && o->record_path && (rc = check_record(&x, v, o->record_path, err)) != HV_OK)
		goto out;
	if ((rc = cardset_open(fc, &cs, err)) != HV_OK)
		goto out;
	if (cs.n > 16) {
		rc = hv_fail(err, HV_EUSAGE, "more than 16 cards present");
		goto out;
	}
	if (fc->deep || o->check_kcv) {
		rc = flow_secret_get(fc->secrets, "pin", "user PIN of the card set: ",
				     SCHSM_PIN_MIN, SCHSM_PIN_MAX, &x.pin, err);
		if (rc != HV_OK)
			goto out;
	}
	for (size_t i = 0; i < cs.n; i++)
		cs.cards[i].user = &cr[i];
	if ((rc = cardset_each(&cs, verify_card, &x, err)) != HV_OK)
		goto out;
	rep->cards_checked = cs.n;
	rep->keys_checked = x.keys_checked;
	check_age(&x, lv.last_verified, max_age, rep);
	if (v && o->record_result && (rc = record_results(&x, v, lv.sha256, &cs, cr, rep, err)) != HV_OK)
		goto out;
	for (size_t i = 0; i < rep->n_incomplete; i++)
		flow_say(fc, "NOT CHECKED: %s", rep->incomplete[i].what);
	if (rep->n_findings) {
		for (size_t i = 0; i < rep->n_findings; i++)
			flow_say(fc, "DIFFERENCE: %s", rep->findings[i].what);
		rc = hv_fail(err, HV_EMISMATCH, "%zu difference%s found: each is listed",
			     rep->n_findings, rep->n_findings == 1 ? "" : "s");
	} else if (rep->n_incomplete) {
		rc = hv_fail(err, HV_EINCOMPLETE,
			     "no difference found, but %zu check%s could not run without the user "
			     "PIN (each is listed): rerun with --check-kcv", rep->n_incomplete,
			     rep->n_incomplete == 1 ? "" : "s");
	} else {
		flow_say(fc, "verified %zu card%s and %zu key%s%s%s: everything matches",
			 rep->cards_checked, rep->cards_checked == 1 ? "" : "s", rep->keys_checked,
			 rep->keys_checked == 1 ? "" : "s", fc->deep ? ", each proven by a signature" : "",
			 v ? "" : " (record: blobs not checked)");
	}
out:
	cardset_close(&cs);
	secbuf_free(x.pin);
	manifest_free(lv.m);
	devaut_anchors_free(&own_anchors);
	pthread_mutex_destroy(&x.f.lock);
	pthread_mutex_destroy(&x.count_lock);
	return rc;
}

void verify_report_free(verify_report *rep)
{
	for (size_t i = 0; i < rep->n_findings; i++) {
		free(rep->findings[i].card);
		free(rep->findings[i].what);
	}
	free(rep->findings);
	for (size_t i = 0; i < rep->n_incomplete; i++) {
		free(rep->incomplete[i].card);
		free(rep->incomplete[i].what);
		free(rep->incomplete[i].check);
	}
	free(rep->incomplete);
	memset(rep, 0, sizeof(*rep));
}

void verify_report_json(const verify_report *rep, json_out *j)
{
	json_int(j, "manifest_version", (long long)rep->version);
	json_int(j, "cards_checked", (long long)rep->cards_checked);
	json_int(j, "keys_checked", (long long)rep->keys_checked);
	json_int(j, "blobs_checked", (long long)rep->blobs_checked);
	json_bool(j, "stale", rep->stale);
	json_str(j, "last_verified", rep->last_verified[0] ? rep->last_verified : NULL);
	if (rep->recorded)
		json_int(j, "recorded_entry", (long long)rep->recorded);
	else
		json_null(j, "recorded_entry");
	json_arr_begin(j, "differences");
	for (size_t i = 0; i < rep->n_findings; i++) {
		json_obj_begin(j, NULL);
		json_str(j, "card", rep->findings[i].card);
		json_str(j, "what", rep->findings[i].what);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_arr_begin(j, "incomplete");
	for (size_t i = 0; i < rep->n_incomplete; i++) {
		json_obj_begin(j, NULL);
		json_str(j, "card", rep->incomplete[i].card);
		json_str(j, "check", rep->incomplete[i].check);
		json_str(j, "what", rep->incomplete[i].what);
		json_obj_end(j);
	}
	json_arr_end(j);
}
