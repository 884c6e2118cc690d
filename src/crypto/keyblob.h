/* SmartCard-HSM key blobs (smartcard-hsm.md 7.3-7.5): the output of WRAP
 * KEY and the input of UNWRAP KEY. Used offline by hsmvault to check a
 * backup, and by the simulator to wrap and unwrap. */
#ifndef HV_CRYPTO_KEYBLOB_H
#define HV_CRYPTO_KEYBLOB_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/secbuf.h"

enum keyblob_type {
	KEYBLOB_RSA = 5,      /* private exponent + modulus */
	KEYBLOB_RSA_CRT = 6,
	KEYBLOB_EC = 12,
	KEYBLOB_AES = 15,
};

typedef struct keyblob_info {
	uint8_t kcv[8];
	int type;                /* enum keyblob_type */
	uint8_t alg_oid[32];     /* default algorithm OID value bytes */
	size_t alg_oid_len;
	uint8_t allowed[32];     /* allowed algorithm IDs, e.g. 10 11 18 99 */
	size_t allowed_len;
	unsigned key_size;       /* bits for RSA/EC (P-521: 528), bytes for AES */
} keyblob_info;

/* "RSA", "RSA-CRT", "EC", "AES" for a keyblob_type; NULL for others. */
const char *keyblob_type_name(int type);

/* Header fields only; no key needed. Rejects truncated and oversized fields. */
int keyblob_parse_header(const uint8_t *blob, size_t len, keyblob_info *info,
			 hv_err *err);

/* Checks the blob's KCV against this DKEK and its CMAC under KMAC.
 * HV_EINTEGRITY with a message naming which check failed. */
int keyblob_check(const uint8_t *blob, size_t len, const uint8_t dkek[32],
		  hv_err *err);

/* Checks and decrypts. RSA and EC keys come back as *pkey (private key with
 * its public part; for EC, Q is checked against d); AES keys as *aes_key.
 * Either out pointer may be NULL when that kind is not expected. */
int keyblob_unwrap(const uint8_t *blob, size_t len, const uint8_t dkek[32],
		   keyblob_info *info, EVP_PKEY **pkey, secbuf **aes_key,
		   hv_err *err);

/* Wraps an RSA or EC private key as the card does. EC keys are written with
 * explicit full-length domain parameters (a, b, p, n, G), RSA keys with
 * rsa_crt != 0 as type 6 else type 5. random8 NULL = fresh random bytes.
 * Appends to out. */
int keyblob_wrap_pkey(EVP_PKEY *pkey, const uint8_t dkek[32],
		      const uint8_t *allowed, size_t allowed_len, int rsa_crt,
		      const uint8_t *random8, bytebuf *out, hv_err *err);

/* Wraps an AES key (16, 24 or 32 bytes) as type 15. */
int keyblob_wrap_aes(const uint8_t *key, size_t key_len, const uint8_t dkek[32],
		     const uint8_t *allowed, size_t allowed_len,
		     const uint8_t *random8, bytebuf *out, hv_err *err);

#endif
