/* hsmvault enroll: creates the DKEK shares a policy names, initializes
 * every card of the set, imports the shares, checks that every card
 * reports the same KCV, and records policy, shares and cards in a new
 * manifest version. */
#ifndef HV_FLOWS_ENROLL_H
#define HV_FLOWS_ENROLL_H

#include "flows/flow.h"
#include "policy/policy.h"
#include "util/err.h"
#include "vfs/vfs.h"

typedef struct enroll_result {
	char kcv[17];
	unsigned long version;   /* manifest version written; 0: none written */
	size_t cards;
} enroll_result;

/* policy_text/len: the policy file's bytes (stored as policy.yaml). */
int flow_enroll(const flow_ctx *fc, vfs *v, const policy *p, const uint8_t *policy_text,
		size_t policy_len, enroll_result *res, hv_err *err);

#endif
