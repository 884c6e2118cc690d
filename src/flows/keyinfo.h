/* How flows name and compare keys: the manifest's algorithm text, key id
 * hex, and the public key as hex of its DER SubjectPublicKeyInfo. */
#ifndef HV_FLOWS_KEYINFO_H
#define HV_FLOWS_KEYINFO_H

#include <stddef.h>

#include <openssl/evp.h>

#include "card/schsm.h"
#include "util/err.h"

/* "EC P-256", "RSA 2048", "AES 256". */
void keyinfo_alg_text(const schsm_key *k, char *out, size_t n);
/* Lowercase hex of the key's CKA_ID; "ref-NN" when it has none. */
void keyinfo_id_hex(const schsm_key *k, char *out, size_t n);
/* Hex of the DER SubjectPublicKeyInfo; *out malloc'd; NULL pub: HV_ECARD. */
int keyinfo_pub_hex(EVP_PKEY *pub, char **out, hv_err *err);
/* A recorded public key (hex DER SPKI) back into a key; NULL on failure. */
EVP_PKEY *keyinfo_pub_from_hex(const char *hex);
/* Signs a fresh random SHA-256 challenge with key k->ref on the card and
 * checks the signature against `recorded` (the public key the vault has),
 * whose type chooses the mechanism (schsm_sign_digest: raw RSA with the
 * padding made here, falling back to PKCS#1 v1.5 on the card; ECDSA).
 * HV_EMISMATCH when the signature does not verify; HV_ECARD when the card
 * refuses every mechanism. */
int keyinfo_prove(schsm_card *c, const schsm_key *k, EVP_PKEY *recorded, hv_err *err);

#endif
