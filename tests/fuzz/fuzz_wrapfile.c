/* libFuzzer harness: wrap files (key blob, PRKD, certificate) and the
 * crypto layer's parsers behind them. The first input byte
 * picks the parser; the rest is its input:
 *   0 keyblob_parse_header   1 wrapfile_parse   2 prkd_parse
 *   3 dkek_share_decrypt (1 iteration: the parser, not the KDF, is tested)
 *   4 keyblob_unwrap of a blob whose payload is the input, encrypted and
 *     MACed here under a fixed DKEK so the fuzzer reaches the decoder
 *     (input byte 1 = key type). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "crypto/dkek.h"
#include "crypto/dkek_share.h"
#include "crypto/keyblob.h"
#include "crypto/prkd.h"
#include "crypto/wrapfile.h"
#include "util/secbuf.h"

static const uint8_t dkek[32] = { 0x5A, 0x5B, 0x58, 0x59 };

static uint8_t *seal(int type, const uint8_t *pt, size_t ptlen, size_t *len)
{
	size_t padded = (ptlen + 15) / 16 * 16;
	if (padded == 0)
		padded = 16;
	*len = 17 + padded + 16;
	uint8_t *b = calloc(1, *len);
	uint8_t *p = calloc(1, padded);
	if (!b || !p) {
		free(b);
		free(p);
		return NULL;
	}
	memcpy(p, pt, ptlen);
	dkek_kcv(dkek, b);
	b[8] = (uint8_t)type;
	uint8_t k[32], iv[16] = { 0 };
	int l1 = 0, l2 = 0;
	dkek_kenc(dkek, k);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	EVP_EncryptInit_ex(c, EVP_aes_256_cbc(), NULL, k, iv);
	EVP_CIPHER_CTX_set_padding(c, 0);
	EVP_EncryptUpdate(c, b + 17, &l1, p, (int)padded);
	EVP_EncryptFinal_ex(c, b + 17 + l1, &l2);
	EVP_CIPHER_CTX_free(c);
	free(p);
	dkek_kmac(dkek, k);
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *m = EVP_MAC_CTX_new(mac);
	char cn[] = "AES-256-CBC";
	OSSL_PARAM prm[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cn, 0),
			     OSSL_PARAM_construct_end() };
	size_t ol;
	EVP_MAC_init(m, k, 32, prm);
	EVP_MAC_update(m, b, *len - 16);
	EVP_MAC_final(m, b + *len - 16, &ol, 16);
	EVP_MAC_CTX_free(m);
	EVP_MAC_free(mac);
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0] % 5;
	const uint8_t *in = data + 1;
	size_t n = size - 1;
	hv_err err;
	switch (sel) {
	case 0: {
		keyblob_info info;
		(void)keyblob_parse_header(in, n, &info, &err);
		(void)keyblob_check(in, n, dkek, &err);
		break;
	}
	case 1: {
		wrapfile wf;
		if (wrapfile_parse(in, n, &wf, &err) == 0 && wf.prkd) {
			prkd_info p;
			(void)prkd_parse(wf.prkd, wf.prkd_len, &p, &err);
		}
		break;
	}
	case 2: {
		prkd_info p;
		if (prkd_parse(in, n, &p, &err) == 0) {
			bytebuf out = { 0 };
			(void)prkd_encode(&p, &out, &err);
			buf_free(&out);
		}
		break;
	}
	case 3: {
		uint8_t share[32];
		(void)dkek_share_decrypt(in, n, (const uint8_t *)"pw", 2, 1, share, &err);
		break;
	}
	default: {
		if (n < 1 || n > 4096)
			break;
		static const int types[4] = { KEYBLOB_RSA, KEYBLOB_RSA_CRT, KEYBLOB_EC, KEYBLOB_AES };
		size_t len;
		uint8_t *b = seal(types[in[0] % 4], in + 1, n - 1, &len);
		if (!b)
			break;
		EVP_PKEY *pk = NULL;
		secbuf *aes = NULL;
		(void)keyblob_unwrap(b, len, dkek, NULL, &pk, &aes, &err);
		EVP_PKEY_free(pk);
		secbuf_free(aes);
		free(b);
		break;
	}
	}
	return 0;
}
