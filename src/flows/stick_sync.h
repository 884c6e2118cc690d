/* Keeping a second copy of a vault in step: the copy that is behind gets
 * the versions it lacks, through the vault's own commit rule (the files a
 * version names first, then the version file: the manifest version is the
 * commit point), byte for byte, so both end with the same chain head.
 * Refused, before anything is written, when the two diverged or when the
 * source is the one behind. */
#ifndef HV_FLOWS_STICK_SYNC_H
#define HV_FLOWS_STICK_SYNC_H

#include <stddef.h>
#include <stdio.h>

#include "util/err.h"
#include "vault/compare.h"
#include "vfs/vfs.h"

/* For a DIVERGED comparison of a (vault va) with b (vault vb): the first
 * differing version's file name and the first data file the two versions
 * disagree on ("" when only the version's text differs). */
int stick_first_difference(vfs *va, vfs *vb, const vault_comparison *cmp, char version_file[32],
			   char *file, size_t filesz, hv_err *err);

/* Prints the versions of c from version `from` on (version, time, change),
 * one line each, under the title `name`. */
void stick_print_history(FILE *f, const char *name, const vault_chain *c, unsigned long from);

/* The two verification journals side by side: entries each holds and how
 * many leading entries are the same (by sha256). */
typedef struct stick_journals {
	size_t a, b, common;
} stick_journals;
int stick_compare_journals(vfs *va, vfs *vb, stick_journals *out, hv_err *err);

typedef struct stick_sync_result {
	unsigned long versions_copied;
	size_t files_copied;       /* share, key and policy files          */
	size_t journal_copied;     /* verification journal entries         */
	int journal_kept;          /* to's journal is not a prefix of from's:
				    * left as it is                        */
} stick_sync_result;

/* Brings `to` (chain ct) up to `from` (chain cf), which must be the same
 * or ahead (compare first: HV_ESAFETY otherwise, nothing written). The
 * files the newest version names that to lacks or holds with other bytes
 * are written first, then each missing manifest version in order, then
 * RECOVERY.md; journal entries from lacks are copied after them when to's
 * journal is a prefix of from's. With the same chain, only files are
 * mended (an interrupted sync may have replaced some before the version
 * naming them) and journal entries copied. */
int stick_sync_vault(vfs *from, vfs *to, const vault_chain *cf, const vault_chain *ct,
		     stick_sync_result *res, hv_err *err);

#endif
