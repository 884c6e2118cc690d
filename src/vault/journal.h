/* The verification journal: one small file per verify run,
 * journal/NNNNNN.yaml, never rewritten, each naming the sha256 of the
 * entry before it (a hash chain of its own) and the manifest version it
 * checked with that version's sha256. Verifications no longer make
 * manifest versions (vault format 2); the manifest changes only when the
 * vault's content does. Schema: vault/manifest-schema.md, "The
 * verification journal". */
#ifndef HV_VAULT_JOURNAL_H
#define HV_VAULT_JOURNAL_H

#include <stddef.h>
#include <time.h>

#include "util/err.h"
#include "vfs/vfs.h"

#define JOURNAL_DIR "journal"
#define JOURNAL_FORMAT "hsmvault-journal/1"
#define JOURNAL_MAX_ENTRY 999999UL

typedef struct journal_card {
	char *id;                 /* manifest card id                          */
	char *result;             /* "ok" or "mismatch"                        */
	char *detail;             /* first difference found, or NULL           */
} journal_card;

typedef struct journal_entry {
	unsigned long entry;      /* 1, 2, ...: equals the file name           */
	char previous[65];        /* sha256 of the previous entry; "" in 1     */
	char time[21];
	char *tool_version;
	unsigned long manifest_version; /* the version checked               */
	char manifest_sha256[65];
	char kind[8];             /* "quick" or "deep"                         */
	char result[10];          /* "ok" or "mismatch"                        */
	unsigned long differences;
	journal_card *cards;
	size_t card_n;
} journal_entry;

void journal_entry_free(journal_entry *e);
/* Appends a deep copy of c to e->cards; HV_OK or HV_ENOMEM. */
int journal_add_card(journal_entry *e, const journal_card *c);

/* The file name of entry n: "journal/000007.yaml" (out >= 32 bytes). */
void journal_entry_path(unsigned long n, char *out, size_t outsz);

/* Bytes <-> entry. Parsing is strict (unknown or repeated keys, wrong
 * types, anchors, aliases, tags are refused) and names file:line. */
int journal_emit(const journal_entry *e, char **out, size_t *len, hv_err *err);
int journal_parse(const uint8_t *data, size_t len, const char *name, journal_entry **out,
		  hv_err *err);

/* Called for each entry, oldest first, after its link is checked. */
typedef int (*journal_visit_fn)(const journal_entry *e, const char *sha256, void *ctx);

/* Walks journal/ from entry 1: names, contiguous numbers, entry field =
 * file name, each previous = sha256 of the entry before. A vault without
 * journal/ (format 1, or never verified) has no entries. *count (may be
 * NULL) gets the number of entries; *last (may be NULL) a copy of the
 * last one, NULL when there is none. */
int journal_walk(vfs *v, journal_visit_fn fn, void *ctx, size_t *count, journal_entry **last,
		 hv_err *err);

/* Writes entry N+1 from e's content (cards, kind, result, differences,
 * manifest version and hash), with previous = sha256 of entry N, the time
 * `when` and this tool's version. A format-1 vault is marked format 2
 * first (old hsmvault versions then refuse it rather than ignore the
 * journal). *written (may be NULL) gets the entry number. */
int journal_append(vfs *v, const journal_entry *e, time_t when, unsigned long *written,
		   hv_err *err);

#endif
