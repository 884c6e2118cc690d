/* libFuzzer harness: n-of-m share parts as holders type them, one
 * "PRIME ID VALUE" per line (prime and value "f5:56:...:87", ID decimal),
 * then the combination of every part that parsed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/nofm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	nofm_share parts[8];
	size_t n = 0;
	uint64_t prime = 0;
	hv_err err;
	char *line_save = NULL;
	for (char *line = strtok_r(text, "\n", &line_save); line && n < 8;
	     line = strtok_r(NULL, "\n", &line_save)) {
		char *save = NULL;
		char *f1 = strtok_r(line, " \t", &save);
		char *f2 = f1 ? strtok_r(NULL, " \t", &save) : NULL;
		char *f3 = f2 ? strtok_r(NULL, " \t", &save) : NULL;
		if (!f3)
			continue;
		if (nofm_parse_hex(f1, "prime", &prime, &err) == HV_OK &&
		    nofm_parse_id(f2, &parts[n].id, &err) == HV_OK &&
		    nofm_parse_hex(f3, "share value", &parts[n].value, &err) == HV_OK)
			n++;
	}
	if (n > 0) {
		uint8_t secret[NOFM_SECRET_LEN];
		char hex[NOFM_HEX_MAX];
		(void)nofm_combine(prime, parts, n, secret, &err);
		nofm_format_hex(prime, hex);
	}
	free(text);
	return 0;
}
