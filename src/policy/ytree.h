/* A small, hostile-input-safe YAML reader for hsmvault's own files: one
 * document of plain mappings, lists and text, every node with its 1-based
 * line:column. Everything a data file never needs and an attacker loves is
 * refused: anchors, aliases, tags, several documents, nesting deeper than
 * the caller allows, duplicate keys and keys that are not text.
 * Private to the policy layer. */
#ifndef HV_POLICY_YTREE_H
#define HV_POLICY_YTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum ynode_kind { YNODE_SCALAR, YNODE_SEQUENCE, YNODE_MAPPING };

typedef struct ynode {
	enum ynode_kind kind;
	unsigned line, column;  /* 1-based: where the node (or its key) starts */
	/* Scalars: the text, NUL-terminated; it may hold NUL bytes from a
	 * "\0" escape, so len is the truth. */
	char *text;
	size_t len;
	bool plain;             /* written without quotes or block indicator */
	/* Sequences: the items. Mappings: key, value, key, value, ... */
	struct ynode **items;
	size_t n_items;
	size_t cap;
} ynode;

/* Parses text (UTF-8) into *root. Errors are HV_EUSAGE with the message
 * "DISPLAY:LINE:COLUMN: what is wrong"; the first error wins. max_depth
 * counts collections: a root mapping holding a list is depth 2. A text
 * with no document at all (empty, or only comments) gives *root = NULL. */
int ytree_parse(const char *display, const uint8_t *text, size_t len,
		unsigned max_depth, ynode **root, hv_err *err);

void ytree_free(ynode *root);

/* A scalar that YAML reads as null: empty, "~" or null (unquoted). */
bool ynode_is_null(const ynode *n);

/* len bytes of text made safe to quote in a one-line message: control
 * characters become '?', and long text is cut at a character boundary and
 * marked "...". Returns buf. */
const char *ytext_shown(const char *text, size_t len, char *buf, size_t size);

/* A scalar's text, shown as above in a buffer that lives until the end of
 * the enclosing full expression (for message arguments). */
#define YSHOWN(n) ytext_shown((n)->text, (n)->len, (char[64]){ 0 }, 64)

/* "a mapping", "a list" or "text", for messages. */
const char *ynode_kind_name(const ynode *n);

#endif
