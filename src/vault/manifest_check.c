#include "vault/manifest_check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int all_hex(const char *s, size_t n, int upper)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= '0' && c <= '9')
			continue;
		if (upper ? (c >= 'A' && c <= 'F') : (c >= 'a' && c <= 'f'))
			continue;
		return 0;
	}
	return 1;
}

int manifest_is_sha256(const char *s)
{
	return s && strlen(s) == 64 && all_hex(s, 64, 0);
}

int manifest_is_kcv(const char *s)
{
	return s && strlen(s) == 16 && all_hex(s, 16, 1);
}

int manifest_is_devcert(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 8 && n <= MANIFEST_DEVCERT_MAX_HEX && n % 2 == 0 &&
	       !strncmp(s, "7f21", 4) && all_hex(s, n, 0);
}

int manifest_is_key_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 2 && n <= 128 && n % 2 == 0 && all_hex(s, n, 0);
}

static int num(const char *s, int n, int lo, int hi)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	return v >= lo && v <= hi;
}

int manifest_is_time(const char *s)
{
	return s && strlen(s) == 20 && num(s, 4, 1970, 9999) && s[4] == '-' &&
	       num(s + 5, 2, 1, 12) && s[7] == '-' && num(s + 8, 2, 1, 31) && s[10] == 'T' &&
	       num(s + 11, 2, 0, 23) && s[13] == ':' && num(s + 14, 2, 0, 59) &&
	       s[16] == ':' && num(s + 17, 2, 0, 60) && s[19] == 'Z';
}

void manifest_format_time(time_t t, char out[21])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Text for one line of a table: no control characters. */
static int is_line(const char *s, size_t max)
{
	if (!s || !*s || strlen(s) > max)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* A file name inside one vault folder: no separators, no leading dot. */
static int is_plain_name(const char *s, const char *suffix)
{
	size_t n = strlen(s), sn = strlen(suffix);
	if (n <= sn || n > 200 || s[0] == '.' || strcmp(s + n - sn, suffix) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

#define BAD(...) hv_fail(err, HV_EINTEGRITY, __VA_ARGS__)

/* Uniqueness by sorting, never by comparing every pair: a list of 100,000
 * keys is checked in n log n. */
struct ref {
	const char *s;
	size_t i;
};

static int cmp_ref(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;
	int c = strcmp(x->s, y->s);
	if (c)
		return c;
	return (x->i > y->i) - (x->i < y->i);
}

/* 1 with *at = the index of an item equal to an earlier one, 0 when all
 * differ, -1 out of memory. get(ctx, i) gives item i. */
static int find_repeat(const char *(*get)(const void *, size_t), const void *ctx, size_t n,
		       size_t *at)
{
	if (n < 2)
		return 0;
	struct ref *r = malloc(n * sizeof(*r));
	if (!r)
		return -1;
	for (size_t i = 0; i < n; i++) {
		r[i].s = get(ctx, i);
		r[i].i = i;
	}
	qsort(r, n, sizeof(*r), cmp_ref);
	int found = 0;
	for (size_t k = 0; k + 1 < n; k++)
		if (!strcmp(r[k].s, r[k + 1].s) && (!found || r[k + 1].i < *at)) {
			*at = r[k + 1].i;
			found = 1;
		}
	free(r);
	return found;
}

static const char *share_file(const void *m, size_t i)
{
	return ((const manifest *)m)->shares[i].file;
}

static const char *card_id(const void *m, size_t i)
{
	return ((const manifest *)m)->cards[i].id;
}

static const char *key_file(const void *m, size_t i)
{
	return ((const manifest *)m)->keys[i].file;
}

static const char *list_item(const void *l, size_t i)
{
	return ((const manifest_strlist *)l)->items[i];
}

#define NOMEM() hv_fail(err, HV_ENOMEM, "out of memory checking a manifest")

static int check_share(const manifest *m, size_t i, const char *name, hv_err *err)
{
	const manifest_share *s = &m->shares[i];
	if (s->index < 1 || s->index > m->share_count)
		return BAD("%s: dkek.shares[%zu].index is %u, outside 1..share_count (%u)", name, i,
			   s->index, m->share_count);
	if (!s->file || strncmp(s->file, "shares/", 7) != 0 || !is_plain_name(s->file + 7, ".pbe"))
		return BAD("%s: dkek.shares[%zu].file must be shares/<name>.pbe "
			   "(letters, digits, '.', '_', '-')", name, i);
	if (!manifest_is_sha256(s->sha256))
		return BAD("%s: dkek.shares[%zu].sha256 must be 64 lowercase hex digits", name, i);
	if (s->check && !manifest_is_kcv(s->check))
		return BAD("%s: dkek.shares[%zu].check must be 16 uppercase hex digits or null",
			   name, i);
	if (s->holders.count == 0)
		return BAD("%s: dkek.shares[%zu].holders is empty: every share has a holder", name, i);
	if (s->holders.count > VAULT_LIMIT_HOLDERS)
		return BAD("%s: dkek.shares[%zu] names %zu holders, more than the %u a share may "
			   "have", name, i, s->holders.count, VAULT_LIMIT_HOLDERS);
	for (size_t h = 0; h < s->holders.count; h++)
		if (!is_line(s->holders.items[h], 200))
			return BAD("%s: dkek.shares[%zu].holders[%zu] must be a non-empty name on one line",
				   name, i, h);
	size_t h = 0;
	int r = find_repeat(list_item, &s->holders, s->holders.count, &h);
	if (r < 0)
		return NOMEM();
	if (r)
		return BAD("%s: dkek.shares[%zu] names holder %s twice", name, i,
			   s->holders.items[h]);
	if (s->scheme && !strcmp(s->scheme, "password")) {
		if (s->holders.count != 1 || s->threshold != 1)
			return BAD("%s: dkek.shares[%zu] has scheme password: exactly one holder and "
				   "threshold 1", name, i);
	} else if (s->scheme && !strcmp(s->scheme, "n-of-m")) {
		if (s->holders.count < 2 || s->threshold < 2 || s->threshold > s->holders.count)
			return BAD("%s: dkek.shares[%zu] has scheme n-of-m: at least 2 holders and "
				   "2 <= threshold <= holders (threshold %u, %zu holders)",
				   name, i, s->threshold, s->holders.count);
	} else {
		return BAD("%s: dkek.shares[%zu].scheme must be \"password\" or \"n-of-m\"", name, i);
	}
	return HV_OK;
}

static int check_card(const manifest *m, size_t i, const char *name, hv_err *err)
{
	const manifest_card *c = &m->cards[i];
	if (!is_line(c->id, 200))
		return BAD("%s: cards[%zu].id must be a non-empty identity on one line", name, i);
	if (!is_line(c->serial, 64))
		return BAD("%s: cards[%zu].serial must be a non-empty serial number", name, i);
	if (!is_line(c->role, 64))
		return BAD("%s: cards[%zu].role must be a non-empty word", name, i);
	if (c->firmware && !is_line(c->firmware, 64))
		return BAD("%s: cards[%zu].firmware must be one line or null", name, i);
	if (c->kcv && !manifest_is_kcv(c->kcv))
		return BAD("%s: cards[%zu].kcv must be 16 uppercase hex digits or null", name, i);
	for (size_t k = 0; k < c->keys.count; k++)
		if (!manifest_is_key_id(c->keys.items[k]))
			return BAD("%s: cards[%zu].keys[%zu] must be a key id in lowercase hex",
				   name, i, k);
	if (c->last_verified && !manifest_is_time(c->last_verified))
		return BAD("%s: cards[%zu].last_verified must be a UTC time like "
			   "2026-11-28T04:07:09Z or null", name, i);
	if (c->devcert && !manifest_is_devcert(c->devcert))
		return BAD("%s: cards[%zu].devcert must be a CV certificate (7f21...) in "
			   "lowercase hex, at most %d digits, or null", name, i,
			   MANIFEST_DEVCERT_MAX_HEX);
	if (c->attestation && strcmp(c->attestation, "genuine") != 0 &&
	    strcmp(c->attestation, "not-attested") != 0)
		return BAD("%s: cards[%zu].attestation must be \"genuine\", \"not-attested\" "
			   "or null", name, i);
	return HV_OK;
}

static int check_key(const manifest *m, size_t i, const char *name, hv_err *err)
{
	const manifest_key *k = &m->keys[i];
	if (!manifest_is_key_id(k->id))
		return BAD("%s: keys[%zu].id must be the key's CKA_ID in lowercase hex", name, i);
	if (k->label && !is_line(k->label, 1000))
		return BAD("%s: keys[%zu].label must be one line or null", name, i);
	if (k->key_ref < 1 || k->key_ref > 255)
		return BAD("%s: keys[%zu].key_ref is %u, outside 1..255", name, i, k->key_ref);
	if (!is_line(k->algorithm, 64))
		return BAD("%s: keys[%zu].algorithm must be a name like \"EC P-256\"", name, i);
	if (k->public_key) {
		size_t n = strlen(k->public_key);
		int ok = n >= 2 && n % 2 == 0 && n <= 8192;
		for (size_t j = 0; ok && j < n; j++)
			ok = (k->public_key[j] >= '0' && k->public_key[j] <= '9') ||
			     (k->public_key[j] >= 'a' && k->public_key[j] <= 'f');
		if (!ok)
			return BAD("%s: keys[%zu].public_key must be lowercase hex bytes or null", name, i);
	}
	if (k->public_key_sha256 && !manifest_is_sha256(k->public_key_sha256))
		return BAD("%s: keys[%zu].public_key_sha256 must be 64 lowercase hex digits or null",
			   name, i);
	if (!k->public_key && !k->public_key_sha256)
		return BAD("%s: keys[%zu] needs public_key or public_key_sha256: without them a "
			   "restored key cannot be proven", name, i);
	if (!manifest_is_kcv(k->kcv))
		return BAD("%s: keys[%zu].kcv must be 16 uppercase hex digits", name, i);
	char want[200];
	snprintf(want, sizeof(want), "keys/%s/%s.wrap", k->kcv, k->id);
	if (!k->file || strcmp(k->file, want) != 0)
		return BAD("%s: keys[%zu].file must be %s", name, i, want);
	if (!manifest_is_sha256(k->sha256))
		return BAD("%s: keys[%zu].sha256 must be 64 lowercase hex digits", name, i);
	if (k->source_card && !is_line(k->source_card, 200))
		return BAD("%s: keys[%zu].source_card must be a card id or null", name, i);
	if (!manifest_is_time(k->time))
		return BAD("%s: keys[%zu].time must be a UTC time like 2026-11-28T04:07:09Z",
			   name, i);
	return HV_OK;
}

static int check_verification(const manifest *m, size_t i, const char *name, hv_err *err)
{
	const manifest_verification *x = &m->verifications[i];
	if (!manifest_is_time(x->time))
		return BAD("%s: verifications[%zu].time must be a UTC time", name, i);
	if (!is_line(x->card, 200))
		return BAD("%s: verifications[%zu].card must be a card id", name, i);
	if (!x->kind || (strcmp(x->kind, "quick") && strcmp(x->kind, "deep")))
		return BAD("%s: verifications[%zu].kind must be \"quick\" or \"deep\"", name, i);
	if (!x->result || (strcmp(x->result, "ok") && strcmp(x->result, "mismatch")))
		return BAD("%s: verifications[%zu].result must be \"ok\" or \"mismatch\"", name, i);
	if (x->detail && !is_line(x->detail, 1000))
		return BAD("%s: verifications[%zu].detail must be one line or null", name, i);
	return HV_OK;
}

int manifest_validate(const manifest *m, const char *name, hv_err *err)
{
	if (m->version < 1 || m->version > MANIFEST_MAX_VERSION)
		return BAD("%s: version %lu is outside 1..%lu", name, m->version,
			   MANIFEST_MAX_VERSION);
	if (m->version == 1 && m->previous)
		return BAD("%s: version 1 has no previous version, but names one", name);
	if (m->version > 1 && !manifest_is_sha256(m->previous))
		return BAD("%s: previous must be the sha256 (64 lowercase hex digits) of version %lu",
			   name, m->version - 1);
	if (!manifest_is_time(m->time))
		return BAD("%s: time must be a UTC time like 2026-11-28T04:07:09Z", name);
	if (!is_line(m->tool_version, 64))
		return BAD("%s: tool_version must be a version on one line", name);
	if (!is_line(m->change, 1000))
		return BAD("%s: change must be one non-empty line of at most 1000 bytes", name);
	if (!m->policy_name != !m->policy_sha256)
		return BAD("%s: policy.name and policy.sha256 are both set or both null", name);
	if (m->policy_name && !is_line(m->policy_name, 200))
		return BAD("%s: policy.name must be one line", name);
	if (m->policy_sha256 && !manifest_is_sha256(m->policy_sha256))
		return BAD("%s: policy.sha256 must be 64 lowercase hex digits", name);
	if (m->share_count > 255)
		return BAD("%s: dkek.share_count %u is more than a card accepts (255)", name,
			   m->share_count);
	if (m->share_n > m->share_count)
		return BAD("%s: dkek lists %zu shares but share_count is %u", name, m->share_n,
			   m->share_count);
	if (m->dkek_kcv && !manifest_is_kcv(m->dkek_kcv))
		return BAD("%s: dkek.kcv must be 16 uppercase hex digits or null", name);
	/* The counts of vault/limits.h: the writer validates with this very
	 * function, so it never writes a version the reader refuses. */
	if (m->card_n > VAULT_LIMIT_CARDS)
		return BAD("%s: %zu cards, more than the %u a vault may record: a set this large "
			   "needs a vault of its own per group of cards", name, m->card_n,
			   VAULT_LIMIT_CARDS);
	if (m->key_n > VAULT_LIMIT_KEYS)
		return BAD("%s: %zu keys, more than the %u a vault may hold: keep further keys in "
			   "a second vault (a new stick, hsmvault enroll)", name, m->key_n,
			   VAULT_LIMIT_KEYS);
	if (m->verification_n > VAULT_LIMIT_VERIFICATIONS)
		return BAD("%s: %zu verification entries, more than the %u a version may list",
			   name, m->verification_n, VAULT_LIMIT_VERIFICATIONS);
	int rc;
	unsigned char seen[256] = { 0 };
	for (size_t i = 0; i < m->share_n; i++) {
		if ((rc = check_share(m, i, name, err)) != HV_OK)
			return rc;
		if (seen[m->shares[i].index & 0xff]++)
			return BAD("%s: dkek.shares[%zu].index %u appears twice", name, i,
				   m->shares[i].index);
	}
	size_t at = 0;
	int r = find_repeat(share_file, m, m->share_n, &at);
	if (r)
		return r < 0 ? NOMEM() : BAD("%s: dkek.shares[%zu].file %s appears twice", name, at,
					      m->shares[at].file);
	for (size_t i = 0; i < m->card_n; i++) {
		if ((rc = check_card(m, i, name, err)) != HV_OK)
			return rc;
		if (m->cards[i].keys.count > VAULT_LIMIT_CARD_KEYS)
			return BAD("%s: cards[%zu] lists %zu keys, more than the %u a card may hold",
				   name, i, m->cards[i].keys.count, VAULT_LIMIT_CARD_KEYS);
	}
	if ((r = find_repeat(card_id, m, m->card_n, &at)))
		return r < 0 ? NOMEM() : BAD("%s: cards[%zu].id %s appears twice", name, at,
					      m->cards[at].id);
	for (size_t i = 0; i < m->key_n; i++)
		if ((rc = check_key(m, i, name, err)) != HV_OK)
			return rc;
	if ((r = find_repeat(key_file, m, m->key_n, &at)))
		return r < 0 ? NOMEM() : BAD("%s: keys[%zu] (%s) appears twice", name, at,
					      m->keys[at].file);
	for (size_t i = 0; i < m->verification_n; i++)
		if ((rc = check_verification(m, i, name, err)) != HV_OK)
			return rc;
	return HV_OK;
}
