#include "card/schsm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "card/schsm_priv.h"

/* id-TA-RSA-v1-5-SHA-256 and id-TA-ECDSA-SHA-256 (BSI TR-03110). */
static const uint8_t OID_TA_RSA_SHA256[10] = { 0x04, 0x00, 0x7F, 0x00, 0x07,
					       0x02, 0x02, 0x02, 0x01, 0x02 };
static const uint8_t OID_TA_ECDSA_SHA256[10] = { 0x04, 0x00, 0x7F, 0x00, 0x07,
						 0x02, 0x02, 0x02, 0x02, 0x03 };

/* Explicit domain parameters, every field at the prime's byte length
 * (as OpenSC's curve table has them). */
static int ec_template(int nid, bytebuf *t, hv_err *err)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
	BIGNUM *p = BN_new(), *a = BN_new(), *b = BN_new();
	uint8_t *gen = NULL;
	int rc = HV_OK;
	if (!g || !p || !a || !b || !EC_GROUP_get_curve(g, p, a, b, NULL)) {
		rc = hv_fail(err, HV_EUSAGE, "the card cannot generate keys on curve %s",
			     OBJ_nid2sn(nid));
		goto out;
	}
	int flen = BN_num_bytes(p);
	uint8_t fbuf[66];
	if (flen > (int)sizeof(fbuf)) {
		rc = hv_fail(err, HV_EUSAGE, "curve %s is too large", OBJ_nid2sn(nid));
		goto out;
	}
	size_t glen = EC_POINT_point2buf(g, EC_GROUP_get0_generator(g),
					 POINT_CONVERSION_UNCOMPRESSED, &gen, NULL);
	const BIGNUM *n = EC_GROUP_get0_order(g);
	const BIGNUM *h = EC_GROUP_get0_cofactor(g);
	if (!glen || !n || !h || BN_num_bytes(n) > flen + 1) {
		rc = hv_fail(err, HV_EINTERNAL, "OpenSSL lacks the parameters of %s",
			     OBJ_nid2sn(nid));
		goto out;
	}
	buf_put_tlv(t, 0x06, OID_TA_ECDSA_SHA256, sizeof(OID_TA_ECDSA_SHA256));
	BN_bn2binpad(p, fbuf, flen);
	buf_put_tlv(t, 0x81, fbuf, (size_t)flen);
	BN_bn2binpad(a, fbuf, flen);
	buf_put_tlv(t, 0x82, fbuf, (size_t)flen);
	BN_bn2binpad(b, fbuf, flen);
	buf_put_tlv(t, 0x83, fbuf, (size_t)flen);
	buf_put_tlv(t, 0x84, gen, glen);
	int nlen = BN_num_bytes(n) > flen ? BN_num_bytes(n) : flen;
	uint8_t nbuf[67];
	BN_bn2binpad(n, nbuf, nlen);
	buf_put_tlv(t, 0x85, nbuf, (size_t)nlen);
	uint8_t hbuf[8];
	int hlen = BN_num_bytes(h);
	if (hlen < 1 || hlen > (int)sizeof(hbuf)) {
		rc = hv_fail(err, HV_EINTERNAL, "cofactor of %s", OBJ_nid2sn(nid));
		goto out;
	}
	BN_bn2bin(h, hbuf);
	buf_put_tlv(t, 0x87, hbuf, (size_t)hlen);
out:
	OPENSSL_free(gen);
	BN_free(p);
	BN_free(a);
	BN_free(b);
	EC_GROUP_free(g);
	return rc;
}

int schsm_build_keygen_data(const schsm_keygen *g, bytebuf *out, hv_err *err)
{
	const char *car = g->car ? g->car : "UTCA00001";
	const char *chr = g->chr ? g->chr : "UTTM00001";
	if (strlen(car) < 1 || strlen(car) > 16 || strlen(chr) < 1 || strlen(chr) > 16)
		return hv_fail(err, HV_EUSAGE,
			       "certificate holder / authority names must be 1 to 16 characters");
	if (g->allowed_len > 16)
		return hv_fail(err, HV_EUSAGE, "at most 16 allowed algorithms per key");
	if (g->key_domain > 255)
		return hv_fail(err, HV_EUSAGE, "key domain %d out of range", g->key_domain);
	bytebuf puk = { 0 };
	int rc = HV_OK;
	if (g->alg == SCHSM_KEY_EC) {
		rc = ec_template(g->curve_nid, &puk, err);
	} else if (g->alg == SCHSM_KEY_RSA) {
		if (g->rsa_bits < 1024 || g->rsa_bits > 4096 || g->rsa_bits % 512)
			rc = hv_fail(err, HV_EUSAGE,
				     "RSA key size %u: use 2048 or 4096 (1024 to 4096 in steps of 512)",
				     g->rsa_bits);
		else {
			static const uint8_t e[3] = { 0x01, 0x00, 0x01 };
			uint8_t bits[2] = { (uint8_t)(g->rsa_bits >> 8), (uint8_t)g->rsa_bits };
			buf_put_tlv(&puk, 0x06, OID_TA_RSA_SHA256, sizeof(OID_TA_RSA_SHA256));
			buf_put_tlv(&puk, 0x82, e, sizeof(e));
			buf_put_tlv(&puk, 0x02, bits, 2);
		}
	} else {
		rc = hv_fail(err, HV_EUSAGE, "key generation needs an RSA or EC key type");
	}
	if (rc == HV_OK) {
		static const uint8_t cpi = 0x00;
		buf_put_tlv(out, 0x5F29, &cpi, 1);
		buf_put_tlv(out, 0x42, car, strlen(car));
		buf_put_tlv(out, 0x7F49, puk.data, puk.len);
		buf_put_tlv(out, 0x5F20, chr, strlen(chr));
		if (g->allowed && g->allowed_len)
			buf_put_tlv(out, 0x91, g->allowed, g->allowed_len);
		if (g->key_domain >= 0) {
			uint8_t kd = (uint8_t)g->key_domain;
			buf_put_tlv(out, 0x92, &kd, 1);
		}
		if (puk.failed || out->failed)
			rc = hv_fail(err, HV_ENOMEM, "out of memory");
	}
	buf_free(&puk);
	return rc;
}

static int check_ref(uint8_t ref, const char *what, hv_err *err)
{
	if (ref == 0)
		return hv_fail(err, HV_EUSAGE,
			       "%s: key reference 0 is the card's device key, which never leaves "
			       "the card and must not be touched", what);
	return HV_OK;
}

int schsm_generate_key(schsm_card *c, uint8_t ref, const schsm_keygen *g,
		       bytebuf *request, hv_err *err)
{
	int rc = check_ref(ref, "generating a key", err);
	if (rc != HV_OK)
		return rc;
	bytebuf data = { 0 };
	rc = schsm_build_keygen_data(g, &data, err);
	if (rc != HV_OK) {
		buf_free(&data);
		return rc;
	}
	apdu a = { .cla = 0x00, .ins = 0x46, .p1 = ref, .p2 = 0x00,
		   .data = data.data, .lc = data.len, .ne = SCHSM_NE_ALL,
		   .extended = 1 };
	apdu_resp r = { 0 };
	rc = schsm_xfer(c, &a, &r, err);
	buf_free(&data);
	if (rc == HV_OK && r.sw != SW_OK) {
		char what[48];
		snprintf(what, sizeof(what), "generating key %u", ref);
		rc = schsm_sw_fail(c, SCHSM_OP_GENERATE, r.sw, what, err);
	}
	if (rc == HV_OK && request) {
		if (r.data.len > 0) {
			buf_put(request, r.data.data, r.data.len);
			if (request->failed)
				rc = hv_fail(err, HV_ENOMEM, "out of memory");
		} else {
			/* Firmware that answers without data keeps the
			 * request in CEn only. */
			rc = schsm_read_ef(c, (uint16_t)(SCHSM_PREFIX_CERT << 8 | ref),
					   request, NULL, err);
		}
	}
	apdu_resp_free(&r);
	return rc;
}

int schsm_free_key_ref(schsm_card *c, uint8_t *ref, hv_err *err)
{
	uint16_t *fids;
	size_t n;
	int rc = schsm_enumerate(c, &fids, &n, err);
	if (rc != HV_OK)
		return rc;
	uint8_t used[256] = { 0 };
	for (size_t i = 0; i < n; i++)
		if (fids[i] >> 8 == SCHSM_PREFIX_KEY)
			used[fids[i] & 0xFF] = 1;
	free(fids);
	for (int r = 1; r < 256; r++) {
		if (!used[r]) {
			*ref = (uint8_t)r;
			return HV_OK;
		}
	}
	return hv_fail(err, HV_ECARD, "all 255 key references on the card are in use");
}

int schsm_wrap_key(schsm_card *c, uint8_t ref, bytebuf *blob, hv_err *err)
{
	int rc = check_ref(ref, "wrapping a key", err);
	if (rc != HV_OK)
		return rc;
	apdu a = { .cla = 0x80, .ins = 0x72, .p1 = ref, .p2 = SCHSM_ALG_WRAP,
		   .ne = SCHSM_NE_ALL };
	apdu_resp r = { 0 };
	rc = schsm_xfer(c, &a, &r, err);
	char what[48];
	snprintf(what, sizeof(what), "wrapping key %u", ref);
	if (rc == HV_OK && r.sw != SW_OK)
		rc = schsm_sw_fail(c, SCHSM_OP_WRAP, r.sw, what, err);
	if (rc == HV_OK && r.data.len < 8 + 1 + 8 + 16 + 16)
		rc = hv_fail(err, HV_ECARD, "%s: the card returned only %zu bytes",
			     what, r.data.len);
	if (rc == HV_OK) {
		buf_put(blob, r.data.data, r.data.len);
		if (blob->failed)
			rc = hv_fail(err, HV_ENOMEM, "out of memory");
	}
	apdu_resp_free(&r);
	return rc;
}

int schsm_unwrap_key(schsm_card *c, uint8_t ref, const uint8_t *blob,
		     size_t len, int direct, hv_err *err)
{
	int rc = check_ref(ref, "unwrapping a key", err);
	if (rc != HV_OK)
		return rc;
	if (len == 0 || len > 65535)
		return hv_fail(err, HV_EUSAGE, "a key blob of %zu bytes cannot be unwrapped", len);
	apdu a = { .cla = 0x80, .ins = 0x74, .p1 = ref, .p2 = SCHSM_ALG_UNWRAP };
	if (direct) {
		a.data = blob;
		a.lc = len;
	} else {
		rc = schsm_write_ef(c, SCHSM_EF_UNWRAP, blob, len, err);
		if (rc != HV_OK)
			return hv_err_prefix(err, "unwrapping key %u", ref);
	}
	apdu_resp r = { 0 };
	rc = schsm_xfer(c, &a, &r, err);
	if (rc == HV_OK && r.sw != SW_OK) {
		char what[48];
		snprintf(what, sizeof(what), "unwrapping key %u", ref);
		rc = schsm_sw_fail(c, SCHSM_OP_UNWRAP, r.sw, what, err);
	}
	apdu_resp_free(&r);
	return rc;
}

/* A file the inventory showed is deleted first: the real card keeps the
 * tail of a longer file written at offset 0. One it did not show is
 * written straight away: absent on the real card (which lists every EF),
 * or pre-created by pico-hsm, where an offset-0 write replaces it all. */
static int put_ef(schsm_card *c, uint16_t fid, const uint8_t *data, size_t len,
		  int may_exist, hv_err *err)
{
	return may_exist ? schsm_replace_ef(c, fid, data, len, err) :
			   schsm_write_ef(c, fid, data, len, err);
}

int schsm_restore_key(schsm_card *c, uint8_t ref, const uint8_t *blob,
		      size_t blob_len, const uint8_t *prkd, size_t prkd_len,
		      const uint8_t *cert, size_t cert_len, unsigned existing,
		      hv_err *err)
{
	/* The blob inside UNWRAP when the card takes it in one command;
	 * staged through 2F10 (OpenSC's way) only when it is larger, and
	 * never on pico-hsm, which has no staging EF but a 2 KB command
	 * buffer (an RSA 4096 blob fits; sc-hsm-tool sends it that way). */
	int direct = blob_len <= c->max_send || (c->fcp.has_options &&
						 c->fcp.type == SCHSM_PLATFORM_PICO);
	int rc = schsm_unwrap_key(c, ref, blob, blob_len, direct, err);
	if (rc == HV_OK && prkd && prkd_len)
		rc = put_ef(c, (uint16_t)(SCHSM_PREFIX_PRKD << 8 | ref), prkd, prkd_len,
			    (existing & SCHSM_RESTORE_PRKD_EXISTS) != 0, err);
	if (rc == HV_OK && cert && cert_len)
		rc = put_ef(c, (uint16_t)(SCHSM_PREFIX_CERT << 8 | ref), cert, cert_len,
			    (existing & SCHSM_RESTORE_CERT_EXISTS) != 0, err);
	return rc;
}

int schsm_delete_key(schsm_card *c, uint8_t ref, hv_err *err)
{
	int rc = check_ref(ref, "deleting a key", err);
	if (rc != HV_OK)
		return rc;
	int existed;
	rc = schsm_delete_file(c, (uint16_t)(SCHSM_PREFIX_KEY << 8 | ref), &existed, err);
	if (rc == HV_OK && !existed)
		return hv_fail(err, HV_ECARD, "there is no key %u on the card", ref);
	if (rc == HV_OK)
		rc = schsm_delete_file(c, (uint16_t)(SCHSM_PREFIX_PRKD << 8 | ref), &existed, err);
	if (rc == HV_OK)
		rc = schsm_delete_file(c, (uint16_t)(SCHSM_PREFIX_CERT << 8 | ref), &existed, err);
	return rc;
}

int schsm_sign(schsm_card *c, uint8_t ref, uint8_t alg, const uint8_t *in,
	       size_t len, bytebuf *sig, hv_err *err)
{
	if (len == 0 || len > 65535)
		return hv_fail(err, HV_EUSAGE, "nothing or too much to sign (%zu bytes)", len);
	apdu a = { .cla = 0x80, .ins = 0x68, .p1 = ref, .p2 = alg, .data = in,
		   .lc = len, .ne = 512, .extended = 1 };
	apdu_resp r = { 0 };
	int rc = schsm_xfer(c, &a, &r, err);
	if (rc == HV_OK && r.sw != SW_OK) {
		char what[48];
		snprintf(what, sizeof(what), "signing with key %u", ref);
		rc = schsm_sw_fail(c, SCHSM_OP_SIGN, r.sw, what, err);
	}
	if (rc == HV_OK && r.data.len == 0)
		rc = hv_fail(err, HV_ECARD, "signing with key %u: the card returned no signature", ref);
	if (rc == HV_OK) {
		buf_put(sig, r.data.data, r.data.len);
		if (sig->failed)
			rc = hv_fail(err, HV_ENOMEM, "out of memory");
	}
	apdu_resp_free(&r);
	return rc;
}

/* DER DigestInfo headers (RFC 8017, 9.2 note 1). */
struct di_prefix {
	int nid;
	uint8_t len;
	uint8_t bytes[19];
};
static const struct di_prefix di_prefixes[] = {
	{ NID_sha1, 15, { 0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02,
			  0x1A, 0x05, 0x00, 0x04, 0x14 } },
	{ NID_sha224, 19, { 0x30, 0x2D, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
			    0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1C } },
	{ NID_sha256, 19, { 0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
			    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 } },
	{ NID_sha384, 19, { 0x30, 0x41, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
			    0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 } },
	{ NID_sha512, 19, { 0x30, 0x51, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
			    0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 } },
};

/* DigestInfo of a digest into di (room for 19 + 64 bytes); its length,
 * or 0 when md has no DigestInfo here. */
static size_t digest_info(const EVP_MD *md, const uint8_t *digest, size_t dlen, uint8_t *di)
{
	int nid = EVP_MD_get_type(md);
	for (size_t i = 0; i < sizeof(di_prefixes) / sizeof(di_prefixes[0]); i++) {
		if (di_prefixes[i].nid != nid || dlen > 64)
			continue;
		memcpy(di, di_prefixes[i].bytes, di_prefixes[i].len);
		memcpy(di + di_prefixes[i].len, digest, dlen);
		return di_prefixes[i].len + dlen;
	}
	return 0;
}

int schsm_pkcs1_block(const EVP_MD *md, const uint8_t *digest, size_t dlen,
		      size_t k, uint8_t *out, hv_err *err)
{
	uint8_t di[19 + 64];
	size_t dilen = digest_info(md, digest, dlen, di);
	if (!dilen)
		return hv_fail(err, HV_EUSAGE, "RSA signing supports SHA-1 and SHA-2 digests only");
	/* at least 8 bytes of FF padding (RFC 8017, 9.2 step 3) */
	if (k < dilen + 11)
		return hv_fail(err, HV_EUSAGE,
			       "an RSA modulus of %zu bytes is too short for this digest", k);
	out[0] = 0x00;
	out[1] = 0x01;
	memset(out + 2, 0xFF, k - dilen - 3);
	out[k - dilen - 1] = 0x00;
	memcpy(out + k - dilen, di, dilen);
	return HV_OK;
}

int schsm_sign_refused(uint16_t sw)
{
	switch (sw) {
	case 0x6400: /* pico: 0x30 is broken there */
	case 0x6700: /* pico: data it does not take, where ISO says 6A 80 */
	case 0x6985: /* key may not be used with this algorithm */
	case 0x6A80:
	case 0x6A81: /* function not supported */
	case 0x6A86: /* unknown algorithm in P2 */
	case 0x6B00:
		return 1;
	default:
		return 0;
	}
}

/* RSA: raw over the host-made block first (what OpenSC sends; every
 * family takes it), then 0x30 with the DigestInfo. */
static int sign_rsa(schsm_card *c, uint8_t ref, EVP_PKEY *pub, const EVP_MD *md,
		    const uint8_t *digest, size_t dlen, bytebuf *sig, uint8_t *alg_used,
		    hv_err *err)
{
	int k = EVP_PKEY_get_size(pub);
	if (k < 64 || k > 512)
		return hv_fail(err, HV_EUSAGE, "key %u: an RSA modulus of %d bytes cannot be used",
			       ref, k);
	uint8_t block[512];
	int rc = schsm_pkcs1_block(md, digest, dlen, (size_t)k, block, err);
	if (rc != HV_OK)
		return rc;
	hv_err first;
	hv_err_clear(&first);
	rc = schsm_sign(c, ref, SCHSM_ALG_RSA_RAW, block, (size_t)k, sig, &first);
	if (rc == HV_OK) {
		if (alg_used)
			*alg_used = SCHSM_ALG_RSA_RAW;
		return HV_OK;
	}
	if (rc != HV_ECARD || schsm_card_removed(c) || !schsm_sign_refused(c->last_sw)) {
		if (err)
			*err = first;
		return rc;
	}
	uint16_t first_sw = c->last_sw;
	uint8_t di[19 + 64];
	size_t dilen = digest_info(md, digest, dlen, di);
	hv_err second;
	hv_err_clear(&second);
	rc = schsm_sign(c, ref, SCHSM_ALG_RSA_PKCS1, di, dilen, sig, &second);
	if (rc == HV_OK) {
		if (alg_used)
			*alg_used = SCHSM_ALG_RSA_PKCS1;
		return HV_OK;
	}
	if (rc == HV_ECARD && !schsm_card_removed(c) && schsm_sign_refused(c->last_sw)) {
		char name[160];
		return hv_fail(err, HV_ECARD,
			       "signing with key %u on card %s: the card refuses raw RSA (SW %04X) "
			       "and PKCS#1 v1.5 (SW %04X)", ref,
			       schsm_card_name(c, name, sizeof(name)), first_sw, c->last_sw);
	}
	if (err)
		*err = second;
	return rc;
}

int schsm_sign_digest(schsm_card *c, uint8_t ref, EVP_PKEY *pub,
		      const EVP_MD *md, const uint8_t *digest, size_t dlen,
		      bytebuf *sig, uint8_t *alg_used, hv_err *err)
{
	if (!md || (size_t)EVP_MD_get_size(md) != dlen)
		return hv_fail(err, HV_EINTERNAL, "digest length does not match its algorithm");
	if (!pub)
		return hv_fail(err, HV_EINTERNAL, "signing with key %u: no public key given", ref);
	int type = EVP_PKEY_get_base_id(pub);
	if (type == EVP_PKEY_EC) {
		int rc = schsm_sign(c, ref, SCHSM_ALG_ECDSA, digest, dlen, sig, err);
		if (rc == HV_OK && alg_used)
			*alg_used = SCHSM_ALG_ECDSA;
		return rc;
	}
	if (type == EVP_PKEY_RSA)
		return sign_rsa(c, ref, pub, md, digest, dlen, sig, alg_used, err);
	return hv_fail(err, HV_EUSAGE, "key %u cannot sign (not an RSA or EC key)", ref);
}
