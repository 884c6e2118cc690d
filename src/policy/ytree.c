#include "policy/ytree.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

typedef struct builder {
	const char *display;
	hv_err *err;
	unsigned max_depth;
	ynode **stack;     /* open collections, innermost last */
	size_t depth;
	ynode *root;
	unsigned documents;
} builder;

static int fail_at(const char *display, hv_err *err, unsigned line,
		   unsigned column, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail_at(const char *display, hv_err *err, unsigned line,
		   unsigned column, const char *fmt, ...)
{
	char what[HV_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return hv_fail(err, HV_EUSAGE, "%s:%u:%u: %s", display, line, column, what);
}

/* Decodes one UTF-8 sequence; returns its length, or 0 when it is not
 * well-formed (overlong forms and surrogates included). */
static size_t utf8_decode(const uint8_t *p, size_t left, uint32_t *cp)
{
	uint8_t c = p[0];
	size_t n;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		n = 2; v = c & 0x1F; min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		n = 3; v = c & 0x0F; min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		n = 4; v = c & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

/* YAML's printable set: what a text file may hold. */
static bool yaml_printable(uint32_t cp)
{
	return cp == 0x09 || cp == 0x0A || cp == 0x0D ||
	       (cp >= 0x20 && cp <= 0x7E) || cp == 0x85 ||
	       (cp >= 0xA0 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
	       (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Checks the bytes before libyaml sees them, so that a binary or
 * wrongly-encoded file gets a message naming the first bad byte where it
 * is, rather than wherever libyaml's read-ahead happens to notice it. */
static int check_text(const char *display, const uint8_t *text, size_t len,
		      hv_err *err)
{
	unsigned line = 1, column = 1;
	size_t i = 0;
	while (i < len) {
		uint32_t cp = 0;
		size_t n = utf8_decode(text + i, len - i, &cp);
		if (n == 0)
			return fail_at(display, err, line, column,
				"byte 0x%02X is not UTF-8 text: a policy is a plain "
				"UTF-8 text file; is this the right file?", text[i]);
		if (!yaml_printable(cp))
			return fail_at(display, err, line, column,
				"character U+%04X is not allowed in a YAML text file "
				"(a control character or binary data): is this the right file?",
				(unsigned)cp);
		if (cp == '\n' || (cp == '\r' && !(i + 1 < len && text[i + 1] == '\n'))) {
			line++;
			column = 1;
		} else if (cp != '\r') {
			column++;
		}
		i += n;
	}
	return HV_OK;
}

/* Line and column of a byte offset, counted like libyaml counts them. */
static void offset_position(const uint8_t *text, size_t len, size_t offset,
			    unsigned *line, unsigned *column)
{
	*line = 1;
	*column = 1;
	for (size_t i = 0; i < offset && i < len; i++) {
		if (text[i] == '\n' ||
		    (text[i] == '\r' && !(i + 1 < len && text[i + 1] == '\n'))) {
			(*line)++;
			*column = 1;
		} else if (text[i] != '\r' && (text[i] & 0xC0) != 0x80) {
			(*column)++;
		}
	}
}

static int syntax_error(const char *display, const yaml_parser_t *p,
			const uint8_t *text, size_t len, hv_err *err)
{
	unsigned line, column;
	if (p->error == YAML_MEMORY_ERROR)
		return hv_fail(err, HV_ENOMEM, "out of memory parsing %s", display);
	if (p->error == YAML_READER_ERROR) {
		offset_position(text, len, p->problem_offset, &line, &column);
		return fail_at(display, err, line, column,
			       "not readable as YAML text: %s",
			       p->problem ? p->problem : "unknown problem");
	}
	line = (unsigned)p->problem_mark.line + 1;
	column = (unsigned)p->problem_mark.column + 1;
	if (p->context)
		return fail_at(display, err, line, column,
			       "not valid YAML: %s (%s at %u:%u): check the "
			       "indentation, and quote values that hold ': ' or ' #'",
			       p->problem ? p->problem : "unknown problem", p->context,
			       (unsigned)p->context_mark.line + 1,
			       (unsigned)p->context_mark.column + 1);
	return fail_at(display, err, line, column,
		       "not valid YAML: %s: check the indentation, and quote "
		       "values that hold ': ' or ' #'",
		       p->problem ? p->problem : "unknown problem");
}

const char *ytext_shown(const char *text, size_t len, char *buf, size_t size)
{
	size_t limit = size - 4, o = 0, i = 0;
	while (i < len && o < limit) {
		unsigned char ch = (unsigned char)text[i];
		if (ch >= 0x80) {
			size_t k = 1;
			while (i + k < len && ((unsigned char)text[i + k] & 0xC0) == 0x80)
				k++;
			if (o + k > limit)
				break;
			memcpy(buf + o, text + i, k);
			o += k;
			i += k;
			continue;
		}
		buf[o++] = (ch < 0x20 || ch == 0x7F) ? '?' : (char)ch;
		i++;
	}
	if (i < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

void ytree_free(ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_items; i++)
		ytree_free(n->items[i]);
	free(n->items);
	free(n->text);
	free(n);
}

bool ynode_is_null(const ynode *n)
{
	if (n->kind != YNODE_SCALAR || !n->plain)
		return false;
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (n->len == strlen(nulls[i]) && memcmp(n->text, nulls[i], n->len) == 0)
			return true;
	return false;
}

const char *ynode_kind_name(const ynode *n)
{
	switch (n->kind) {
	case YNODE_MAPPING: return "a mapping";
	case YNODE_SEQUENCE: return "a list";
	default: return "text";
	}
}

static int add_item(builder *b, ynode *parent, ynode *child)
{
	if (parent->n_items == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		ynode **items = realloc(parent->items, cap * sizeof(*items));
		if (!items)
			return hv_fail(b->err, HV_ENOMEM, "out of memory parsing %s",
				       b->display);
		parent->items = items;
		parent->cap = cap;
	}
	parent->items[parent->n_items++] = child;
	return HV_OK;
}

/* Places a new node: as the root, as a list item, or as a key or value of
 * the innermost mapping. Keys must be text and unique in their mapping. */
static int attach(builder *b, ynode *node)
{
	if (b->depth == 0) {
		b->root = node;
		return HV_OK;
	}
	ynode *parent = b->stack[b->depth - 1];
	bool is_key = parent->kind == YNODE_MAPPING && parent->n_items % 2 == 0;
	if (is_key && node->kind != YNODE_SCALAR) {
		int rc = fail_at(b->display, b->err, node->line, node->column,
			"a key must be a name, not %s: check the indentation",
			ynode_kind_name(node));
		ytree_free(node);
		return rc;
	}
	if (is_key) {
		for (size_t i = 0; i < parent->n_items; i += 2) {
			const ynode *k = parent->items[i];
			if (k->len == node->len && memcmp(k->text, node->text, k->len) == 0) {
				int rc = fail_at(b->display, b->err, node->line, node->column,
					"duplicate key '%s' (first at %u:%u): a key may "
					"appear only once in a mapping; remove one of them",
					YSHOWN(node), k->line, k->column);
				ytree_free(node);
				return rc;
			}
		}
	}
	int rc = add_item(b, parent, node);
	if (rc != HV_OK)
		ytree_free(node);
	return rc;
}

static ynode *new_node(builder *b, enum ynode_kind kind, const yaml_mark_t *m)
{
	ynode *n = calloc(1, sizeof(*n));
	if (!n) {
		hv_fail(b->err, HV_ENOMEM, "out of memory parsing %s", b->display);
		return NULL;
	}
	n->kind = kind;
	n->line = (unsigned)m->line + 1;
	n->column = (unsigned)m->column + 1;
	return n;
}

/* Anchors, aliases and tags have no use in a policy and are the usual
 * tools of hostile YAML (billion laughs, object construction). */
static int refuse_properties(builder *b, const yaml_mark_t *m,
			     const yaml_char_t *anchor, const yaml_char_t *tag)
{
	unsigned line = (unsigned)m->line + 1, column = (unsigned)m->column + 1;
	if (anchor)
		return fail_at(b->display, b->err, line, column,
			"anchor &%s: anchors and aliases are not allowed in a policy; "
			"write each value out in full",
			ytext_shown((const char *)anchor, strlen((const char *)anchor),
				    (char[64]){ 0 }, 64));
	if (tag)
		return fail_at(b->display, b->err, line, column,
			"tag %s: YAML tags are not allowed in a policy; remove it "
			"(values are plain text, numbers, lists and mappings)",
			ytext_shown((const char *)tag, strlen((const char *)tag),
				    (char[64]){ 0 }, 64));
	return HV_OK;
}

static int on_event(builder *b, const yaml_event_t *ev, bool *done)
{
	const yaml_mark_t *m = &ev->start_mark;
	unsigned line = (unsigned)m->line + 1, column = (unsigned)m->column + 1;
	ynode *n;
	int rc;

	switch (ev->type) {
	case YAML_STREAM_START_EVENT:
	case YAML_DOCUMENT_END_EVENT:
		return HV_OK;
	case YAML_STREAM_END_EVENT:
		*done = true;
		return HV_OK;
	case YAML_DOCUMENT_START_EVENT:
		if (b->documents++ > 0)
			return fail_at(b->display, b->err, line, column,
				"a second YAML document starts here: a policy file "
				"holds exactly one; remove this '---' and what follows it");
		return HV_OK;
	case YAML_ALIAS_EVENT:
		return fail_at(b->display, b->err, line, column,
			"alias *%s: anchors and aliases are not allowed in a policy; "
			"write each value out in full",
			ytext_shown((const char *)ev->data.alias.anchor,
				    strlen((const char *)ev->data.alias.anchor),
				    (char[64]){ 0 }, 64));
	case YAML_SCALAR_EVENT:
		rc = refuse_properties(b, m, ev->data.scalar.anchor, ev->data.scalar.tag);
		if (rc != HV_OK)
			return rc;
		n = new_node(b, YNODE_SCALAR, m);
		if (!n)
			return HV_ENOMEM;
		n->len = ev->data.scalar.length;
		n->text = malloc(n->len + 1);
		if (!n->text) {
			free(n);
			return hv_fail(b->err, HV_ENOMEM, "out of memory parsing %s",
				       b->display);
		}
		memcpy(n->text, ev->data.scalar.value, n->len);
		n->text[n->len] = '\0';
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		return attach(b, n);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
		rc = refuse_properties(b, m,
			seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor,
			seq ? ev->data.sequence_start.tag : ev->data.mapping_start.tag);
		if (rc != HV_OK)
			return rc;
		if (b->depth >= b->max_depth)
			return fail_at(b->display, b->err, line, column,
				"lists and mappings nested deeper than %u levels: a "
				"policy never needs that many; check the brackets and "
				"indentation", b->max_depth);
		n = new_node(b, seq ? YNODE_SEQUENCE : YNODE_MAPPING, m);
		if (!n)
			return HV_ENOMEM;
		rc = attach(b, n);
		if (rc != HV_OK)
			return rc;
		b->stack[b->depth++] = n;
		return HV_OK;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->depth > 0)
			b->depth--;
		return HV_OK;
	default:
		return fail_at(b->display, b->err, line, column,
			       "unexpected YAML event %d", (int)ev->type);
	}
}

int ytree_parse(const char *display, const uint8_t *text, size_t len,
		unsigned max_depth, ynode **root, hv_err *err)
{
	*root = NULL;
	/* A UTF-8 byte order mark is invisible in an editor: drop it, so that
	 * columns on line 1 match what the operator sees. */
	if (len >= 3 && text[0] == 0xEF && text[1] == 0xBB && text[2] == 0xBF) {
		text += 3;
		len -= 3;
	}
	int rc = check_text(display, text, len, err);
	if (rc != HV_OK)
		return rc;

	builder b = { .display = display, .err = err, .max_depth = max_depth };
	b.stack = calloc(max_depth ? max_depth : 1, sizeof(*b.stack));
	if (!b.stack)
		return hv_fail(err, HV_ENOMEM, "out of memory parsing %s", display);

	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		free(b.stack);
		return hv_fail(err, HV_ENOMEM, "out of memory parsing %s", display);
	}
	/* Fixed to UTF-8: a UTF-16 file was already refused above. */
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&parser, text, len);

	bool done = false;
	while (!done) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = syntax_error(display, &parser, text, len, err);
			break;
		}
		rc = on_event(&b, &ev, &done);
		yaml_event_delete(&ev);
		if (rc != HV_OK)
			break;
	}
	yaml_parser_delete(&parser);
	free(b.stack);

	if (rc != HV_OK) {
		ytree_free(b.root);
		return rc;
	}
	*root = b.root;
	return HV_OK;
}
