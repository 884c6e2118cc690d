/* hsmvault adopt (flows/adopt.h). Nothing is written before every check
 * has passed: the scan, the layout paths, every share password, the one
 * DKEK, every key blob's KCV and MAC. The originals are only read. */
#include "flows/adopt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>

#include "crypto/dkek.h"
#include "crypto/dkek_share.h"
#include "flows/adopt_card.h"
#include "flows/adopt_match.h"
#include "flows/adopt_scan.h"
#include "flows/keyinfo.h"
#include "util/hex.h"
#include "vault/manifest.h"
#include "vault/vault.h"

/* The change line of the version adopt writes; a rerun recognizes its
 * own interrupted work by it. */
#define ADOPT_CHANGE "adopted"

/* One wrap file that becomes a manifest key. */
struct adopt_key {
	const adopt_file *f;
	char id[PRKD_ID_MAX * 2 + 1];
	char kcv[17];                /* from the blob header */
	char path[200];              /* keys/<KCV>/<id>.wrap */
	unsigned ref;
	char alg[40];
	char *pub_hex;
	int skip;                    /* listed, not recorded */
	char why[160];
};

struct adopt_run {
	const flow_ctx *fc;
	vfs *v;
	const adopt_opts *o;
	adopt_scan scan;
	struct adopt_key *keys;
	size_t n_keys;
	const adopt_file *share_of[POLICY_MAX_SHARES];
	char check[POLICY_MAX_SHARES][DKEK_SHARE_CHECK_HEX_LEN + 1];
	secbuf *plain;
	char kcv[17];
	/* The empty vault 'stick prepare' made (files were copied onto it by
	 * hand afterwards), or NULL: adopt's version follows its versions. */
	manifest *base;
};

static void free_run(struct adopt_run *r)
{
	for (size_t i = 0; i < r->n_keys; i++)
		free(r->keys[i].pub_hex);
	free(r->keys);
	adopt_scan_free(&r->scan);
	secbuf_free(r->plain);
	manifest_free(r->base);
}

/* A vault as 'stick prepare' leaves it: versions, but nothing recorded. */
static int empty_vault(const manifest *m)
{
	return !m->policy_name && !m->dkek_kcv && !m->share_n && !m->key_n && !m->card_n;
}

static int policy_matches(const adopt_opts *o, const manifest *m)
{
	char sha[65];
	manifest_sha256_hex(o->policy_text, o->policy_len, sha);
	return m->policy_sha256 && !strcmp(m->policy_sha256, sha) && m->change &&
	       !strncmp(m->change, ADOPT_CHANGE, strlen(ADOPT_CHANGE));
}

static int write_marker(vfs *v, hv_err *err)
{
	int rc = vfs_write_atomic(v, VAULT_MARKER, VAULT_MARKER_TEXT, strlen(VAULT_MARKER_TEXT),
				  err);
	return rc == HV_OK ? vfs_sync(v, err) : rc;
}

/* What the storage holds already. HV_OK with *done set when there is
 * nothing left to do (adopted before, or an interrupted run completed);
 * HV_ESAFETY for a vault or manifest that is not this adoption. */
static int check_state(const flow_ctx *fc, vfs *v, const adopt_opts *o, adopt_result *res,
		       manifest **base, hv_err *err)
{
	*base = NULL;
	int marker = vfs_exists(v, VAULT_MARKER, err);
	if (marker < 0)
		return err->code ? err->code : HV_EIO;
	char **names;
	size_t count, versions = 0;
	int rc = vfs_list(v, MANIFEST_DIR, &names, &count, err);
	if (rc != HV_OK)
		return hv_fail(err, HV_ESAFETY, "%s: '" MANIFEST_DIR "' is not a folder of "
			       "hsmvault's, but the vault layout needs that name: move it away "
			       "(adopt changes no file of yours); nothing was written", v->where);
	for (size_t i = 0; i < count; i++)
		versions += names[i][0] != '.';
	vfs_names_free(names, count);
	if (!marker && versions == 0)
		return HV_OK;
	manifest *m = NULL;
	rc = marker ? vault_check(v, err) : HV_OK;
	if (rc == HV_OK)
		rc = manifest_load_current(v, &m, err);
	if (rc != HV_OK) {
		if (marker)
			return rc;
		return hv_fail(err, HV_ESAFETY, "%s: '" MANIFEST_DIR "' holds files that are not a "
			       "valid hsmvault manifest (%.200s): move them away; nothing was written",
			       v->where, err->msg);
	}
	if (empty_vault(m)) {
		*base = m;
		return HV_OK;
	}
	if (!policy_matches(o, m)) {
		rc = hv_fail(err, HV_ESAFETY, "%s already holds %s (manifest version %lu: %.80s): "
			     "adopt turns only a classic stick into a vault, or finishes its own "
			     "interrupted run with the same policy; nothing was written", v->where,
			     marker ? "an hsmvault vault" : "an unfinished hsmvault vault",
			     m->version, m->change ? m->change : "");
		manifest_free(m);
		return rc;
	}
	memcpy(res->kcv, m->dkek_kcv ? m->dkek_kcv : "", m->dkek_kcv ? 17 : 1);
	res->version = m->version;
	res->keys = m->key_n;
	if (marker) {
		res->already = 1;
		flow_say(fc, "%s was adopted already (manifest version %lu, DKEK KCV %s): nothing "
			     "to do", v->where, m->version, res->kcv);
		manifest_free(m);
		return HV_OK;
	}
	if (o->dry_run) {
		flow_say(fc, "an interrupted adopt wrote manifest version %lu (DKEK KCV %s): adopt "
			     "without --dry-run finishes it (RECOVERY.md and the " VAULT_MARKER
			     " marker); no secret is needed", m->version, res->kcv);
		res->already = 1;
		manifest_free(m);
		return HV_OK;
	}
	rc = vault_write_recovery(v, m, err);
	manifest_free(m);
	if (rc == HV_OK)
		rc = write_marker(v, err);
	if (rc == HV_OK) {
		res->completed = 1;
		flow_say(fc, "finished the interrupted adoption: manifest version %lu, DKEK KCV %s, "
			     "RECOVERY.md and the " VAULT_MARKER " marker written", res->version,
			     res->kcv);
	}
	return rc;
}

static void list_found(const flow_ctx *fc, const adopt_scan *s, adopt_result *res)
{
	flow_say(fc, "found:");
	for (size_t i = 0; i < s->n; i++) {
		const adopt_file *f = &s->f[i];
		char dup[300] = "";
		if (f->dup_of >= 0)
			snprintf(dup, sizeof(dup), " (the same bytes as %.250s)",
				 s->f[f->dup_of].path);
		switch (f->kind) {
		case ADOPT_SHARE:
			res->share_files++;
			flow_say(fc, "  DKEK share file  %s%s", f->path, dup);
			break;
		case ADOPT_WRAP: {
			res->wrap_files++;
			char what[40], kcv[17], id[PRKD_ID_MAX * 2 + 1] = "none";
			adopt_blob_text(f, what, sizeof(what));
			hex_encode(f->blob.kcv, sizeof(f->blob.kcv), kcv, 1);
			if (f->has_prkd && f->prkd.id_len)
				hex_encode(f->prkd.id, f->prkd.id_len, id, 0);
			flow_say(fc, "  wrap file        %s: %s, label %s, id %s, DKEK KCV %s%s",
				 f->path, what, f->has_prkd && f->prkd.label[0] ? f->prkd.label
										 : "(none)",
				 id, kcv, dup);
			break;
		}
		case ADOPT_OWN:
			flow_say(fc, "  hsmvault's       %s", f->path);
			break;
		default:
			res->unrecognized++;
			flow_say(fc, "  unrecognized     %s (%s): left as it is", f->path, f->note);
		}
	}
	if (!s->n)
		flow_say(fc, "  nothing");
}

/* The manifest entries the wrap files will become (before any secret:
 * the KCV and the id are readable without one). */
static int plan_keys(struct adopt_run *r, hv_err *err)
{
	const adopt_scan *s = &r->scan;
	r->keys = calloc(s->n ? s->n : 1, sizeof(*r->keys));
	if (!r->keys)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	unsigned next_ref = 1;
	for (size_t i = 0; i < s->n; i++) {
		const adopt_file *f = &s->f[i];
		if (f->kind != ADOPT_WRAP || f->dup_of >= 0)
			continue;
		struct adopt_key *k = &r->keys[r->n_keys++];
		k->f = f;
		hex_encode(f->blob.kcv, sizeof(f->blob.kcv), k->kcv, 1);
		if (!f->has_prkd || !f->prkd.id_len) {
			k->skip = 1;
			snprintf(k->why, sizeof(k->why), "it has no key description (PRKD) with an "
				 "id; restore it by hand with sc-hsm-tool --unwrap-key");
			continue;
		}
		if (f->blob.type == KEYBLOB_AES) {
			k->skip = 1;
			snprintf(k->why, sizeof(k->why), "an AES key has no public key to prove a "
				 "restore with; restore it by hand with sc-hsm-tool --unwrap-key");
			continue;
		}
		hex_encode(f->prkd.id, f->prkd.id_len, k->id, 0);
		snprintf(k->path, sizeof(k->path), VAULT_KEYS_DIR "/%s/%s.wrap", k->kcv, k->id);
		/* The card's key reference when the description has one; the
		 * manifest only records it (restore picks free references). */
		k->ref = f->prkd.key_ref >= 1 && f->prkd.key_ref <= 255 ? (unsigned)f->prkd.key_ref
									 : next_ref;
		next_ref = k->ref < 255 ? k->ref + 1 : 1;
		for (size_t j = 0; j + 1 < r->n_keys; j++)
			if (!r->keys[j].skip && !strcmp(r->keys[j].path, k->path))
				return hv_fail(err, HV_ESAFETY,
					       "%s and %s are different keys with the same id %s under "
					       "the same DKEK: a restore could hold only one; nothing was "
					       "written", r->keys[j].f->path, f->path, k->id);
	}
	return HV_OK;
}

/* A layout path must be free, or hold exactly the bytes adopt would put
 * there (the original itself, or a copy an interrupted run made). */
static int path_free_or_same(struct adopt_run *r, const char *path, const uint8_t *data,
			     size_t len, hv_err *err)
{
	const adopt_file *there = adopt_scan_find(&r->scan, path);
	if (!there) {
		int ex = vfs_exists(r->v, path, err);
		if (ex < 0)
			return err->code ? err->code : HV_EIO;
		if (!ex)
			return HV_OK;
	} else if (data && there->data && there->len == len && !memcmp(there->data, data, len)) {
		return HV_OK;
	}
	return hv_fail(err, HV_ESAFETY, "%s: %s is taken by a file or folder adopt did not write, "
		       "and the vault layout puts its own file there: move it elsewhere (adopt "
		       "never overwrites); nothing was written", r->v->where, path);
}

static int check_layout(struct adopt_run *r, int with_shares, hv_err *err)
{
	int rc = path_free_or_same(r, VAULT_POLICY, r->o->policy_text, r->o->policy_len, err);
	if (rc == HV_OK && !r->base)
		rc = path_free_or_same(r, VAULT_RECOVERY, NULL, 0, err);
	for (size_t i = 0; rc == HV_OK && i < r->o->p->n_shares; i++) {
		char path[POLICY_FILE_MAX + 16];
		snprintf(path, sizeof(path), VAULT_SHARES_DIR "/%s", r->o->p->shares[i].file);
		const adopt_file *there = adopt_scan_find(&r->scan, path);
		if (with_shares) {
			const adopt_file *f = r->share_of[i];
			rc = path_free_or_same(r, path, f->data, f->len, err);
		} else if (there && there->kind != ADOPT_SHARE) {
			rc = path_free_or_same(r, path, NULL, 0, err);
		}
	}
	for (size_t i = 0; rc == HV_OK && i < r->n_keys; i++)
		if (!r->keys[i].skip)
			rc = path_free_or_same(r, r->keys[i].path, r->keys[i].f->data,
					       r->keys[i].f->len, err);
	return rc;
}

static void list_plan(struct adopt_run *r)
{
	const flow_ctx *fc = r->fc;
	const policy *p = r->o->p;
	flow_say(fc, "adopt %s: every file above stays as it is; written beside them:",
		 r->o->dry_run ? "would write" : "writes");
	flow_say(fc, "  " VAULT_POLICY "  policy %s (%zu share%s, %u card%s)", p->name,
		 p->n_shares, p->n_shares == 1 ? "" : "s", p->card_count,
		 p->card_count == 1 ? "" : "s");
	for (size_t i = 0; i < p->n_shares; i++) {
		const policy_share *ps = &p->shares[i];
		char holders[POLICY_MAX_HOLDERS * (POLICY_NAME_MAX + 2)] = "";
		for (size_t h = 0; h < ps->n_holders; h++) {
			size_t l = strlen(holders);
			snprintf(holders + l, sizeof(holders) - l, "%s%s", h ? ", " : "",
				 ps->holders[h]);
		}
		char src[300];
		if (r->o->share_path[i])
			snprintf(src, sizeof(src), "%.250s", r->o->share_path[i]);
		else
			snprintf(src, sizeof(src), "the share file %s's password opens",
				 ps->threshold ? "the holders'" : ps->holders[0]);
		flow_say(fc, "  " VAULT_SHARES_DIR "/%s  a copy of %s (share %zu, %s%s)", ps->file,
			 src, i + 1, ps->threshold ? "password split among " : "holder ", holders);
	}
	for (size_t i = 0; i < r->n_keys; i++) {
		const struct adopt_key *k = &r->keys[i];
		if (k->skip)
			flow_say(fc, "  (not recorded: %s: %s)", k->f->path, k->why);
		else
			flow_say(fc, "  %s  a copy of %s", k->path, k->f->path);
	}
	char ver[32];
	manifest_version_path(r->base ? r->base->version + 1 : 1, ver, sizeof(ver));
	flow_say(fc, "  %s, " VAULT_RECOVERY "%s", ver, r->base ? " (replaced)" : ", " VAULT_MARKER);
}

static void alg_text(EVP_PKEY *k, char *out, size_t n)
{
	if (EVP_PKEY_base_id(k) == EVP_PKEY_EC) {
		char group[80];
		size_t gl = 0;
		const char *cn = NULL;
		if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
						   sizeof(group), &gl) == 1) {
			int nid = OBJ_sn2nid(group);
			cn = nid != NID_undef ? EC_curve_nid2nist(nid) : NULL;
			snprintf(out, n, "EC %.30s", cn ? cn : group);
		} else {
			snprintf(out, n, "EC %d", EVP_PKEY_get_bits(k));
		}
	} else {
		snprintf(out, n, "RSA %d", EVP_PKEY_get_bits(k));
	}
}

/* Every blob under the shares' DKEK, its MAC checked and its key decrypted
 * for the public key the manifest records. */
static int check_keys(struct adopt_run *r, const uint8_t dkek[DKEK_LEN], hv_err *err)
{
	for (size_t i = 0; i < r->n_keys; i++) {
		struct adopt_key *k = &r->keys[i];
		if (strcmp(k->kcv, r->kcv) != 0)
			return hv_fail(err, HV_ESAFETY,
				       "%s is wrapped under the DKEK with KCV %s, the shares give KCV "
				       "%s: the shares and the keys do not belong together (a share of "
				       "another set, or a key of an older DKEK); nothing was written",
				       k->f->path, k->kcv, r->kcv);
		if (k->skip)
			continue;
		keyblob_info info;
		EVP_PKEY *pk = NULL;
		int rc = keyblob_unwrap(k->f->wf.blob, k->f->wf.blob_len, dkek, &info, &pk, NULL,
					err);
		if (rc != HV_OK)
			return hv_err_prefix(err, "%s (nothing was written)", k->f->path);
		alg_text(pk, k->alg, sizeof(k->alg));
		rc = keyinfo_pub_hex(pk, &k->pub_hex, err);
		EVP_PKEY_free(pk);
		if (rc != HV_OK)
			return hv_err_prefix(err, "%s", k->f->path);
		flow_say(r->fc, "key %s (%s, %s): blob intact under KCV %s", k->id,
			 k->f->prkd.label[0] ? k->f->prkd.label : "no label", k->alg, r->kcv);
	}
	return HV_OK;
}

static int unlock(struct adopt_run *r, hv_err *err)
{
	const policy *p = r->o->p;
	r->plain = secbuf_new(p->n_shares * DKEK_SHARE_LEN);
	if (!r->plain)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	r->plain->len = p->n_shares * DKEK_SHARE_LEN;
	int rc = adopt_match_shares(r->fc, r->v, p, &r->scan, r->o->share_path, r->share_of,
				    r->plain, err);
	if (rc != HV_OK)
		return rc;
	secbuf *dkek = secbuf_new(DKEK_LEN);
	if (!dkek)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	dkek->len = DKEK_LEN;
	memset(dkek->data, 0, DKEK_LEN);
	for (size_t i = 0; i < p->n_shares; i++) {
		dkek_add_share(dkek->data, r->plain->data + i * DKEK_SHARE_LEN);
		dkek_share_check_value(r->plain->data + i * DKEK_SHARE_LEN, r->check[i]);
	}
	uint8_t kcv[DKEK_KCV_LEN];
	dkek_kcv(dkek->data, kcv);
	hex_encode(kcv, sizeof(kcv), r->kcv, 1);
	flow_say(r->fc, "the %zu share%s give the DKEK with KCV %s", p->n_shares,
		 p->n_shares == 1 ? "" : "s", r->kcv);
	rc = check_keys(r, dkek->data, err);
	secbuf_free(dkek);
	return rc;
}

static int write_copy(vfs *v, const char *path, const adopt_file *f, hv_err *err)
{
	int ex = vfs_exists(v, path, err);
	if (ex < 0)
		return err->code ? err->code : HV_EIO;
	if (ex) /* the same bytes: check_layout compared them */
		return HV_OK;
	return vfs_write_atomic(v, path, f->data, f->len, err);
}

/* Data files first, then the manifest version naming them (the commit
 * point), then RECOVERY.md, then the marker. */
static int write_vault(struct adopt_run *r, adopt_result *res, hv_err *err)
{
	const policy *p = r->o->p;
	vfs *v = r->v;
	int rc = HV_OK;
	const char *dirs[] = { MANIFEST_DIR, VAULT_SHARES_DIR, VAULT_KEYS_DIR };
	for (size_t i = 0; rc == HV_OK && i < sizeof(dirs) / sizeof(dirs[0]); i++)
		rc = vfs_mkdir(v, dirs[i], err);
	manifest *m = NULL;
	if (r->base) {
		if ((rc = manifest_clone(r->base, &m, err)) != HV_OK)
			return rc;
	} else if (!(m = manifest_new())) {
		return hv_fail(err, HV_ENOMEM, "out of memory");
	}
	char psha[65], now[32];
	manifest_sha256_hex(r->o->policy_text, r->o->policy_len, psha);
	flow_time_now(now, sizeof(now));
	int oom = manifest_set(&m->policy_name, p->name) ||
		  manifest_set(&m->policy_sha256, psha) || manifest_set(&m->dkek_kcv, r->kcv);
	m->share_count = (unsigned)p->n_shares;
	for (size_t i = 0; rc == HV_OK && !oom && i < p->n_shares; i++) {
		const policy_share *ps = &p->shares[i];
		char path[POLICY_FILE_MAX + 16];
		snprintf(path, sizeof(path), VAULT_SHARES_DIR "/%s", ps->file);
		if ((rc = write_copy(v, path, r->share_of[i], err)) != HV_OK)
			break;
		char *items[POLICY_MAX_HOLDERS];
		for (size_t h = 0; h < ps->n_holders; h++)
			items[h] = (char *)ps->holders[h];
		manifest_share s = {
			.index = (unsigned)(i + 1), .file = path,
			.sha256 = (char *)r->share_of[i]->sha256, .check = r->check[i],
			.scheme = ps->threshold ? "n-of-m" : "password",
			.holders = { .items = items, .count = ps->n_holders },
			.threshold = ps->threshold ? ps->threshold : 1,
		};
		oom = !manifest_add_share(m, &s);
	}
	if (rc == HV_OK && !oom && r->n_keys) {
		char dir[64];
		snprintf(dir, sizeof(dir), VAULT_KEYS_DIR "/%s", r->kcv);
		rc = vfs_mkdir(v, dir, err);
	}
	for (size_t i = 0; rc == HV_OK && !oom && i < r->n_keys; i++) {
		struct adopt_key *k = &r->keys[i];
		if (k->skip)
			continue;
		if ((rc = write_copy(v, k->path, k->f, err)) != HV_OK)
			break;
		manifest_key mk = {
			.id = k->id, .label = k->f->prkd.label[0] ? (char *)k->f->prkd.label : NULL,
			.key_ref = k->ref, .algorithm = k->alg, .public_key = k->pub_hex,
			.kcv = r->kcv, .file = k->path, .sha256 = (char *)k->f->sha256,
			.time = now,
		};
		oom = !manifest_add_key(m, &mk);
		res->keys++;
	}
	if (rc == HV_OK && !oom)
		rc = vfs_write_atomic(v, VAULT_POLICY, r->o->policy_text, r->o->policy_len, err);
	if (oom)
		rc = hv_fail(err, HV_ENOMEM, "out of memory");
	if (rc == HV_OK) {
		char change[200];
		snprintf(change, sizeof(change), ADOPT_CHANGE " from sc-hsm-tool files under policy "
			 "%s: %zu share%s, %zu key%s, DKEK KCV %s", p->name, p->n_shares,
			 p->n_shares == 1 ? "" : "s", res->keys, res->keys == 1 ? "" : "s", r->kcv);
		rc = flow_append_version(v, m, change, &res->version, err);
	}
	manifest_free(m);
	/* A vault skeleton has its marker already; a bare stick gets it last. */
	if (rc == HV_OK)
		rc = r->base ? vfs_sync(v, err) : write_marker(v, err);
	if (rc != HV_OK && res->version)
		hv_err_prefix(err, "manifest version %lu is written but the vault is not finished: "
			      "run adopt again to finish it", res->version);
	return rc;
}

int flow_adopt(const flow_ctx *fc, vfs *v, const adopt_opts *o, adopt_result *res,
	       hv_err *err)
{
	memset(res, 0, sizeof(*res));
	if (o->p->so_pin == SO_PIN_VAULT)
		return hv_fail(err, HV_EUSAGE, "the policy keeps the SO-PIN in the vault "
			       "(pin.so_pin: vault), but a classic stick does not hold it: adopt "
			       "with pin.so_pin: holders");
	flow_catch_interrupt();
	struct adopt_run r;
	memset(&r, 0, sizeof(r));
	int rc = check_state(fc, v, o, res, &r.base, err);
	if (rc != HV_OK || res->already || res->completed)
		return rc;
	r.fc = fc;
	r.v = v;
	r.o = o;
	if ((rc = adopt_scan_tree(v, &r.scan, err)) != HV_OK)
		return rc;
	list_found(fc, &r.scan, res);
	size_t distinct = 0;
	for (size_t i = 0; i < r.scan.n; i++)
		distinct += r.scan.f[i].kind == ADOPT_SHARE && r.scan.f[i].dup_of < 0;
	if (distinct < o->p->n_shares) {
		rc = hv_fail(err, HV_EUSAGE, "the policy names %zu DKEK shares, %s holds %zu share "
			     "file%s: check the policy and the vault path; nothing was written",
			     o->p->n_shares, v->where, distinct, distinct == 1 ? "" : "s");
		goto out;
	}
	for (size_t i = 0; i < o->p->n_shares; i++) {
		const adopt_file *f = o->share_path[i] ? adopt_scan_find(&r.scan, o->share_path[i])
						       : NULL;
		if (o->share_path[i] && (!f || f->kind != ADOPT_SHARE)) {
			rc = hv_fail(err, HV_EUSAGE, "--share %zu=%s: %s; nothing was written", i + 1,
				     o->share_path[i], f ? "that file is not a DKEK share file (64 "
				     "bytes, \"Salted__\")" : "no such file in the vault");
			goto out;
		}
	}
	if ((rc = plan_keys(&r, err)) != HV_OK || (rc = check_layout(&r, 0, err)) != HV_OK)
		goto out;
	list_plan(&r);
	if (o->dry_run) {
		flow_say(fc, "dry run: nothing was written and no secret was asked");
		goto out;
	}
	if (flow_interrupted()) {
		rc = flow_cancelled(err, "nothing was written");
		goto out;
	}
	if ((rc = unlock(&r, err)) != HV_OK)
		goto out;
	if ((rc = check_layout(&r, 1, err)) != HV_OK ||
	    (rc = adopt_check_cards(fc, r.kcv, err)) != HV_OK)
		goto out;
	/* A misspelt batch line stops the run before the first write. */
	if ((rc = flow_secrets_check_unused(fc->secrets, err)) != HV_OK)
		goto out;
	if (flow_interrupted()) {
		rc = flow_cancelled(err, "nothing was written");
		goto out;
	}
	memcpy(res->kcv, r.kcv, sizeof(res->kcv));
	if ((rc = write_vault(&r, res, err)) == HV_OK)
		flow_say(fc, "adopted: %zu share%s and %zu key%s recorded in manifest version %lu "
			     "(DKEK KCV %s); every original file is unchanged",
			 o->p->n_shares, o->p->n_shares == 1 ? "" : "s", res->keys,
			 res->keys == 1 ? "" : "s", res->version, r.kcv);
out:
	free_run(&r);
	return rc;
}
