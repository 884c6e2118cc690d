#include "flows/shares.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/nofm.h"
#include "util/hex.h"
#include <strings.h>

/* Limits of what one vault can name (policy.h allows 16 shares of 16 holders). */
#define POLICY_MAX_SHARES_IN_VAULT 16
#define POLICY_MAX_PARTS 16

/* One share on its way from file to plain bytes. */
struct share_job {
	const manifest_share *ms;
	uint8_t *file;
	size_t file_len;
	secbuf *pw;              /* the file's password */
	uint8_t *out;            /* DKEK_SHARE_LEN bytes inside a secbuf */
	int checked;
	int done;                /* decrypted and checked */
	int rc;
	hv_err err;
};

static const char *holder_of(const manifest_share *ms)
{
	return ms->holders.count ? ms->holders.items[0] : "?";
}

static int read_share_file(vfs *v, const manifest_share *ms, struct share_job *j,
			   hv_err *err)
{
	int rc = vfs_read(v, ms->file, MANIFEST_SHARE_MAX_BYTES, &j->file, &j->file_len, err);
	if (rc != HV_OK)
		return hv_err_prefix(err, "share %u", ms->index);
	char h[65];
	manifest_sha256_hex(j->file, j->file_len, h);
	if (ms->sha256 && strcmp(h, ms->sha256) != 0)
		return hv_fail(err, HV_EINTEGRITY,
			       "share %u: %s does not match the manifest (sha256 %.16s..., recorded "
			       "%.16s...): the file was changed or damaged; use another copy of the "
			       "vault", ms->index, ms->file, h, ms->sha256);
	return HV_OK;
}

/* "PRIME ID VALUE" of one holder's part: the three fields separated by
 * blanks; the value string is a secret and only ever lives in secbufs. */
static int parse_part(const secbuf *text, const char *who, uint64_t *prime, nofm_share *sh,
		      hv_err *err)
{
	secbuf *t = secbuf_new(text->len + 1);
	if (!t)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	memcpy(t->data, text->data, text->len);
	t->data[text->len] = '\0';
	char *save = NULL;
	char *f1 = strtok_r((char *)t->data, " \t", &save);
	char *f2 = f1 ? strtok_r(NULL, " \t", &save) : NULL;
	char *f3 = f2 ? strtok_r(NULL, " \t", &save) : NULL;
	char *f4 = f3 ? strtok_r(NULL, " \t", &save) : NULL;
	int rc;
	if (!f3 || f4)
		rc = hv_fail(err, HV_EUSAGE,
			     "%s: a part is three fields, 'PRIME ID VALUE' (for example "
			     "'f5:56:46:c9:a5:a1:01:87 2 3a:99:...')", who);
	else if ((rc = nofm_parse_hex(f1, "prime", prime, err)) == HV_OK &&
		 (rc = nofm_parse_id(f2, &sh->id, err)) == HV_OK)
		rc = nofm_parse_hex(f3, "share value", &sh->value, err);
	if (rc != HV_OK && rc != HV_ENOMEM)
		hv_err_prefix(err, "%s", who);
	secbuf_free(t);
	return rc;
}

/* The file password of a split share, rebuilt from `threshold` parts. */
static int split_password(const flow_ctx *fc, const manifest_share *ms, secbuf **pw,
			  hv_err *err)
{
	nofm_share parts[POLICY_MAX_PARTS];
	size_t k = 0;
	uint64_t prime = 0;
	int rc = HV_OK;
	for (size_t i = 0; i < ms->holders.count && k < ms->threshold && k < POLICY_MAX_PARTS;
	     i++) {
		const char *h = ms->holders.items[i];
		char name[160], prompt[256], who[200];
		snprintf(name, sizeof(name), "share-%u-%s", ms->index, h);
		snprintf(who, sizeof(who), "share %u, %s's part", ms->index, h);
		if (!flow_secrets_interactive(fc->secrets) && !flow_secret_has(fc->secrets, name))
			continue;
		snprintf(prompt, sizeof(prompt),
			 "DKEK share %u: %s's part (PRIME ID VALUE; empty when %s is not here): ",
			 ms->index, h, h);
		secbuf *text = NULL;
		rc = flow_secret_get(fc->secrets, name, prompt, 0, 200, &text, err);
		if (rc != HV_OK)
			goto out;
		if (text->len == 0) {
			secbuf_free(text);
			continue;
		}
		uint64_t p;
		rc = parse_part(text, who, &p, &parts[k], err);
		secbuf_free(text);
		if (rc != HV_OK)
			goto out;
		if (k && p != prime) {
			rc = hv_fail(err, HV_EUSAGE,
				     "%s names another prime than the parts before it: the parts "
				     "do not belong to the same share", who);
			goto out;
		}
		prime = p;
		k++;
	}
	if (k < ms->threshold) {
		rc = hv_fail(err, HV_EUSAGE,
			     "DKEK share %u needs %u parts of its password, %zu were given: bring %u "
			     "of its holders (batch: lines share-%u-HOLDER)", ms->index, ms->threshold,
			     k, ms->threshold, ms->index);
		goto out;
	}
	*pw = secbuf_new(NOFM_SECRET_LEN);
	if (!*pw) {
		rc = hv_fail(err, HV_ENOMEM, "out of memory");
		goto out;
	}
	rc = nofm_combine(prime, parts, k, (*pw)->data, err);
	if (rc != HV_OK) {
		secbuf_free(*pw);
		*pw = NULL;
		hv_err_prefix(err, "DKEK share %u", ms->index);
		goto out;
	}
	(*pw)->len = NOFM_SECRET_LEN;
out:
	secure_wipe(parts, sizeof(parts));
	return rc;
}

static int ask_password(const flow_ctx *fc, const manifest_share *ms, secbuf **pw,
			hv_err *err)
{
	if (ms->scheme && !strcmp(ms->scheme, "n-of-m"))
		return split_password(fc, ms, pw, err);
	char name[32], prompt[256];
	snprintf(name, sizeof(name), "share-%u", ms->index);
	snprintf(prompt, sizeof(prompt), "Password of DKEK share %u (%s): ", ms->index,
		 holder_of(ms));
	return flow_secret_get(fc->secrets, name, prompt, 1, 256, pw, err);
}

static void *decrypt_job(void *arg)
{
	struct share_job *j = arg;
	hv_err_clear(&j->err);
	j->rc = dkek_share_decrypt_checked(j->file, j->file_len, j->pw->data, j->pw->len,
					   DKEK_SHARE_ITERATIONS, j->ms->check, j->out,
					   &j->checked, &j->err);
	return NULL;
}

/* Every pending share decrypted at once: each costs sc-hsm-tool's
 * 10,000,000-round KDF, and the machine has more than one core. */
static void decrypt_pending(struct share_job *jobs, size_t n)
{
	pthread_t th[POLICY_MAX_SHARES_IN_VAULT];
	int started[POLICY_MAX_SHARES_IN_VAULT] = { 0 };
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].done)
			continue;
		if (pthread_create(&th[i], NULL, decrypt_job, &jobs[i]) == 0)
			started[i] = 1;
		else
			decrypt_job(&jobs[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (started[i])
			pthread_join(th[i], NULL);
}

static void free_jobs(struct share_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(jobs[i].file);
		secbuf_free(jobs[i].pw);
	}
}

static int unlock(const flow_ctx *fc, vfs *v, const manifest *m, unsigned only,
		  unlocked_shares *out, hv_err *err)
{
	memset(out, 0, sizeof(*out));
	size_t n = only ? 1 : m->share_n;
	if (n == 0)
		return hv_fail(err, HV_EUSAGE,
			       "the vault records no DKEK shares: run hsmvault enroll first");
	if (n > POLICY_MAX_SHARES_IN_VAULT)
		return hv_fail(err, HV_EUSAGE, "the vault records %zu shares, more than %d", n,
			       POLICY_MAX_SHARES_IN_VAULT);
	struct share_job jobs[POLICY_MAX_SHARES_IN_VAULT];
	memset(jobs, 0, sizeof(jobs));
	out->plain = secbuf_new(n * DKEK_SHARE_LEN);
	if (!out->plain)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	out->plain->len = n * DKEK_SHARE_LEN;
	out->n = n;
	int rc = HV_OK;
	for (size_t i = 0; i < n; i++) {
		const manifest_share *ms = NULL;
		for (size_t k = 0; k < m->share_n; k++)
			if (m->shares[k].index == (only ? only : i + 1))
				ms = &m->shares[k];
		if (!ms) {
			rc = hv_fail(err, HV_EINTEGRITY, "the manifest has no share %zu",
				     only ? only : i + 1);
			goto fail;
		}
		jobs[i].ms = ms;
		jobs[i].out = out->plain->data + i * DKEK_SHARE_LEN;
		if ((rc = read_share_file(v, ms, &jobs[i], err)) != HV_OK)
			goto fail;
	}
	for (;;) {
		/* Every password first, then the slow part for all of them. */
		for (size_t i = 0; i < n; i++) {
			if (jobs[i].done || jobs[i].pw)
				continue;
			if ((rc = ask_password(fc, jobs[i].ms, &jobs[i].pw, err)) != HV_OK)
				goto fail;
		}
		flow_say(fc, "decrypting %zu DKEK share%s (sc-hsm-tool's 10,000,000-round key "
			     "derivation, a few seconds)...", n, n == 1 ? "" : "s");
		decrypt_pending(jobs, n);
		int again = 0;
		for (size_t i = 0; i < n; i++) {
			struct share_job *j = &jobs[i];
			if (j->done)
				continue;
			secbuf_free(j->pw);
			j->pw = NULL;
			if (j->rc == HV_OK) {
				j->done = 1;
				if (!j->checked)
					flow_say(fc, "share %u: no check value recorded (a file adopted "
						     "from sc-hsm-tool): its password cannot be checked "
						     "until the KCV is compared", j->ms->index);
				else
					flow_say(fc, "share %u (%s): password correct", j->ms->index,
						 holder_of(j->ms));
				continue;
			}
			if (j->rc == HV_ESECRET && flow_secrets_interactive(fc->secrets)) {
				fprintf(stderr, "share %u (%s): %s\n", j->ms->index,
					holder_of(j->ms), j->err.msg);
				again = 1;
				continue;
			}
			rc = hv_fail(err, j->rc, "DKEK share %u (%s): %s", j->ms->index,
				     holder_of(j->ms), j->err.msg);
			goto fail;
		}
		if (!again)
			break;
	}
	free_jobs(jobs, n);
	if (only)
		return HV_OK;
	out->dkek = secbuf_new(DKEK_LEN);
	if (!out->dkek) {
		unlocked_shares_free(out);
		return hv_fail(err, HV_ENOMEM, "out of memory");
	}
	out->dkek->len = DKEK_LEN;
	memset(out->dkek->data, 0, DKEK_LEN);
	for (size_t i = 0; i < n; i++)
		dkek_add_share(out->dkek->data, out->plain->data + i * DKEK_SHARE_LEN);
	uint8_t kcv[DKEK_KCV_LEN];
	dkek_kcv(out->dkek->data, kcv);
	hex_encode(kcv, sizeof(kcv), out->kcv, 1);
	if (m->dkek_kcv && strcasecmp(m->dkek_kcv, out->kcv) != 0) {
		char got[17];
		memcpy(got, out->kcv, sizeof(got));
		unlocked_shares_free(out);
		return hv_fail(err, HV_ESECRET,
			       "the shares give the DKEK with KCV %s, the vault records %s: a share "
			       "password or a share file is wrong; nothing was changed", got,
			       m->dkek_kcv);
	}
	return HV_OK;
fail:
	free_jobs(jobs, n);
	unlocked_shares_free(out);
	return rc;
}

int shares_unlock(const flow_ctx *fc, vfs *v, const manifest *m, unlocked_shares *out,
		  hv_err *err)
{
	return unlock(fc, v, m, 0, out, err);
}

int shares_unlock_one(const flow_ctx *fc, vfs *v, const manifest *m, unsigned index,
		      unlocked_shares *out, hv_err *err)
{
	if (index == 0)
		return hv_fail(err, HV_EUSAGE, "share numbers start at 1");
	return unlock(fc, v, m, index, out, err);
}

void unlocked_shares_free(unlocked_shares *u)
{
	secbuf_free(u->plain);
	secbuf_free(u->dkek);
	memset(u, 0, sizeof(*u));
}
