/* The public record: what a scheduled verify needs from the vault without
 * the stick or its passphrase. It is the current manifest version itself
 * (KCV, cards, every key's id, label, algorithm, public key and blob hash;
 * no secret is in a manifest) under a comment header naming the format,
 * the policy's max_age_days, the last verification (the journal's last
 * entry: its time, file, hash and result) and the version it was taken
 * from. */
#ifndef HV_FLOWS_RECORD_H
#define HV_FLOWS_RECORD_H

#include "util/err.h"
#include "vault/manifest.h"
#include "vfs/vfs.h"

#define RECORD_FORMAT "hsmvault-record/2"
#define RECORD_FORMAT_1 "hsmvault-record/1" /* no last_verified lines; still read */

/* Writes the record of v's current manifest to path (atomic, 0600).
 * *version (may be NULL) gets the manifest version recorded. */
int record_export(vfs *v, const char *path, unsigned long *version, hv_err *err);
/* Reads a record back: the manifest, the policy's max_age_days (0 when
 * the vault had no policy) and, when last_verified is not NULL, the time
 * of the last verification ("" when never). */
int record_load(const char *path, manifest **out, unsigned *max_age_days,
		char last_verified[21], hv_err *err);

/* max_age_days of v's policy.yaml (0 when there is none). */
int record_policy_max_age(vfs *v, unsigned *days, hv_err *err);

#endif
