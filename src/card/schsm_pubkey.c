#include "card/schsm.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "crypto/prkd.h"
#include "util/tlv.h"

int schsm_parse_prkd(const uint8_t *prkd, size_t len, schsm_key *k,
		     hv_err *err)
{
	prkd_info info;
	hv_err e2 = { 0 };
	if (prkd_parse(prkd, len, &info, &e2) != HV_OK)
		return hv_fail(err, HV_ECARD,
			       "a key description (PRKD) on the card is malformed (%s): "
			       "rewrite it or delete the key's C4 file", e2.msg);
	switch (info.kind) {
	case PRKD_RSA: k->alg = SCHSM_KEY_RSA; break;
	case PRKD_EC: k->alg = SCHSM_KEY_EC; break;
	case PRKD_AES: k->alg = SCHSM_KEY_AES; break;
	default: k->alg = SCHSM_KEY_UNKNOWN; break;
	}
	snprintf(k->label, sizeof(k->label), "%s", info.label);
	k->id_len = info.id_len <= sizeof(k->id) ? info.id_len : sizeof(k->id);
	memcpy(k->id, info.id, k->id_len);
	k->bits = info.key_bits;
	/* CardContact's scripts write 528 for P-521 (OpenSC corrects it). */
	if (k->alg == SCHSM_KEY_EC && k->bits == 528)
		k->bits = 521;
	return HV_OK;
}

/* Curves the card may use, identified from the prime (and a when given,
 * since brainpool r1 and t1 share their primes). */
static const int known_curves[] = {
	NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1,
	NID_X9_62_prime192v1, NID_secp224r1, NID_secp256k1, NID_secp192k1,
	NID_brainpoolP192r1, NID_brainpoolP224r1, NID_brainpoolP256r1,
	NID_brainpoolP320r1, NID_brainpoolP384r1, NID_brainpoolP512r1,
};

static int curve_by_params(const tlv *p, const tlv *a, size_t point_len)
{
	int found = 0;
	BIGNUM *bp = BN_new(), *ba = BN_new(), *bb = BN_new();
	BIGNUM *want_p = p ? BN_bin2bn(p->val, (int)p->len, NULL) : NULL;
	BIGNUM *want_a = a && a->len ? BN_bin2bn(a->val, (int)a->len, NULL) : NULL;
	for (size_t i = 0; bp && ba && bb && !found &&
	     i < sizeof(known_curves) / sizeof(known_curves[0]); i++) {
		EC_GROUP *g = EC_GROUP_new_by_curve_name(known_curves[i]);
		if (!g)
			continue;
		if (EC_GROUP_get_curve(g, bp, ba, bb, NULL)) {
			size_t plen = (size_t)BN_num_bytes(bp);
			if (want_p) {
				if (BN_cmp(bp, want_p) == 0 &&
				    (!want_a || BN_cmp(ba, want_a) == 0))
					found = known_curves[i];
			} else if (point_len == 1 + 2 * plen) {
				/* No domain parameters: the first curve of
				 * that size (NIST before brainpool). */
				found = known_curves[i];
			}
		}
		EC_GROUP_free(g);
	}
	BN_free(bp);
	BN_free(ba);
	BN_free(bb);
	BN_free(want_p);
	BN_free(want_a);
	return found;
}

static int pkey_from_params(const char *type, OSSL_PARAM_BLD *bld,
			    EVP_PKEY **out)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	int ok = params && ctx && EVP_PKEY_fromdata_init(ctx) > 0 &&
		 EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) > 0;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return ok ? 0 : -1;
}

static int cv_public_key(const tlv *cvc, EVP_PKEY **pub, hv_err *err)
{
	tlv body, puk, oid, t81, t82, t86;
	if (tlv_find(cvc->val, cvc->len, 0x7F4E, &body) != 0 ||
	    tlv_find(body.val, body.len, 0x7F49, &puk) != 0 ||
	    tlv_find(puk.val, puk.len, 0x06, &oid) != 0 || oid.len < 9)
		return hv_fail(err, HV_ECARD,
			       "a CV request on the card has no public key template");
	static const uint8_t ta_prefix[8] = { 0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02 };
	if (memcmp(oid.val, ta_prefix, 8) != 0)
		return hv_fail(err, HV_ECARD,
			       "a CV request on the card names an unknown key algorithm");
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	if (!bld)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	int rc = HV_OK;
	BIGNUM *n = NULL, *e = NULL;
	if (oid.val[8] == 0x01) { /* id-TA-RSA */
		if (tlv_find(puk.val, puk.len, 0x81, &t81) != 0 ||
		    tlv_find(puk.val, puk.len, 0x82, &t82) != 0 || t81.len == 0 ||
		    t82.len == 0) {
			rc = hv_fail(err, HV_ECARD, "an RSA CV request lacks modulus or exponent");
			goto out;
		}
		n = BN_bin2bn(t81.val, (int)t81.len, NULL);
		e = BN_bin2bn(t82.val, (int)t82.len, NULL);
		if (!n || !e || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
		    pkey_from_params("RSA", bld, pub) != 0)
			rc = hv_fail(err, HV_ECARD, "the RSA public key in a CV request is invalid");
	} else if (oid.val[8] == 0x02) { /* id-TA-ECDSA */
		if (tlv_find(puk.val, puk.len, 0x86, &t86) != 0 || t86.len < 3 ||
		    t86.val[0] != 0x04) {
			rc = hv_fail(err, HV_ECARD, "an EC CV request lacks its public point");
			goto out;
		}
		int have_p = tlv_find(puk.val, puk.len, 0x81, &t81) == 0;
		int have_a = tlv_find(puk.val, puk.len, 0x82, &t82) == 0;
		int nid = curve_by_params(have_p ? &t81 : NULL, have_a ? &t82 : NULL, t86.len);
		if (!nid) {
			rc = hv_fail(err, HV_ECARD, "an EC CV request uses a curve hsmvault does not know");
			goto out;
		}
		if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
						     OBJ_nid2sn(nid), 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
						      t86.val, t86.len) ||
		    pkey_from_params("EC", bld, pub) != 0)
			rc = hv_fail(err, HV_ECARD, "the EC public point in a CV request is invalid");
	} else {
		rc = hv_fail(err, HV_ECARD,
			     "a CV request on the card names an unknown key algorithm");
	}
out:
	BN_free(n);
	BN_free(e);
	OSSL_PARAM_BLD_free(bld);
	return rc;
}

int schsm_parse_public_key(const uint8_t *ce, size_t len, EVP_PKEY **pub,
			   int *is_x509, hv_err *err)
{
	*pub = NULL;
	if (is_x509)
		*is_x509 = 0;
	size_t off = 0;
	tlv top;
	if (tlv_next(ce, len, &off, &top) != 0)
		return hv_fail(err, HV_ECARD, "a certificate file on the card is truncated");
	if (top.tag == 0x30) {
		const unsigned char *p = top.raw;
		X509 *x = d2i_X509(NULL, &p, (long)top.raw_len);
		if (!x)
			return hv_fail(err, HV_ECARD,
				       "a certificate on the card is not valid X.509");
		*pub = X509_get_pubkey(x);
		X509_free(x);
		if (!*pub)
			return hv_fail(err, HV_ECARD,
				       "a certificate on the card has an unusable public key");
		if (is_x509)
			*is_x509 = 1;
		return HV_OK;
	}
	tlv cvc;
	if (top.tag == 0x67) {
		if (tlv_find(top.val, top.len, 0x7F21, &cvc) != 0)
			return hv_fail(err, HV_ECARD,
				       "an authenticated CV request on the card holds no request");
	} else if (top.tag == 0x7F21) {
		cvc = top;
	} else {
		return hv_fail(err, HV_ECARD,
			       "a certificate file on the card holds neither X.509 nor a CV request");
	}
	return cv_public_key(&cvc, pub, err);
}
