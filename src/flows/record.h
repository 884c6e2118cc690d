/* The public record: what a scheduled verify needs from the vault without
 * the stick or its passphrase: the set's KCV, cards, and every key's id,
 * label, algorithm, public key and blob hash. No secret, no blob. */
#ifndef HV_FLOWS_RECORD_H
#define HV_FLOWS_RECORD_H

#include "util/err.h"
#include "vault/manifest.h"
#include "vfs/vfs.h"

#define RECORD_FORMAT "hsmvault-record/1"

/* Writes the record of v's current manifest to path (atomic, 0600). */
int record_export(vfs *v, const char *path, hv_err *err);
/* Reads a record back as a manifest (shares without files, keys without
 * blobs); the manifest hash it came from in source_sha256 (65 bytes). */
int record_load(const char *path, manifest **out, char *source_sha256, hv_err *err);

#endif
