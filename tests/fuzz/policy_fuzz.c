/* libFuzzer target for the policy parser: any bytes must give either a
 * policy that keeps its documented invariants or an HV_EUSAGE error of the
 * form "FILE:LINE:COLUMN: ..." — never a crash, a hang or a leak.
 * Built by tests/fuzz/build-policy-fuzz.sh (clang); not part of meson test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static policy p;
	hv_err err = { 0 };
	int rc = policy_parse("fuzz.yaml", data, size, &p, &err);
	if (rc == HV_OK) {
		if (p.card_count < 1 || p.card_count > POLICY_MAX_CARDS ||
		    p.n_shares < 1 || p.n_shares > POLICY_MAX_SHARES)
			abort();
		for (size_t i = 0; i < p.n_shares; i++) {
			const policy_share *s = &p.shares[i];
			if (s->threshold == 0 ? s->n_holders != 1 :
			    (s->n_holders < POLICY_MIN_SPLIT_HOLDERS ||
			     s->threshold < 2 || s->threshold > s->n_holders))
				abort();
		}
		FILE *f = fopen("/dev/null", "w");
		if (f) {
			policy_describe(&p, f);
			fclose(f);
		}
		return 0;
	}
	unsigned line = 0, column = 0;
	if (rc == HV_EUSAGE &&
	    (sscanf(err.msg, "fuzz.yaml:%u:%u: ", &line, &column) != 2 ||
	     line == 0 || column == 0))
		abort();
	return 0;
}
