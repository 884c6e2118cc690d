/* Manifest -> YAML through libyaml's emitter. Determinism comes from a
 * fixed key order, fixed styles (strings always double-quoted, so no
 * reader can mistake "null", "1e5" or "yes" for another type) and no
 * line folding. */
#include "vault/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/buf.h"
#include "vault/manifest_check.h"

struct emit {
	yaml_emitter_t e;
	bytebuf out;
	int failed;
};

static int write_out(void *data, unsigned char *buffer, size_t size)
{
	bytebuf *b = data;
	buf_put(b, buffer, size);
	return !b->failed;
}

/* libyaml's emit takes ownership of the event, success or not. */
static void emit(struct emit *x, yaml_event_t *ev, int made)
{
	if (!made) {
		x->failed = 1;
		return;
	}
	if (x->failed) {
		yaml_event_delete(ev);
		return;
	}
	if (!yaml_emitter_emit(&x->e, ev))
		x->failed = 1;
}

static void plain(struct emit *x, const char *s)
{
	yaml_event_t ev;
	int ok = yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s),
					      1, 0, YAML_PLAIN_SCALAR_STYLE);
	emit(x, &ev, ok);
}

static void quoted(struct emit *x, const char *s)
{
	yaml_event_t ev;
	int ok = yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s),
					      0, 1, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
	emit(x, &ev, ok);
}

static void str(struct emit *x, const char *key, const char *v)
{
	plain(x, key);
	if (v)
		quoted(x, v);
	else
		plain(x, "null");
}

static void num(struct emit *x, const char *key, unsigned long v)
{
	char b[32];
	snprintf(b, sizeof(b), "%lu", v);
	plain(x, key);
	plain(x, b);
}

static void map_begin(struct emit *x, const char *key)
{
	if (key)
		plain(x, key);
	yaml_event_t ev;
	emit(x, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							 YAML_BLOCK_MAPPING_STYLE));
}

static void map_end(struct emit *x)
{
	yaml_event_t ev;
	emit(x, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void seq_begin(struct emit *x, const char *key, int flow)
{
	plain(x, key);
	yaml_event_t ev;
	emit(x, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
		flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE));
}

static void seq_end(struct emit *x)
{
	yaml_event_t ev;
	emit(x, &ev, yaml_sequence_end_event_initialize(&ev));
}

static void strlist(struct emit *x, const char *key, const manifest_strlist *l)
{
	seq_begin(x, key, 1);
	for (size_t i = 0; i < l->count; i++)
		quoted(x, l->items[i]);
	seq_end(x);
}

static void body(struct emit *x, const manifest *m)
{
	map_begin(x, NULL);
	str(x, "format", MANIFEST_FORMAT);
	num(x, "version", m->version);
	if (m->version > 1)
		str(x, "previous", m->previous);
	str(x, "time", m->time);
	str(x, "tool_version", m->tool_version);
	str(x, "change", m->change);

	map_begin(x, "policy");
	str(x, "name", m->policy_name);
	str(x, "sha256", m->policy_sha256);
	map_end(x);

	map_begin(x, "dkek");
	num(x, "share_count", m->share_count);
	str(x, "kcv", m->dkek_kcv);
	seq_begin(x, "shares", 0);
	for (size_t i = 0; i < m->share_n; i++) {
		const manifest_share *s = &m->shares[i];
		map_begin(x, NULL);
		num(x, "index", s->index);
		str(x, "file", s->file);
		str(x, "sha256", s->sha256);
		str(x, "check", s->check);
		str(x, "scheme", s->scheme);
		strlist(x, "holders", &s->holders);
		num(x, "threshold", s->threshold);
		map_end(x);
	}
	seq_end(x);
	map_end(x);

	seq_begin(x, "cards", 0);
	for (size_t i = 0; i < m->card_n; i++) {
		const manifest_card *c = &m->cards[i];
		map_begin(x, NULL);
		str(x, "id", c->id);
		str(x, "serial", c->serial);
		str(x, "role", c->role);
		str(x, "firmware", c->firmware);
		str(x, "kcv", c->kcv);
		strlist(x, "keys", &c->keys);
		str(x, "last_verified", c->last_verified);
		/* Only when known, so that a version written before device
		 * chains were checked still reads back to the same bytes. */
		if (c->devcert)
			str(x, "devcert", c->devcert);
		if (c->attestation)
			str(x, "attestation", c->attestation);
		map_end(x);
	}
	seq_end(x);

	seq_begin(x, "keys", 0);
	for (size_t i = 0; i < m->key_n; i++) {
		const manifest_key *k = &m->keys[i];
		map_begin(x, NULL);
		str(x, "id", k->id);
		str(x, "label", k->label);
		num(x, "key_ref", k->key_ref);
		str(x, "algorithm", k->algorithm);
		str(x, "public_key", k->public_key);
		str(x, "public_key_sha256", k->public_key_sha256);
		str(x, "kcv", k->kcv);
		str(x, "file", k->file);
		str(x, "sha256", k->sha256);
		str(x, "source_card", k->source_card);
		str(x, "time", k->time);
		map_end(x);
	}
	seq_end(x);

	seq_begin(x, "verifications", 0);
	for (size_t i = 0; i < m->verification_n; i++) {
		const manifest_verification *v = &m->verifications[i];
		map_begin(x, NULL);
		str(x, "time", v->time);
		str(x, "card", v->card);
		str(x, "kind", v->kind);
		str(x, "result", v->result);
		str(x, "detail", v->detail);
		map_end(x);
	}
	seq_end(x);
	map_end(x);
}

int manifest_emit(const manifest *m, char **out, size_t *len, hv_err *err)
{
	*out = NULL;
	*len = 0;
	int rc = manifest_validate(m, "new manifest version", err);
	if (rc != HV_OK) {
		/* The caller built an invalid version: a bug, not bad input.
		 * Keep the validator's message, which names the field. */
		hv_err_prefix(err, "refusing to write an invalid manifest");
		if (err)
			err->code = HV_EINTERNAL;
		return HV_EINTERNAL;
	}

	struct emit x;
	memset(&x, 0, sizeof(x));
	if (!yaml_emitter_initialize(&x.e))
		return hv_fail(err, HV_ENOMEM, "out of memory for the YAML writer");
	yaml_emitter_set_output(&x.e, write_out, &x.out);
	yaml_emitter_set_unicode(&x.e, 1);
	yaml_emitter_set_width(&x.e, -1);
	yaml_emitter_set_indent(&x.e, 2);
	yaml_emitter_set_break(&x.e, YAML_LN_BREAK);

	yaml_event_t ev;
	emit(&x, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	emit(&x, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	body(&x, m);
	emit(&x, &ev, yaml_document_end_event_initialize(&ev, 1));
	emit(&x, &ev, yaml_stream_end_event_initialize(&ev));
	if (!x.failed && !yaml_emitter_flush(&x.e))
		x.failed = 1;
	const char *problem = x.e.problem;
	yaml_emitter_delete(&x.e);
	if (x.failed || x.out.failed) {
		buf_free(&x.out);
		/* The emitter refuses text that is not valid UTF-8. */
		return hv_fail(err, HV_EUSAGE, "cannot write the manifest as YAML: %s",
			       problem ? problem : "out of memory");
	}
	char *s = malloc(x.out.len + 1);
	if (!s) {
		buf_free(&x.out);
		return hv_fail(err, HV_ENOMEM, "out of memory writing the manifest");
	}
	memcpy(s, x.out.data, x.out.len);
	s[x.out.len] = '\0';
	*out = s;
	*len = x.out.len;
	buf_free(&x.out);
	return HV_OK;
}
