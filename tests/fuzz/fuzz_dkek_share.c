/* libFuzzer harness: a DKEK share file (sc-hsm-tool's "Salted__" + AES-CBC
 * format). One KDF iteration: the decoder is under test, not the KDF. */
#include <stddef.h>
#include <stdint.h>

#include "crypto/dkek_share.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t share[DKEK_SHARE_LEN];
	int checked = 0;
	hv_err err;
	(void)dkek_share_decrypt(data, size, (const uint8_t *)"pw", 2, 1, share, &err);
	(void)dkek_share_decrypt_checked(data, size, (const uint8_t *)"pw", 2, 1,
					 "0011223344556677", share, &checked, &err);
	return 0;
}
