#include "sim/cvc.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "util/tlv.h"

const uint8_t CVC_OID_ECDSA_SHA256[10] = { 0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x02, 0x03 };
const uint8_t CVC_OID_RSA_V15_SHA256[10] = { 0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x01, 0x02 };

static const uint8_t OID_TA_PREFIX[8] = { 0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02 };

static const int SUPPORTED_CURVES[] = { NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1 };

int cvc_oid_family(const uint8_t *oid, size_t len)
{
	if (len != 10 || memcmp(oid, OID_TA_PREFIX, 8) != 0)
		return 0;
	if (oid[8] == 0x02 && oid[9] >= 1 && oid[9] <= 5)
		return 1;
	if (oid[8] == 0x01 && oid[9] >= 1 && oid[9] <= 6)
		return 2;
	return 0;
}

/* Explicit domain parameters of a named curve, each in the card's fixed
 * length encoding (field length for p, a, b; order length for n). */
typedef struct ec_params {
	bytebuf p, a, b, g, n, h;
} ec_params;

static void ec_params_free(ec_params *e)
{
	buf_free(&e->p);
	buf_free(&e->a);
	buf_free(&e->b);
	buf_free(&e->g);
	buf_free(&e->n);
	buf_free(&e->h);
}

static int put_bn(bytebuf *out, const BIGNUM *bn, int len)
{
	if (len <= 0)
		return -1;
	uint8_t *tmp = OPENSSL_malloc((size_t)len);
	if (!tmp || BN_bn2binpad(bn, tmp, len) != len) {
		OPENSSL_free(tmp);
		return -1;
	}
	buf_put(out, tmp, (size_t)len);
	OPENSSL_free(tmp);
	return out->failed ? -1 : 0;
}

static int ec_params_get(int nid, ec_params *e)
{
	memset(e, 0, sizeof(*e));
	EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
	BIGNUM *p = BN_new(), *a = BN_new(), *b = BN_new();
	int rc = -1;
	if (!g || !p || !a || !b || !EC_GROUP_get_curve(g, p, a, b, NULL))
		goto out;
	int flen = BN_num_bytes(p);
	const BIGNUM *n = EC_GROUP_get0_order(g);
	const BIGNUM *h = EC_GROUP_get0_cofactor(g);
	if (put_bn(&e->p, p, flen) || put_bn(&e->a, a, flen) || put_bn(&e->b, b, flen) ||
	    put_bn(&e->n, n, BN_num_bytes(n)) || put_bn(&e->h, h, BN_num_bytes(h)))
		goto out;
	uint8_t pt[200];
	size_t ptlen = EC_POINT_point2oct(g, EC_GROUP_get0_generator(g),
					  POINT_CONVERSION_UNCOMPRESSED, pt, sizeof(pt), NULL);
	if (ptlen == 0)
		goto out;
	buf_put(&e->g, pt, ptlen);
	rc = (e->p.failed || e->a.failed || e->b.failed || e->g.failed || e->n.failed || e->h.failed) ? -1 : 0;
out:
	EC_GROUP_free(g);
	BN_free(p);
	BN_free(a);
	BN_free(b);
	if (rc)
		ec_params_free(e);
	return rc;
}

/* Integers in the template may come with or without leading zero bytes. */
static int same_int(const tlv *t, const bytebuf *want)
{
	const uint8_t *v = t->val;
	size_t l = t->len;
	while (l > 0 && *v == 0) {
		v++;
		l--;
	}
	const uint8_t *w = want->data;
	size_t wl = want->len;
	while (wl > 0 && *w == 0) {
		w++;
		wl--;
	}
	return l == wl && memcmp(v, w, l) == 0;
}

int cvc_curve_from_template(const uint8_t *tmpl, size_t len)
{
	tlv p, a, b, g, n;
	if (tlv_find(tmpl, len, 0x81, &p) || tlv_find(tmpl, len, 0x82, &a) ||
	    tlv_find(tmpl, len, 0x83, &b) || tlv_find(tmpl, len, 0x84, &g) ||
	    tlv_find(tmpl, len, 0x85, &n))
		return 0;
	for (size_t i = 0; i < sizeof(SUPPORTED_CURVES) / sizeof(SUPPORTED_CURVES[0]); i++) {
		ec_params e;
		if (ec_params_get(SUPPORTED_CURVES[i], &e))
			continue;
		int match = same_int(&p, &e.p) && same_int(&a, &e.a) && same_int(&b, &e.b) &&
			    same_int(&n, &e.n) && g.len == e.g.len &&
			    memcmp(g.val, e.g.data, g.len) == 0;
		ec_params_free(&e);
		if (match)
			return SUPPORTED_CURVES[i];
	}
	return 0;
}

int cvc_key_curve(EVP_PKEY *pkey)
{
	char name[64];
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), NULL))
		return 0;
	int nid = OBJ_sn2nid(name);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(name);
	return nid == NID_undef ? 0 : nid;
}

int cvc_ec_point(EVP_PKEY *pkey, bytebuf *out)
{
	uint8_t pt[200];
	size_t len = 0;
	if (!EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt), &len) ||
	    len == 0 || pt[0] != 0x04)
		return -1;
	buf_put(out, pt, len);
	return out->failed ? -1 : 0;
}

static const EVP_MD *oid_md(const uint8_t *oid, int family)
{
	if (family == 1) {
		switch (oid[9]) {
		case 1: return EVP_sha1();
		case 2: return EVP_sha224();
		case 3: return EVP_sha256();
		case 4: return EVP_sha384();
		default: return EVP_sha512();
		}
	}
	switch (oid[9]) {
	case 1: case 3: return EVP_sha1();
	case 2: case 4: return EVP_sha256();
	default: return EVP_sha512();
	}
}

int cvc_sign(EVP_PKEY *key, const uint8_t *oid, size_t oid_len,
	     const uint8_t *data, size_t len, bytebuf *sig)
{
	int family = cvc_oid_family(oid, oid_len);
	if (family == 0)
		return -1;
	const EVP_MD *md = oid_md(oid, family);
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;
	int rc = -1;
	if (!mctx || EVP_DigestSignInit(mctx, &pctx, md, NULL, key) != 1)
		goto out;
	if (family == 2 && (oid[9] == 3 || oid[9] == 4 || oid[9] == 6)) {
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)
			goto out;
	}
	if (EVP_DigestSign(mctx, NULL, &der_len, data, len) != 1)
		goto out;
	der = OPENSSL_malloc(der_len);
	if (!der || EVP_DigestSign(mctx, der, &der_len, data, len) != 1)
		goto out;
	if (family == 2) {
		buf_put(sig, der, der_len);
		rc = sig->failed ? -1 : 0;
		goto out;
	}
	/* ECDSA: DER SEQUENCE { r, s } -> r || s. */
	const uint8_t *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (!es)
		goto out;
	int olen = (EVP_PKEY_get_bits(key) + 7) / 8;
	if (put_bn(sig, ECDSA_SIG_get0_r(es), olen) == 0 && put_bn(sig, ECDSA_SIG_get0_s(es), olen) == 0)
		rc = sig->failed ? -1 : 0;
	ECDSA_SIG_free(es);
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
	return rc;
}

/* 7F49 public key template. with_params: the EC domain parameters too. */
static int put_pubkey(bytebuf *out, EVP_PKEY *key, const uint8_t *oid, size_t oid_len, int with_params)
{
	bytebuf t = { 0 };
	int rc = -1;
	buf_put_tlv(&t, 0x06, oid, oid_len);
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
		BIGNUM *n = NULL, *e = NULL;
		if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) ||
		    !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e)) {
			BN_free(n);
			goto out;
		}
		bytebuf nb = { 0 }, eb = { 0 };
		int ok = put_bn(&nb, n, BN_num_bytes(n)) == 0;
		ok = ok && put_bn(&eb, e, BN_num_bytes(e)) == 0;
		if (ok) {
			buf_put_tlv(&t, 0x81, nb.data, nb.len);
			buf_put_tlv(&t, 0x82, eb.data, eb.len);
		}
		buf_free(&nb);
		buf_free(&eb);
		BN_free(n);
		BN_free(e);
		if (!ok)
			goto out;
	} else {
		bytebuf q = { 0 };
		if (cvc_ec_point(key, &q)) {
			buf_free(&q);
			goto out;
		}
		if (with_params) {
			ec_params e;
			if (ec_params_get(cvc_key_curve(key), &e)) {
				buf_free(&q);
				goto out;
			}
			buf_put_tlv(&t, 0x81, e.p.data, e.p.len);
			buf_put_tlv(&t, 0x82, e.a.data, e.a.len);
			buf_put_tlv(&t, 0x83, e.b.data, e.b.len);
			buf_put_tlv(&t, 0x84, e.g.data, e.g.len);
			buf_put_tlv(&t, 0x85, e.n.data, e.n.len);
			buf_put_tlv(&t, 0x86, q.data, q.len);
			buf_put_tlv(&t, 0x87, e.h.data, e.h.len);
			ec_params_free(&e);
		} else {
			buf_put_tlv(&t, 0x86, q.data, q.len);
		}
		buf_free(&q);
	}
	if (!t.failed) {
		buf_put_tlv(out, 0x7F49, t.data, t.len);
		rc = out->failed ? -1 : 0;
	}
out:
	buf_free(&t);
	return rc;
}

static int sign_deterministic(EVP_PKEY *key, const uint8_t *data, size_t len, bytebuf *sig);

/* 7F21 { 7F4E body, 5F37 signature by signer }. deterministic: the
 * signature is a function of key and body (ECDSA-SHA256 only), so the
 * simulator's fixed chain comes out the same on every run. */
static int put_signed(bytebuf *out, const bytebuf *body, EVP_PKEY *signer,
		      const uint8_t *oid, size_t oid_len, int deterministic)
{
	bytebuf b = { 0 }, sig = { 0 }, c = { 0 };
	int rc = -1;
	buf_put_tlv(&b, 0x7F4E, body->data, body->len);
	if (b.failed)
		goto out;
	if (deterministic ? sign_deterministic(signer, b.data, b.len, &sig)
			  : cvc_sign(signer, oid, oid_len, b.data, b.len, &sig))
		goto out;
	buf_put(&c, b.data, b.len);
	buf_put_tlv(&c, 0x5F37, sig.data, sig.len);
	if (c.failed)
		goto out;
	buf_put_tlv(out, 0x7F21, c.data, c.len);
	rc = out->failed ? -1 : 0;
out:
	buf_free(&b);
	buf_free(&sig);
	buf_free(&c);
	return rc;
}

/* Deterministic ECDSA with SHA-256 (the nonce is an HMAC of the private
 * key over the hash, in the spirit of RFC 6979): certificates made by the
 * simulator's fixed test keys come out byte-identical on every run, so a
 * test can pin the root it trusts. */
static int sign_deterministic(EVP_PKEY *key, const uint8_t *data, size_t len, bytebuf *sig)
{
	char gname[64];
	BIGNUM *d = NULL, *k = NULL, *e = NULL, *r = NULL, *s = NULL, *x = NULL, *kinv = NULL;
	EC_GROUP *g = NULL;
	EC_POINT *pt = NULL;
	BN_CTX *bc = BN_CTX_new();
	int rc = -1;
	uint8_t h[32], dbytes[66], mac[32];
	unsigned int mlen = 0;
	if (!bc || !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, gname, sizeof(gname), NULL) ||
	    !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d))
		goto out;
	int nid = OBJ_sn2nid(gname);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(gname);
	g = EC_GROUP_new_by_curve_name(nid);
	if (!g || EVP_Digest(data, len, h, NULL, EVP_sha256(), NULL) != 1)
		goto out;
	const BIGNUM *n = EC_GROUP_get0_order(g);
	int olen = BN_num_bytes(n);
	if (olen != 32 || BN_bn2binpad(d, dbytes, olen) != olen)
		goto out; /* only 256-bit curves: the hash needs no truncation */
	k = BN_new(); e = BN_bin2bn(h, 32, NULL); r = BN_new(); s = BN_new(); x = BN_new();
	pt = EC_POINT_new(g);
	if (!k || !e || !r || !s || !x || !pt)
		goto out;
	for (uint8_t counter = 0; counter < 16; counter++) {
		uint8_t msg[33];
		memcpy(msg, h, 32);
		msg[32] = counter;
		if (!HMAC(EVP_sha256(), dbytes, olen, msg, sizeof(msg), mac, &mlen) ||
		    !BN_bin2bn(mac, 32, k) || !BN_nnmod(k, k, n, bc) || BN_is_zero(k))
			continue;
		if (!EC_POINT_mul(g, pt, k, NULL, NULL, bc) ||
		    !EC_POINT_get_affine_coordinates(g, pt, x, NULL, bc) || !BN_nnmod(r, x, n, bc) || BN_is_zero(r))
			continue;
		BN_free(kinv);
		kinv = BN_mod_inverse(NULL, k, n, bc);
		if (!kinv || !BN_mod_mul(s, r, d, n, bc) || !BN_mod_add(s, s, e, n, bc) ||
		    !BN_mod_mul(s, s, kinv, n, bc) || BN_is_zero(s))
			continue;
		if (put_bn(sig, r, olen) == 0 && put_bn(sig, s, olen) == 0)
			rc = 0;
		break;
	}
out:
	OPENSSL_cleanse(dbytes, sizeof(dbytes));
	OPENSSL_cleanse(mac, sizeof(mac));
	BN_clear_free(d);
	BN_clear_free(k);
	BN_clear_free(kinv);
	BN_free(e);
	BN_free(r);
	BN_free(s);
	BN_free(x);
	EC_POINT_free(pt);
	EC_GROUP_free(g);
	BN_CTX_free(bc);
	return rc;
}

int cvc_cert(const cvc_body *f, EVP_PKEY *signer, int deterministic, bytebuf *out)
{
	static const uint8_t profile[1] = { 0x00 };
	bytebuf body = { 0 };
	int rc = -1;
	buf_put_tlv(&body, 0x5F29, profile, 1);
	buf_put_tlv(&body, 0x42, f->car, strlen(f->car));
	if (put_pubkey(&body, f->subject, CVC_OID_ECDSA_SHA256, sizeof(CVC_OID_ECDSA_SHA256), f->with_params))
		goto out;
	buf_put_tlv(&body, 0x5F20, f->chr, strlen(f->chr));
	if (f->chat_oid) {
		bytebuf chat = { 0 };
		buf_put_tlv(&chat, 0x06, f->chat_oid, f->chat_oid_len);
		buf_put_tlv(&chat, 0x53, &f->chat_role, 1);
		buf_put_tlv(&body, 0x7F4C, chat.data, chat.len);
		buf_free(&chat);
	}
	if (f->effective)
		buf_put_tlv(&body, 0x5F25, f->effective, 6);
	if (f->expiry)
		buf_put_tlv(&body, 0x5F24, f->expiry, 6);
	rc = body.failed ? -1
			 : put_signed(out, &body, signer, CVC_OID_ECDSA_SHA256,
				      sizeof(CVC_OID_ECDSA_SHA256), deterministic);
out:
	buf_free(&body);
	return rc;
}

int cvc_first_chr(const uint8_t *certs, size_t len, char chr[17])
{
	tlv c, b, h;
	size_t off = 0;
	if (tlv_next(certs, len, &off, &c) || c.tag != 0x7F21 ||
	    tlv_find(c.val, c.len, 0x7F4E, &b) || tlv_find(b.val, b.len, 0x5F20, &h) ||
	    h.len == 0 || h.len > 16)
		return -1;
	memcpy(chr, h.val, h.len);
	chr[h.len] = 0;
	return 0;
}

int cvc_key_request(EVP_PKEY *newkey, const uint8_t *oid, size_t oid_len,
		    const uint8_t *car, size_t car_len,
		    const uint8_t *chr, size_t chr_len,
		    EVP_PKEY *devkey, const char *dev_chr, bytebuf *out)
{
	static const uint8_t profile[1] = { 0x00 };
	bytebuf body = { 0 }, inner = { 0 }, auth = { 0 }, tbs = { 0 }, sig = { 0 };
	int rc = -1;
	buf_put_tlv(&body, 0x5F29, profile, 1);
	if (car)
		buf_put_tlv(&body, 0x42, car, car_len);
	if (put_pubkey(&body, newkey, oid, oid_len, 1))
		goto out;
	buf_put_tlv(&body, 0x5F20, chr, chr_len);
	if (body.failed || put_signed(&inner, &body, newkey, oid, oid_len, 0))
		goto out;
	/* Outer signature: over the inner request and the outer CAR. */
	buf_put(&tbs, inner.data, inner.len);
	buf_put_tlv(&tbs, 0x42, dev_chr, strlen(dev_chr));
	if (tbs.failed || cvc_sign(devkey, CVC_OID_ECDSA_SHA256, sizeof(CVC_OID_ECDSA_SHA256),
				   tbs.data, tbs.len, &sig))
		goto out;
	buf_put(&auth, tbs.data, tbs.len);
	buf_put_tlv(&auth, 0x5F37, sig.data, sig.len);
	if (auth.failed)
		goto out;
	buf_put_tlv(out, 0x67, auth.data, auth.len);
	rc = out->failed ? -1 : 0;
out:
	buf_free(&body);
	buf_free(&inner);
	buf_free(&auth);
	buf_free(&tbs);
	buf_free(&sig);
	return rc;
}
