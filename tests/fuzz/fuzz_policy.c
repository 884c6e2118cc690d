/* libFuzzer harness: a policy file (YAML through libyaml and the strict
 * policy checks), then the description of what parsed. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static policy p; /* large: keep it off the stack */
	hv_err err;
	if (policy_parse("fuzz.yaml", data, size, &p, &err) == HV_OK) {
		FILE *f = fopen("/dev/null", "w");
		if (f) {
			(void)policy_describe(&p, f);
			fclose(f);
		}
	}
	return 0;
}
