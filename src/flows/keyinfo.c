#include "flows/keyinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "util/buf.h"
#include "util/hex.h"

void keyinfo_alg_text(const schsm_key *k, char *out, size_t n)
{
	const char *base = k->alg == SCHSM_KEY_RSA ? "RSA" : k->alg == SCHSM_KEY_EC ? "EC" :
			   k->alg == SCHSM_KEY_AES ? "AES" : "unknown";
	if (k->alg == SCHSM_KEY_EC && k->curve_nid) {
		const char *cn = EC_curve_nid2nist(k->curve_nid);
		snprintf(out, n, "EC %s", cn ? cn : OBJ_nid2sn(k->curve_nid));
	} else if (k->bits) {
		snprintf(out, n, "%s %u", base, k->bits);
	} else {
		snprintf(out, n, "%s", base);
	}
}

void keyinfo_id_hex(const schsm_key *k, char *out, size_t n)
{
	if (k->id_len == 0 || 2 * k->id_len + 1 > n) {
		snprintf(out, n, "ref-%02x", k->ref);
		return;
	}
	hex_encode(k->id, k->id_len, out, 0);
}

int keyinfo_pub_hex(EVP_PKEY *pub, char **out, hv_err *err)
{
	*out = NULL;
	if (!pub)
		return hv_fail(err, HV_ECARD, "the card shows no public key for this key");
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(pub, &der);
	if (len <= 0)
		return hv_fail(err, HV_EINTERNAL, "cannot encode a public key");
	*out = malloc(2 * (size_t)len + 1);
	if (!*out) {
		OPENSSL_free(der);
		return hv_fail(err, HV_ENOMEM, "out of memory");
	}
	hex_encode(der, (size_t)len, *out, 0);
	OPENSSL_free(der);
	return HV_OK;
}

EVP_PKEY *keyinfo_pub_from_hex(const char *hex)
{
	if (!hex)
		return NULL;
	size_t n = strlen(hex) / 2;
	uint8_t *der = malloc(n ? n : 1);
	if (!der)
		return NULL;
	EVP_PKEY *k = NULL;
	if (hex_decode(hex, der, n) == (long)n) {
		const unsigned char *p = der;
		k = d2i_PUBKEY(NULL, &p, (long)n);
	}
	free(der);
	return k;
}

int keyinfo_prove(schsm_card *c, const schsm_key *k, EVP_PKEY *recorded, hv_err *err)
{
	uint8_t challenge[32], digest[32];
	unsigned dlen = 0;
	if (RAND_bytes(challenge, sizeof(challenge)) != 1 ||
	    !EVP_Digest(challenge, sizeof(challenge), digest, &dlen, EVP_sha256(), NULL))
		return hv_fail(err, HV_EINTERNAL, "cannot make a challenge");
	bytebuf sig = { 0 };
	/* The recorded public key chooses the mechanism (and the RSA block
	 * size): what the card lists may be incomplete on a half-restored
	 * key. A mechanism the card refuses falls back to another inside
	 * schsm_sign_digest; only a refusal of every one, or a signature
	 * that does not verify, leaves the key unproven. */
	int rc = schsm_sign_digest(c, k->ref, recorded, EVP_sha256(), digest, dlen, &sig, NULL,
				   err);
	if (rc != HV_OK) {
		buf_free(&sig);
		return rc;
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, recorded) == 1 &&
		 EVP_DigestVerify(md, sig.data, sig.len, challenge, sizeof(challenge)) == 1;
	EVP_MD_CTX_free(md);
	buf_free(&sig);
	if (!ok)
		return hv_fail(err, HV_EMISMATCH,
			       "the key's signature does not verify with the public key on record");
	return HV_OK;
}
