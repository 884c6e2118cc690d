/* hsmvault reshare: the same 32-byte share under a new password, so the
 * DKEK and every card stay as they are. The new file gets a new name and
 * the old one stays: older manifest versions still name it, and a crash
 * before the new version is written leaves the vault as it was. The
 * manifest, not policy.yaml, records a share's current holders. */
#include "flows/reshare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flows/share_create.h"
#include "flows/shares.h"
#include "policy/policy.h"
#include "vault/manifest.h"
#include "vault/vault.h"

/* "shares/dkek-share-2.pbe" or "shares/dkek-share-2-r7.pbe" becomes
 * "shares/dkek-share-2-r<version>.pbe". */
static void new_file_name(const char *old, unsigned long version, char *out, size_t n)
{
	char base[160];
	snprintf(base, sizeof(base), "%s", old);
	size_t l = strlen(base);
	if (l > 4 && !strcmp(base + l - 4, ".pbe"))
		base[l -= 4] = '\0';
	char *r = strrchr(base, '-');
	if (r && r[1] == 'r' && r[2] && strspn(r + 2, "0123456789") == strlen(r + 2))
		*r = '\0';
	snprintf(out, n, "%s-r%lu.pbe", base, version);
}

static int check_holders(const reshare_opts *o, hv_err *err)
{
	if (o->n_holders == 0)
		return hv_fail(err, HV_EUSAGE, "who keeps the share now? give --holder NAME (several "
			       "with --threshold K for a split password)");
	if (o->threshold == 0 && o->n_holders != 1)
		return hv_fail(err, HV_EUSAGE, "%zu holders without --threshold: one holder keeps "
			       "a password; several split it (add --threshold K)", o->n_holders);
	if (o->threshold && (o->n_holders < POLICY_MIN_SPLIT_HOLDERS ||
			     o->n_holders > POLICY_MAX_HOLDERS || o->threshold < 2 ||
			     o->threshold > o->n_holders))
		return hv_fail(err, HV_EUSAGE, "a split needs %d to %d holders and a threshold "
			       "from 2 to the number of holders (got %u of %zu)",
			       POLICY_MIN_SPLIT_HOLDERS, POLICY_MAX_HOLDERS, o->threshold,
			       o->n_holders);
	for (size_t i = 0; i < o->n_holders; i++) {
		size_t l = strlen(o->holders[i]);
		if (l == 0 || l > POLICY_NAME_MAX ||
		    strspn(o->holders[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "0123456789._-") != l)
			return hv_fail(err, HV_EUSAGE, "holder name '%s' is not valid: letters, digits, "
				       "'.', '_', '-', at most %d", o->holders[i], POLICY_NAME_MAX);
		for (size_t j = 0; j < i; j++)
			if (!strcasecmp(o->holders[i], o->holders[j]))
				return hv_fail(err, HV_EUSAGE, "holder %s is named twice",
					       o->holders[i]);
	}
	return HV_OK;
}

int flow_reshare(const flow_ctx *fc, vfs *v, const reshare_opts *o, unsigned long *version,
		 hv_err *err)
{
	*version = 0;
	int rc = check_holders(o, err);
	if (rc != HV_OK)
		return rc;
	manifest *m = NULL, *next = NULL;
	unlocked_shares u = { 0 };
	secbuf *pw = NULL;
	if ((rc = manifest_load_current(v, &m, err)) != HV_OK)
		return rc;
	/* a killed run may have left RECOVERY.md a version behind */
	if ((rc = vault_settle_recovery(v, m, err)) != HV_OK) {
		manifest_free(m);
		return rc;
	}
	manifest_share *old = NULL;
	for (size_t i = 0; i < m->share_n; i++)
		if (m->shares[i].index == o->index)
			old = &m->shares[i];
	if (!m->dkek_kcv || !old) {
		rc = hv_fail(err, HV_EUSAGE, "the vault has no share %u%s", o->index,
			     m->share_n ? "" : " (no card set enrolled yet)");
		goto out;
	}
	for (size_t i = 0; i < o->n_holders; i++)
		for (size_t s = 0; s < m->share_n; s++)
			for (size_t h = 0; h < m->shares[s].holders.count; h++)
				if (m->shares[s].index != o->index &&
				    !strcasecmp(m->shares[s].holders.items[h], o->holders[i])) {
					rc = hv_fail(err, HV_EUSAGE,
						     "%s already keeps share %u: one person keeps at "
						     "most one share, or the split is defeated",
						     o->holders[i], m->shares[s].index);
					goto out;
				}
	flow_catch_interrupt();
	flow_say(fc, "share %u: its current holder%s unlock%s it", o->index,
		 old->holders.count == 1 ? "" : "s", old->holders.count == 1 ? "s" : "");
	if ((rc = shares_unlock_one(fc, v, m, o->index, &u, err)) != HV_OK ||
	    (rc = share_new_password(fc, "new-share", o->index, o->holders, o->n_holders,
				     o->threshold, &pw, err)) != HV_OK) {
		/* Ctrl-C at a question: say plainly that nothing was touched. */
		if (rc == HV_ECANCEL)
			rc = flow_cancelled(err, "nothing was changed");
		goto out;
	}
	if ((rc = flow_secrets_check_unused(fc->secrets, err)) != HV_OK)
		goto out;
	if (flow_interrupted()) {
		rc = flow_cancelled(err, "nothing was changed");
		goto out;
	}
	sealed_share sealed;
	secbuf *plain = u.plain;
	if ((rc = share_seal_all(&plain, &pw, 1, &sealed, err)) != HV_OK)
		goto out;
	/* Same share, so the same check value and DKEK: anything else is a bug
	 * that must not reach the vault. */
	if (old->check && strcasecmp(old->check, sealed.check) != 0) {
		rc = hv_fail(err, HV_EINTERNAL, "the re-encrypted share has another check value "
			     "(%s, recorded %s): nothing was written", sealed.check, old->check);
		goto out;
	}
	char file[200];
	new_file_name(old->file, m->version + 1, file, sizeof(file));
	if ((rc = vfs_write_atomic(v, file, sealed.file, sizeof(sealed.file), err)) != HV_OK)
		goto out;
	if ((rc = manifest_clone(m, &next, err)) != HV_OK)
		goto out;
	manifest_share *ns = NULL;
	for (size_t i = 0; i < next->share_n; i++)
		if (next->shares[i].index == o->index)
			ns = &next->shares[i];
	for (size_t i = 0; i < ns->holders.count; i++)
		free(ns->holders.items[i]);
	ns->holders.count = 0;
	int oom = manifest_set(&ns->file, file) || manifest_set(&ns->sha256, sealed.sha256) ||
		  manifest_set(&ns->check, sealed.check) ||
		  manifest_set(&ns->scheme, o->threshold ? "n-of-m" : "password");
	for (size_t i = 0; !oom && i < o->n_holders; i++)
		oom = manifest_strlist_add(&ns->holders, o->holders[i]) != HV_OK;
	ns->threshold = o->threshold ? o->threshold : 1;
	if (oom) {
		rc = hv_fail(err, HV_ENOMEM, "out of memory");
		goto out;
	}
	char change[256];
	snprintf(change, sizeof(change), "reshare: share %u now kept by %s%s (DKEK KCV %s "
		 "unchanged)", o->index, o->holders[0], o->n_holders > 1 ? " and others" : "",
		 m->dkek_kcv);
	rc = flow_append_version(v, next, change, version, err);
	if (rc == HV_OK)
		flow_say(fc, "share %u re-encrypted as %s; check value %s and DKEK KCV %s "
			     "unchanged (manifest version %lu)", o->index, file, sealed.check,
			 m->dkek_kcv, *version);
	secure_wipe(&sealed, sizeof(sealed));
out:
	unlocked_shares_free(&u);
	secbuf_free(pw);
	manifest_free(next);
	manifest_free(m);
	return rc;
}
