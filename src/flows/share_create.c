#include "flows/share_create.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "crypto/nofm.h"
#include "vault/manifest.h"

int share_new_password(const flow_ctx *fc, const char *prefix, unsigned index,
		       const char *const *holders, size_t n_holders, unsigned threshold,
		       secbuf **pw, hv_err *err)
{
	char name[160], prompt[256];
	if (threshold == 0) {
		snprintf(name, sizeof(name), "%s-%u", prefix, index);
		/* prompt_new_secret asks "New <prompt>: " and "Repeat <prompt>: " */
		snprintf(prompt, sizeof(prompt), "password of DKEK share %u (%s)", index,
			 holders[0]);
		return flow_secret_new(fc->secrets, name, prompt, SHARE_PASSWORD_MIN, 256, pw,
				       err);
	}
	if (n_holders > NOFM_MAX_SHARES || threshold < 2 || threshold > n_holders)
		return hv_fail(err, HV_EUSAGE, "share %u: cannot split %u-of-%zu", index,
			       threshold, n_holders);
	secbuf *p = secbuf_new(NOFM_SECRET_LEN);
	nofm_share parts[16];
	if (!p)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	if (n_holders > sizeof(parts) / sizeof(parts[0])) {
		secbuf_free(p);
		return hv_fail(err, HV_EUSAGE, "share %u: at most 16 holders", index);
	}
	uint64_t prime = 0; /* formatted below even when the split failed */
	int rc = nofm_new_password(p->data, err);
	if (rc == HV_OK)
		rc = nofm_split(p->data, threshold, (unsigned)n_holders, &prime, parts, err);
	p->len = NOFM_SECRET_LEN;
	char ph[NOFM_HEX_MAX];
	nofm_format_hex(prime, ph);
	for (size_t i = 0; rc == HV_OK && i < n_holders; i++) {
		secbuf *text = secbuf_new(2 * NOFM_HEX_MAX + 16);
		if (!text) {
			rc = hv_fail(err, HV_ENOMEM, "out of memory");
			break;
		}
		char vh[NOFM_HEX_MAX];
		nofm_format_hex(parts[i].value, vh);
		snprintf((char *)text->data, text->cap, "%s %u %s", ph, parts[i].id, vh);
		secure_wipe(vh, sizeof(vh));
		/* Named as the holder will give it back later (share-N-HOLDER). */
		snprintf(name, sizeof(name), "share-%u-%s", index, holders[i]);
		rc = flow_secret_show(fc->secrets, name, holders[i], (const char *)text->data,
				      err);
		secbuf_free(text);
	}
	secure_wipe(parts, sizeof(parts));
	if (rc != HV_OK) {
		secbuf_free(p);
		return rc;
	}
	flow_say(fc, "share %u: password split %u-of-%zu among its holders", index, threshold,
		 n_holders);
	*pw = p;
	return HV_OK;
}

struct seal_job {
	const secbuf *plain, *pw;
	sealed_share *out;
	int rc;
	hv_err err;
};

static void *seal_one(void *arg)
{
	struct seal_job *j = arg;
	hv_err_clear(&j->err);
	j->rc = dkek_share_encrypt(j->plain->data, j->pw->data, j->pw->len, NULL,
				   DKEK_SHARE_ITERATIONS, j->out->file, &j->err);
	if (j->rc == HV_OK) {
		dkek_share_check_value(j->plain->data, j->out->check);
		manifest_sha256_hex(j->out->file, sizeof(j->out->file), j->out->sha256);
	}
	return NULL;
}

int share_seal_all(secbuf *const *plain, secbuf *const *pw, size_t n, sealed_share *out,
		   hv_err *err)
{
	struct seal_job jobs[16];
	pthread_t th[16];
	int started[16] = { 0 };
	if (n > 16)
		return hv_fail(err, HV_EUSAGE, "at most 16 shares");
	for (size_t i = 0; i < n; i++) {
		jobs[i] = (struct seal_job){ .plain = plain[i], .pw = pw[i], .out = &out[i] };
		if (pthread_create(&th[i], NULL, seal_one, &jobs[i]) == 0)
			started[i] = 1;
		else
			seal_one(&jobs[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	for (size_t i = 0; i < n; i++)
		if (jobs[i].rc != HV_OK)
			return hv_fail(err, jobs[i].rc, "share %zu: %s", i + 1, jobs[i].err.msg);
	return HV_OK;
}
