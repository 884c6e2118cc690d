/* hsmvault verify: checks the cards present against the vault (or against
 * a public record): each card belongs to the set, its KCV matches, every
 * key on it has a blob, every blob is intact (sha256; MAC under the DKEK
 * when shares are unlocked), public keys match; deep: each key signs a
 * fresh challenge checked against the recorded public key. Every
 * difference is collected, not only the first. */
#ifndef HV_FLOWS_VERIFY_H
#define HV_FLOWS_VERIFY_H

#include <stddef.h>

#include "flows/flow.h"
#include "util/err.h"
#include "util/json.h"
#include "vfs/vfs.h"

typedef struct verify_finding {
	char *card;              /* card id, or NULL for vault-wide findings */
	char *what;              /* one line: "key 01 (signer): no blob in the vault" */
	char *check;             /* incomplete only: the check not run ("kcv") */
} verify_finding;

typedef struct verify_report {
	size_t cards_checked;
	size_t blobs_checked;    /* blob files hashed (vault runs only)      */
	unsigned long version;   /* manifest version checked against          */
	unsigned long recorded;  /* journal entry written with the results (0: none) */
	size_t keys_checked;
	verify_finding *findings;
	size_t n_findings;
	/* checks that could not run without a secret, everything else
	 * matching: HV_EINCOMPLETE (card + check name, e.g. "kcv", + line) */
	verify_finding *incomplete;
	size_t n_incomplete;
	int stale;               /* last verification older than max_age_days */
	char last_verified[32];  /* "" when never */
} verify_report;

typedef struct verify_opts {
	const char *record_path; /* --record FILE instead of a vault (v NULL);
				  * with a vault, its newest version is
				  * compared with the record's            */
	int with_shares;         /* --with-shares: unlock shares, check MACs */
	int check_kcv;           /* --check-kcv: ask the user PIN, verify it and
				  * read each card's KCV after it (pico-hsm
				  * hides it until then); signs nothing */
	int record_result;       /* write a verification entry into the vault's
				  * journal (journal/NNNNNN.yaml); vault only */
	int full;                /* parse every manifest version, not only the
				  * current one (--deep does too)              */
} verify_opts;

/* HV_OK when everything matches, HV_EMISMATCH when any finding exists
 * (err says how many), HV_EINCOMPLETE when nothing differs but a check
 * could not run without a secret (a KCV shown only after the user PIN,
 * quick verify), other codes when the check could not run at all. */
int flow_verify(const flow_ctx *fc, vfs *v, const verify_opts *o, verify_report *rep,
		hv_err *err);
void verify_report_free(verify_report *rep);
/* The report as members of an open JSON object. */
void verify_report_json(const verify_report *rep, json_out *j);

#endif
