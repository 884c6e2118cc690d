/* Bringing the copy of a vault that is behind up to date (stick_sync.h). */
#include "flows/stick_sync.h"

#include <stdlib.h>
#include <string.h>

#include "flows/stick_copy.h"
#include "vault/journal.h"
#include "vault/limits.h"
#include "vault/vault.h"

int stick_first_difference(vfs *va, vfs *vb, const vault_comparison *cmp, char version_file[32],
			   char *file, size_t filesz, hv_err *err)
{
	manifest_version_path(cmp->diverged_at, version_file, 32);
	file[0] = '\0';
	manifest *a = NULL, *b = NULL;
	int rc = manifest_read_version(va, cmp->diverged_at, &a, NULL, err);
	if (rc == HV_OK)
		rc = manifest_read_version(vb, cmp->diverged_at, &b, NULL, err);
	if (rc == HV_OK)
		vault_first_file_difference(a, b, file, filesz);
	manifest_free(a);
	manifest_free(b);
	return rc;
}

void stick_print_history(FILE *f, const char *name, const vault_chain *c, unsigned long from)
{
	fprintf(f, "%s:\n", name);
	if (from > c->n)
		fprintf(f, "  (no version after %lu)\n", c->n ? (unsigned long)c->n : 0UL);
	for (unsigned long v = from ? from : 1; v <= c->n; v++) {
		const manifest_head *h = &c->heads[v - 1];
		fprintf(f, "  version %lu  %s  %.200s  (sha256 %.16s...)\n", h->version, h->time,
			h->change, h->sha256);
	}
}

/* ---- the files a version names ---- */

static int mkdir_parents(vfs *v, const char *path, hv_err *err)
{
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s", path);
	int rc = HV_OK;
	for (char *s = strchr(dir, '/'); s && rc == HV_OK; s = strchr(s + 1, '/')) {
		*s = '\0';
		rc = vfs_mkdir(v, dir, err);
		*s = '/';
	}
	return rc;
}

/* 1 when v holds path with the given sha256, 0 when it does not (absent,
 * other bytes, unreadable: it is rewritten either way). */
static int holds(vfs *v, const char *path, const char *sha256, size_t max)
{
	uint8_t *data;
	size_t len;
	hv_err ignored;
	if (vfs_read(v, path, max, &data, &len, &ignored) != HV_OK)
		return 0;
	char h[65];
	manifest_sha256_hex(data, len, h);
	free(data);
	return !strcmp(h, sha256);
}

static int bring_file(vfs *from, vfs *to, const char *path, const char *sha256, size_t max,
		      stick_sync_result *res, hv_err *err)
{
	if (holds(to, path, sha256, max))
		return HV_OK;
	int rc = mkdir_parents(to, path, err);
	if (rc == HV_OK)
		rc = stick_copy_file(from, to, path, max, NULL, err);
	if (rc == HV_OK)
		res->files_copied++;
	return rc;
}

static int bring_named_files(vfs *from, vfs *to, const manifest *m, stick_sync_result *res,
			     hv_err *err)
{
	int rc = HV_OK;
	if (m->policy_sha256)
		rc = bring_file(from, to, VAULT_POLICY, m->policy_sha256, VAULT_LIMIT_POLICY_BYTES,
				res, err);
	for (size_t i = 0; i < m->share_n && rc == HV_OK; i++)
		rc = bring_file(from, to, m->shares[i].file, m->shares[i].sha256,
				VAULT_LIMIT_SHARE_BYTES, res, err);
	for (size_t i = 0; i < m->key_n && rc == HV_OK; i++)
		rc = bring_file(from, to, m->keys[i].file, m->keys[i].sha256,
				VAULT_LIMIT_KEYFILE_BYTES, res, err);
	return rc;
}

/* ---- the journal ---- */

struct hashes {
	char (*h)[65];
	size_t n;
};

static int keep_hash(const journal_entry *e, const char *sha256, void *ctx)
{
	(void)e;
	struct hashes *hs = ctx;
	char (*grown)[65] = realloc(hs->h, (hs->n + 1) * sizeof(*grown));
	if (!grown)
		return HV_ENOMEM;
	hs->h = grown;
	memcpy(hs->h[hs->n++], sha256, 65);
	return HV_OK;
}

static int journal_hashes(vfs *v, struct hashes *hs, hv_err *err)
{
	memset(hs, 0, sizeof(*hs));
	int rc = journal_walk(v, keep_hash, hs, NULL, NULL, err);
	if (rc == HV_ENOMEM)
		rc = hv_fail(err, HV_ENOMEM, "out of memory reading the journal of %s", v->where);
	return rc;
}

int stick_compare_journals(vfs *va, vfs *vb, stick_journals *out, hv_err *err)
{
	memset(out, 0, sizeof(*out));
	struct hashes ha, hb;
	int rc = journal_hashes(va, &ha, err);
	if (rc == HV_OK && (rc = journal_hashes(vb, &hb, err)) != HV_OK)
		free(ha.h);
	if (rc != HV_OK)
		return rc;
	while (out->common < ha.n && out->common < hb.n &&
	       !strcmp(ha.h[out->common], hb.h[out->common]))
		out->common++;
	out->a = ha.n;
	out->b = hb.n;
	free(ha.h);
	free(hb.h);
	return HV_OK;
}

/* Entries of from that to lacks, when to's journal is a prefix of from's. */
static int bring_journal(vfs *from, vfs *to, stick_sync_result *res, hv_err *err)
{
	struct hashes hf, ht;
	int rc = journal_hashes(from, &hf, err);
	if (rc == HV_OK && (rc = journal_hashes(to, &ht, err)) != HV_OK)
		free(hf.h);
	if (rc != HV_OK)
		return rc;
	size_t i = 0;
	while (i < ht.n && i < hf.n && !strcmp(hf.h[i], ht.h[i]))
		i++;
	if (i < ht.n) {
		res->journal_kept = 1;
	} else if (hf.n > ht.n) {
		/* a format-1 copy becomes format 2 before it holds a journal */
		if ((rc = vault_mark_format(to, err)) == HV_OK)
			rc = vfs_mkdir(to, JOURNAL_DIR, err);
		for (size_t k = ht.n; k < hf.n && rc == HV_OK; k++) {
			char path[32];
			journal_entry_path(k + 1, path, sizeof(path));
			if ((rc = stick_copy_file(from, to, path, VAULT_LIMIT_JOURNAL_BYTES, NULL,
						  err)) == HV_OK)
				res->journal_copied++;
		}
	}
	free(hf.h);
	free(ht.h);
	return rc;
}

int stick_sync_vault(vfs *from, vfs *to, const vault_chain *cf, const vault_chain *ct,
		     stick_sync_result *res, hv_err *err)
{
	memset(res, 0, sizeof(*res));
	vault_comparison cmp;
	vault_chain_compare(cf, ct, &cmp);
	if (cmp.relation == VAULT_DIVERGED)
		return hv_fail(err, HV_ESAFETY, "%s and %s diverged at version %lu: nothing was "
			       "written", from->where, to->where, cmp.diverged_at);
	if (cmp.relation == VAULT_B_AHEAD)
		return hv_fail(err, HV_ESAFETY, "%s is %lu version%s behind %s: a sync never goes "
			       "backwards; swap FROM and TO; nothing was written", from->where,
			       cmp.ahead, cmp.ahead == 1 ? "" : "s", to->where);
	/* the newest version's files first: older versions name older bytes
	 * that from no longer holds either. With the same chain, this mends
	 * a copy whose files an interrupted sync replaced before the version
	 * naming them was written. */
	int rc = bring_named_files(from, to, cf->current, res, err);
	if (rc == HV_OK)
		rc = vfs_sync(to, err);
	if (rc == HV_OK && cmp.relation == VAULT_A_AHEAD) {
		for (size_t v = ct->n + 1; v <= cf->n && rc == HV_OK; v++) {
			char path[32];
			manifest_version_path(v, path, sizeof(path));
			int ex = vfs_exists(to, path, err);
			if (ex != 0) /* a version file outside the chain: never replaced */
				rc = ex < 0 ? (err->code ? err->code : HV_EIO)
					    : hv_fail(err, HV_ESAFETY, "%s already holds %s outside "
						      "its chain: check it with 'hsmvault log'; "
						      "nothing was replaced", to->where, path);
			if (rc == HV_OK)
				rc = stick_copy_file(from, to, path, VAULT_LIMIT_MANIFEST_BYTES, NULL,
						     err);
			if (rc == HV_OK && (rc = vfs_sync(to, err)) == HV_OK)
				res->versions_copied++;
		}
		if (rc == HV_OK)
			rc = stick_copy_file(from, to, VAULT_RECOVERY, VAULT_LIMIT_MANIFEST_BYTES, NULL,
					     err);
	}
	if (rc == HV_OK)
		rc = bring_journal(from, to, res, err);
	if (rc == HV_OK)
		rc = vfs_sync(to, err);
	return rc;
}
