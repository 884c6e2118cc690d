/* CV certificate parsing, EC keys from CV public keys, CVC signatures.
 * Nesting is fixed by the format (7F21 > 7F4E > 7F49/7F4C), so each level
 * has its own loop: input cannot make the parser recurse. */
#include "crypto/cvc.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "util/tlv.h"

/* Copies a CAR/CHR value into out, refusing what could not be a name (and
 * could carry terminal escapes into a log line). */
static int get_name(const tlv *t, char out[CVCERT_NAME_MAX + 1], const char *what,
		    hv_err *err)
{
	if (t->len == 0 || t->len > CVCERT_NAME_MAX)
		return hv_fail(err, HV_EUSAGE, "%s has %zu bytes (1 to %d allowed)",
			       what, t->len, CVCERT_NAME_MAX);
	for (size_t i = 0; i < t->len; i++)
		if (t->val[i] < 0x21 || t->val[i] > 0x7E)
			return hv_fail(err, HV_EUSAGE,
				       "%s holds a byte that is not printable ASCII (%02X)",
				       what, t->val[i]);
	memcpy(out, t->val, t->len);
	out[t->len] = '\0';
	return 0;
}

/* 5F25/5F24: six bytes, each one decimal digit, YYMMDD of the 21st century. */
static int get_date(const tlv *t, char out[11], const char *what, hv_err *err)
{
	if (t->len != 6)
		return hv_fail(err, HV_EUSAGE, "%s has %zu bytes, not 6", what, t->len);
	for (size_t i = 0; i < 6; i++)
		if (t->val[i] > 9)
			return hv_fail(err, HV_EUSAGE, "%s holds a byte that is not a digit", what);
	out[0] = '2';
	out[1] = '0';
	out[2] = (char)('0' + t->val[0]);
	out[3] = (char)('0' + t->val[1]);
	out[4] = '-';
	out[5] = (char)('0' + t->val[2]);
	out[6] = (char)('0' + t->val[3]);
	out[7] = '-';
	out[8] = (char)('0' + t->val[4]);
	out[9] = (char)('0' + t->val[5]);
	out[10] = '\0';
	return 0;
}

static void set_span(cvcert_span *s, const tlv *t)
{
	s->p = t->val;
	s->len = t->len;
}

/* 7F49: 06 OID, then 81..87. Every element at most once. */
static int parse_pubkey(const tlv *pk, cvcert *c, hv_err *err)
{
	cvcert_span *slot[8] = { NULL, &c->p, &c->a, &c->b, &c->g, &c->n, &c->q, &c->h };
	size_t off = 0;
	tlv t;
	while (off < pk->len) {
		if (tlv_next(pk->val, pk->len, &off, &t))
			return hv_fail(err, HV_EUSAGE, "the public key (7F49) is not well-formed TLV");
		cvcert_span *dst;
		if (t.tag == 0x06)
			dst = &c->key_oid;
		else if (t.tag >= 0x81 && t.tag <= 0x87)
			dst = slot[t.tag - 0x80];
		else
			return hv_fail(err, HV_EUSAGE, "the public key (7F49) holds unknown tag %X", t.tag);
		if (dst->p)
			return hv_fail(err, HV_EUSAGE, "the public key (7F49) holds tag %X twice", t.tag);
		if (t.len == 0)
			return hv_fail(err, HV_EUSAGE, "the public key (7F49) holds an empty tag %X", t.tag);
		set_span(dst, &t);
	}
	if (!c->key_oid.p)
		return hv_fail(err, HV_EUSAGE, "the public key (7F49) has no algorithm OID (06)");
	return 0;
}

/* 7F4C: 06 role OID, 53 rights. */
static int parse_chat(const tlv *chat, cvcert *c, hv_err *err)
{
	size_t off = 0;
	tlv t;
	while (off < chat->len) {
		if (tlv_next(chat->val, chat->len, &off, &t))
			return hv_fail(err, HV_EUSAGE, "the CHAT (7F4C) is not well-formed TLV");
		cvcert_span *dst = t.tag == 0x06 ? &c->chat_oid : t.tag == 0x53 ? &c->chat_rights : NULL;
		if (!dst)
			return hv_fail(err, HV_EUSAGE, "the CHAT (7F4C) holds unknown tag %X", t.tag);
		if (dst->p)
			return hv_fail(err, HV_EUSAGE, "the CHAT (7F4C) holds tag %X twice", t.tag);
		set_span(dst, &t);
	}
	if (!c->chat_oid.p || !c->chat_rights.p || c->chat_rights.len == 0)
		return hv_fail(err, HV_EUSAGE, "the CHAT (7F4C) lacks its role OID or rights");
	return 0;
}

/* The body's elements, each at most once; bit i of `seen` marks the i-th
 * of body_tags. */
static const uint32_t body_tags[] = { 0x5F29, 0x42, 0x7F49, 0x5F20, 0x7F4C, 0x5F25, 0x5F24, 0x65 };

static int parse_body(const tlv *body, cvcert *c, hv_err *err)
{
	unsigned seen = 0;
	size_t off = 0;
	tlv t;
	while (off < body->len) {
		if (tlv_next(body->val, body->len, &off, &t))
			return hv_fail(err, HV_EUSAGE, "the certificate body (7F4E) is not well-formed TLV");
		unsigned i = 0;
		while (i < sizeof body_tags / sizeof body_tags[0] && body_tags[i] != t.tag)
			i++;
		if (i == sizeof body_tags / sizeof body_tags[0])
			return hv_fail(err, HV_EUSAGE, "the certificate body (7F4E) holds unknown tag %X", t.tag);
		if (seen & (1u << i))
			return hv_fail(err, HV_EUSAGE, "the certificate body (7F4E) holds tag %X twice", t.tag);
		seen |= 1u << i;
		int rc = 0;
		switch (t.tag) {
		case 0x5F29:
			if (t.len != 1)
				return hv_fail(err, HV_EUSAGE, "the profile identifier (5F29) is not one byte");
			c->cpi = t.val[0];
			break;
		case 0x42:
			rc = get_name(&t, c->car, "the CAR (42)", err);
			break;
		case 0x7F49:
			rc = parse_pubkey(&t, c, err);
			break;
		case 0x5F20:
			rc = get_name(&t, c->chr, "the CHR (5F20)", err);
			break;
		case 0x7F4C:
			rc = parse_chat(&t, c, err);
			break;
		case 0x5F25:
			rc = get_date(&t, c->effective, "the effective date (5F25)", err);
			break;
		case 0x5F24:
			rc = get_date(&t, c->expiry, "the expiry date (5F24)", err);
			break;
		default: /* 0x65 */
			c->has_extensions = 1;
			break;
		}
		if (rc)
			return rc;
	}
	if (!c->chr[0])
		return hv_fail(err, HV_EUSAGE, "the certificate body (7F4E) has no CHR (5F20)");
	if (!c->key_oid.p)
		return hv_fail(err, HV_EUSAGE, "the certificate body (7F4E) has no public key (7F49)");
	return 0;
}

int cvcert_parse(const uint8_t *buf, size_t len, cvcert *c, hv_err *err)
{
	memset(c, 0, sizeof *c);
	c->cpi = -1;
	size_t off = 0;
	tlv cert, body, sig;
	if (tlv_next(buf, len, &off, &cert) || off != len)
		return hv_fail(err, HV_EUSAGE, "not one well-formed TLV element");
	if (cert.tag != 0x7F21)
		return hv_fail(err, HV_EUSAGE, "tag %X where a CV certificate (7F21) belongs", cert.tag);
	off = 0;
	if (tlv_next(cert.val, cert.len, &off, &body) || body.tag != 0x7F4E ||
	    tlv_next(cert.val, cert.len, &off, &sig) || sig.tag != 0x5F37 || off != cert.len)
		return hv_fail(err, HV_EUSAGE,
			       "a CV certificate (7F21) must hold a body (7F4E) and a signature (5F37), nothing else");
	c->raw.p = cert.raw;
	c->raw.len = cert.raw_len;
	c->body.p = body.raw;
	c->body.len = body.raw_len;
	set_span(&c->sig, &sig);
	return parse_body(&body, c, err);
}

int cvcert_parse_request(const uint8_t *buf, size_t len, cvcert_request *r, hv_err *err)
{
	memset(r, 0, sizeof *r);
	size_t off = 0;
	tlv req, inner, car, sig;
	if (tlv_next(buf, len, &off, &req) || off != len)
		return hv_fail(err, HV_EUSAGE, "not one well-formed TLV element");
	if (req.tag != 0x67)
		return hv_fail(err, HV_EUSAGE, "tag %X where an authenticated request (67) belongs", req.tag);
	off = 0;
	if (tlv_next(req.val, req.len, &off, &inner) || inner.tag != 0x7F21 ||
	    tlv_next(req.val, req.len, &off, &car) || car.tag != 0x42 ||
	    tlv_next(req.val, req.len, &off, &sig) || sig.tag != 0x5F37 || off != req.len)
		return hv_fail(err, HV_EUSAGE,
			       "an authenticated request (67) must hold 7F21, 42 and 5F37, nothing else");
	int rc = cvcert_parse(inner.raw, inner.raw_len, &r->inner, err);
	if (rc) {
		hv_err_prefix(err, "the request's inner certificate");
		return rc;
	}
	rc = get_name(&car, r->outer_car, "the request's outer CAR (42)", err);
	if (rc)
		return rc;
	r->outer_signed.p = inner.raw;
	r->outer_signed.len = inner.raw_len + car.raw_len; /* adjacent in buf */
	set_span(&r->outer_sig, &sig);
	return 0;
}

const char *cvcert_role(const cvcert *c)
{
	if (!c->chat_rights.p)
		return "";
	switch (c->chat_rights.p[0] & 0xC0) {
	case 0xC0:
		return "root";
	case 0x00:
		return "device";
	default:
		return "issuer";
	}
}

/* id-TA-ECDSA = 0.4.0.127.0.7.2.2.2.2; the last arc picks the hash. */
static const uint8_t ta_ecdsa_prefix[9] = { 0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x02 };

int cvcert_ecdsa_md(const cvcert *c, const EVP_MD **md)
{
	if (c->key_oid.len != 10 || memcmp(c->key_oid.p, ta_ecdsa_prefix, 9) != 0)
		return 0;
	switch (c->key_oid.p[9]) {
	case 1: *md = EVP_sha1(); return 1;
	case 2: *md = EVP_sha224(); return 1;
	case 3: *md = EVP_sha256(); return 1;
	case 4: *md = EVP_sha384(); return 1;
	case 5: *md = EVP_sha512(); return 1;
	default: return 0;
	}
}

static const int known_curves[] = {
	NID_brainpoolP256r1, NID_brainpoolP384r1, NID_brainpoolP512r1,
	NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1, NID_secp256k1,
};

int cvcert_curve_known(int nid)
{
	for (size_t i = 0; i < sizeof known_curves / sizeof known_curves[0]; i++)
		if (known_curves[i] == nid)
			return 1;
	return 0;
}

static int span_equals_bn(const cvcert_span *s, const BIGNUM *want, BIGNUM *tmp)
{
	return BN_bin2bn(s->p, (int)s->len, tmp) && BN_cmp(tmp, want) == 0;
}

/* 1 when the certificate's parameters are exactly those of curve nid,
 * 0 when not, -1 when OpenSSL failed. Values compare as integers (leading
 * zero bytes do not matter); G must be 04 || x || y at the field size. */
static int params_match(const cvcert *c, int nid, BN_CTX *bn)
{
	int rc = -1;
	EC_GROUP *grp = EC_GROUP_new_by_curve_name(nid);
	BN_CTX_start(bn);
	BIGNUM *p = BN_CTX_get(bn), *a = BN_CTX_get(bn), *b = BN_CTX_get(bn);
	BIGNUM *x = BN_CTX_get(bn), *y = BN_CTX_get(bn), *tmp = BN_CTX_get(bn);
	if (!grp || !tmp || !EC_GROUP_get_curve(grp, p, a, b, bn) ||
	    !EC_POINT_get_affine_coordinates(grp, EC_GROUP_get0_generator(grp), x, y, bn))
		goto out;
	rc = 0;
	size_t field = (size_t)BN_num_bytes(p);
	if (c->g.len != 1 + 2 * field || c->g.p[0] != 0x04)
		goto out;
	cvcert_span gx = { c->g.p + 1, field }, gy = { c->g.p + 1 + field, field };
	static const uint8_t one = 1;
	cvcert_span h = c->h.p ? c->h : (cvcert_span){ &one, 1 };
	if (span_equals_bn(&c->p, p, tmp) && span_equals_bn(&c->a, a, tmp) &&
	    span_equals_bn(&c->b, b, tmp) && span_equals_bn(&gx, x, tmp) &&
	    span_equals_bn(&gy, y, tmp) &&
	    span_equals_bn(&c->n, EC_GROUP_get0_order(grp), tmp) &&
	    span_equals_bn(&h, EC_GROUP_get0_cofactor(grp), tmp))
		rc = 1;
out:
	BN_CTX_end(bn);
	EC_GROUP_free(grp);
	return rc;
}

int cvcert_curve(const cvcert *c, int *nid, hv_err *err)
{
	*nid = 0;
	int have = !!c->p.p + !!c->a.p + !!c->b.p + !!c->g.p + !!c->n.p;
	if (have == 0 && !c->h.p)
		return 0;
	if (have != 5)
		return hv_fail(err, HV_EUSAGE,
			       "%s carries only part of its domain parameters (81 to 85)", c->chr);
	BN_CTX *bn = BN_CTX_new();
	if (!bn)
		return hv_fail(err, HV_ENOMEM, "out of memory comparing domain parameters");
	for (size_t i = 0; i < sizeof known_curves / sizeof known_curves[0]; i++) {
		int m = params_match(c, known_curves[i], bn);
		if (m < 0) {
			BN_CTX_free(bn);
			ERR_clear_error();
			return hv_fail(err, HV_EINTERNAL, "OpenSSL could not describe curve %s",
				       OBJ_nid2sn(known_curves[i]));
		}
		if (m) {
			*nid = known_curves[i];
			BN_CTX_free(bn);
			return 0;
		}
	}
	BN_CTX_free(bn);
	return hv_fail(err, HV_EUSAGE,
		       "%s: its explicit domain parameters are not those of a known named curve", c->chr);
}

int cvcert_public_key(const cvcert *c, int nid, EVP_PKEY **out, hv_err *err)
{
	*out = NULL;
	if (!cvcert_curve_known(nid))
		return hv_fail(err, HV_EINTERNAL, "cvcert_public_key: curve %d is not supported", nid);
	EC_GROUP *grp = EC_GROUP_new_by_curve_name(nid);
	if (!grp)
		return hv_fail(err, HV_ENOMEM, "out of memory building curve %s", OBJ_nid2sn(nid));
	size_t field = (size_t)(EC_GROUP_get_degree(grp) + 7) / 8;
	EC_GROUP_free(grp);
	if (!c->q.p || c->q.len != 1 + 2 * field || c->q.p[0] != 0x04)
		return hv_fail(err, HV_EUSAGE,
			       "%s: its public point (86) is not an uncompressed %s point", c->chr,
			       OBJ_nid2sn(nid));

	int rc = HV_ENOMEM;
	EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
						     OBJ_nid2sn(nid), 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, c->q.p, c->q.len) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)) ||
	    !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)))
		goto out;
	/* fromdata decodes the point and refuses one off the curve; the
	 * public check adds the range and order checks (n * Q = O). */
	if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0 ||
	    !(chk = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL)) ||
	    EVP_PKEY_public_check(chk) != 1) {
		rc = HV_EUSAGE;
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	ERR_clear_error();
	if (rc) {
		EVP_PKEY_free(*out);
		*out = NULL;
		if (rc == HV_EUSAGE)
			return hv_fail(err, rc, "%s: its public point is not on curve %s", c->chr,
				       OBJ_nid2sn(nid));
		return hv_fail(err, rc, "out of memory building the public key of %s", c->chr);
	}
	return 0;
}

/* r || s (each half `half` bytes) as a DER ECDSA-Sig-Value. */
static int sig_to_der(const uint8_t *sig, size_t half, uint8_t **der, int *der_len)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)half, NULL);
	BIGNUM *ss = BN_bin2bn(sig + half, (int)half, NULL);
	if (!s || !r || !ss || !ECDSA_SIG_set0(s, r, ss)) {
		ECDSA_SIG_free(s);
		BN_free(r);
		BN_free(ss);
		return -1;
	}
	*der = NULL;
	*der_len = i2d_ECDSA_SIG(s, der);
	ECDSA_SIG_free(s);
	return *der_len > 0 ? 0 : -1;
}

int cvcert_verify(const cvcert *signer, EVP_PKEY *signer_key,
		  const uint8_t *data, size_t len,
		  const uint8_t *sig, size_t sig_len, hv_err *err)
{
	const EVP_MD *md;
	if (!cvcert_ecdsa_md(signer, &md))
		return hv_fail(err, HV_EINTEGRITY,
			       "%s does not sign with ECDSA (its key OID is not id-TA-ECDSA-SHA-*)",
			       signer->chr);
	size_t half = (size_t)(EVP_PKEY_get_bits(signer_key) + 7) / 8;
	if (sig_len != 2 * half)
		return hv_fail(err, HV_EINTEGRITY,
			       "the signature has %zu bytes where %s signs with %zu", sig_len,
			       signer->chr, 2 * half);
	uint8_t *der = NULL;
	int der_len = 0;
	if (sig_to_der(sig, half, &der, &der_len)) {
		ERR_clear_error();
		return hv_fail(err, HV_ENOMEM, "out of memory encoding a signature");
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, signer_key) == 1 &&
		 EVP_DigestVerify(ctx, der, (size_t)der_len, data, len) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	ERR_clear_error();
	if (!ctx)
		return hv_fail(err, HV_ENOMEM, "out of memory verifying a signature");
	if (!ok)
		return hv_fail(err, HV_EINTEGRITY, "the signature does not verify under %s",
			       signer->chr);
	return 0;
}
