/* The manifest's data model: allocation, deep copies, lookups. */
#include "vault/manifest.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hex.h"

manifest *manifest_new(void)
{
	return calloc(1, sizeof(manifest));
}

static void strlist_free(manifest_strlist *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

static void share_free(manifest_share *s)
{
	free(s->file);
	free(s->sha256);
	free(s->check);
	free(s->scheme);
	strlist_free(&s->holders);
}

static void card_free(manifest_card *c)
{
	free(c->id);
	free(c->serial);
	free(c->role);
	free(c->firmware);
	free(c->kcv);
	strlist_free(&c->keys);
	free(c->last_verified);
	free(c->devcert);
	free(c->attestation);
}

static void key_free(manifest_key *k)
{
	free(k->id);
	free(k->label);
	free(k->algorithm);
	free(k->public_key);
	free(k->public_key_sha256);
	free(k->kcv);
	free(k->file);
	free(k->sha256);
	free(k->source_card);
	free(k->time);
}

static void verification_free(manifest_verification *x)
{
	free(x->time);
	free(x->card);
	free(x->kind);
	free(x->result);
	free(x->detail);
}

void manifest_free(manifest *m)
{
	if (!m)
		return;
	free(m->previous);
	free(m->time);
	free(m->tool_version);
	free(m->change);
	free(m->policy_name);
	free(m->policy_sha256);
	free(m->dkek_kcv);
	for (size_t i = 0; i < m->share_n; i++)
		share_free(&m->shares[i]);
	free(m->shares);
	for (size_t i = 0; i < m->card_n; i++)
		card_free(&m->cards[i]);
	free(m->cards);
	for (size_t i = 0; i < m->key_n; i++)
		key_free(&m->keys[i]);
	free(m->keys);
	for (size_t i = 0; i < m->verification_n; i++)
		verification_free(&m->verifications[i]);
	free(m->verifications);
	free(m);
}

int manifest_set(char **field, const char *value)
{
	char *c = NULL;
	if (value && !(c = strdup(value)))
		return HV_ENOMEM;
	free(*field);
	*field = c;
	return HV_OK;
}

/* Arrays of a manifest carry no capacity field: their capacity is the
 * smallest power of two >= count, so they are reallocated only when count
 * reaches a power of two, to twice that. Appending is amortized constant
 * time (issue: one realloc per element made 100,000 keys quadratic).
 * Removing entries keeps the capacity at least that large, so the rule
 * holds as long as every array grows through room_for_one(). */
static int room_for_one(void **arr, size_t n, size_t sz)
{
	if (n != 0 && (n & (n - 1)) != 0)
		return 0;
	size_t cap = n ? 2 * n : 1;
	if (cap > SIZE_MAX / sz)
		return -1;
	void *a = realloc(*arr, cap * sz);
	if (!a)
		return -1;
	*arr = a;
	return 0;
}

int manifest_strlist_add(manifest_strlist *l, const char *s)
{
	if (room_for_one((void **)&l->items, l->count, sizeof(*l->items)) != 0)
		return HV_ENOMEM;
	char **n = l->items;
	if (!(n[l->count] = strdup(s)))
		return HV_ENOMEM;
	l->count++;
	return HV_OK;
}

/* Copies a string field; *bad is set when memory runs out. */
static char *dup_or_null(const char *s, int *bad)
{
	if (!s)
		return NULL;
	char *c = strdup(s);
	if (!c)
		*bad = 1;
	return c;
}

static void strlist_copy(manifest_strlist *dst, const manifest_strlist *src, int *bad)
{
	dst->items = NULL;
	dst->count = 0;
	for (size_t i = 0; i < src->count; i++)
		if (manifest_strlist_add(dst, src->items[i]) != HV_OK)
			*bad = 1;
}

/* Grows an array of elements of size sz by one zeroed element. */
static void *grow_one(void **arr, size_t *n, size_t sz)
{
	if (room_for_one(arr, *n, sz) != 0)
		return NULL;
	char *a = *arr;
	memset(a + *n * sz, 0, sz);
	return a + (*n)++ * sz;
}

manifest_share *manifest_add_share(manifest *m, const manifest_share *s)
{
	manifest_share *d = grow_one((void **)&m->shares, &m->share_n, sizeof(*d));
	if (!d)
		return NULL;
	int bad = 0;
	d->index = s->index;
	d->file = dup_or_null(s->file, &bad);
	d->sha256 = dup_or_null(s->sha256, &bad);
	d->check = dup_or_null(s->check, &bad);
	d->scheme = dup_or_null(s->scheme, &bad);
	strlist_copy(&d->holders, &s->holders, &bad);
	d->threshold = s->threshold;
	return bad ? NULL : d;
}

manifest_card *manifest_add_card(manifest *m, const manifest_card *c)
{
	manifest_card *d = grow_one((void **)&m->cards, &m->card_n, sizeof(*d));
	if (!d)
		return NULL;
	int bad = 0;
	d->id = dup_or_null(c->id, &bad);
	d->serial = dup_or_null(c->serial, &bad);
	d->role = dup_or_null(c->role, &bad);
	d->firmware = dup_or_null(c->firmware, &bad);
	d->kcv = dup_or_null(c->kcv, &bad);
	strlist_copy(&d->keys, &c->keys, &bad);
	d->last_verified = dup_or_null(c->last_verified, &bad);
	d->devcert = dup_or_null(c->devcert, &bad);
	d->attestation = dup_or_null(c->attestation, &bad);
	return bad ? NULL : d;
}

manifest_key *manifest_add_key(manifest *m, const manifest_key *k)
{
	manifest_key *d = grow_one((void **)&m->keys, &m->key_n, sizeof(*d));
	if (!d)
		return NULL;
	int bad = 0;
	d->id = dup_or_null(k->id, &bad);
	d->label = dup_or_null(k->label, &bad);
	d->key_ref = k->key_ref;
	d->algorithm = dup_or_null(k->algorithm, &bad);
	d->public_key = dup_or_null(k->public_key, &bad);
	d->public_key_sha256 = dup_or_null(k->public_key_sha256, &bad);
	d->kcv = dup_or_null(k->kcv, &bad);
	d->file = dup_or_null(k->file, &bad);
	d->sha256 = dup_or_null(k->sha256, &bad);
	d->source_card = dup_or_null(k->source_card, &bad);
	d->time = dup_or_null(k->time, &bad);
	return bad ? NULL : d;
}

manifest_verification *manifest_add_verification(manifest *m,
						 const manifest_verification *x)
{
	manifest_verification *d = grow_one((void **)&m->verifications,
					    &m->verification_n, sizeof(*d));
	if (!d)
		return NULL;
	int bad = 0;
	d->time = dup_or_null(x->time, &bad);
	d->card = dup_or_null(x->card, &bad);
	d->kind = dup_or_null(x->kind, &bad);
	d->result = dup_or_null(x->result, &bad);
	d->detail = dup_or_null(x->detail, &bad);
	return bad ? NULL : d;
}

int manifest_clone(const manifest *m, manifest **out, hv_err *err)
{
	*out = NULL;
	manifest *c = manifest_new();
	if (!c)
		return hv_fail(err, HV_ENOMEM, "out of memory copying a manifest");
	int bad = 0;
	c->version = m->version;
	c->previous = dup_or_null(m->previous, &bad);
	c->time = dup_or_null(m->time, &bad);
	c->tool_version = dup_or_null(m->tool_version, &bad);
	c->change = dup_or_null(m->change, &bad);
	c->policy_name = dup_or_null(m->policy_name, &bad);
	c->policy_sha256 = dup_or_null(m->policy_sha256, &bad);
	c->share_count = m->share_count;
	c->dkek_kcv = dup_or_null(m->dkek_kcv, &bad);
	for (size_t i = 0; !bad && i < m->share_n; i++)
		bad = !manifest_add_share(c, &m->shares[i]);
	for (size_t i = 0; !bad && i < m->card_n; i++)
		bad = !manifest_add_card(c, &m->cards[i]);
	for (size_t i = 0; !bad && i < m->key_n; i++)
		bad = !manifest_add_key(c, &m->keys[i]);
	for (size_t i = 0; !bad && i < m->verification_n; i++)
		bad = !manifest_add_verification(c, &m->verifications[i]);
	if (bad) {
		manifest_free(c);
		return hv_fail(err, HV_ENOMEM, "out of memory copying a manifest");
	}
	*out = c;
	return HV_OK;
}

manifest_card *manifest_find_card(const manifest *m, const char *id)
{
	for (size_t i = 0; i < m->card_n; i++)
		if (m->cards[i].id && !strcmp(m->cards[i].id, id))
			return &m->cards[i];
	return NULL;
}

manifest_key *manifest_find_key(const manifest *m, const char *kcv, const char *id)
{
	for (size_t i = 0; i < m->key_n; i++)
		if (m->keys[i].kcv && m->keys[i].id && !strcmp(m->keys[i].kcv, kcv) &&
		    !strcmp(m->keys[i].id, id))
			return &m->keys[i];
	return NULL;
}

/* SHA-256 fetched once: an implicit fetch per EVP_Digest call costs more
 * than hashing a small key file. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void manifest_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	pthread_once(&sha256_once, fetch_sha256);
	if (EVP_Digest(data, len, md, &mdlen, sha256_md ? sha256_md : EVP_sha256(), NULL) != 1 ||
	    mdlen != 32) {
		/* Never a valid hash: every comparison against it fails. */
		memset(out, 'x', 64);
		out[64] = '\0';
		return;
	}
	hex_encode(md, 32, out, 0);
}

void manifest_card_identity(const char *serial, const uint8_t *device_key,
			    size_t len, char *out, size_t outsz)
{
	char h[65];
	manifest_sha256_hex(device_key, len, h);
	snprintf(out, outsz, "%.64s-%.16s", serial, h);
}

void manifest_version_path(unsigned long n, char *out, size_t outsz)
{
	snprintf(out, outsz, MANIFEST_DIR "/%06lu.yaml", n);
}
