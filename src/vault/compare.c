/* Comparing two copies of a vault by their manifest chains (compare.h). */
#include "vault/compare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct keep_ctx {
	vault_chain *c;
	int failed; /* HV_ENOMEM or HV_EINTERNAL, raised here without a message */
};

static int keep_head(const manifest_head *h, void *ctx)
{
	struct keep_ctx *k = ctx;
	vault_chain *c = k->c;
	/* the walk checks that numbers are contiguous before calling */
	if (h->version != c->n + 1)
		return k->failed = HV_EINTERNAL;
	manifest_head *grown = realloc(c->heads, (c->n + 1) * sizeof(*grown));
	if (!grown)
		return k->failed = HV_ENOMEM;
	c->heads = grown;
	c->heads[c->n++] = *h;
	return HV_OK;
}

static int load(vfs *v, int check_files, vault_chain *c, hv_err *err)
{
	memset(c, 0, sizeof(*c));
	char hash[65];
	struct keep_ctx k = { c, 0 };
	int rc = manifest_walk_heads(v, 0, keep_head, &k, &c->current, hash, err);
	if (k.failed)
		rc = hv_fail(err, k.failed, "%s reading the manifest chain of %s",
			     k.failed == HV_ENOMEM ? "out of memory" : "version numbers out of order",
			     v->where);
	if (rc == HV_OK && c->n == 0)
		rc = hv_fail(err, HV_EINTEGRITY, "%s has no manifest version: it is not a complete "
			     "vault", v->where);
	if (rc == HV_OK && check_files)
		rc = manifest_check_files(v, c->current, err);
	if (rc != HV_OK)
		vault_chain_free(c);
	return rc;
}

int vault_chain_load(vfs *v, vault_chain *c, hv_err *err)
{
	return load(v, 1, c, err);
}

int vault_chain_load_links(vfs *v, vault_chain *c, hv_err *err)
{
	return load(v, 0, c, err);
}

void vault_chain_free(vault_chain *c)
{
	free(c->heads);
	manifest_free(c->current);
	memset(c, 0, sizeof(*c));
}

void vault_chain_compare(const vault_chain *a, const vault_chain *b, vault_comparison *out)
{
	memset(out, 0, sizeof(*out));
	size_t shorter = a->n < b->n ? a->n : b->n;
	size_t i = 0;
	while (i < shorter && !strcmp(a->heads[i].sha256, b->heads[i].sha256))
		i++;
	out->common = i;
	if (i < shorter) {
		out->relation = VAULT_DIVERGED;
		out->diverged_at = i + 1;
	} else if (a->n == b->n) {
		out->relation = VAULT_SAME;
	} else if (a->n > b->n) {
		out->relation = VAULT_A_AHEAD;
		out->ahead = a->n - b->n;
	} else {
		out->relation = VAULT_B_AHEAD;
		out->ahead = b->n - a->n;
	}
}

/* One file a version names, with the hash it records. */
struct named_file {
	const char *path, *sha256;
};

static size_t named_files(const manifest *m, struct named_file **out)
{
	size_t n = 0, cap = 1 + m->share_n + m->key_n;
	struct named_file *f = malloc(cap * sizeof(*f));
	if (!f) {
		*out = NULL;
		return 0;
	}
	if (m->policy_sha256)
		f[n++] = (struct named_file){ "policy.yaml", m->policy_sha256 };
	for (size_t i = 0; i < m->share_n; i++)
		f[n++] = (struct named_file){ m->shares[i].file, m->shares[i].sha256 };
	for (size_t i = 0; i < m->key_n; i++)
		f[n++] = (struct named_file){ m->keys[i].file, m->keys[i].sha256 };
	*out = f;
	return n;
}

/* The first file of x that y lacks or records with another hash. */
static const struct named_file *first_unmatched(const struct named_file *x, size_t nx,
						const struct named_file *y, size_t ny)
{
	for (size_t i = 0; i < nx; i++) {
		size_t k = 0;
		while (k < ny && strcmp(x[i].path, y[k].path))
			k++;
		if (k == ny || strcmp(x[i].sha256, y[k].sha256))
			return &x[i];
	}
	return NULL;
}

void vault_first_file_difference(const manifest *a, const manifest *b, char *out, size_t outsz)
{
	struct named_file *fa, *fb;
	size_t na = named_files(a, &fa), nb = named_files(b, &fb);
	out[0] = '\0';
	if (!fa || !fb) {
		snprintf(out, outsz, "(out of memory listing the files)");
	} else {
		const struct named_file *d = first_unmatched(fa, na, fb, nb);
		if (!d)
			d = first_unmatched(fb, nb, fa, na);
		if (d)
			snprintf(out, outsz, "%s", d->path);
	}
	free(fa);
	free(fb);
}
