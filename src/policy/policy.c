#include "policy/policy.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "policy/ytree.h"
#include "util/fileio.h"
#include "util/input_file.h"

/* A policy is at most root > dkek > shares > share > holders deep; a little
 * slack lets a misplaced mapping be reported as a wrong type instead. */
#define POLICY_MAX_DEPTH 8

typedef struct holder_seen {
	const ynode *node;
	size_t share;  /* 1-based */
} holder_seen;

typedef struct pctx {
	const char *file;
	hv_err *err;
	policy *p;
	holder_seen seen[POLICY_MAX_SHARES * POLICY_MAX_HOLDERS];
	size_t n_seen;
} pctx;

static int bad(pctx *c, const ynode *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(pctx *c, const ynode *at, const char *fmt, ...)
{
	char what[HV_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return hv_fail(c->err, HV_EUSAGE, "%s:%u:%u: %s", c->file, at->line,
		       at->column, what);
}

static bool key_is(const ynode *key, const char *name)
{
	return key->len == strlen(name) && memcmp(key->text, name, key->len) == 0;
}

static const ynode *find_key(const ynode *map, const char *name)
{
	for (size_t i = 0; i + 1 < map->n_items; i += 2)
		if (key_is(map->items[i], name))
			return map->items[i];
	return NULL;
}

static const ynode *value_of(const ynode *map, const ynode *key)
{
	for (size_t i = 0; i + 1 < map->n_items; i += 2)
		if (map->items[i] == key)
			return map->items[i + 1];
	return NULL;
}

static int unknown_key(pctx *c, const ynode *key, const char *where,
		       const char *allowed)
{
	return bad(c, key, "unknown key '%s' %s: the keys allowed here are %s",
		   YSHOWN(key), where, allowed);
}

static int want_mapping(pctx *c, const ynode *v, const char *what,
			const char *example)
{
	if (v->kind == YNODE_MAPPING)
		return HV_OK;
	if (ynode_is_null(v))
		return bad(c, v, "%s has no value: give it indented keys, e.g. %s",
			   what, example);
	return bad(c, v, "%s must be a mapping of keys, e.g. %s; found %s",
		   what, example, ynode_kind_name(v));
}

static int want_text(pctx *c, const ynode *v, const char *what)
{
	if (v->kind != YNODE_SCALAR)
		return bad(c, v, "%s must be text, not %s", what, ynode_kind_name(v));
	if (ynode_is_null(v))
		return bad(c, v, "%s has no value: write one after the colon", what);
	return HV_OK;
}

static int want_uint(pctx *c, const ynode *v, const char *what, unsigned lo,
		     unsigned hi, unsigned *out)
{
	if (v->kind != YNODE_SCALAR)
		return bad(c, v, "%s must be a whole number from %u to %u, not %s",
			   what, lo, hi, ynode_kind_name(v));
	if (ynode_is_null(v))
		return bad(c, v, "%s has no value: write a whole number from %u to %u",
			   what, lo, hi);
	if (!v->plain)
		return bad(c, v, "%s must be a whole number from %u to %u written "
			   "without quotes, found \"%s\"", what, lo, hi, YSHOWN(v));
	size_t i = (v->len > 0 && v->text[0] == '-') ? 1 : 0;
	bool digits = i < v->len;
	for (size_t k = i; k < v->len; k++)
		if (v->text[k] < '0' || v->text[k] > '9')
			digits = false;
	if (!digits)
		return bad(c, v, "%s must be a whole number from %u to %u, found '%s'",
			   what, lo, hi, YSHOWN(v));
	if (v->len - i > 1 && v->text[i] == '0')
		return bad(c, v, "%s '%s' has a leading zero, which YAML may read as "
			   "octal: write it without", what, YSHOWN(v));
	unsigned long long n = 0;
	bool huge = false;
	for (size_t k = i; k < v->len; k++) {
		n = n * 10 + (unsigned)(v->text[k] - '0');
		if (n > 0xFFFFFFFFull) {
			huge = true;
			break;
		}
	}
	if (i == 1 || huge || n < lo || n > hi)
		return bad(c, v, "%s %s is out of range: it must be from %u to %u",
			   what, YSHOWN(v), lo, hi);
	*out = (unsigned)n;
	return HV_OK;
}

/* Names of people and cards: letters, digits, '.', '_', '-' and (when
 * spaces_ok) inner spaces; 1..64 bytes. */
static bool name_ok(const ynode *v, bool spaces_ok)
{
	if (v->len < 1 || v->len > POLICY_NAME_MAX)
		return false;
	for (size_t i = 0; i < v->len; i++) {
		char ch = v->text[i];
		bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
			  ch == '-' || (spaces_ok && ch == ' ');
		if (!ok)
			return false;
	}
	return v->text[0] != ' ' && v->text[v->len - 1] != ' ';
}

static int want_person(pctx *c, const ynode *v, const char *what)
{
	int rc = want_text(c, v, what);
	if (rc != HV_OK)
		return rc;
	if (!name_ok(v, true))
		return bad(c, v, "%s '%s' is not a valid name: use 1 to %d letters, "
			   "digits, '.', '_', '-' or inner spaces", what, YSHOWN(v),
			   POLICY_NAME_MAX);
	return HV_OK;
}

static int parse_format(pctx *c, const ynode *root)
{
	const ynode *key = find_key(root, "format");
	if (!key)
		return bad(c, root, "the format line is missing: a policy starts "
			   "with 'format: %s'", POLICY_FORMAT);
	const ynode *v = value_of(root, key);
	int rc = want_text(c, v, "format");
	if (rc != HV_OK)
		return rc;
	if (!key_is(v, POLICY_FORMAT)) {
		if (v->len > 16 && memcmp(v->text, "hsmvault-policy/", 16) == 0)
			return bad(c, v, "format %s is a version this hsmvault does not "
				   "know: it reads only %s; use a newer hsmvault or "
				   "rewrite the policy", YSHOWN(v), POLICY_FORMAT);
		return bad(c, v, "format '%s' is not an hsmvault policy: the first "
			   "line must be 'format: %s'", YSHOWN(v), POLICY_FORMAT);
	}
	return HV_OK;
}

static int parse_name(pctx *c, const ynode *v)
{
	int rc = want_text(c, v, "name");
	if (rc != HV_OK)
		return rc;
	if (!name_ok(v, false))
		return bad(c, v, "name '%s' is not valid: use 1 to %d letters, digits, "
			   "'.', '_' or '-' (no spaces)", YSHOWN(v), POLICY_NAME_MAX);
	memcpy(c->p->name, v->text, v->len + 1);
	return HV_OK;
}

static int parse_description(pctx *c, const ynode *v)
{
	int rc = want_text(c, v, "description");
	if (rc != HV_OK)
		return rc;
	size_t len = v->len;
	/* A block scalar ('>' or '|') ends in a line break: not part of it. */
	while (len > 0 && v->text[len - 1] == '\n')
		len--;
	if (len > POLICY_DESCRIPTION_MAX)
		return bad(c, v, "description is %zu bytes long: keep it to %d",
			   len, POLICY_DESCRIPTION_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)v->text[i];
		if (ch < 0x20 || ch == 0x7F)
			return bad(c, v, "description holds a line break or control "
				   "character: write it as one paragraph (use '>' to "
				   "fold long lines)");
	}
	memcpy(c->p->description, v->text, len);
	c->p->description[len] = '\0';
	return HV_OK;
}

static int parse_labels(pctx *c, const ynode *v)
{
	if (v->kind != YNODE_SEQUENCE)
		return bad(c, v, "cards.labels must be a list of card names, e.g. "
			   "[primary, backup]; found %s", ynode_kind_name(v));
	if (v->n_items > POLICY_MAX_CARDS)
		return bad(c, v->items[POLICY_MAX_CARDS], "cards.labels has more than "
			   "%d labels: a set has at most %d cards", POLICY_MAX_CARDS,
			   POLICY_MAX_CARDS);
	for (size_t i = 0; i < v->n_items; i++) {
		const ynode *l = v->items[i];
		int rc = want_person(c, l, "card label");
		if (rc != HV_OK)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(c->p->card_labels[j], l->text) == 0)
				return bad(c, l, "card label '%s' is used twice (also at "
					   "%u:%u): give each card its own label", YSHOWN(l),
					   v->items[j]->line, v->items[j]->column);
		memcpy(c->p->card_labels[i], l->text, l->len + 1);
	}
	c->p->n_card_labels = v->n_items;
	return HV_OK;
}

/* cards.unattested: refuse (the default) or accept cards that cannot
 * prove they are genuine. Spelled out in full on purpose: a safety
 * setting takes no yes/no/true shorthand that YAML readers disagree on. */
static int parse_unattested(pctx *c, const ynode *v)
{
	int rc = want_text(c, v, "cards.unattested");
	if (rc != HV_OK)
		return rc;
	if (key_is(v, "refuse"))
		c->p->unattested = UNATTESTED_REFUSE;
	else if (key_is(v, "accept"))
		c->p->unattested = UNATTESTED_ACCEPT;
	else
		return bad(c, v, "cards.unattested '%s' is not known: use 'refuse' (only "
			   "cards with a device certificate chain to a trusted root get the "
			   "DKEK) or 'accept' (also cards that cannot prove they are "
			   "genuine, such as pico-hsm)", YSHOWN(v));
	return HV_OK;
}

static int parse_cards(pctx *c, const ynode *v)
{
	int rc = want_mapping(c, v, "cards", "'count: 2'");
	if (rc != HV_OK)
		return rc;
	const ynode *count = NULL, *labels = NULL;
	for (size_t i = 0; i + 1 < v->n_items; i += 2) {
		const ynode *k = v->items[i], *val = v->items[i + 1];
		if (key_is(k, "count")) {
			rc = want_uint(c, val, "cards.count", 1, POLICY_MAX_CARDS,
				       &c->p->card_count);
			count = val;
		} else if (key_is(k, "labels")) {
			rc = parse_labels(c, val);
			labels = val;
		} else if (key_is(k, "unattested")) {
			rc = parse_unattested(c, val);
		} else {
			rc = unknown_key(c, k, "in cards", "count, labels, unattested");
		}
		if (rc != HV_OK)
			return rc;
	}
	if (!count)
		return bad(c, v, "cards.count is missing: say how many cards make "
			   "the set (1 to %d), e.g. 'count: 2'", POLICY_MAX_CARDS);
	if (labels && c->p->n_card_labels != c->p->card_count)
		return bad(c, labels, "cards.labels names %zu cards but cards.count "
			   "is %u: give exactly one label per card", c->p->n_card_labels,
			   c->p->card_count);
	return HV_OK;
}

/* One person may keep only one share, or one part of one split share. */
static int note_holder(pctx *c, const ynode *h, size_t share)
{
	for (size_t i = 0; i < c->n_seen; i++) {
		const holder_seen *s = &c->seen[i];
		if (strcasecmp(s->node->text, h->text) != 0)
			continue;
		if (s->share == share)
			return bad(c, h, "holder '%s' appears twice in share %zu (also "
				   "at %u:%u): each part of a split password must go to a "
				   "different person", YSHOWN(h), share, s->node->line,
				   s->node->column);
		return bad(c, h, "holder '%s' already keeps share %zu (at %u:%u): one "
			   "person with two shares can rebuild more of the DKEK alone, "
			   "which defeats the split; give this share to someone else",
			   YSHOWN(h), s->share, s->node->line, s->node->column);
	}
	c->seen[c->n_seen].node = h;
	c->seen[c->n_seen].share = share;
	c->n_seen++;
	return HV_OK;
}

static int parse_share_file(pctx *c, const ynode *v, size_t share,
			    policy_share *out)
{
	int rc = want_text(c, v, "file");
	if (rc != HV_OK)
		return rc;
	bool ok = v->len >= 5 && v->len <= POLICY_FILE_MAX && v->text[0] != '.' &&
		  memcmp(v->text + v->len - 4, ".pbe", 4) == 0;
	for (size_t i = 0; ok && i < v->len; i++) {
		char ch = v->text[i];
		ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		     (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
	}
	if (!ok)
		return bad(c, v, "file '%s' of share %zu is not a plain file name "
			   "ending in .pbe: use letters, digits, '.', '_', '-' (no "
			   "folders, not starting with '.'), e.g. dkek-share-%zu.pbe",
			   YSHOWN(v), share, share);
	memcpy(out->file, v->text, v->len + 1);
	return HV_OK;
}

static int parse_holders(pctx *c, const ynode *v, size_t share,
			 policy_share *out)
{
	if (v->kind != YNODE_SEQUENCE)
		return bad(c, v, "holders of share %zu must be a list of names, e.g. "
			   "[bob, carol, dave]; found %s (for one person write "
			   "'holder: NAME')", share, ynode_kind_name(v));
	if (v->n_items == 0)
		return bad(c, v, "share %zu has an empty holders list: name at least "
			   "%d people, or use 'holder: NAME' for one", share,
			   POLICY_MIN_SPLIT_HOLDERS);
	if (v->n_items > POLICY_MAX_HOLDERS)
		return bad(c, v->items[POLICY_MAX_HOLDERS], "share %zu has more than "
			   "%d holders: a split share has at most %d", share,
			   POLICY_MAX_HOLDERS, POLICY_MAX_HOLDERS);
	for (size_t i = 0; i < v->n_items; i++) {
		const ynode *h = v->items[i];
		int rc = want_person(c, h, "holder");
		if (rc == HV_OK)
			rc = note_holder(c, h, share);
		if (rc != HV_OK)
			return rc;
		memcpy(out->holders[i], h->text, h->len + 1);
	}
	out->n_holders = v->n_items;
	if (v->n_items < POLICY_MIN_SPLIT_HOLDERS)
		return bad(c, v, "share %zu splits its password among %zu holders, "
			   "but sc-hsm-tool's n-of-m scheme needs at least %d: add "
			   "holders, or use 'holder: NAME' for one person", share,
			   v->n_items, POLICY_MIN_SPLIT_HOLDERS);
	return HV_OK;
}

static int parse_threshold(pctx *c, const ynode *v, size_t share,
			   policy_share *out)
{
	/* Range first against the widest possible list, so that "threshold 1"
	 * and "threshold: two" get their own message. */
	unsigned t = 0;
	if (v->kind == YNODE_SCALAR && v->plain && v->len == 1 &&
	    (v->text[0] == '1' || v->text[0] == '0'))
		return bad(c, v, "threshold %c of share %zu would let %s open the "
			   "share: use 2 or more, or 'holder: NAME' for one person",
			   v->text[0], share, v->text[0] == '1' ? "any one holder alone" :
			   "nobody");
	int rc = want_uint(c, v, "threshold", 2, POLICY_MAX_HOLDERS, &t);
	if (rc != HV_OK)
		return rc;
	if (t > out->n_holders)
		return bad(c, v, "threshold %u is more than the %zu holders of share "
			   "%zu: lower the threshold or add holders", t,
			   out->n_holders, share);
	out->threshold = t;
	return HV_OK;
}

static int parse_share(pctx *c, const ynode *v, size_t share, policy_share *out)
{
	if (v->kind != YNODE_MAPPING)
		return bad(c, v, "share %zu must be a mapping such as 'holder: alice' "
			   "or 'holders: [bob, carol, dave]' with 'threshold: 2'; "
			   "found %s", share, ynode_kind_name(v));
	out->line = v->line;
	out->column = v->column;
	const ynode *holder = NULL, *holders = NULL, *threshold = NULL, *file = NULL;
	const ynode *holder_key = NULL, *holders_key = NULL, *threshold_key = NULL;
	for (size_t i = 0; i + 1 < v->n_items; i += 2) {
		const ynode *k = v->items[i], *val = v->items[i + 1];
		if (key_is(k, "holder")) {
			holder = val;
			holder_key = k;
		} else if (key_is(k, "holders")) {
			holders = val;
			holders_key = k;
		} else if (key_is(k, "threshold")) {
			threshold = val;
			threshold_key = k;
		} else if (key_is(k, "file")) {
			file = val;
		} else {
			char where[32];
			snprintf(where, sizeof(where), "in share %zu", share);
			return unknown_key(c, k, where, "holder, holders, threshold, file");
		}
	}
	if (holder && holders) {
		const ynode *second = holder_key->line > holders_key->line ||
			(holder_key->line == holders_key->line &&
			 holder_key->column > holders_key->column) ? holder_key : holders_key;
		return bad(c, second, "share %zu has both holder: and holders:: use "
			   "'holder: NAME' for one person, or 'holders: [...]' with "
			   "'threshold:' for a split password", share);
	}
	if (!holder && !holders)
		return bad(c, v, "share %zu names nobody: add 'holder: NAME', or "
			   "'holders: [...]' with 'threshold:' to split its password",
			   share);
	int rc;
	if (holder) {
		rc = want_person(c, holder, "holder");
		if (rc == HV_OK)
			rc = note_holder(c, holder, share);
		if (rc != HV_OK)
			return rc;
		memcpy(out->holders[0], holder->text, holder->len + 1);
		out->n_holders = 1;
		if (threshold)
			return bad(c, threshold_key, "threshold applies only to a split "
				   "share, and share %zu has one holder: remove the "
				   "threshold, or list holders: to split the password", share);
	} else {
		rc = parse_holders(c, holders, share, out);
		if (rc != HV_OK)
			return rc;
		if (!threshold)
			return bad(c, holders_key, "share %zu splits its password among "
				   "%zu holders but has no threshold: add 'threshold: T' "
				   "(how many of them must come together, 2 to %zu)", share,
				   out->n_holders, out->n_holders);
		rc = parse_threshold(c, threshold, share, out);
		if (rc != HV_OK)
			return rc;
	}
	if (file) {
		rc = parse_share_file(c, file, share, out);
		if (rc != HV_OK)
			return rc;
	} else {
		snprintf(out->file, sizeof(out->file), "dkek-share-%zu.pbe", share);
	}
	for (size_t j = 0; j + 1 < share; j++) {
		if (strcasecmp(c->p->shares[j].file, out->file) != 0)
			continue;
		if (file)
			return bad(c, file, "file %s of share %zu is already the file of "
				   "share %zu: each share needs its own file", out->file,
				   share, j + 1);
		return bad(c, v, "share %zu's default file %s is already the file of "
			   "share %zu (at %u:%u): give one of them a 'file:' of its own",
			   share, out->file, j + 1, c->p->shares[j].line,
			   c->p->shares[j].column);
	}
	return HV_OK;
}

static int parse_shares(pctx *c, const ynode *v)
{
	if (v->kind != YNODE_SEQUENCE)
		return bad(c, v, "dkek.shares must be a list with one item per share "
			   "('- holder: alice'); found %s", ynode_kind_name(v));
	if (v->n_items == 0)
		return bad(c, v, "dkek.shares is empty: a DKEK needs at least one "
			   "share; add '- holder: NAME'");
	if (v->n_items > POLICY_MAX_SHARES)
		return bad(c, v->items[POLICY_MAX_SHARES], "dkek.shares has more than "
			   "%d shares: use at most %d", POLICY_MAX_SHARES,
			   POLICY_MAX_SHARES);
	for (size_t i = 0; i < v->n_items; i++) {
		int rc = parse_share(c, v->items[i], i + 1, &c->p->shares[i]);
		if (rc != HV_OK)
			return rc;
		c->p->n_shares = i + 1;
	}
	return HV_OK;
}

static int parse_dkek(pctx *c, const ynode *v)
{
	int rc = want_mapping(c, v, "dkek", "'shares: [...]'");
	if (rc != HV_OK)
		return rc;
	const ynode *shares = NULL;
	for (size_t i = 0; i + 1 < v->n_items; i += 2) {
		const ynode *k = v->items[i];
		if (!key_is(k, "shares"))
			return unknown_key(c, k, "in dkek", "shares");
		shares = v->items[i + 1];
		rc = parse_shares(c, shares);
		if (rc != HV_OK)
			return rc;
	}
	if (!shares)
		return bad(c, v, "dkek.shares is missing: list the DKEK shares and "
			   "who keeps each one, e.g. '- holder: alice'");
	return HV_OK;
}

static int parse_pin(pctx *c, const ynode *v)
{
	int rc = want_mapping(c, v, "pin", "'retry_counter: 3'");
	if (rc != HV_OK)
		return rc;
	for (size_t i = 0; i + 1 < v->n_items; i += 2) {
		const ynode *k = v->items[i], *val = v->items[i + 1];
		if (key_is(k, "retry_counter")) {
			rc = want_uint(c, val, "pin.retry_counter", 1, 10,
				       &c->p->retry_counter);
		} else if (key_is(k, "so_pin")) {
			rc = want_text(c, val, "pin.so_pin");
			if (rc == HV_OK && key_is(val, "holders"))
				c->p->so_pin = SO_PIN_HOLDERS;
			else if (rc == HV_OK && key_is(val, "vault"))
				c->p->so_pin = SO_PIN_VAULT;
			else if (rc == HV_OK)
				rc = bad(c, val, "pin.so_pin '%s' is not known: use "
					 "'holders' (people keep it) or 'vault' (kept inside "
					 "the LUKS volume)", YSHOWN(val));
		} else {
			rc = unknown_key(c, k, "in pin", "retry_counter, so_pin");
		}
		if (rc != HV_OK)
			return rc;
	}
	return HV_OK;
}

static int parse_keys(pctx *c, const ynode *v)
{
	int rc = want_mapping(c, v, "keys", "'backup: all'");
	if (rc != HV_OK)
		return rc;
	for (size_t i = 0; i + 1 < v->n_items; i += 2) {
		const ynode *k = v->items[i], *val = v->items[i + 1];
		if (!key_is(k, "backup"))
			return unknown_key(c, k, "in keys", "backup");
		rc = want_text(c, val, "keys.backup");
		if (rc != HV_OK)
			return rc;
		if (!key_is(val, "all"))
			return bad(c, val, "keys.backup '%s' is not known: the only "
				   "value is 'all' (every private key on a card of the set "
				   "must have a backup)", YSHOWN(val));
		c->p->keys_backup = KEYS_BACKUP_ALL;
	}
	return HV_OK;
}

static int parse_verify(pctx *c, const ynode *v)
{
	int rc = want_mapping(c, v, "verify", "'max_age_days: 90'");
	if (rc != HV_OK)
		return rc;
	for (size_t i = 0; i + 1 < v->n_items; i += 2) {
		const ynode *k = v->items[i], *val = v->items[i + 1];
		if (!key_is(k, "max_age_days"))
			return unknown_key(c, k, "in verify", "max_age_days");
		rc = want_uint(c, val, "verify.max_age_days", 1, 3650,
			       &c->p->max_age_days);
		if (rc != HV_OK)
			return rc;
	}
	return HV_OK;
}

static int parse_root(pctx *c, const ynode *root)
{
	if (root->kind != YNODE_MAPPING)
		return bad(c, root, "a policy must be a mapping of keys starting with "
			   "'format: %s'; this file holds %s: is it the right file?",
			   POLICY_FORMAT, ynode_kind_name(root));
	int rc = parse_format(c, root);
	if (rc != HV_OK)
		return rc;
	bool have_name = false, have_cards = false, have_dkek = false;
	for (size_t i = 0; i + 1 < root->n_items; i += 2) {
		const ynode *k = root->items[i], *v = root->items[i + 1];
		if (key_is(k, "format")) {
			rc = HV_OK;
		} else if (key_is(k, "name")) {
			rc = parse_name(c, v);
			have_name = true;
		} else if (key_is(k, "description")) {
			rc = parse_description(c, v);
		} else if (key_is(k, "cards")) {
			rc = parse_cards(c, v);
			have_cards = true;
		} else if (key_is(k, "dkek")) {
			rc = parse_dkek(c, v);
			have_dkek = true;
		} else if (key_is(k, "pin")) {
			rc = parse_pin(c, v);
		} else if (key_is(k, "keys")) {
			rc = parse_keys(c, v);
		} else if (key_is(k, "verify")) {
			rc = parse_verify(c, v);
		} else {
			rc = bad(c, k, "unknown key '%s': the top-level keys are format, "
				 "name, description, cards, dkek, pin, keys, verify",
				 YSHOWN(k));
		}
		if (rc != HV_OK)
			return rc;
	}
	if (!have_name)
		return bad(c, root, "name is missing: add 'name: NAME' (letters, "
			   "digits, '.', '_', '-'), e.g. 'name: ca-root'");
	if (!have_cards)
		return bad(c, root, "cards is missing: add 'cards:' with 'count: N', "
			   "the number of cards in the set");
	if (!have_dkek)
		return bad(c, root, "dkek is missing: add 'dkek:' with 'shares:', "
			   "the DKEK shares and who keeps each one");
	return HV_OK;
}

int policy_parse(const char *display_name, const uint8_t *text, size_t len,
		 policy *out, hv_err *err)
{
	memset(out, 0, sizeof(*out));
	if (len > POLICY_MAX_BYTES)
		return hv_fail(err, HV_EUSAGE, "%s:1:1: the file is %zu bytes, more "
			       "than the %d a policy may have: is it the right file?",
			       display_name, len, POLICY_MAX_BYTES);
	ynode *root = NULL;
	int rc = ytree_parse(display_name, text, len, POLICY_MAX_DEPTH, &root, err);
	if (rc != HV_OK)
		return rc;
	if (!root)
		return hv_fail(err, HV_EUSAGE, "%s:1:1: the file holds no policy "
			       "(it is empty or only comments): a policy starts with "
			       "'format: %s'", display_name, POLICY_FORMAT);

	pctx *c = calloc(1, sizeof(*c));
	if (!c) {
		ytree_free(root);
		return hv_fail(err, HV_ENOMEM, "out of memory parsing %s", display_name);
	}
	c->file = display_name;
	c->err = err;
	c->p = out;
	out->retry_counter = 3;
	out->unattested = UNATTESTED_REFUSE;
	out->so_pin = SO_PIN_HOLDERS;
	out->keys_backup = KEYS_BACKUP_ALL;
	out->max_age_days = 90;
	rc = parse_root(c, root);
	free(c);
	ytree_free(root);

	if (rc == HV_OK) {
		unsigned int md_len = 0;
		if (!EVP_Digest(text, len, out->sha256, &md_len, EVP_sha256(), NULL) ||
		    md_len != sizeof(out->sha256))
			rc = hv_fail(err, HV_EINTERNAL, "sha256 of %s failed",
				     display_name);
	}
	if (rc != HV_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

int policy_load(const char *path, policy *out, hv_err *err)
{
	memset(out, 0, sizeof(*out));
	/* Only to word the size limit like every other policy error; the read
	 * below re-checks everything on the opened file itself. */
	struct stat st;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (unsigned long long)st.st_size > POLICY_MAX_BYTES)
		return hv_fail(err, HV_EUSAGE, "%s:1:1: the file is %lld bytes, more "
			       "than the %d a policy may have: is it the right file?",
			       path, (long long)st.st_size, POLICY_MAX_BYTES);
	uint8_t *data = NULL;
	size_t len = 0;
	/* named by the operator: a link or a pipe (<(...)) is fine */
	int rc = input_file_read(path, "policy", POLICY_MAX_BYTES, &data, &len, err);
	if (rc != HV_OK)
		return rc;
	rc = policy_parse(path, data, len, out, err);
	free(data);
	return rc;
}
