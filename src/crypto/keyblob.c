#include "crypto/keyblob.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "crypto/dkek.h"

/* Fixed layout numbers of smartcard-hsm.md 7.3/7.4. */
#define KB_KCV_LEN 8
#define KB_MAC_LEN 16
#define KB_BLOCK 16
#define KB_RANDOM_LEN 8
#define KB_MAX_INT 1024 /* largest LV integer we accept: RSA 8192 bits */

static const uint8_t oid_rsa[] = { 0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x01, 0x02 };
static const uint8_t oid_ec[] = { 0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x02, 0x03 };
static const uint8_t oid_aes[] = { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01 };

static int known_type(int t)
{
	return t == KEYBLOB_RSA || t == KEYBLOB_RSA_CRT || t == KEYBLOB_EC ||
	       t == KEYBLOB_AES;
}

const char *keyblob_type_name(int type)
{
	switch (type) {
	case KEYBLOB_RSA: return "RSA";
	case KEYBLOB_RSA_CRT: return "RSA-CRT";
	case KEYBLOB_EC: return "EC";
	case KEYBLOB_AES: return "AES";
	default: return NULL;
	}
}

/* Reads an LV at *off of buf[0..len); the value stays inside buf. */
static int read_lv(const uint8_t *buf, size_t len, size_t *off,
		   const uint8_t **val, size_t *vlen)
{
	if (*off > len || len - *off < 2)
		return -1;
	size_t l = (size_t)buf[*off] << 8 | buf[*off + 1];
	if (l > len - *off - 2)
		return -1;
	*val = buf + *off + 2;
	*vlen = l;
	*off += 2 + l;
	return 0;
}

/* Header parse that also reports where the ciphertext starts. */
static int parse_header(const uint8_t *blob, size_t len, keyblob_info *info,
			size_t *cipher_off, hv_err *err)
{
	memset(info, 0, sizeof *info);
	if (!blob || len < KB_KCV_LEN + 1 + 8)
		return hv_fail(err, HV_EINTEGRITY,
			       "key blob is truncated (%zu bytes): the file is damaged; "
			       "restore it from another copy", len);
	memcpy(info->kcv, blob, KB_KCV_LEN);
	info->type = blob[KB_KCV_LEN];
	if (!known_type(info->type))
		return hv_fail(err, HV_EINTEGRITY,
			       "key blob has unknown key type %d (expected 5, 6, 12 or 15): "
			       "not a SmartCard-HSM key blob", info->type);
	size_t off = KB_KCV_LEN + 1;
	const uint8_t *v;
	size_t vl;
	static const char *names[4] = { "default algorithm", "allowed algorithms",
					"access conditions", "key OID" };
	for (int i = 0; i < 4; i++) {
		if (read_lv(blob, len, &off, &v, &vl) != 0)
			return hv_fail(err, HV_EINTEGRITY,
				       "key blob field '%s' runs past the end of the blob: "
				       "the file is damaged", names[i]);
		if (i == 0) {
			if (vl > sizeof info->alg_oid)
				return hv_fail(err, HV_EINTEGRITY,
					       "key blob default algorithm is %zu bytes "
					       "(at most %zu expected): the file is damaged",
					       vl, sizeof info->alg_oid);
			memcpy(info->alg_oid, v, vl);
			info->alg_oid_len = vl;
		} else if (i == 1) {
			if (vl > sizeof info->allowed)
				return hv_fail(err, HV_EINTEGRITY,
					       "key blob lists %zu allowed algorithms "
					       "(at most %zu expected): the file is damaged",
					       vl, sizeof info->allowed);
			memcpy(info->allowed, v, vl);
			info->allowed_len = vl;
		}
	}
	size_t rest = len - off;
	if (rest < KB_BLOCK + KB_MAC_LEN || (rest - KB_MAC_LEN) % KB_BLOCK != 0)
		return hv_fail(err, HV_EINTEGRITY,
			       "key blob ciphertext is %zu bytes, not a positive multiple of 16: "
			       "the file is truncated or damaged",
			       rest >= KB_MAC_LEN ? rest - KB_MAC_LEN : 0);
	*cipher_off = off;
	return 0;
}

int keyblob_parse_header(const uint8_t *blob, size_t len, keyblob_info *info,
			 hv_err *err)
{
	size_t off = 0;
	return parse_header(blob, len, info, &off, err);
}

static int cmac(const uint8_t key[32], const uint8_t *data, size_t len,
		uint8_t out[KB_MAC_LEN])
{
	int ok = 0;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	char cipher[] = "AES-256-CBC";
	OSSL_PARAM params[2] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
		OSSL_PARAM_construct_end(),
	};
	size_t outl = 0;
	if (ctx && EVP_MAC_init(ctx, key, 32, params) == 1 &&
	    EVP_MAC_update(ctx, data, len) == 1 &&
	    EVP_MAC_final(ctx, out, &outl, KB_MAC_LEN) == 1 && outl == KB_MAC_LEN)
		ok = 1;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ok ? 0 : -1;
}

/* AES-256-CBC, zero IV, no padding (the payload carries its own). */
static int aes_cbc(int enc, const uint8_t key[32], const uint8_t *in, size_t len,
		   uint8_t *out)
{
	static const uint8_t iv[16];
	int ok = 0, l1 = 0, l2 = 0;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (c && EVP_CipherInit_ex(c, EVP_aes_256_cbc(), NULL, key, iv, enc) == 1 &&
	    EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
	    EVP_CipherUpdate(c, out, &l1, in, (int)len) == 1 &&
	    EVP_CipherFinal_ex(c, out + l1, &l2) == 1 && (size_t)(l1 + l2) == len)
		ok = 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

static int check_blob(const uint8_t *blob, size_t len, const uint8_t dkek[32],
		      keyblob_info *info, size_t *cipher_off, hv_err *err)
{
	int rc = parse_header(blob, len, info, cipher_off, err);
	if (rc != 0)
		return rc;
	uint8_t kcv[DKEK_KCV_LEN];
	dkek_kcv(dkek, kcv);
	if (secure_memcmp(kcv, info->kcv, DKEK_KCV_LEN) != 0)
		return hv_fail(err, HV_EINTEGRITY,
			       "key blob is wrapped under a different DKEK (blob KCV "
			       "%02X%02X%02X%02X%02X%02X%02X%02X, this DKEK "
			       "%02X%02X%02X%02X%02X%02X%02X%02X): use the shares of "
			       "that DKEK",
			       info->kcv[0], info->kcv[1], info->kcv[2], info->kcv[3],
			       info->kcv[4], info->kcv[5], info->kcv[6], info->kcv[7],
			       kcv[0], kcv[1], kcv[2], kcv[3], kcv[4], kcv[5], kcv[6], kcv[7]);
	uint8_t kmac[32], mac[KB_MAC_LEN];
	dkek_kmac(dkek, kmac);
	int r = cmac(kmac, blob, len - KB_MAC_LEN, mac);
	secure_wipe(kmac, sizeof kmac);
	if (r != 0)
		return hv_fail(err, HV_EINTERNAL, "AES-CMAC is not available from OpenSSL");
	if (secure_memcmp(mac, blob + len - KB_MAC_LEN, KB_MAC_LEN) != 0)
		return hv_fail(err, HV_EINTEGRITY,
			       "key blob MAC does not verify under this DKEK: the blob "
			       "was altered or damaged; restore it from another copy");
	return 0;
}

int keyblob_check(const uint8_t *blob, size_t len, const uint8_t dkek[32],
		  hv_err *err)
{
	keyblob_info info;
	size_t off = 0;
	return check_blob(blob, len, dkek, &info, &off, err);
}

/* ---- decoding the payload ---- */

typedef struct lv {
	const uint8_t *p;
	size_t n;
} lv;

static int take_lvs(const uint8_t *buf, size_t len, size_t *off, lv *out, int count)
{
	for (int i = 0; i < count; i++)
		if (read_lv(buf, len, off, &out[i].p, &out[i].n) != 0)
			return -1;
	return 0;
}

static int bad_payload(hv_err *err, const char *what)
{
	return hv_fail(err, HV_EINTEGRITY,
		       "key blob payload is malformed (%s) although its MAC verifies: "
		       "the blob was made by a faulty encoder", what);
}

static BIGNUM *bn(const lv *v)
{
	if (v->n > KB_MAX_INT)
		return NULL;
	return BN_bin2bn(v->p, (int)v->n, NULL);
}

/* Private key parts go to OpenSSL's secure heap when it has one. */
static BIGNUM *bn_secret(const lv *v)
{
	BIGNUM *b = v->n <= KB_MAX_INT ? BN_secure_new() : NULL;
	if (b && !BN_bin2bn(v->p, (int)v->n, b)) {
		BN_clear_free(b);
		b = NULL;
	}
	return b;
}

/* a of y^2 = x^3 + ax + b from the generator, for blobs that leave a empty
 * (pico-hsm does for curves its library stores implicitly: a = -3 for the
 * NIST curves, 0 for the Koblitz ones). */
static BIGNUM *a_from_generator(const BIGNUM *p, const BIGNUM *b, const lv *g, BN_CTX *ctx)
{
	size_t fl = (size_t)BN_num_bytes(p);
	if (g->n != 1 + 2 * fl || g->p[0] != 0x04)
		return NULL;
	BIGNUM *x = BN_bin2bn(g->p + 1, (int)fl, NULL);
	BIGNUM *y = BN_bin2bn(g->p + 1 + fl, (int)fl, NULL);
	BIGNUM *t = BN_new(), *a = BN_new();
	int ok = x && y && t && a && !BN_is_zero(x) &&
		 BN_mod_sqr(a, y, p, ctx) &&          /* y^2 */
		 BN_mod_sqr(t, x, p, ctx) &&
		 BN_mod_mul(t, t, x, p, ctx) &&       /* x^3 */
		 BN_mod_sub(a, a, t, p, ctx) &&
		 BN_mod_sub(a, a, b, p, ctx) &&
		 BN_mod_inverse(t, x, p, ctx) &&
		 BN_mod_mul(a, a, t, p, ctx);
	BN_free(x);
	BN_free(y);
	BN_free(t);
	if (!ok) {
		BN_free(a);
		return NULL;
	}
	return a;
}

static int ec_from_payload(const lv f[7], EVP_PKEY **pkey, hv_err *err)
{
	int rc = HV_EINTEGRITY;
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *a = NULL, *b = bn(&f[1]), *p = bn(&f[2]), *n = bn(&f[3]);
	BIGNUM *d = BN_secure_new(), *one = BN_new();
	EC_GROUP *grp = NULL;
	EC_POINT *gp = NULL, *q = NULL, *qd = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	if (!ctx || !b || !p || !n || !d || !one || !BN_one(one)) {
		rc = bad_payload(err, "EC domain parameter missing or too long");
		goto out;
	}
	if (f[5].n == 0 || f[5].n > KB_MAX_INT || !BN_bin2bn(f[5].p, (int)f[5].n, d)) {
		rc = bad_payload(err, "EC private key missing");
		goto out;
	}
	a = f[0].n ? bn(&f[0]) : a_from_generator(p, b, &f[4], ctx);
	if (!a) {
		rc = bad_payload(err, "EC curve coefficient a");
		goto out;
	}
	grp = EC_GROUP_new_curve_GFp(p, a, b, ctx);
	gp = grp ? EC_POINT_new(grp) : NULL;
	q = grp ? EC_POINT_new(grp) : NULL;
	qd = grp ? EC_POINT_new(grp) : NULL;
	if (!gp || !q || !qd ||
	    EC_POINT_oct2point(grp, gp, f[4].p, f[4].n, ctx) != 1 ||
	    EC_GROUP_set_generator(grp, gp, n, one) != 1) {
		rc = bad_payload(err, "EC curve or generator invalid");
		goto out;
	}
	if (BN_is_zero(d) || BN_cmp(d, n) >= 0 ||
	    EC_POINT_oct2point(grp, q, f[6].p, f[6].n, ctx) != 1 ||
	    EC_POINT_mul(grp, qd, d, NULL, NULL, ctx) != 1 ||
	    EC_POINT_cmp(grp, q, qd, ctx) != 0) {
		rc = bad_payload(err, "EC public point Q does not belong to d");
		goto out;
	}
	/* Re-encode everything at full field length so OpenSSL can match a
	 * named curve regardless of how the blob trimmed the integers. */
	uint8_t qbuf[1 + 2 * 66 + 8], gbuf[1 + 2 * 66 + 8];
	size_t ql = EC_POINT_point2oct(grp, q, POINT_CONVERSION_UNCOMPRESSED, qbuf, sizeof qbuf, ctx);
	size_t gl = EC_POINT_point2oct(grp, gp, POINT_CONVERSION_UNCOMPRESSED, gbuf, sizeof gbuf, ctx);
	char field[] = SN_X9_62_prime_field;
	/* A known curve becomes a named-curve key: its public key then
	 * encodes like the card's and like every other tool's. */
	int nid = EC_GROUP_check_named_curve(grp, 0, ctx);
	const char *gname = nid > 0 ? OBJ_nid2sn(nid) : NULL;
	bld = OSSL_PARAM_BLD_new();
	if (bld && gname) {
		if (!ql || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, gname, 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, qbuf, ql) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
		    !(params = OSSL_PARAM_BLD_to_param(bld))) {
			rc = hv_fail(err, HV_ENOMEM, "out of memory building an EC key");
			goto out;
		}
	} else if (!ql || !gl || !bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_EC_FIELD_TYPE, field, 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_EC_P, p) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_EC_A, a) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_EC_B, b) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_EC_ORDER, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_EC_COFACTOR, one) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_EC_GENERATOR, gbuf, gl) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, qbuf, ql) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld))) {
		rc = hv_fail(err, HV_ENOMEM, "out of memory building an EC key");
		goto out;
	}
	pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!pctx || EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, pkey, EVP_PKEY_KEYPAIR, params) != 1) {
		rc = bad_payload(err, "OpenSSL refused the EC key");
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EC_POINT_free(gp);
	EC_POINT_free(q);
	EC_POINT_clear_free(qd);
	EC_GROUP_free(grp);
	BN_free(a);
	BN_free(b);
	BN_free(p);
	BN_free(n);
	BN_clear_free(d);
	BN_free(one);
	BN_CTX_free(ctx);
	return rc;
}

/* RSA: type 5 carries d, n, e; type 6 the CRT parts, from which d is
 * recomputed (OpenSSL wants it) as e^-1 mod lcm(p-1, q-1). */
static int rsa_from_payload(int type, const lv *f, EVP_PKEY **pkey, hv_err *err)
{
	int rc = HV_EINTEGRITY;
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *d = NULL, *n = NULL, *e = NULL, *p = NULL, *q = NULL;
	BIGNUM *dp = NULL, *dq = NULL, *qi = NULL, *t = NULL, *u = NULL, *g = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	if (!ctx)
		goto nomem;
	if (type == KEYBLOB_RSA) {
		d = bn_secret(&f[0]);
		n = bn(&f[1]);
		e = bn(&f[2]);
		if (!d || !n || !e || BN_is_zero(d) || BN_is_zero(n) || BN_is_zero(e)) {
			rc = bad_payload(err, "RSA component missing");
			goto out;
		}
		/* Check the pair: (2^e)^d = 2 mod n. */
		t = BN_new();
		u = BN_new();
		if (!t || !u || !BN_set_word(u, 2) ||
		    !BN_mod_exp(t, u, e, n, ctx) || !BN_mod_exp(t, t, d, n, ctx))
			goto nomem;
		if (BN_cmp(t, u) != 0) {
			rc = bad_payload(err, "RSA d does not match n and e");
			goto out;
		}
	} else {
		dp = bn_secret(&f[0]);
		dq = bn_secret(&f[1]);
		p = bn_secret(&f[2]);
		qi = bn_secret(&f[3]);
		q = bn_secret(&f[4]);
		n = bn(&f[5]);
		e = bn(&f[6]);
		if (!dp || !dq || !p || !qi || !q || !n || !e || BN_is_zero(e) ||
		    BN_is_zero(p) || BN_is_zero(q)) {
			rc = bad_payload(err, "RSA CRT component missing");
			goto out;
		}
		t = BN_new();
		u = BN_new();
		g = BN_new();
		d = BN_secure_new();
		if (!t || !u || !g || !d || !BN_mul(t, p, q, ctx))
			goto nomem;
		if (BN_cmp(t, n) != 0) {
			rc = bad_payload(err, "RSA p*q differs from n");
			goto out;
		}
		/* lcm(p-1, q-1) = (p-1)(q-1)/gcd */
		if (!BN_sub(t, p, BN_value_one()) || !BN_sub(u, q, BN_value_one()) ||
		    !BN_gcd(g, t, u, ctx) || !BN_mul(t, t, u, ctx) ||
		    !BN_div(t, NULL, t, g, ctx))
			goto nomem;
		if (!BN_mod_inverse(d, e, t, ctx)) {
			rc = bad_payload(err, "RSA e not invertible");
			goto out;
		}
		/* dp, dq and qinv must agree with p, q, d. */
		if (!BN_sub(u, p, BN_value_one()) || !BN_mod(g, d, u, ctx))
			goto nomem;
		int bad = BN_cmp(g, dp) != 0;
		if (!BN_sub(u, q, BN_value_one()) || !BN_mod(g, d, u, ctx))
			goto nomem;
		bad |= BN_cmp(g, dq) != 0;
		if (!BN_mod_mul(g, qi, q, p, ctx))
			goto nomem;
		bad |= !BN_is_one(g);
		if (bad) {
			rc = bad_payload(err, "RSA CRT parts inconsistent");
			goto out;
		}
	}
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d))
		goto nomem;
	if (type == KEYBLOB_RSA_CRT &&
	    (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p) ||
	     !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q) ||
	     !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp) ||
	     !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq) ||
	     !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qi)))
		goto nomem;
	if (!(params = OSSL_PARAM_BLD_to_param(bld)))
		goto nomem;
	pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!pctx || EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, pkey, EVP_PKEY_KEYPAIR, params) != 1) {
		rc = bad_payload(err, "OpenSSL refused the RSA key");
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	rc = hv_fail(err, HV_ENOMEM, "out of memory building an RSA key");
out:
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(d);
	BN_free(n);
	BN_free(e);
	BN_clear_free(p);
	BN_clear_free(q);
	BN_clear_free(dp);
	BN_clear_free(dq);
	BN_clear_free(qi);
	BN_clear_free(t);
	BN_clear_free(u);
	BN_clear_free(g);
	BN_CTX_free(ctx);
	return rc;
}

int keyblob_unwrap(const uint8_t *blob, size_t len, const uint8_t dkek[32],
		   keyblob_info *info, EVP_PKEY **pkey, secbuf **aes_key,
		   hv_err *err)
{
	keyblob_info local;
	if (!info)
		info = &local;
	if (pkey)
		*pkey = NULL;
	if (aes_key)
		*aes_key = NULL;
	size_t off = 0;
	int rc = check_blob(blob, len, dkek, info, &off, err);
	if (rc != 0)
		return rc;
	size_t clen = len - off - KB_MAC_LEN;
	secbuf *pt = secbuf_new(clen);
	if (!pt)
		return hv_fail(err, HV_ENOMEM, "out of memory decrypting a key blob");
	uint8_t kenc[32];
	dkek_kenc(dkek, kenc);
	rc = aes_cbc(0, kenc, blob + off, clen, pt->data);
	secure_wipe(kenc, sizeof kenc);
	if (rc != 0) {
		secbuf_free(pt);
		return hv_fail(err, HV_EINTERNAL, "AES-256-CBC decryption failed in OpenSSL");
	}
	pt->len = clen;
	const uint8_t *b = pt->data;
	size_t p = KB_RANDOM_LEN + 2;
	if (clen < p) {
		rc = bad_payload(err, "too short");
		goto out;
	}
	info->key_size = (unsigned)b[KB_RANDOM_LEN] << 8 | b[KB_RANDOM_LEN + 1];
	lv f[7];
	switch (info->type) {
	case KEYBLOB_AES:
		if (info->key_size != 16 && info->key_size != 24 && info->key_size != 32) {
			rc = bad_payload(err, "AES key size not 16, 24 or 32 bytes");
			goto out;
		}
		if (clen - p < info->key_size) {
			rc = bad_payload(err, "AES key runs past the payload");
			goto out;
		}
		if (!aes_key) {
			rc = hv_fail(err, HV_EUSAGE,
				     "key blob holds an AES key where an RSA or EC key was expected");
			goto out;
		}
		if (!(*aes_key = secbuf_dup(b + p, info->key_size))) {
			rc = hv_fail(err, HV_ENOMEM, "out of memory");
			goto out;
		}
		rc = 0;
		break;
	case KEYBLOB_EC:
		if (take_lvs(b, clen, &p, f, 7) != 0) {
			rc = bad_payload(err, "EC fields run past the payload");
			goto out;
		}
		if (!pkey) {
			rc = hv_fail(err, HV_EUSAGE,
				     "key blob holds an EC key where an AES key was expected");
			goto out;
		}
		rc = ec_from_payload(f, pkey, err);
		break;
	default: /* RSA, RSA CRT: parse_header admitted nothing else */
		if (take_lvs(b, clen, &p, f, info->type == KEYBLOB_RSA ? 3 : 7) != 0) {
			rc = bad_payload(err, "RSA fields run past the payload");
			goto out;
		}
		if (!pkey) {
			rc = hv_fail(err, HV_EUSAGE,
				     "key blob holds an RSA key where an AES key was expected");
			goto out;
		}
		rc = rsa_from_payload(info->type, f, pkey, err);
		break;
	}
out:
	secbuf_free(pt);
	return rc;
}

/* ---- encoding ---- */

/* Appends to a secret plaintext buffer sized in advance. */
typedef struct sbw {
	secbuf *b;
	int failed;
} sbw;

static void sbw_put(sbw *w, const void *d, size_t n)
{
	if (w->failed || n > w->b->cap - w->b->len) {
		w->failed = 1;
		return;
	}
	if (n)
		memcpy(w->b->data + w->b->len, d, n);
	w->b->len += n;
}

static void sbw_u16(sbw *w, unsigned v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	sbw_put(w, x, 2);
}

/* LV of an unsigned integer: minimal length, or exactly `width` bytes when
 * width > 0 (full-length EC fields). */
static void sbw_bn(sbw *w, const BIGNUM *v, int width)
{
	int n = width > 0 ? width : BN_num_bytes(v);
	if (w->failed || n > 0xFFFF || (size_t)n + 2 > w->b->cap - w->b->len) {
		w->failed = 1;
		return;
	}
	sbw_u16(w, (unsigned)n);
	if (BN_bn2binpad(v, w->b->data + w->b->len, n) != n) {
		w->failed = 1;
		return;
	}
	w->b->len += (size_t)n;
}

static void sbw_lv(sbw *w, const uint8_t *d, size_t n)
{
	if (n > 0xFFFF) {
		w->failed = 1;
		return;
	}
	sbw_u16(w, (unsigned)n);
	sbw_put(w, d, n);
}

/* Header, AES-256-CBC(KENC) of the padded plaintext, CMAC(KMAC). The
 * plaintext is padded here: 80 then zeros, always (ISO 9797-1 method 2). */
static int seal(int type, const uint8_t *oid, size_t oid_len,
		const uint8_t *allowed, size_t allowed_len, const uint8_t dkek[32],
		secbuf *pt, bytebuf *out, hv_err *err)
{
	if (allowed_len > 32)
		return hv_fail(err, HV_EUSAGE,
			       "%zu allowed algorithms is too many for a key blob (at most 32)",
			       allowed_len);
	size_t padded = (pt->len / KB_BLOCK + 1) * KB_BLOCK;
	if (padded > pt->cap)
		return hv_fail(err, HV_EINTERNAL, "key blob plaintext buffer too small");
	pt->data[pt->len] = 0x80;
	memset(pt->data + pt->len + 1, 0, padded - pt->len - 1);
	pt->len = padded;

	size_t start = out->len;
	uint8_t kcv[DKEK_KCV_LEN];
	dkek_kcv(dkek, kcv);
	buf_put(out, kcv, sizeof kcv);
	buf_put_u8(out, (uint8_t)type);
	buf_put_lv(out, oid, oid_len);
	buf_put_lv(out, allowed, allowed_len);
	buf_put_lv(out, NULL, 0);
	buf_put_lv(out, NULL, 0);
	uint8_t k[32];
	dkek_kenc(dkek, k);
	int r = aes_cbc(1, k, pt->data, padded, pt->data); /* in place */
	if (r == 0)
		buf_put(out, pt->data, padded);
	uint8_t mac[KB_MAC_LEN];
	dkek_kmac(dkek, k);
	if (r == 0 && !out->failed)
		r = cmac(k, out->data + start, out->len - start, mac);
	secure_wipe(k, sizeof k);
	if (out->failed)
		return hv_fail(err, HV_ENOMEM, "out of memory building a key blob");
	if (r != 0) {
		out->len = start;
		return hv_fail(err, HV_EINTERNAL, "AES encryption or CMAC failed in OpenSSL");
	}
	buf_put(out, mac, sizeof mac);
	if (out->failed)
		return hv_fail(err, HV_ENOMEM, "out of memory building a key blob");
	return 0;
}

static int put_random(sbw *w, const uint8_t *random8, hv_err *err)
{
	uint8_t r[KB_RANDOM_LEN];
	if (random8)
		memcpy(r, random8, sizeof r);
	else if (RAND_bytes(r, sizeof r) != 1)
		return hv_fail(err, HV_EINTERNAL, "the random number generator failed");
	sbw_put(w, r, sizeof r);
	secure_wipe(r, sizeof r);
	return 0;
}

static int wrap_ec(EVP_PKEY *pkey, sbw *w, const uint8_t *random8, hv_err *err)
{
	int rc = HV_EUSAGE;
	BN_CTX *ctx = BN_CTX_new();
	EC_GROUP *grp = NULL;
	EC_POINT *q = NULL;
	BIGNUM *p = BN_new(), *a = BN_new(), *b = BN_new(), *d = NULL;
	char name[80];
	size_t nl = 0;
	if (!ctx || !p || !a || !b) {
		rc = hv_fail(err, HV_ENOMEM, "out of memory");
		goto out;
	}
	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name,
					   sizeof name, &nl) == 1) {
		int nid = OBJ_txt2nid(name);
		if (nid == NID_undef)
			nid = EC_curve_nist2nid(name);
		grp = nid != NID_undef ? EC_GROUP_new_by_curve_name(nid) : NULL;
	} else {
		BIGNUM *n = NULL, *cof = NULL;
		uint8_t g[1 + 2 * 66 + 8];
		size_t gl = 0;
		if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_P, &p) == 1 &&
		    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_A, &a) == 1 &&
		    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_B, &b) == 1 &&
		    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_ORDER, &n) == 1 &&
		    EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_EC_GENERATOR,
						    g, sizeof g, &gl) == 1 &&
		    (grp = EC_GROUP_new_curve_GFp(p, a, b, ctx))) {
			EC_POINT *gp = EC_POINT_new(grp);
			if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_COFACTOR, &cof) != 1)
				cof = NULL;
			if (!gp || EC_POINT_oct2point(grp, gp, g, gl, ctx) != 1 ||
			    EC_GROUP_set_generator(grp, gp, n, cof) != 1) {
				EC_GROUP_free(grp);
				grp = NULL;
			}
			EC_POINT_free(gp);
		}
		BN_free(n);
		BN_free(cof);
	}
	if (!grp || EC_GROUP_get_curve(grp, p, a, b, ctx) != 1) {
		rc = hv_fail(err, HV_EUSAGE,
			     "EC key uses a curve hsmvault cannot describe to the card");
		goto out;
	}
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1) {
		rc = hv_fail(err, HV_EUSAGE, "EC key has no private part to wrap");
		goto out;
	}
	const BIGNUM *n = EC_GROUP_get0_order(grp);
	int fl = BN_num_bytes(p), ol = BN_num_bytes(n);
	q = EC_POINT_new(grp);
	if (!q || EC_POINT_mul(grp, q, d, NULL, NULL, ctx) != 1) {
		rc = hv_fail(err, HV_EINTERNAL, "EC point multiplication failed");
		goto out;
	}
	uint8_t pt[1 + 2 * 66 + 8];
	if ((rc = put_random(w, random8, err)) != 0)
		goto out;
	sbw_u16(w, (unsigned)fl * 8);
	sbw_bn(w, a, fl);
	sbw_bn(w, b, fl);
	sbw_bn(w, p, fl);
	sbw_bn(w, n, ol);
	size_t l = EC_POINT_point2oct(grp, EC_GROUP_get0_generator(grp),
				      POINT_CONVERSION_UNCOMPRESSED, pt, sizeof pt, ctx);
	sbw_lv(w, pt, l);
	sbw_bn(w, d, ol);
	l = EC_POINT_point2oct(grp, q, POINT_CONVERSION_UNCOMPRESSED, pt, sizeof pt, ctx);
	sbw_lv(w, pt, l);
	rc = w->failed ? hv_fail(err, HV_EINTERNAL, "EC key blob plaintext overflow") : 0;
out:
	EC_POINT_free(q);
	EC_GROUP_free(grp);
	BN_free(p);
	BN_free(a);
	BN_free(b);
	BN_clear_free(d);
	BN_CTX_free(ctx);
	return rc;
}

static int wrap_rsa(EVP_PKEY *pkey, int crt, sbw *w, const uint8_t *random8, hv_err *err)
{
	int rc;
	BIGNUM *v[8] = { 0 };
	/* n e d p q dp dq qinv */
	static const char *names[8] = {
		OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
		OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
		OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
		OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
	};
	int need = crt ? 8 : 3;
	for (int i = 0; i < need; i++) {
		if (EVP_PKEY_get_bn_param(pkey, names[i], &v[i]) != 1) {
			rc = hv_fail(err, HV_EUSAGE, "RSA key lacks its %s%s", names[i],
				     i >= 3 ? " (CRT form needs p, q and the CRT exponents)" : "");
			goto out;
		}
	}
	if ((rc = put_random(w, random8, err)) != 0)
		goto out;
	sbw_u16(w, (unsigned)BN_num_bits(v[0]));
	if (crt) {
		sbw_bn(w, v[5], 0);
		sbw_bn(w, v[6], 0);
		sbw_bn(w, v[3], 0);
		sbw_bn(w, v[7], 0);
		sbw_bn(w, v[4], 0);
		sbw_bn(w, v[0], 0);
		sbw_bn(w, v[1], 0);
	} else {
		sbw_bn(w, v[2], 0);
		sbw_bn(w, v[0], 0);
		sbw_bn(w, v[1], 0);
	}
	rc = w->failed ? hv_fail(err, HV_EINTERNAL, "RSA key blob plaintext overflow") : 0;
out:
	for (int i = 0; i < 8; i++)
		BN_clear_free(v[i]);
	return rc;
}

int keyblob_wrap_pkey(EVP_PKEY *pkey, const uint8_t dkek[32],
		      const uint8_t *allowed, size_t allowed_len, int rsa_crt,
		      const uint8_t *random8, bytebuf *out, hv_err *err)
{
	if (!pkey)
		return hv_fail(err, HV_EINTERNAL, "no key given to wrap");
	int id = EVP_PKEY_get_base_id(pkey);
	if (id != EVP_PKEY_EC && id != EVP_PKEY_RSA)
		return hv_fail(err, HV_EUSAGE,
			       "only RSA and EC keys can be wrapped as SmartCard-HSM key blobs");
	int bits = EVP_PKEY_get_bits(pkey);
	/* Bound: random, size, and RSA CRT's seven LVs of at most modulus size
	 * (EC is far smaller), plus a padding block. */
	size_t cap = 16 + 7 * (2 + (size_t)(bits > 0 ? bits : 8192) / 8 + 2) + 3 * 140 + 2 * KB_BLOCK;
	secbuf *pt = secbuf_new(cap);
	if (!pt)
		return hv_fail(err, HV_ENOMEM, "out of memory wrapping a key");
	sbw w = { pt, 0 };
	int rc, type;
	if (id == EVP_PKEY_EC) {
		type = KEYBLOB_EC;
		rc = wrap_ec(pkey, &w, random8, err);
	} else {
		type = rsa_crt ? KEYBLOB_RSA_CRT : KEYBLOB_RSA;
		rc = wrap_rsa(pkey, rsa_crt, &w, random8, err);
	}
	if (rc == 0)
		rc = seal(type, type == KEYBLOB_EC ? oid_ec : oid_rsa,
			  type == KEYBLOB_EC ? sizeof oid_ec : sizeof oid_rsa,
			  allowed, allowed_len, dkek, pt, out, err);
	secbuf_free(pt);
	return rc;
}

int keyblob_wrap_aes(const uint8_t *key, size_t key_len, const uint8_t dkek[32],
		     const uint8_t *allowed, size_t allowed_len,
		     const uint8_t *random8, bytebuf *out, hv_err *err)
{
	if (key_len != 16 && key_len != 24 && key_len != 32)
		return hv_fail(err, HV_EUSAGE,
			       "AES key is %zu bytes; only 16, 24 or 32 can be wrapped", key_len);
	secbuf *pt = secbuf_new(KB_RANDOM_LEN + 2 + 32 + KB_BLOCK);
	if (!pt)
		return hv_fail(err, HV_ENOMEM, "out of memory wrapping a key");
	sbw w = { pt, 0 };
	int rc = put_random(&w, random8, err);
	if (rc == 0) {
		sbw_u16(&w, (unsigned)key_len);
		sbw_put(&w, key, key_len);
		rc = w.failed ? hv_fail(err, HV_EINTERNAL, "AES key blob plaintext overflow")
			      : seal(KEYBLOB_AES, oid_aes, sizeof oid_aes, allowed,
				     allowed_len, dkek, pt, out, err);
	}
	secbuf_free(pt);
	return rc;
}
