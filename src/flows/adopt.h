/* hsmvault adopt: turns a stick (or folder) made the classic way -- share
 * files from `sc-hsm-tool --create-dkek-share` and key files from
 * `sc-hsm-tool --wrap-key`, under any names, in any folders -- into a
 * vault, without changing or moving any file that is there.
 *
 * Steps (adopt_scan.c, adopt_match.c, adopt.c):
 *   1. scan: every file is read and recognized by its content (a DKEK
 *      share file, a wrap file) or listed as unrecognized and left alone;
 *   2. plan: what would be written, shown before anything is asked
 *      (--dry-run stops here, asking no secret);
 *   3. match: each share of the policy is given to the share file its
 *      holder's password opens (or the file named with --share N=PATH);
 *      all shares together give one DKEK; every key blob must carry that
 *      DKEK's KCV and a MAC that verifies under it;
 *   4. write: copies of the share and wrap files at the vault layout's
 *      paths, policy.yaml, one manifest version (the commit point),
 *      RECOVERY.md and last the HSMVAULT marker. A layout path already
 *      taken by other bytes is refused (exit 7) before anything is
 *      written; a run stopped half way is completed by running adopt
 *      again (the written manifest version is recognized and finished). */
#ifndef HV_FLOWS_ADOPT_H
#define HV_FLOWS_ADOPT_H

#include <stddef.h>
#include <stdint.h>

#include "flows/flow.h"
#include "policy/policy.h"
#include "util/err.h"
#include "vfs/vfs.h"

typedef struct adopt_opts {
	const policy *p;
	const uint8_t *policy_text;   /* the bytes stored as policy.yaml */
	size_t policy_len;
	int dry_run;                  /* list and plan only; no secret asked */
	/* --share N=PATH: share N (1-based) is the file at PATH (a path inside
	 * the vault); NULL: found by trying its holder's password. */
	const char *share_path[POLICY_MAX_SHARES];
} adopt_opts;

typedef struct adopt_result {
	unsigned long version;        /* manifest version written (0: none) */
	char kcv[17];                 /* the DKEK's KCV, "" in a dry run */
	size_t share_files, wrap_files, unrecognized;
	size_t keys;                  /* keys recorded */
	int already;                  /* the vault was adopted before: nothing to do */
	int completed;                /* an interrupted adoption was finished */
} adopt_result;

int flow_adopt(const flow_ctx *fc, vfs *v, const adopt_opts *o, adopt_result *res,
	       hv_err *err);

#endif
