/* YAML -> manifest. libyaml's event parser builds a small tree first, so
 * that hostile input is refused before any of it is interpreted: no
 * aliases or anchors (no "billion laughs"), no tags, bounded depth and
 * node count, one document. The tree is then read against the schema,
 * each error naming file:line:column. */
#include "vault/manifest.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "vault/manifest_check.h"

#define MAX_DEPTH 8
#define MAX_NODES VAULT_LIMIT_MANIFEST_NODES /* vault/limits.h */

enum { Y_SCALAR, Y_MAP, Y_SEQ };

typedef struct ynode {
	int kind;
	char *s;                /* scalar text, NUL-terminated */
	int plain;              /* plain style: may stand for null or a number */
	unsigned long line, col;
	struct ynode **kids;    /* sequence items; map keys and values alternate */
	size_t n, cap;
} ynode;

/* Nodes and their text live in an arena of large chunks, freed at once:
 * a 10,000-key manifest has some 250,000 nodes, and a malloc and a free
 * for each node and each text were most of the time spent reading it. */
struct chunk {
	struct chunk *next;
	size_t used, size;
	_Alignas(max_align_t) char data[];
};

struct arena {
	struct chunk *head;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct chunk *c = a->head;
	if (!c || c->size - c->used < n) {
		size_t size = n > (1u << 20) ? n : (1u << 20);
		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->next = a->head;
		c->used = 0;
		c->size = size;
		a->head = c;
	}
	void *p = c->data + c->used;
	c->used += n;
	return p;
}

static void arena_free(struct arena *a)
{
	while (a->head) {
		struct chunk *n = a->head->next;
		free(a->head);
		a->head = n;
	}
}

struct ctx {
	const char *name;
	hv_err *err;
	size_t nodes;
	yaml_parser_t p;
	struct arena a;
};

/* Nodes and texts belong to the arena; only the child arrays are freed. */
static void ynode_free(ynode *y)
{
	if (!y)
		return;
	for (size_t i = 0; i < y->n; i++)
		ynode_free(y->kids[i]);
	free(y->kids);
}

static int at(struct ctx *c, unsigned long line, unsigned long col, const char *what)
{
	return hv_fail(c->err, HV_EINTEGRITY, "%s:%lu:%lu: %s", c->name, line, col, what);
}

static int next_event(struct ctx *c, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&c->p, ev))
		return hv_fail(c->err, HV_EINTEGRITY, "%s:%lu:%lu: not valid YAML: %s", c->name,
			       (unsigned long)c->p.problem_mark.line + 1,
			       (unsigned long)c->p.problem_mark.column + 1,
			       c->p.problem ? c->p.problem : "parse error");
	return HV_OK;
}

static int add_kid(ynode *y, ynode *k)
{
	if (y->n == y->cap) {
		size_t cap = y->cap ? 2 * y->cap : 8;
		ynode **n = realloc(y->kids, cap * sizeof(*n));
		if (!n)
			return -1;
		y->kids = n;
		y->cap = cap;
	}
	y->kids[y->n++] = k;
	return 0;
}

/* Builds the node that starts with ev (consumed here). */
static int build(struct ctx *c, yaml_event_t *ev, int depth, ynode **out)
{
	*out = NULL;
	unsigned long line = ev->start_mark.line + 1, col = ev->start_mark.column + 1;
	int rc = HV_OK;
	if (++c->nodes > MAX_NODES) {
		rc = at(c, line, col, "too many entries for a manifest: refused");
		goto done;
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		rc = at(c, line, col, "YAML aliases (*name) are not allowed in a manifest");
		goto done;
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor || ev->data.scalar.tag) {
			rc = at(c, line, col, "YAML anchors (&name) and tags (!tag) are not allowed "
				"in a manifest");
			goto done;
		}
		break;
	case YAML_SEQUENCE_START_EVENT:
		if (ev->data.sequence_start.anchor || ev->data.sequence_start.tag) {
			rc = at(c, line, col, "YAML anchors (&name) and tags (!tag) are not allowed "
				"in a manifest");
			goto done;
		}
		break;
	case YAML_MAPPING_START_EVENT:
		if (ev->data.mapping_start.anchor || ev->data.mapping_start.tag) {
			rc = at(c, line, col, "YAML anchors (&name) and tags (!tag) are not allowed "
				"in a manifest");
			goto done;
		}
		break;
	default:
		rc = at(c, line, col, "unexpected YAML structure");
		goto done;
	}
	if (depth > MAX_DEPTH) {
		rc = at(c, line, col, "nested too deeply for a manifest");
		goto done;
	}
	ynode *y = arena_alloc(&c->a, sizeof(*y));
	if (y)
		memset(y, 0, sizeof(*y));
	if (!y) {
		rc = hv_fail(c->err, HV_ENOMEM, "out of memory reading %s", c->name);
		goto done;
	}
	y->line = line;
	y->col = col;
	if (ev->type == YAML_SCALAR_EVENT) {
		y->kind = Y_SCALAR;
		size_t n = ev->data.scalar.length;
		if (memchr(ev->data.scalar.value, '\0', n)) {
			ynode_free(y);
			rc = at(c, line, col, "a value contains a NUL character");
			goto done;
		}
		y->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		y->s = arena_alloc(&c->a, n + 1);
		if (!y->s) {
			ynode_free(y);
			rc = hv_fail(c->err, HV_ENOMEM, "out of memory reading %s", c->name);
			goto done;
		}
		memcpy(y->s, ev->data.scalar.value, n);
		y->s[n] = '\0';
		*out = y;
		goto done;
	}
	y->kind = ev->type == YAML_MAPPING_START_EVENT ? Y_MAP : Y_SEQ;
	yaml_event_type_t end = y->kind == Y_MAP ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
	yaml_event_delete(ev);
	for (;;) {
		yaml_event_t kev;
		if ((rc = next_event(c, &kev)) != HV_OK) {
			ynode_free(y);
			return rc;
		}
		if (kev.type == end) {
			yaml_event_delete(&kev);
			break;
		}
		ynode *k;
		if ((rc = build(c, &kev, depth + 1, &k)) != HV_OK) {
			ynode_free(y);
			return rc;
		}
		if (add_kid(y, k) != 0) {
			ynode_free(k);
			ynode_free(y);
			return hv_fail(c->err, HV_ENOMEM, "out of memory reading %s", c->name);
		}
	}
	*out = y;
	return HV_OK;
done:
	yaml_event_delete(ev);
	return rc;
}

static int parse_tree(struct ctx *c, const uint8_t *data, size_t len, ynode **root)
{
	*root = NULL;
	yaml_event_t ev;
	int rc;
	/* stream start, document start */
	for (int i = 0; i < 2; i++) {
		if ((rc = next_event(c, &ev)) != HV_OK)
			return rc;
		yaml_event_type_t t = ev.type;
		yaml_event_delete(&ev);
		if (t == YAML_STREAM_END_EVENT)
			return hv_fail(c->err, HV_EINTEGRITY, "%s is empty", c->name);
		if (t != (i ? YAML_DOCUMENT_START_EVENT : YAML_STREAM_START_EVENT))
			return hv_fail(c->err, HV_EINTEGRITY, "%s: not a YAML document", c->name);
	}
	if ((rc = next_event(c, &ev)) != HV_OK)
		return rc;
	if ((rc = build(c, &ev, 0, root)) != HV_OK)
		return rc;
	if ((rc = next_event(c, &ev)) != HV_OK)
		goto fail;
	yaml_event_delete(&ev); /* document end */
	if ((rc = next_event(c, &ev)) != HV_OK)
		goto fail;
	if (ev.type != YAML_STREAM_END_EVENT) {
		unsigned long l = ev.start_mark.line + 1, co = ev.start_mark.column + 1;
		yaml_event_delete(&ev);
		rc = at(c, l, co, "a manifest is one YAML document; a second one starts here");
		goto fail;
	}
	yaml_event_delete(&ev);
	(void)data;
	(void)len;
	return HV_OK;
fail:
	ynode_free(*root);
	*root = NULL;
	return rc;
}

/* --- reading the tree against the schema --- */

static int is_null(const ynode *y)
{
	return y->kind == Y_SCALAR && y->plain &&
	       (!strcmp(y->s, "") || !strcmp(y->s, "~") || !strcmp(y->s, "null") ||
		!strcmp(y->s, "Null") || !strcmp(y->s, "NULL"));
}

static int bad(struct ctx *c, const ynode *y, const char *field, const char *must)
{
	char msg[300];
	snprintf(msg, sizeof(msg), "%s must be %s", field, must);
	return at(c, y->line, y->col, msg);
}

struct field {
	const char *name;
	int required;
	const ynode *val;
};

/* Matches a mapping's keys to the expected fields; unknown or repeated
 * keys are errors (a typo must not silently drop data). */
static int fields(struct ctx *c, const ynode *map, const char *where, struct field *f, size_t nf)
{
	if (map->kind != Y_MAP)
		return bad(c, map, where, "a mapping (key: value lines)");
	for (size_t i = 0; i < nf; i++)
		f[i].val = NULL;
	for (size_t i = 0; i + 1 < map->n; i += 2) {
		const ynode *k = map->kids[i];
		char msg[300];
		if (k->kind != Y_SCALAR)
			return at(c, k->line, k->col, "mapping keys must be plain words");
		size_t j;
		for (j = 0; j < nf; j++)
			if (!strcmp(f[j].name, k->s))
				break;
		if (j == nf) {
			snprintf(msg, sizeof(msg), "unknown key \"%.60s\" in %s", k->s, where);
			return at(c, k->line, k->col, msg);
		}
		if (f[j].val) {
			snprintf(msg, sizeof(msg), "key \"%s\" appears twice in %s", k->s, where);
			return at(c, k->line, k->col, msg);
		}
		f[j].val = map->kids[i + 1];
	}
	for (size_t i = 0; i < nf; i++)
		if (f[i].required && !f[i].val) {
			char msg[300];
			snprintf(msg, sizeof(msg), "%s lacks the key \"%s\"", where, f[i].name);
			return at(c, map->line, map->col, msg);
		}
	return HV_OK;
}

/* A string or (when nullable) null; an absent optional field is null. */
static int get_str(struct ctx *c, const ynode *y, const char *field, int nullable, char **dst)
{
	*dst = NULL;
	if (!y)
		return HV_OK;
	if (is_null(y)) {
		if (nullable)
			return HV_OK;
		return bad(c, y, field, "a string, not null");
	}
	if (y->kind != Y_SCALAR)
		return bad(c, y, field, "a string");
	if (!(*dst = strdup(y->s)))
		return hv_fail(c->err, HV_ENOMEM, "out of memory reading %s", c->name);
	return HV_OK;
}

static int get_num(struct ctx *c, const ynode *y, const char *field, unsigned long max,
		   unsigned long *dst)
{
	char must[80];
	snprintf(must, sizeof(must), "a whole number from 0 to %lu", max);
	if (!y || y->kind != Y_SCALAR || !y->plain || !y->s[0] || strlen(y->s) > 10)
		return bad(c, y, field, must);
	unsigned long v = 0;
	for (const char *p = y->s; *p; p++) {
		if (*p < '0' || *p > '9')
			return bad(c, y, field, must);
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > max)
		return bad(c, y, field, must);
	*dst = v;
	return HV_OK;
}

static int get_uint(struct ctx *c, const ynode *y, const char *field, unsigned *dst)
{
	unsigned long v;
	int rc = get_num(c, y, field, 65535, &v);
	if (rc == HV_OK)
		*dst = (unsigned)v;
	return rc;
}

static int get_list(struct ctx *c, const ynode *y, const char *field, manifest_strlist *l)
{
	if (!y || y->kind != Y_SEQ)
		return bad(c, y, field, "a list of strings ([\"a\", \"b\"])");
	for (size_t i = 0; i < y->n; i++) {
		const ynode *it = y->kids[i];
		if (it->kind != Y_SCALAR || is_null(it))
			return bad(c, it, field, "a list of strings ([\"a\", \"b\"])");
		if (manifest_strlist_add(l, it->s) != HV_OK)
			return hv_fail(c->err, HV_ENOMEM, "out of memory reading %s", c->name);
	}
	return HV_OK;
}

static int seq_of(struct ctx *c, const ynode *y, const char *field)
{
	if (y->kind != Y_SEQ)
		return bad(c, y, field, "a list");
	return HV_OK;
}

#define TRY(x) do { if ((rc = (x)) != HV_OK) return rc; } while (0)

static int read_share(struct ctx *c, const ynode *y, manifest *m)
{
	struct field f[] = { { "index", 1, 0 }, { "file", 1, 0 }, { "sha256", 1, 0 },
			     { "check", 0, 0 }, { "scheme", 1, 0 }, { "holders", 1, 0 },
			     { "threshold", 1, 0 } };
	int rc;
	TRY(fields(c, y, "a dkek share", f, sizeof(f) / sizeof(f[0])));
	manifest_share s0;
	memset(&s0, 0, sizeof(s0));
	manifest_share *s = manifest_add_share(m, &s0);
	if (!s)
		return hv_fail(c->err, HV_ENOMEM, "out of memory reading %s", c->name);
	TRY(get_uint(c, f[0].val, "index", &s->index));
	TRY(get_str(c, f[1].val, "file", 0, &s->file));
	TRY(get_str(c, f[2].val, "sha256", 0, &s->sha256));
	TRY(get_str(c, f[3].val, "check", 1, &s->check));
	TRY(get_str(c, f[4].val, "scheme", 0, &s->scheme));
	TRY(get_list(c, f[5].val, "holders", &s->holders));
	TRY(get_uint(c, f[6].val, "threshold", &s->threshold));
	return HV_OK;
}

static int read_card(struct ctx *c, const ynode *y, manifest *m)
{
	struct field f[] = { { "id", 1, 0 }, { "serial", 1, 0 }, { "role", 1, 0 },
			     { "firmware", 0, 0 }, { "kcv", 0, 0 }, { "keys", 1, 0 },
			     { "last_verified", 0, 0 }, { "devcert", 0, 0 },
			     { "attestation", 0, 0 } };
	int rc;
	TRY(fields(c, y, "a card", f, sizeof(f) / sizeof(f[0])));
	manifest_card c0;
	memset(&c0, 0, sizeof(c0));
	manifest_card *d = manifest_add_card(m, &c0);
	if (!d)
		return hv_fail(c->err, HV_ENOMEM, "out of memory reading %s", c->name);
	TRY(get_str(c, f[0].val, "id", 0, &d->id));
	TRY(get_str(c, f[1].val, "serial", 0, &d->serial));
	TRY(get_str(c, f[2].val, "role", 0, &d->role));
	TRY(get_str(c, f[3].val, "firmware", 1, &d->firmware));
	TRY(get_str(c, f[4].val, "kcv", 1, &d->kcv));
	TRY(get_list(c, f[5].val, "keys", &d->keys));
	TRY(get_str(c, f[6].val, "last_verified", 1, &d->last_verified));
	TRY(get_str(c, f[7].val, "devcert", 1, &d->devcert));
	TRY(get_str(c, f[8].val, "attestation", 1, &d->attestation));
	return HV_OK;
}

static int read_key(struct ctx *c, const ynode *y, manifest *m)
{
	struct field f[] = { { "id", 1, 0 }, { "label", 0, 0 }, { "key_ref", 1, 0 },
			     { "algorithm", 1, 0 }, { "public_key", 0, 0 },
			     { "public_key_sha256", 0, 0 }, { "kcv", 1, 0 }, { "file", 1, 0 },
			     { "sha256", 1, 0 }, { "source_card", 0, 0 }, { "time", 1, 0 } };
	int rc;
	TRY(fields(c, y, "a key", f, sizeof(f) / sizeof(f[0])));
	manifest_key k0;
	memset(&k0, 0, sizeof(k0));
	manifest_key *k = manifest_add_key(m, &k0);
	if (!k)
		return hv_fail(c->err, HV_ENOMEM, "out of memory reading %s", c->name);
	TRY(get_str(c, f[0].val, "id", 0, &k->id));
	TRY(get_str(c, f[1].val, "label", 1, &k->label));
	TRY(get_uint(c, f[2].val, "key_ref", &k->key_ref));
	TRY(get_str(c, f[3].val, "algorithm", 0, &k->algorithm));
	TRY(get_str(c, f[4].val, "public_key", 1, &k->public_key));
	TRY(get_str(c, f[5].val, "public_key_sha256", 1, &k->public_key_sha256));
	TRY(get_str(c, f[6].val, "kcv", 0, &k->kcv));
	TRY(get_str(c, f[7].val, "file", 0, &k->file));
	TRY(get_str(c, f[8].val, "sha256", 0, &k->sha256));
	TRY(get_str(c, f[9].val, "source_card", 1, &k->source_card));
	TRY(get_str(c, f[10].val, "time", 0, &k->time));
	return HV_OK;
}

static int read_verification(struct ctx *c, const ynode *y, manifest *m)
{
	struct field f[] = { { "time", 1, 0 }, { "card", 1, 0 }, { "kind", 1, 0 },
			     { "result", 1, 0 }, { "detail", 0, 0 } };
	int rc;
	TRY(fields(c, y, "a verification", f, sizeof(f) / sizeof(f[0])));
	manifest_verification v0;
	memset(&v0, 0, sizeof(v0));
	manifest_verification *v = manifest_add_verification(m, &v0);
	if (!v)
		return hv_fail(c->err, HV_ENOMEM, "out of memory reading %s", c->name);
	TRY(get_str(c, f[0].val, "time", 0, &v->time));
	TRY(get_str(c, f[1].val, "card", 0, &v->card));
	TRY(get_str(c, f[2].val, "kind", 0, &v->kind));
	TRY(get_str(c, f[3].val, "result", 0, &v->result));
	TRY(get_str(c, f[4].val, "detail", 1, &v->detail));
	return HV_OK;
}

static int read_root(struct ctx *c, const ynode *root, manifest *m)
{
	struct field f[] = { { "format", 1, 0 }, { "version", 1, 0 }, { "previous", 0, 0 },
			     { "time", 1, 0 }, { "tool_version", 1, 0 }, { "change", 1, 0 },
			     { "policy", 1, 0 }, { "dkek", 1, 0 }, { "cards", 1, 0 },
			     { "keys", 1, 0 }, { "verifications", 0, 0 } };
	int rc;
	TRY(fields(c, root, "the manifest", f, sizeof(f) / sizeof(f[0])));
	const ynode *fmt = f[0].val;
	if (fmt->kind != Y_SCALAR || strcmp(fmt->s, MANIFEST_FORMAT) != 0)
		return bad(c, fmt, "format", "\"" MANIFEST_FORMAT "\" (a newer hsmvault may read "
			   "other formats)");
	TRY(get_num(c, f[1].val, "version", MANIFEST_MAX_VERSION, &m->version));
	TRY(get_str(c, f[2].val, "previous", 1, &m->previous));
	TRY(get_str(c, f[3].val, "time", 0, &m->time));
	TRY(get_str(c, f[4].val, "tool_version", 0, &m->tool_version));
	TRY(get_str(c, f[5].val, "change", 0, &m->change));

	struct field p[] = { { "name", 0, 0 }, { "sha256", 0, 0 } };
	TRY(fields(c, f[6].val, "policy", p, 2));
	TRY(get_str(c, p[0].val, "policy.name", 1, &m->policy_name));
	TRY(get_str(c, p[1].val, "policy.sha256", 1, &m->policy_sha256));

	struct field d[] = { { "share_count", 1, 0 }, { "kcv", 0, 0 }, { "shares", 1, 0 } };
	TRY(fields(c, f[7].val, "dkek", d, 3));
	TRY(get_uint(c, d[0].val, "dkek.share_count", &m->share_count));
	TRY(get_str(c, d[1].val, "dkek.kcv", 1, &m->dkek_kcv));
	TRY(seq_of(c, d[2].val, "dkek.shares"));
	for (size_t i = 0; i < d[2].val->n; i++)
		TRY(read_share(c, d[2].val->kids[i], m));

	TRY(seq_of(c, f[8].val, "cards"));
	for (size_t i = 0; i < f[8].val->n; i++)
		TRY(read_card(c, f[8].val->kids[i], m));
	TRY(seq_of(c, f[9].val, "keys"));
	for (size_t i = 0; i < f[9].val->n; i++)
		TRY(read_key(c, f[9].val->kids[i], m));
	if (f[10].val && !is_null(f[10].val)) {
		TRY(seq_of(c, f[10].val, "verifications"));
		for (size_t i = 0; i < f[10].val->n; i++)
			TRY(read_verification(c, f[10].val->kids[i], m));
	}
	return HV_OK;
}

int manifest_parse(const uint8_t *data, size_t len, const char *name, manifest **out,
		   hv_err *err)
{
	*out = NULL;
	if (len > MANIFEST_MAX_BYTES)
		return hv_fail(err, HV_EINTEGRITY, "%s is %zu bytes, more than a manifest may have",
			       name, len);
	struct ctx c;
	memset(&c, 0, sizeof(c));
	c.name = name;
	c.err = err;
	if (!yaml_parser_initialize(&c.p))
		return hv_fail(err, HV_ENOMEM, "out of memory for the YAML reader");
	yaml_parser_set_input_string(&c.p, data, len);
	yaml_parser_set_encoding(&c.p, YAML_UTF8_ENCODING);
	ynode *root = NULL;
	int rc = parse_tree(&c, data, len, &root);
	yaml_parser_delete(&c.p);
	if (rc != HV_OK) {
		arena_free(&c.a);
		return rc;
	}
	manifest *m = manifest_new();
	if (!m) {
		ynode_free(root);
		arena_free(&c.a);
		return hv_fail(err, HV_ENOMEM, "out of memory reading %s", name);
	}
	rc = read_root(&c, root, m);
	ynode_free(root);
	arena_free(&c.a);
	if (rc == HV_OK)
		rc = manifest_validate(m, name, err);
	if (rc != HV_OK) {
		manifest_free(m);
		return rc;
	}
	*out = m;
	return HV_OK;
}
