/* Card-verifiable (CV) certificates as BSI TR-03110 lays them out and the
 * SmartCard-HSM family uses them: the device and issuer certificates of
 * EF 2F02, the roots operators trust, and the authenticated requests (tag
 * 67) of key attestation.
 *
 * The parsers are pure: bytes in, a struct of spans into those bytes out,
 * no allocation, no I/O, no recursion, every length checked. They are the
 * entry points a fuzzer calls. The key and signature helpers use OpenSSL.
 *
 * The prefix is cvcert_ (the simulator has its own cvc_ functions). */
#ifndef HV_CRYPTO_CVC_H
#define HV_CRYPTO_CVC_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "util/err.h"

/* A CAR or CHR: 1..16 printable ASCII characters (TR-03110 allows 16). */
#define CVCERT_NAME_MAX 16

typedef struct cvcert_span {
	const uint8_t *p; /* NULL when absent */
	size_t len;
} cvcert_span;

/* One parsed 7F21. Spans point into the parsed buffer, which must outlive
 * the struct. */
typedef struct cvcert {
	cvcert_span raw;        /* the whole 7F21 TLV */
	cvcert_span body;       /* the whole 7F4E TLV: the signed data */
	cvcert_span sig;        /* 5F37 value: r || s */
	int cpi;                /* 5F29 value, -1 when absent */
	char car[CVCERT_NAME_MAX + 1]; /* "" when 42 is absent (requests) */
	char chr[CVCERT_NAME_MAX + 1];
	/* 7F49 public key */
	cvcert_span key_oid;    /* 06 value */
	cvcert_span p, a, b, g, n, q, h; /* 81..87 values (EC meaning) */
	/* 7F4C CHAT (optional) */
	cvcert_span chat_oid, chat_rights;
	/* 5F25 / 5F24: six decimal digits Y Y M M D D, "" when absent */
	char effective[11];     /* "2026-05-28" */
	char expiry[11];
	int has_extensions;     /* 65 present */
} cvcert;

/* Parses exactly one 7F21 TLV spanning buf[0..len). HV_EUSAGE with the
 * reason ("7F4E holds tag 5F99 twice", ...) when malformed. Checks only
 * the structure: not the OID, the curve or the signature. */
int cvcert_parse(const uint8_t *buf, size_t len, cvcert *c, hv_err *err);

/* An authenticated request: 67 { 7F21 inner, 42 outer CAR, 5F37 outer }.
 * The outer signature covers inner-7F21-TLV || 42-TLV (outer_signed). */
typedef struct cvcert_request {
	cvcert inner;
	char outer_car[CVCERT_NAME_MAX + 1];
	cvcert_span outer_signed;
	cvcert_span outer_sig;
} cvcert_request;

/* Parses exactly one 67 TLV spanning buf[0..len). HV_EUSAGE if malformed. */
int cvcert_parse_request(const uint8_t *buf, size_t len, cvcert_request *r,
			 hv_err *err);

/* Role from the CHAT's first rights byte: "root", "issuer", "device" or
 * "" when there is no CHAT. */
const char *cvcert_role(const cvcert *c);

/* 1 when the key OID is id-TA-ECDSA-SHA-1/224/256/384/512, with *md the
 * hash it names; 0 otherwise (RSA, unknown). */
int cvcert_ecdsa_md(const cvcert *c, const EVP_MD **md);

/* Curve of explicit domain parameters (81 p, 82 a, 83 b, 84 G, 85 n,
 * optional 87 h): *nid is the OpenSSL NID of the named curve they equal
 * (brainpoolP256r1/P384r1/P512r1, secp256r1, secp384r1, secp521r1,
 * secp256k1), or 0 when the certificate carries none of them (it inherits
 * its issuer's). HV_EUSAGE for a partial set or parameters that equal no
 * known curve. */
int cvcert_curve(const cvcert *c, int *nid, hv_err *err);

/* 1 when nid is one of the curves above. */
int cvcert_curve_known(int nid);

/* The EC public key of c (its 86 point, uncompressed) on curve nid, built
 * by the curve's name. A point off the curve, at infinity or of the wrong
 * size is HV_EUSAGE; HV_ENOMEM / HV_EINTERNAL otherwise. */
int cvcert_public_key(const cvcert *c, int nid, EVP_PKEY **out, hv_err *err);

/* Checks a CVC signature (r || s, each half as long as the curve order)
 * by `signer_key` over data, with the hash named by `signer`'s key OID.
 * 0 when it verifies; HV_EINTEGRITY when it does not or cannot (bad
 * length, unknown OID); HV_ENOMEM / HV_EINTERNAL. */
int cvcert_verify(const cvcert *signer, EVP_PKEY *signer_key,
		  const uint8_t *data, size_t len,
		  const uint8_t *sig, size_t sig_len, hv_err *err);

#endif
