/* hsmvault restore: rebuilds the full card set from the vault on blank
 * cards (or cards confirmed for wiping): shares asked by holder and
 * decrypted once, cards initialized, shares imported, KCV checked, every
 * key unwrapped and proven by a signature against its recorded public key.
 * Resumable: a rerun inspects each card and continues (a card already
 * carrying the vault's KCV is not initialized again; keys already present
 * with the recorded public key are not unwrapped again). Records the
 * restored set in a new manifest version. */
#ifndef HV_FLOWS_RESTORE_H
#define HV_FLOWS_RESTORE_H

#include <stddef.h>

#include "flows/flow.h"
#include "policy/policy.h"
#include "util/err.h"
#include "vfs/vfs.h"

typedef struct restore_result {
	size_t cards;
	size_t keys_unwrapped;   /* this run */
	size_t keys_present;     /* found already restored */
	unsigned long version;
} restore_result;

/* p: the policy to restore under (NULL: the vault's policy.yaml). */
int flow_restore(const flow_ctx *fc, vfs *v, const policy *p, restore_result *res,
		 hv_err *err);

#endif
