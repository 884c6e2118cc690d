/* A vault against its public record: the record names the manifest
 * version it was exported from and that file's sha256, and carries the
 * version's bytes. The hash chain cannot show that the newest version was
 * edited (nothing names its hash yet); the record can, and it shows a
 * vault that is behind the record (an old copy) or went another way. */
#ifndef HV_FLOWS_VERIFY_RECORD_H
#define HV_FLOWS_VERIFY_RECORD_H

#include <stddef.h>

#include "util/err.h"
#include "vault/compare.h"

enum record_relation {
	RECORD_SAME,          /* the vault's newest version is the record's     */
	RECORD_VAULT_AHEAD,   /* the record's version is in the chain, older    */
	RECORD_VAULT_BEHIND,  /* the record names a version the vault lacks     */
	RECORD_DIFFERS,       /* the vault holds the record's version number
			       * with other bytes                               */
};

typedef struct record_comparison {
	int relation;                /* enum record_relation                   */
	unsigned long record_version;
	char record_sha256[65];
	unsigned long vault_version;
	char vault_sha256[65];       /* of the vault's newest version          */
	char text[600];              /* one line: what differs, what to do     */
} record_comparison;

/* Reads the record at path (its "# source:" line, checked against the
 * sha256 of the manifest bytes it carries: a record whose two disagree is
 * HV_EINTEGRITY) and compares it with the vault's checked chain c. */
int verify_record_compare(const char *path, const vault_chain *c, record_comparison *out,
			  hv_err *err);

#endif
