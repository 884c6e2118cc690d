/* The verification journal (journal.h): entries written deterministically
 * (fixed key order, every string double-quoted), read back through
 * libyaml's event parser against a fixed shape: a mapping of scalars and
 * one list of card mappings. Nothing else is accepted. */
#include "vault/journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/buf.h"
#include "vault/limits.h"
#include "vault/manifest.h"
#include "vault/manifest_check.h"
#include "vault/vault.h"

#define RESTORE_HINT "the vault was edited or damaged; restore it from another stick"

void journal_entry_path(unsigned long n, char *out, size_t outsz)
{
	snprintf(out, outsz, JOURNAL_DIR "/%06lu.yaml", n);
}

void journal_entry_free(journal_entry *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->card_n; i++) {
		free(e->cards[i].id);
		free(e->cards[i].result);
		free(e->cards[i].detail);
	}
	free(e->cards);
	free(e->tool_version);
	free(e);
}

int journal_add_card(journal_entry *e, const journal_card *c)
{
	/* A run checks at most a set's cards: growing by one is fine here,
	 * but keep to the geometric rule of the manifest all the same. */
	size_t n = e->card_n;
	if (n == 0 || (n & (n - 1)) == 0) {
		journal_card *a = realloc(e->cards, (n ? 2 * n : 1) * sizeof(*a));
		if (!a)
			return HV_ENOMEM;
		e->cards = a;
	}
	journal_card *d = &e->cards[n];
	memset(d, 0, sizeof(*d));
	d->id = c->id ? strdup(c->id) : NULL;
	d->result = c->result ? strdup(c->result) : NULL;
	d->detail = c->detail ? strdup(c->detail) : NULL;
	e->card_n++;
	if ((c->id && !d->id) || (c->result && !d->result) || (c->detail && !d->detail))
		return HV_ENOMEM;
	return HV_OK;
}

/* One line of text: no control characters, 1..max bytes. */
static int is_line(const char *s, size_t max)
{
	if (!s || !*s || strlen(s) > max)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int one_of(const char *s, const char *a, const char *b)
{
	return s && (!strcmp(s, a) || !strcmp(s, b));
}

#define BAD(...) hv_fail(err, HV_EINTEGRITY, __VA_ARGS__)

static int validate(const journal_entry *e, const char *name, hv_err *err)
{
	if (e->entry < 1 || e->entry > JOURNAL_MAX_ENTRY)
		return BAD("%s: entry %lu is outside 1..%lu", name, e->entry, JOURNAL_MAX_ENTRY);
	if (e->entry == 1 ? e->previous[0] != '\0' : !manifest_is_sha256(e->previous))
		return BAD("%s: previous must be the sha256 of entry %lu (absent in entry 1)", name,
			   e->entry - 1);
	if (!manifest_is_time(e->time))
		return BAD("%s: time must be a UTC time like 2026-11-28T04:07:09Z", name);
	if (!is_line(e->tool_version, 64))
		return BAD("%s: tool_version must be a version on one line", name);
	if (e->manifest_version < 1 || e->manifest_version > MANIFEST_MAX_VERSION)
		return BAD("%s: manifest_version must be a manifest version number", name);
	if (!manifest_is_sha256(e->manifest_sha256))
		return BAD("%s: manifest_sha256 must be 64 lowercase hex digits", name);
	if (!one_of(e->kind, "quick", "deep"))
		return BAD("%s: kind must be \"quick\" or \"deep\"", name);
	if (!one_of(e->result, "ok", "mismatch"))
		return BAD("%s: result must be \"ok\" or \"mismatch\"", name);
	if (!strcmp(e->result, "ok") != (e->differences == 0))
		return BAD("%s: result is \"ok\" exactly when differences is 0", name);
	if (e->card_n > VAULT_LIMIT_CARDS)
		return BAD("%s: %zu cards, more than the %u of a set", name, e->card_n,
			   VAULT_LIMIT_CARDS);
	for (size_t i = 0; i < e->card_n; i++) {
		const journal_card *c = &e->cards[i];
		if (!is_line(c->id, 200))
			return BAD("%s: cards[%zu].id must be a card id on one line", name, i);
		if (!one_of(c->result, "ok", "mismatch"))
			return BAD("%s: cards[%zu].result must be \"ok\" or \"mismatch\"", name, i);
		if (c->detail && !is_line(c->detail, 1000))
			return BAD("%s: cards[%zu].detail must be one line or null", name, i);
	}
	return HV_OK;
}

/* --- writing --- */

static void put_str(bytebuf *b, const char *s)
{
	if (!s) {
		buf_put(b, "null", 4);
		return;
	}
	buf_put(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			buf_put(b, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			buf_put(b, esc, 4);
		} else {
			buf_put(b, p, 1);
		}
	}
	buf_put(b, "\"", 1);
}

static void put_line(bytebuf *b, const char *indent, const char *key, const char *s)
{
	buf_put(b, indent, strlen(indent));
	buf_put(b, key, strlen(key));
	buf_put(b, ": ", 2);
	put_str(b, s);
	buf_put(b, "\n", 1);
}

static void put_num(bytebuf *b, const char *key, unsigned long v)
{
	char line[80];
	int n = snprintf(line, sizeof(line), "%s: %lu\n", key, v);
	buf_put(b, line, (size_t)n);
}

int journal_emit(const journal_entry *e, char **out, size_t *len, hv_err *err)
{
	*out = NULL;
	*len = 0;
	int rc = validate(e, "new journal entry", err);
	if (rc != HV_OK) {
		hv_err_prefix(err, "refusing to write an invalid journal entry");
		if (err)
			err->code = HV_EINTERNAL;
		return HV_EINTERNAL;
	}
	bytebuf b;
	memset(&b, 0, sizeof(b));
	put_line(&b, "", "format", JOURNAL_FORMAT);
	put_num(&b, "entry", e->entry);
	if (e->entry > 1)
		put_line(&b, "", "previous", e->previous);
	put_line(&b, "", "time", e->time);
	put_line(&b, "", "tool_version", e->tool_version);
	put_num(&b, "manifest_version", e->manifest_version);
	put_line(&b, "", "manifest_sha256", e->manifest_sha256);
	put_line(&b, "", "kind", e->kind);
	put_line(&b, "", "result", e->result);
	put_num(&b, "differences", e->differences);
	buf_put(&b, e->card_n ? "cards:\n" : "cards: []\n", e->card_n ? 7 : 10);
	for (size_t i = 0; i < e->card_n; i++) {
		put_line(&b, "- ", "id", e->cards[i].id);
		put_line(&b, "  ", "result", e->cards[i].result);
		put_line(&b, "  ", "detail", e->cards[i].detail);
	}
	if (b.failed || b.len > VAULT_LIMIT_JOURNAL_BYTES) {
		buf_free(&b);
		return hv_fail(err, HV_ENOMEM, "out of memory writing a journal entry");
	}
	char *s = malloc(b.len + 1);
	if (!s) {
		buf_free(&b);
		return hv_fail(err, HV_ENOMEM, "out of memory writing a journal entry");
	}
	memcpy(s, b.data, b.len);
	s[b.len] = '\0';
	*out = s;
	*len = b.len;
	buf_free(&b);
	return HV_OK;
}

/* --- reading --- */

struct reader {
	yaml_parser_t p;
	const char *name;
	hv_err *err;
};

static int next(struct reader *r, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&r->p, ev))
		return hv_fail(r->err, HV_EINTEGRITY, "%s:%lu:%lu: not valid YAML: %s", r->name,
			       (unsigned long)r->p.problem_mark.line + 1,
			       (unsigned long)r->p.problem_mark.column + 1,
			       r->p.problem ? r->p.problem : "parse error");
	int fancy = ev->type == YAML_ALIAS_EVENT ||
		    (ev->type == YAML_SCALAR_EVENT &&
		     (ev->data.scalar.anchor || ev->data.scalar.tag)) ||
		    (ev->type == YAML_SEQUENCE_START_EVENT &&
		     (ev->data.sequence_start.anchor || ev->data.sequence_start.tag)) ||
		    (ev->type == YAML_MAPPING_START_EVENT &&
		     (ev->data.mapping_start.anchor || ev->data.mapping_start.tag));
	if (fancy) {
		unsigned long l = ev->start_mark.line + 1;
		yaml_event_delete(ev);
		return hv_fail(r->err, HV_EINTEGRITY, "%s:%lu: YAML anchors, aliases and tags are "
			       "not allowed in a journal entry", r->name, l);
	}
	return HV_OK;
}

/* The next event, which must be of type t. */
static int expect(struct reader *r, yaml_event_type_t t, const char *what)
{
	yaml_event_t ev;
	int rc = next(r, &ev);
	if (rc != HV_OK)
		return rc;
	unsigned long l = ev.start_mark.line + 1;
	int ok = ev.type == t;
	yaml_event_delete(&ev);
	return ok ? HV_OK : hv_fail(r->err, HV_EINTEGRITY, "%s:%lu: %s expected", r->name, l, what);
}

/* A scalar value: NULL for null, else a malloc'd copy (NUL bytes refused). */
static int scalar(struct reader *r, yaml_event_t *ev, const char *key, char **out)
{
	*out = NULL;
	unsigned long l = ev->start_mark.line + 1;
	if (ev->type != YAML_SCALAR_EVENT)
		return hv_fail(r->err, HV_EINTEGRITY, "%s:%lu: %s must be a single value", r->name, l,
			       key);
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (n == 0 || !strcmp(s, "null") || !strcmp(s, "~")))
		return HV_OK;
	if (memchr(s, '\0', n))
		return hv_fail(r->err, HV_EINTEGRITY, "%s:%lu: %s holds a NUL character", r->name, l,
			       key);
	if (!(*out = strdup(s)))
		return hv_fail(r->err, HV_ENOMEM, "out of memory reading %s", r->name);
	return HV_OK;
}

static int copy_fixed(struct reader *r, unsigned long line, const char *key, const char *v,
		      char *dst, size_t dstsz)
{
	if (!v || strlen(v) >= dstsz)
		return hv_fail(r->err, HV_EINTEGRITY, "%s:%lu: %s has the wrong form", r->name, line,
			       key);
	memcpy(dst, v, strlen(v) + 1);
	return HV_OK;
}

static int number(struct reader *r, unsigned long line, const char *key, const char *v,
		  unsigned long *dst)
{
	size_t n = v ? strlen(v) : 0;
	if (n == 0 || n > 9 || strspn(v, "0123456789") != n)
		return hv_fail(r->err, HV_EINTEGRITY, "%s:%lu: %s must be a whole number", r->name,
			       line, key);
	*dst = strtoul(v, NULL, 10);
	return HV_OK;
}

static int read_cards(struct reader *r, journal_entry *e)
{
	int rc;
	for (;;) {
		yaml_event_t ev;
		if ((rc = next(r, &ev)) != HV_OK)
			return rc;
		yaml_event_type_t t = ev.type;
		unsigned long l = ev.start_mark.line + 1;
		yaml_event_delete(&ev);
		if (t == YAML_SEQUENCE_END_EVENT)
			return HV_OK;
		if (t != YAML_MAPPING_START_EVENT)
			return hv_fail(r->err, HV_EINTEGRITY, "%s:%lu: each of cards is a mapping",
				       r->name, l);
		if (e->card_n >= VAULT_LIMIT_CARDS)
			return hv_fail(r->err, HV_EINTEGRITY, "%s:%lu: more cards than a set has",
				       r->name, l);
		journal_card c = { 0 };
		unsigned seen = 0;
		for (rc = HV_OK; rc == HV_OK;) {
			yaml_event_t k, v;
			if ((rc = next(r, &k)) != HV_OK)
				break;
			if (k.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&k);
				break;
			}
			char *key = NULL, *val = NULL;
			rc = scalar(r, &k, "a key", &key);
			l = k.start_mark.line + 1;
			yaml_event_delete(&k);
			if (rc == HV_OK && !key)
				rc = hv_fail(r->err, HV_EINTEGRITY, "%s:%lu: a key is null", r->name, l);
			if (rc == HV_OK && (rc = next(r, &v)) == HV_OK) {
				rc = scalar(r, &v, key, &val);
				yaml_event_delete(&v);
			}
			static const char *const names[] = { "id", "result", "detail" };
			char **slot[] = { &c.id, &c.result, &c.detail };
			size_t i = 0;
			while (rc == HV_OK && i < 3 && strcmp(key, names[i]))
				i++;
			if (rc == HV_OK && (i == 3 || (seen & (1u << i))))
				rc = hv_fail(r->err, HV_EINTEGRITY, "%s:%lu: %s key \"%.40s\" in a card",
					     r->name, l, i == 3 ? "unknown" : "repeated", key);
			if (rc == HV_OK) {
				seen |= 1u << i;
				*slot[i] = val;
				val = NULL;
			}
			free(key);
			free(val);
		}
		if (rc == HV_OK && (seen & 3) != 3)
			rc = hv_fail(r->err, HV_EINTEGRITY, "%s:%lu: a card needs id and result",
				     r->name, l);
		if (rc == HV_OK)
			rc = journal_add_card(e, &c) == HV_OK
				     ? HV_OK
				     : hv_fail(r->err, HV_ENOMEM, "out of memory reading %s", r->name);
		free(c.id);
		free(c.result);
		free(c.detail);
		if (rc != HV_OK)
			return rc;
	}
}

enum { K_FORMAT, K_ENTRY, K_PREVIOUS, K_TIME, K_TOOL, K_MVERSION, K_MSHA, K_KIND, K_RESULT,
       K_DIFFS, K_CARDS, K_COUNT };
static const char *const top_keys[K_COUNT] = {
	"format", "entry", "previous", "time", "tool_version", "manifest_version",
	"manifest_sha256", "kind", "result", "differences", "cards",
};

static int set_field(struct reader *r, journal_entry *e, int k, unsigned long l, char *v)
{
	switch (k) {
	case K_FORMAT:
		if (!v || strcmp(v, JOURNAL_FORMAT))
			return hv_fail(r->err, HV_EINTEGRITY, "%s:%lu: format must be \"" JOURNAL_FORMAT
				       "\" (a newer hsmvault may read other formats)", r->name, l);
		return HV_OK;
	case K_ENTRY: return number(r, l, "entry", v, &e->entry);
	case K_PREVIOUS: return copy_fixed(r, l, "previous", v, e->previous, sizeof(e->previous));
	case K_TIME: return copy_fixed(r, l, "time", v, e->time, sizeof(e->time));
	case K_TOOL:
		free(e->tool_version);
		e->tool_version = v ? strdup(v) : NULL;
		return HV_OK;
	case K_MVERSION: return number(r, l, "manifest_version", v, &e->manifest_version);
	case K_MSHA:
		return copy_fixed(r, l, "manifest_sha256", v, e->manifest_sha256,
				  sizeof(e->manifest_sha256));
	case K_KIND: return copy_fixed(r, l, "kind", v, e->kind, sizeof(e->kind));
	case K_RESULT: return copy_fixed(r, l, "result", v, e->result, sizeof(e->result));
	case K_DIFFS: return number(r, l, "differences", v, &e->differences);
	default: return HV_EINTERNAL;
	}
}

static int read_top(struct reader *r, journal_entry *e)
{
	int rc;
	unsigned seen = 0;
	for (;;) {
		yaml_event_t k, v;
		if ((rc = next(r, &k)) != HV_OK)
			return rc;
		if (k.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&k);
			break;
		}
		char *key = NULL;
		unsigned long l = k.start_mark.line + 1;
		rc = scalar(r, &k, "a key", &key);
		yaml_event_delete(&k);
		if (rc != HV_OK)
			return rc;
		int i = 0;
		while (key && i < K_COUNT && strcmp(key, top_keys[i]))
			i++;
		if (!key || i == K_COUNT || (seen & (1u << i))) {
			rc = hv_fail(r->err, HV_EINTEGRITY, "%s:%lu: %s key \"%.40s\"", r->name, l,
				     key && i < K_COUNT ? "repeated" : "unknown", key ? key : "null");
			free(key);
			return rc;
		}
		free(key);
		seen |= 1u << i;
		if ((rc = next(r, &v)) != HV_OK)
			return rc;
		if (i == K_CARDS) {
			int seq = v.type == YAML_SEQUENCE_START_EVENT;
			yaml_event_delete(&v);
			if (!seq)
				return hv_fail(r->err, HV_EINTEGRITY, "%s:%lu: cards must be a list",
					       r->name, l);
			if ((rc = read_cards(r, e)) != HV_OK)
				return rc;
			continue;
		}
		char *val = NULL;
		rc = scalar(r, &v, top_keys[i], &val);
		yaml_event_delete(&v);
		if (rc == HV_OK)
			rc = set_field(r, e, i, l, val);
		free(val);
		if (rc != HV_OK)
			return rc;
	}
	for (int i = 0; i < K_COUNT; i++)
		if (i != K_PREVIOUS && !(seen & (1u << i)))
			return hv_fail(r->err, HV_EINTEGRITY, "%s lacks the key \"%s\"", r->name,
				       top_keys[i]);
	return HV_OK;
}

int journal_parse(const uint8_t *data, size_t len, const char *name, journal_entry **out,
		  hv_err *err)
{
	*out = NULL;
	if (len > VAULT_LIMIT_JOURNAL_BYTES)
		return BAD("%s is %zu bytes, more than a journal entry may have", name, len);
	struct reader r = { .name = name, .err = err };
	if (!yaml_parser_initialize(&r.p))
		return hv_fail(err, HV_ENOMEM, "out of memory for the YAML reader");
	yaml_parser_set_input_string(&r.p, data, len);
	yaml_parser_set_encoding(&r.p, YAML_UTF8_ENCODING);
	journal_entry *e = calloc(1, sizeof(*e));
	int rc = e ? HV_OK : hv_fail(err, HV_ENOMEM, "out of memory reading %s", name);
	if (rc == HV_OK && (rc = expect(&r, YAML_STREAM_START_EVENT, "a YAML stream")) == HV_OK &&
	    (rc = expect(&r, YAML_DOCUMENT_START_EVENT, "a YAML document")) == HV_OK &&
	    (rc = expect(&r, YAML_MAPPING_START_EVENT, "a mapping")) == HV_OK &&
	    (rc = read_top(&r, e)) == HV_OK &&
	    (rc = expect(&r, YAML_DOCUMENT_END_EVENT, "the end of the document")) == HV_OK &&
	    (rc = expect(&r, YAML_STREAM_END_EVENT, "one document only")) == HV_OK)
		rc = validate(e, name, err);
	yaml_parser_delete(&r.p);
	if (rc == HV_EINTEGRITY && err && !strstr(err->msg, RESTORE_HINT)) {
		/* what was wrong in the entry, then what to do about it */
		char why[HV_ERR_MSG_MAX];
		memcpy(why, err->msg, sizeof(why));
		hv_fail(err, rc, "%s: " RESTORE_HINT, why);
	}
	if (rc != HV_OK) {
		journal_entry_free(e);
		return rc;
	}
	*out = e;
	return HV_OK;
}

/* --- the chain of entries --- */

/* 1 with *n for "NNNNNN.yaml", 0 for a leftover ".name.pid.tmp", -1 else. */
static int entry_of(const char *name, unsigned long *n)
{
	size_t len = strlen(name);
	if (name[0] == '.' && len > 4 && !strcmp(name + len - 4, ".tmp"))
		return 0;
	if (len != 11 || strcmp(name + 6, ".yaml") != 0 || strspn(name, "0123456789") != 6)
		return -1;
	*n = strtoul(name, NULL, 10);
	return 1;
}

/* The number of entries, after checking the names run 1..count. */
static int count_entries(vfs *v, size_t *count, hv_err *err)
{
	char **names;
	size_t n;
	*count = 0;
	int rc = vfs_list(v, JOURNAL_DIR, &names, &n, err);
	if (rc != HV_OK)
		return rc;
	size_t k = 0;
	for (size_t i = 0; i < n && rc == HV_OK; i++) {
		unsigned long num;
		int r = entry_of(names[i], &num);
		if (r == 0)
			continue;
		if (r < 0)
			rc = BAD(JOURNAL_DIR "/%.200s is not a journal entry (NNNNNN.yaml): "
				 RESTORE_HINT, names[i]);
		else if (num != ++k)
			rc = BAD(JOURNAL_DIR "/%06zu.yaml is missing (the entries jump to %06lu): "
				 RESTORE_HINT, k, num);
	}
	vfs_names_free(names, n);
	if (rc == HV_OK)
		*count = k;
	return rc;
}

static int read_entry(vfs *v, unsigned long n, journal_entry **e, char sha[65], hv_err *err)
{
	char path[64];
	journal_entry_path(n, path, sizeof(path));
	uint8_t *data;
	size_t len;
	int rc = vfs_read(v, path, VAULT_LIMIT_JOURNAL_BYTES, &data, &len, err);
	if (rc != HV_OK)
		return rc;
	manifest_sha256_hex(data, len, sha);
	rc = journal_parse(data, len, path, e, err);
	free(data);
	if (rc == HV_OK && (*e)->entry != n) {
		rc = BAD("%s says it is entry %lu: entries were renamed or swapped; " RESTORE_HINT,
			 path, (*e)->entry);
		journal_entry_free(*e);
		*e = NULL;
	}
	return rc;
}

int journal_walk(vfs *v, journal_visit_fn fn, void *ctx, size_t *count, journal_entry **last,
		 hv_err *err)
{
	if (count)
		*count = 0;
	if (last)
		*last = NULL;
	size_t n;
	int rc = count_entries(v, &n, err);
	char prev[65] = "";
	journal_entry *keep = NULL;
	for (size_t i = 1; rc == HV_OK && i <= n; i++) {
		journal_entry *e;
		char sha[65];
		if ((rc = read_entry(v, i, &e, sha, err)) != HV_OK)
			break;
		if (i > 1 && strcmp(e->previous, prev) != 0) {
			char path[64];
			journal_entry_path(i, path, sizeof(path));
			rc = BAD("%s: previous hash does not match " JOURNAL_DIR "/%06zu.yaml: "
				 RESTORE_HINT, path, i - 1);
		} else if (fn) {
			rc = fn(e, sha, ctx);
		}
		memcpy(prev, sha, sizeof(prev));
		if (rc == HV_OK && i == n && last)
			keep = e;
		else
			journal_entry_free(e);
	}
	if (rc == HV_OK) {
		if (count)
			*count = n;
		if (last)
			*last = keep;
	} else {
		journal_entry_free(keep);
	}
	return rc;
}

int journal_append(vfs *v, const journal_entry *e, time_t when, unsigned long *written,
		   hv_err *err)
{
	size_t n;
	int rc = count_entries(v, &n, err);
	if (rc != HV_OK)
		return rc;
	if (n >= JOURNAL_MAX_ENTRY)
		return hv_fail(err, HV_ESAFETY, "the journal has %zu entries, the most the format "
			       "allows: record with --no-record, or start a new vault", n);
	journal_entry next = *e;
	next.entry = n + 1;
	next.previous[0] = '\0';
	if (n > 0) {
		journal_entry *last;
		if ((rc = read_entry(v, n, &last, next.previous, err)) != HV_OK)
			return rc;
		journal_entry_free(last);
	}
	manifest_format_time(when, next.time);
	next.tool_version = HSMVAULT_VERSION;
	char *text;
	size_t len;
	if ((rc = journal_emit(&next, &text, &len, err)) != HV_OK)
		return rc;
	char path[64];
	journal_entry_path(n + 1, path, sizeof(path));
	/* Format 2 before the first entry: an older hsmvault refuses the vault
	 * instead of writing verification versions beside the journal. */
	if ((rc = vault_mark_format(v, err)) != HV_OK ||
	    (rc = vfs_mkdir(v, JOURNAL_DIR, err)) != HV_OK)
		goto out;
	int ex = vfs_exists(v, path, err);
	if (ex != 0) {
		rc = ex < 0 ? (err ? err->code : HV_EIO)
			    : BAD("%s already exists: journal entries are never rewritten (is "
				  "another hsmvault writing this vault?)", path);
		goto out;
	}
	if ((rc = vfs_write_atomic(v, path, text, len, err)) == HV_OK && written)
		*written = n + 1;
out:
	free(text);
	return rc;
}
