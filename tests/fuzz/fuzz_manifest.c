/* libFuzzer harness: one manifest version (the vault's YAML index). What
 * parses must emit, and the emitted text must parse again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "vault/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	manifest *m = NULL;
	hv_err err;
	if (manifest_parse(data, size, "fuzz", &m, &err) != HV_OK)
		return 0;
	char *text = NULL;
	size_t len = 0;
	if (manifest_emit(m, &text, &len, &err) == HV_OK) {
		manifest *again = NULL;
		if (manifest_parse((const uint8_t *)text, len, "fuzz-emitted", &again, &err) != HV_OK)
			abort(); /* the writer made a file the reader refuses */
		manifest_free(again);
	}
	free(text);
	manifest_free(m);
	return 0;
}
