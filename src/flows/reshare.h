/* hsmvault reshare: custodian turnover. Re-encrypts one DKEK share for a
 * new holder (a new password, or a new n-of-m split of a new random
 * password) without changing the DKEK: the share's check value and the
 * set's KCV stay the same (checked before anything is written). The new
 * share file and policy are recorded in a new manifest version. */
#ifndef HV_FLOWS_RESHARE_H
#define HV_FLOWS_RESHARE_H

#include <stddef.h>

#include "flows/flow.h"
#include "util/err.h"
#include "vfs/vfs.h"

typedef struct reshare_opts {
	unsigned index;              /* --share N (1-based) */
	const char *const *holders;  /* --holder NAME (repeat for a split) */
	size_t n_holders;
	unsigned threshold;          /* --threshold K: split K-of-n; 0 = password */
} reshare_opts;

int flow_reshare(const flow_ctx *fc, vfs *v, const reshare_opts *o,
		 unsigned long *version, hv_err *err);

#endif
