/* hsmvault backup: wraps every exportable key of the cards present into
 * sc-hsm-tool wrap files under keys/<KCV>/, records them in a new manifest
 * version; keys already in the vault (same KCV, id and public key) are not
 * wrapped again, so a second run adds nothing. */
#ifndef HV_FLOWS_BACKUP_H
#define HV_FLOWS_BACKUP_H

#include <stddef.h>

#include "flows/flow.h"
#include "util/err.h"
#include "vfs/vfs.h"

typedef struct backup_result {
	size_t wrapped;          /* new blobs written */
	size_t already;          /* keys already in the vault */
	size_t skipped;          /* keys that cannot be exported (named in
				  * progress lines) */
	unsigned long version;   /* 0 when nothing changed */
} backup_result;

int flow_backup(const flow_ctx *fc, vfs *v, backup_result *res, hv_err *err);

#endif
