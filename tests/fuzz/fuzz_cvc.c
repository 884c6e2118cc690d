/* libFuzzer harness: CV certificates and the device-authentication chain
 * of EF 2F02 (devaut_check against the built-in root), as a hostile card
 * would hand them over. The first byte picks the entry point. */
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "crypto/cvc.h"
#include "crypto/devaut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static devaut_anchors anchors;
	static int anchors_ready;
	hv_err err;
	if (!anchors_ready) {
		devaut_anchors_init(&anchors);
		if (devaut_anchors_add(&anchors, devaut_builtin_root, DEVAUT_BUILTIN_ROOT_LEN,
				       "built-in root", &err) != HV_OK)
			__builtin_trap(); /* the built-in root must always load */
		anchors_ready = 1;
	}
	if (size < 1)
		return 0;
	const uint8_t *in = data + 1;
	size_t n = size - 1;
	switch (data[0] % 3) {
	case 0: {
		cvcert c;
		if (cvcert_parse(in, n, &c, &err) == HV_OK) {
			int nid = 0;
			EVP_PKEY *pk = NULL;
			const EVP_MD *md = NULL;
			(void)cvcert_role(&c);
			(void)cvcert_ecdsa_md(&c, &md);
			if (cvcert_curve(&c, &nid, &err) == HV_OK &&
			    cvcert_public_key(&c, nid, &pk, &err) == HV_OK)
				EVP_PKEY_free(pk);
		}
		break;
	}
	case 1: {
		cvcert_request r;
		(void)cvcert_parse_request(in, n, &r, &err);
		break;
	}
	default: {
		devaut_result r;
		(void)devaut_check(&anchors, in, n, &r, &err);
		break;
	}
	}
	return 0;
}
