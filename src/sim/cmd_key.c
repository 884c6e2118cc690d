/* GENERATE ASYMMETRIC KEY PAIR, SIGN, DECIPHER / ECDH
 * (smartcard-hsm.md 6). */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "crypto/prkd.h"
#include "sim/cmds.h"
#include "sim/cvc.h"
#include "util/tlv.h"

#define MAX_ALLOWED 16

static EVP_PKEY *generate_rsa(unsigned bits, const uint8_t *e, size_t e_len)
{
	static const uint8_t f4[3] = { 0x01, 0x00, 0x01 };
	if (!e || e_len == 0) {
		e = f4;
		e_len = sizeof(f4);
	}
	EVP_PKEY *key = NULL;
	BIGNUM *bn = BN_bin2bn(e, (int)e_len, NULL);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (bn && ctx && BN_is_odd(bn) && BN_num_bits(bn) > 1 &&
	    EVP_PKEY_keygen_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) == 1 &&
	    EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, bn) == 1)
		EVP_PKEY_generate(ctx, &key);
	EVP_PKEY_CTX_free(ctx);
	BN_free(bn);
	return key;
}

uint16_t cmd_generate_key(sim_card *c, const capdu *a, bytebuf *out, int *changed)
{
	sim_state *s = c->st;
	if (a->p1 == 0 || a->p2 != 0)
		return SW_WRONG_P1P2; /* only the device key (P2 00) signs requests */
	if (!c->user_ok)
		return SW_SECURITY;
	/* "During this phase no new keys can be generated or imported." */
	if (s->dkek_configured && s->dkek_outstanding)
		return SW_CONDITIONS;
	tlv car = { 0 }, tmpl = { 0 }, chr = { 0 }, allowed = { 0 };
	int have_car = 0, have_tmpl = 0, have_chr = 0, have_allowed = 0;
	size_t off = 0;
	while (off < a->lc) {
		tlv t;
		if (tlv_next(a->data, a->lc, &off, &t))
			return SW_WRONG_DATA;
		switch (t.tag) {
		case 0x5F29: case 0x45: case 0x90:
			break;
		case 0x42: car = t; have_car = 1; break;
		case 0x7F49: tmpl = t; have_tmpl = 1; break;
		case 0x5F20: chr = t; have_chr = 1; break;
		case 0x91:
			if (t.len == 0 || t.len > MAX_ALLOWED)
				return SW_WRONG_DATA;
			allowed = t;
			have_allowed = 1;
			break;
		case 0x92:
			if (t.len != 1)
				return SW_WRONG_DATA;
			if (t.val[0] != 0)
				return SW_REF_NOT_FOUND; /* only key domain 0 exists */
			break;
		default:
			return SW_WRONG_DATA;
		}
	}
	tlv oid;
	if (!have_tmpl || !have_chr || chr.len == 0 || chr.len > 16 ||
	    (have_car && (car.len == 0 || car.len > 16)) ||
	    tlv_find(tmpl.val, tmpl.len, 0x06, &oid))
		return SW_WRONG_DATA;
	int family = cvc_oid_family(oid.val, oid.len);
	EVP_PKEY *key = NULL;
	int type;
	if (family == 1) {
		int nid = cvc_curve_from_template(tmpl.val, tmpl.len);
		if (!nid)
			return SW_WRONG_DATA;
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", OBJ_nid2sn(nid));
		type = SIM_KEY_EC;
	} else if (family == 2) {
		tlv size, exp;
		if (tlv_find(tmpl.val, tmpl.len, 0x02, &size) || size.len == 0 || size.len > 2)
			return SW_WRONG_DATA;
		unsigned bits = size.len == 2 ? (unsigned)(size.val[0] << 8 | size.val[1]) : size.val[0];
		if (bits < 1024 || bits > 4096 || bits % 8)
			return SW_WRONG_DATA;
		int have_exp = tlv_find(tmpl.val, tmpl.len, 0x82, &exp) == 0;
		if (have_exp && exp.len > 8)
			return SW_WRONG_DATA;
		key = generate_rsa(bits, have_exp ? exp.val : NULL, have_exp ? exp.len : 0);
		type = SIM_KEY_RSA;
	} else {
		return SW_WRONG_DATA;
	}
	if (!key)
		return SW_EXEC_ERROR;

	char dev_chr[17];
	sim_ef *certs = sim_ef_find(s, 0x2F02);
	bytebuf req = { 0 };
	if (!certs || cvc_first_chr(certs->data, certs->len, dev_chr) ||
	    cvc_key_request(key, oid.val, oid.len, have_car ? car.val : NULL, car.len,
			    chr.val, chr.len, s->devkey, dev_chr, &req) ||
	    sim_ef_put(s, (uint16_t)(0xCE00 | a->p1), req.data, req.len)) {
		EVP_PKEY_free(key);
		buf_free(&req);
		return SW_EXEC_ERROR;
	}
	/* A generation onto an occupied reference replaces the key. */
	sim_key *k = &s->keys[a->p1];
	int ref = a->p1;
	sim_key_clear(k);
	k->used = 1;
	k->type = type;
	k->pkey = key;
	if (have_allowed) {
		memcpy(k->allowed, allowed.val, allowed.len);
		k->allowed_len = allowed.len;
	}
	buf_put(out, req.data, req.len);
	buf_free(&req);
	*changed = 1;
	card_precreate_prkd(c, (unsigned)ref);
	return SW_OK;
}

static void put_description(sim_card *c, unsigned ref, int type, EVP_PKEY *pkey, size_t aes_len);

void card_precreate_prkd(sim_card *c, unsigned ref)
{
	const sim_key *k = card_key(c, ref);
	if (c->st->profile->precreates_prkd && k)
		put_description(c, ref, k->type, k->pkey, k->aes_len);
}

void card_describe_device_key(sim_card *c)
{
	EVP_PKEY *k = c->st->devkey;
	int type = EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA ? SIM_KEY_RSA : SIM_KEY_EC;
	put_description(c, 0, type, k, 0);
}

static void put_description(sim_card *c, unsigned ref, int type, EVP_PKEY *pkey, size_t aes_len)
{
	prkd_info info = { .key_ref = -1 };
	info.kind = type == SIM_KEY_EC ? PRKD_EC : type == SIM_KEY_RSA ? PRKD_RSA : PRKD_AES;
	info.key_bits = type == SIM_KEY_AES ? (unsigned)(aes_len * 8) : (unsigned)EVP_PKEY_get_bits(pkey);
	/* Empty label; the ID is the key reference in ASCII decimal. */
	info.id_len = (size_t)snprintf((char *)info.id, sizeof(info.id), "%u", ref);
	bytebuf d = { 0 };
	hv_err err;
	if (prkd_encode(&info, &d, &err) == 0 && !d.failed)
		sim_ef_put(c->st, (uint16_t)(0xC400 | ref), d.data, d.len);
	buf_free(&d);
}

/* Hash of the low nibble of algorithm IDs x1 ... x5. */
static const EVP_MD *algo_md(uint8_t algo)
{
	switch (algo & 0x0F) {
	case 1: return EVP_sha1();
	case 2: return EVP_sha224();
	case 3: return EVP_sha256();
	case 4: return EVP_sha384();
	case 5: return EVP_sha512();
	default: return NULL;
	}
}

static const EVP_MD *md_for_length(size_t len)
{
	switch (len) {
	case 20: return EVP_sha1();
	case 28: return EVP_sha224();
	case 32: return EVP_sha256();
	case 48: return EVP_sha384();
	case 64: return EVP_sha512();
	default: return NULL;
	}
}

static int is_rsa_sign_algo(uint8_t x)
{
	return x == 0x20 || (x >= 0x30 && x <= 0x35) || (x >= 0x40 && x <= 0x45);
}

static int is_ec_sign_algo(uint8_t x)
{
	return x >= 0x70 && x <= 0x75;
}

/* Runs EVP_PKEY_sign (op = 0) or EVP_PKEY_decrypt (op = 1) on in. */
static uint16_t pkey_op(EVP_PKEY *key, int op, int padding, const EVP_MD *md, int pss,
			const uint8_t *in, size_t in_len, bytebuf *out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	uint16_t sw = SW_WRONG_DATA;
	uint8_t *res = NULL;
	size_t res_len = 0;
	if (!ctx || (op == 0 ? EVP_PKEY_sign_init(ctx) : EVP_PKEY_decrypt_init(ctx)) != 1) {
		sw = SW_EXEC_ERROR;
		goto out;
	}
	if (padding && EVP_PKEY_CTX_set_rsa_padding(ctx, padding) != 1)
		goto out;
	if (md && EVP_PKEY_CTX_set_signature_md(ctx, md) != 1)
		goto out;
	if (pss && (EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1))
		goto out;
	int r = op == 0 ? EVP_PKEY_sign(ctx, NULL, &res_len, in, in_len)
			: EVP_PKEY_decrypt(ctx, NULL, &res_len, in, in_len);
	if (r != 1)
		goto out;
	res = OPENSSL_malloc(res_len);
	if (!res) {
		sw = SW_EXEC_ERROR;
		goto out;
	}
	r = op == 0 ? EVP_PKEY_sign(ctx, res, &res_len, in, in_len)
		    : EVP_PKEY_decrypt(ctx, res, &res_len, in, in_len);
	if (r != 1)
		goto out;
	buf_put(out, res, res_len);
	sw = SW_OK;
out:
	OPENSSL_clear_free(res, res_len);
	EVP_PKEY_CTX_free(ctx);
	return sw;
}

/* Left-pads a raw RSA input to the modulus length. */
static uint16_t rsa_raw(EVP_PKEY *key, int op, const uint8_t *in, size_t len, bytebuf *out)
{
	size_t k = (size_t)EVP_PKEY_get_size(key);
	if (len > k)
		return SW_WRONG_DATA;
	uint8_t block[512];
	if (k > sizeof(block))
		return SW_EXEC_ERROR;
	memset(block, 0, k - len);
	memcpy(block + k - len, in, len);
	return pkey_op(key, op, RSA_NO_PADDING, NULL, 0, block, k, out);
}

static uint16_t digest(const EVP_MD *md, const uint8_t *in, size_t len, uint8_t *h, size_t *hlen)
{
	unsigned int n = 0;
	if (EVP_Digest(in, len, h, &n, md, NULL) != 1)
		return SW_EXEC_ERROR;
	*hlen = n;
	return SW_OK;
}

uint16_t cmd_sign(sim_card *c, const capdu *a, bytebuf *out)
{
	if (!c->user_ok)
		return SW_SECURITY;
	sim_key *k = card_key(c, a->p1);
	if (!k)
		return SW_NOT_FOUND;
	uint8_t algo = a->p2;
	if (!is_rsa_sign_algo(algo) && !is_ec_sign_algo(algo))
		return SW_WRONG_P1P2;
	if (!key_allows(k, algo))
		return SW_CONDITIONS;
	if (a->lc == 0)
		return SW_WRONG_DATA;
	uint8_t h[EVP_MAX_MD_SIZE];
	size_t hlen = 0;
	const EVP_MD *md = algo_md(algo);
	/* An algorithm of the other key type: pico-hsm fails inside (64 00). */
	uint16_t sw_wrong = c->st->profile->sw_algo_wrong_for_key;
	if (k->type == SIM_KEY_EC) {
		if (!is_ec_sign_algo(algo))
			return sw_wrong;
		if (algo == 0x70)
			return pkey_op(k->pkey, 0, 0, NULL, 0, a->data, a->lc, out);
		uint16_t sw = digest(md, a->data, a->lc, h, &hlen);
		return sw != SW_OK ? sw : pkey_op(k->pkey, 0, 0, NULL, 0, h, hlen, out);
	}
	if (k->type != SIM_KEY_RSA || !is_rsa_sign_algo(algo))
		return sw_wrong;
	if (algo == 0x20)
		return rsa_raw(k->pkey, 0, a->data, a->lc, out);
	if (algo == 0x30 && !c->st->profile->sign_pkcs1_digestinfo)
		return SW_EXEC_ERROR; /* pico-hsm: strips the DigestInfo, then fails */
	if (algo == 0x30)
		return pkey_op(k->pkey, 0, RSA_PKCS1_PADDING, NULL, 0, a->data, a->lc, out);
	if (algo == 0x40) {
		const EVP_MD *m = md_for_length(a->lc);
		if (!m)
			return SW_WRONG_DATA;
		return pkey_op(k->pkey, 0, RSA_PKCS1_PSS_PADDING, m, 1, a->data, a->lc, out);
	}
	uint16_t sw = digest(md, a->data, a->lc, h, &hlen);
	if (sw != SW_OK)
		return sw;
	int pss = (algo & 0xF0) == 0x40;
	return pkey_op(k->pkey, 0, pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING, md, pss, h, hlen, out);
}

/* ECDH with the peer's uncompressed point; the card answers 04 || x. */
static uint16_t ecdh(EVP_PKEY *key, const uint8_t *point, size_t len, bytebuf *out)
{
	char group[64];
	if (len == 0 || point[0] != 0x04 ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL))
		return SW_WRONG_DATA;
	OSSL_PARAM params[3] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, len),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY *peer = NULL;
	EVP_PKEY_CTX *fctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY_CTX *dctx = NULL;
	uint16_t sw = SW_WRONG_DATA;
	uint8_t secret[80];
	size_t slen = sizeof(secret);
	if (!fctx || EVP_PKEY_fromdata_init(fctx) != 1 ||
	    EVP_PKEY_fromdata(fctx, &peer, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	dctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!dctx || EVP_PKEY_derive_init(dctx) != 1 || EVP_PKEY_derive_set_peer(dctx, peer) != 1 ||
	    EVP_PKEY_derive(dctx, secret, &slen) != 1)
		goto out;
	buf_put_u8(out, 0x04);
	buf_put(out, secret, slen);
	sw = SW_OK;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_CTX_free(fctx);
	EVP_PKEY_free(peer);
	return sw;
}

uint16_t cmd_decipher(sim_card *c, const capdu *a, bytebuf *out)
{
	if (!c->user_ok)
		return SW_SECURITY;
	sim_key *k = card_key(c, a->p1);
	if (!k)
		return SW_NOT_FOUND;
	uint8_t algo = a->p2;
	if (algo != 0x21 && algo != 0x22 && algo != 0x80)
		return SW_WRONG_P1P2;
	if (!key_allows(k, algo))
		return SW_CONDITIONS;
	if (a->lc == 0)
		return SW_WRONG_DATA;
	if (algo == 0x80)
		return k->type == SIM_KEY_EC ? ecdh(k->pkey, a->data, a->lc, out) : SW_CONDITIONS;
	if (k->type != SIM_KEY_RSA)
		return SW_CONDITIONS;
	if (algo == 0x21)
		return rsa_raw(k->pkey, 1, a->data, a->lc, out);
	return pkey_op(k->pkey, 1, RSA_PKCS1_PADDING, NULL, 0, a->data, a->lc, out);
}
