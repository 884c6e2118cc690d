/* Card-verifiable certificates and requests (BSI TR-03110 layout) as the
 * SmartCard-HSM produces them: the device certificates in EF 2F02 and the
 * authenticated request returned by GENERATE ASYMMETRIC KEY PAIR
 * (smartcard-hsm.md 1.3, 6.1, 6.2). */
#ifndef HV_SIM_CVC_H
#define HV_SIM_CVC_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "util/buf.h"

/* id-TA-ECDSA-SHA-256 and id-TA-RSA-v1-5-SHA-256, value bytes. */
extern const uint8_t CVC_OID_ECDSA_SHA256[10];
extern const uint8_t CVC_OID_RSA_V15_SHA256[10];

/* 1 when oid is an id-TA-ECDSA-* OID, 2 when id-TA-RSA-*, else 0. */
int cvc_oid_family(const uint8_t *oid, size_t len);

/* Curve named by the explicit domain parameters of a 7F49 template
 * (tags 81 p, 82 a, 83 b, 84 G, 85 n): an OpenSSL NID among P-256, P-384,
 * P-521, or 0 when the parameters are missing or name another curve. */
int cvc_curve_from_template(const uint8_t *tmpl, size_t len);

/* NID of an EC key's curve, or 0. */
int cvc_key_curve(EVP_PKEY *pkey);

/* Uncompressed public point 04 || x || y of an EC key; 0 or -1. */
int cvc_ec_point(EVP_PKEY *pkey, bytebuf *out);

/* Signature as a CV certificate carries it (ECDSA: r || s, each padded to
 * the order length; RSA: PKCS#1 v1.5 or PSS as the OID says) over data,
 * with the hash the OID names. 0 or -1. */
int cvc_sign(EVP_PKEY *key, const uint8_t *oid, size_t oid_len,
	     const uint8_t *data, size_t len, bytebuf *sig);

/* The fields of a CV certificate body (BSI TR-03110 order: 5F29, 42,
 * 7F49, 5F20, 7F4C, 5F25, 5F24). The public key is always
 * id-TA-ECDSA-SHA-256. */
typedef struct cvc_body {
	const char *car, *chr;
	EVP_PKEY *subject;            /* EC key */
	int with_params;              /* explicit domain parameters (root, self-signed) */
	const uint8_t *chat_oid;      /* NULL: no 7F4C */
	size_t chat_oid_len;
	uint8_t chat_role;            /* 53: C0 root, 80 issuer, 00 device */
	const uint8_t *effective;     /* 5F25, 6 digit bytes YYMMDD; NULL: none */
	const uint8_t *expiry;        /* 5F24 */
} cvc_body;

/* 7F21 { 7F4E body, 5F37 ECDSA-SHA-256 by signer } appended to out.
 * deterministic: the same bytes every time (256-bit signer curves only). */
int cvc_cert(const cvc_body *body, EVP_PKEY *signer, int deterministic, bytebuf *out);

/* The CHR of the first CVC in 2F02 (up to 16 characters + NUL), or -1. */
int cvc_first_chr(const uint8_t *certs, size_t len, char chr[17]);

/* The authenticated request: 67 { 7F21 { 7F4E body, 5F37 self-signature },
 * 42 outer CAR, 5F37 signature by devkey }. car may be NULL (no 42 in the
 * body). The body's public key holds the OID and, for EC, the full domain
 * parameters with the public point. */
int cvc_key_request(EVP_PKEY *newkey, const uint8_t *oid, size_t oid_len,
		    const uint8_t *car, size_t car_len,
		    const uint8_t *chr, size_t chr_len,
		    EVP_PKEY *devkey, const char *dev_chr, bytebuf *out);

#endif
