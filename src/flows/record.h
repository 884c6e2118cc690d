/* The public record: what a scheduled verify needs from the vault without
 * the stick or its passphrase. It is the current manifest version itself
 * (KCV, cards, every key's id, label, algorithm, public key and blob hash;
 * no secret is in a manifest) under a comment header naming the format,
 * the policy's max_age_days and the version it was taken from. */
#ifndef HV_FLOWS_RECORD_H
#define HV_FLOWS_RECORD_H

#include "util/err.h"
#include "vault/manifest.h"
#include "vfs/vfs.h"

#define RECORD_FORMAT "hsmvault-record/1"

/* Writes the record of v's current manifest to path (atomic, 0600).
 * *version (may be NULL) gets the manifest version recorded. */
int record_export(vfs *v, const char *path, unsigned long *version, hv_err *err);
/* Reads a record back: the manifest, and the policy's max_age_days (0
 * when the vault had no policy). */
int record_load(const char *path, manifest **out, unsigned *max_age_days, hv_err *err);

/* max_age_days of v's policy.yaml (0 when there is none). */
int record_policy_max_age(vfs *v, unsigned *days, hv_err *err);

#endif
