#include "flows/adopt_match.h"

#include <stdio.h>
#include <string.h>

#include "crypto/dkek_share.h"
#include "flows/shares.h"
#include "vault/manifest.h"

/* Wrong passwords a person at the terminal may type before adopt stops. */
#define ADOPT_TERMINAL_TRIES 3

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* The share's secret(s), copied from the operator's source into `mem`, the
 * table shares_unlock_one reads from: asked once, tried on every file. */
static int gather(const flow_ctx *fc, const policy_share *ps, unsigned idx, flow_secrets *mem,
		  hv_err *err)
{
	char name[POLICY_NAME_MAX + 32], prompt[POLICY_NAME_MAX * 2 + 128];
	secbuf *val = NULL;
	int rc;
	if (!ps->threshold) {
		snprintf(name, sizeof(name), "share-%u", idx);
		snprintf(prompt, sizeof(prompt), "Password of DKEK share %u (%s): ", idx,
			 ps->holders[0]);
		if ((rc = flow_secret_get(fc->secrets, name, prompt, 1, 256, &val, err)) != HV_OK)
			return rc;
		rc = flow_secrets_put(mem, name, val->data, val->len, err);
		secbuf_free(val);
		return rc;
	}
	size_t got = 0;
	for (size_t h = 0; h < ps->n_holders && got < ps->threshold; h++) {
		snprintf(name, sizeof(name), "share-%u-%s", idx, ps->holders[h]);
		if (!flow_secrets_interactive(fc->secrets) && !flow_secret_has(fc->secrets, name))
			continue;
		snprintf(prompt, sizeof(prompt),
			 "DKEK share %u: %s's part (PRIME ID VALUE; empty when %s is not here): ",
			 idx, ps->holders[h], ps->holders[h]);
		if ((rc = flow_secret_get(fc->secrets, name, prompt, 0, 200, &val, err)) != HV_OK)
			return rc;
		if (val->len) {
			rc = flow_secrets_put(mem, name, val->data, val->len, err);
			got++;
		}
		secbuf_free(val);
		val = NULL;
		if (rc != HV_OK)
			return rc;
	}
	if (got < ps->threshold)
		return hv_fail(err, HV_EUSAGE,
			       "DKEK share %u needs %u parts of its password, %zu were given: bring "
			       "%u of its holders (batch: lines share-%u-HOLDER); nothing was written",
			       idx, ps->threshold, got, ps->threshold, idx);
	return HV_OK;
}

/* Tries the share's password on one file: HV_OK with the 32 bytes in out,
 * HV_ESECRET when it does not open it. */
static int try_file(const flow_ctx *quiet, vfs *v, const policy_share *ps, unsigned idx,
		    const adopt_file *f, uint8_t *out, hv_err *err)
{
	char *holders[POLICY_MAX_HOLDERS];
	for (size_t h = 0; h < ps->n_holders; h++)
		holders[h] = (char *)ps->holders[h];
	manifest_share ms = {
		.index = idx, .file = f->path, .scheme = ps->threshold ? "n-of-m" : "password",
		.holders = { .items = holders, .count = ps->n_holders },
		.threshold = ps->threshold ? ps->threshold : 1,
	};
	manifest m;
	memset(&m, 0, sizeof(m));
	m.share_count = idx;
	m.shares = &ms;
	m.share_n = 1;
	unlocked_shares u;
	int rc = shares_unlock_one(quiet, v, &m, idx, &u, err);
	if (rc == HV_OK) {
		memcpy(out, u.plain->data, DKEK_SHARE_LEN);
		unlocked_shares_free(&u);
	}
	return rc;
}

/* Candidates for share idx, best guess first: the file named as the policy
 * names the share, then the rest in path order. */
static size_t candidates(const policy_share *ps, const adopt_scan *s, const int *taken,
			 const adopt_file **out)
{
	size_t n = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < s->n; i++) {
			const adopt_file *f = &s->f[i];
			if (f->kind != ADOPT_SHARE || f->dup_of >= 0 || taken[i])
				continue;
			int named = !strcmp(base_name(f->path), ps->file);
			if (named == (pass == 0))
				out[n++] = f;
		}
	return n;
}

int adopt_match_shares(const flow_ctx *fc, vfs *v, const policy *p, const adopt_scan *s,
		       const char *const *explicit_path, const adopt_file **matched,
		       secbuf *plain, hv_err *err)
{
	int *taken = calloc(s->n ? s->n : 1, sizeof(int));
	const adopt_file **cand = calloc(s->n ? s->n : 1, sizeof(*cand));
	flow_secrets *mem = NULL;
	int rc = taken && cand ? flow_secrets_memory(&mem, err)
			       : hv_fail(err, HV_ENOMEM, "out of memory");
	flow_ctx quiet = *fc;
	quiet.secrets = mem;
	quiet.out = NULL;
	for (size_t i = 0; rc == HV_OK && i < p->n_shares; i++) {
		const policy_share *ps = &p->shares[i];
		unsigned idx = (unsigned)(i + 1);
		size_t nc;
		if (explicit_path && explicit_path[i]) {
			const adopt_file *f = adopt_scan_find(s, explicit_path[i]);
			if (!f || f->kind != ADOPT_SHARE) {
				rc = hv_fail(err, HV_EUSAGE, "--share %u=%s: %s", idx, explicit_path[i],
					     f ? "that file is not a DKEK share file (64 bytes, "
						 "\"Salted__\")" : "no such file in the vault");
				break;
			}
			if (f->dup_of >= 0)
				f = &s->f[f->dup_of];
			if (taken[f - s->f]) {
				rc = hv_fail(err, HV_EUSAGE, "--share %u=%s: that file (or a copy of "
					     "it) is already another share", idx, explicit_path[i]);
				break;
			}
			cand[0] = f;
			nc = 1;
		} else {
			nc = candidates(ps, s, taken, cand);
		}
		const char *who = ps->threshold ? "its holders' parts" : ps->holders[0];
		if (nc == 0) {
			rc = hv_fail(err, HV_EUSAGE,
				     "no share file is left for DKEK share %u (%s): the policy names "
				     "%zu shares, the vault holds fewer share files; nothing was "
				     "written", idx, ps->threshold ? "split" : ps->holders[0],
				     p->n_shares);
			break;
		}
		for (int attempt = 1;; attempt++) {
			if ((rc = gather(fc, ps, idx, mem, err)) != HV_OK)
				break;
			flow_say(fc, "share %u (%s): trying the password on %zu share file%s...", idx,
				 who, nc, nc == 1 ? "" : "s");
			hv_err last;
			hv_err_clear(&last);
			const adopt_file *hit = NULL;
			for (size_t c = 0; c < nc && !hit; c++) {
				if (flow_interrupted())
					break;
				int r = try_file(&quiet, v, ps, idx, cand[c],
						 plain->data + i * DKEK_SHARE_LEN, &last);
				if (r == HV_OK)
					hit = cand[c];
				else if (r != HV_ESECRET) {
					*err = last;
					rc = r;
					break;
				}
			}
			if (rc != HV_OK)
				break;
			if (flow_interrupted()) {
				rc = flow_cancelled(err, "nothing was written");
				break;
			}
			if (hit) {
				matched[i] = hit;
				taken[hit - s->f] = 1;
				flow_say(fc, "share %u (%s): %s", idx, who, hit->path);
				break;
			}
			if (flow_secrets_interactive(fc->secrets) && attempt < ADOPT_TERMINAL_TRIES) {
				fprintf(stderr, "share %u (%s): that password opens none of the share "
					"files; try again\n", idx, who);
				continue;
			}
			char list[300] = "";
			for (size_t c = 0; c < nc; c++) {
				size_t l = strlen(list);
				snprintf(list + l, sizeof(list) - l, "%s%s", c ? ", " : "",
					 cand[c]->path);
			}
			rc = hv_fail(err, HV_ESECRET,
				     "the password of DKEK share %u (%s) opens none of the share "
				     "files %s (%.120s): check the password or name the file with "
				     "--share %u=PATH; nothing was written", idx, who, list,
				     last.msg, idx);
			break;
		}
	}
	flow_secrets_free(mem);
	free(taken);
	free(cand);
	return rc;
}
