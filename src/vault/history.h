/* A vault's whole history, checked: the manifest versions (hash chain)
 * and the verification journal (its own hash chain, each entry tied to
 * the manifest version it checked by that version's sha256), merged in
 * time order for `log`, with the current version parsed in full. What
 * log, show, verify and record export read. */
#ifndef HV_VAULT_HISTORY_H
#define HV_VAULT_HISTORY_H

#include <stddef.h>

#include "util/err.h"
#include "vault/journal.h"
#include "vault/manifest.h"
#include "vfs/vfs.h"

enum vault_event_kind {
	VAULT_EV_VERSION = 'M',      /* a manifest version: the content changed  */
	VAULT_EV_OLD_VERIFY = 'V',   /* a format-1 manifest version that recorded
				      * a verification (change "verify (...)")   */
	VAULT_EV_JOURNAL = 'J',      /* a journal entry                          */
};

typedef struct vault_event {
	int kind;                    /* enum vault_event_kind                    */
	unsigned long number;        /* version or entry number                  */
	char time[21];
	char sha256[65];             /* of the version or entry file             */
	char text[1100];             /* the change, or the entry's summary       */
	/* journal entries only: */
	char check_kind[8];          /* "quick" or "deep"                        */
	char result[10];             /* "ok" or "mismatch"                       */
	unsigned long differences;
	unsigned long manifest_version; /* the version it checked                */
	size_t cards;
} vault_event;

typedef struct vault_history {
	vault_event *events;         /* oldest first (by time, then versions
				      * before entries, then by number)          */
	size_t n_events;
	unsigned long versions;      /* manifest versions                        */
	size_t entries;              /* journal entries                          */
	manifest *current;           /* the highest version, parsed              */
	char current_sha256[65];
	journal_entry *last_entry;   /* NULL when the journal is empty           */
	char last_verified[21];      /* time of the last verification: the last
				      * journal entry, else the latest entry of
				      * the current version's format-1
				      * `verifications` list; "" when never      */
} vault_history;

/* Walks and checks both chains. Without full, versions before the current
 * one are checked by their bytes and links only (manifest_walk_heads);
 * with full every version is parsed. With check_files, the files the
 * current version names are checked too. On a break, *h holds what was
 * read before it (log prints it) and the error names the break. */
int vault_history_load(vfs *v, int full, int check_files, vault_history *h, hv_err *err);
void vault_history_free(vault_history *h);

/* 1 when a format-1 version's change says it recorded a verification. */
int vault_change_is_verification(const char *change);

#endif
