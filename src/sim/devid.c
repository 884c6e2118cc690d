#include "sim/devid.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "sim/cvc.h"
#include "util/tlv.h"

const char SIM_ROOT_CHR[] = "UTHVSIMROOT001";

#define ROOT_SEED "hsmvault-sim test root UTHVSIMROOT001 (public test data)"
#define FACTORY_CURVE "brainpoolP256r1"

/* CardContact's CHAT OID 1.3.6.1.4.1.24991.3.1.1 and roles. */
static const uint8_t CHAT_CARDCONTACT[11] = { 0x2B, 0x06, 0x01, 0x04, 0x01, 0x81, 0xC3, 0x1F, 0x03, 0x01, 0x01 };
#define ROLE_ROOT 0xC0
#define ROLE_DICA 0x80
#define ROLE_DEVICE 0x00
/* pico-hsm's self-signed certificate: id-AT 0.4.0.127.0.7.3.1.2.2, role
 * 00, and the fixed validity its cvc.c writes. */
static const uint8_t CHAT_ID_AT[9] = { 0x04, 0x00, 0x7F, 0x00, 0x07, 0x03, 0x01, 0x02, 0x02 };
static const uint8_t PICO_FROM[6] = { 0x02, 0x03, 0x00, 0x03, 0x02, 0x01 };
static const uint8_t PICO_TO[6] = { 0x07, 0x00, 0x01, 0x02, 0x03, 0x01 };
/* The simulator's chain: valid 2026-01-01 .. 2045-12-31. */
static const uint8_t SIM_FROM[6] = { 0x02, 0x06, 0x00, 0x01, 0x00, 0x01 };
static const uint8_t SIM_TO[6] = { 0x04, 0x05, 0x01, 0x02, 0x03, 0x01 };

/* An EC key on curve whose private scalar is 1 + (SHA-256(seed) mod (n-1)). */
static EVP_PKEY *seed_key(const char *curve, const char *seed)
{
	uint8_t h[32];
	EVP_PKEY *key = NULL;
	EC_GROUP *g = EC_GROUP_new_by_curve_name(OBJ_sn2nid(curve));
	BIGNUM *d = BN_new(), *nm1 = BN_new();
	EC_POINT *q = NULL;
	BN_CTX *bc = BN_CTX_new();
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t pub[133];
	if (!g || !d || !nm1 || !bc || !bld ||
	    EVP_Digest(seed, strlen(seed), h, NULL, EVP_sha256(), NULL) != 1 ||
	    !BN_bin2bn(h, sizeof(h), d) || !BN_copy(nm1, EC_GROUP_get0_order(g)) ||
	    !BN_sub_word(nm1, 1) || !BN_nnmod(d, d, nm1, bc) || !BN_add_word(d, 1))
		goto out;
	q = EC_POINT_new(g);
	if (!q || !EC_POINT_mul(g, q, d, NULL, NULL, bc))
		goto out;
	size_t publen = EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub), bc);
	if (publen == 0 ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, publen))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) != 1)
		key = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EC_POINT_free(q);
	BN_clear_free(d);
	BN_free(nm1);
	BN_CTX_free(bc);
	EC_GROUP_free(g);
	return key;
}

int sim_root_cert(bytebuf *out)
{
	EVP_PKEY *root = seed_key(FACTORY_CURVE, ROOT_SEED);
	if (!root)
		return -1;
	cvc_body b = {
		.car = SIM_ROOT_CHR, .chr = SIM_ROOT_CHR, .subject = root, .with_params = 1,
		.chat_oid = CHAT_CARDCONTACT, .chat_oid_len = sizeof(CHAT_CARDCONTACT),
		.chat_role = ROLE_ROOT, .effective = SIM_FROM, .expiry = SIM_TO,
	};
	int rc = cvc_cert(&b, root, 1, out);
	EVP_PKEY_free(root);
	return rc;
}

EVP_PKEY *sim_devid_new_key(const sim_profile *p)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", p->devkey_curve);
}

int sim_devid_factory_chain(const sim_profile *p, EVP_PKEY *devkey, const char *dev_chr, bytebuf *out)
{
	if (!p->dica_chr)
		return -1;
	char seed[128];
	snprintf(seed, sizeof(seed), "hsmvault-sim test DICA %s (public test data)", p->dica_chr);
	EVP_PKEY *root = seed_key(FACTORY_CURVE, ROOT_SEED);
	EVP_PKEY *dica = seed_key(FACTORY_CURVE, seed);
	int rc = -1;
	if (root && dica) {
		/* Device and DICA carry only the point (86 Q): the curve is the
		 * root's, as on the real cards. */
		cvc_body dev = {
			.car = p->dica_chr, .chr = dev_chr, .subject = devkey,
			.chat_oid = CHAT_CARDCONTACT, .chat_oid_len = sizeof(CHAT_CARDCONTACT),
			.chat_role = ROLE_DEVICE, .effective = SIM_FROM, .expiry = SIM_TO,
		};
		cvc_body ca = {
			.car = SIM_ROOT_CHR, .chr = p->dica_chr, .subject = dica,
			.chat_oid = CHAT_CARDCONTACT, .chat_oid_len = sizeof(CHAT_CARDCONTACT),
			.chat_role = ROLE_DICA, .effective = SIM_FROM, .expiry = SIM_TO,
		};
		rc = cvc_cert(&dev, dica, 1, out) == 0 && cvc_cert(&ca, root, 1, out) == 0 ? 0 : -1;
	}
	EVP_PKEY_free(root);
	EVP_PKEY_free(dica);
	return rc;
}

int sim_devid_self_signed(EVP_PKEY *devkey, const char *chr, bytebuf *out)
{
	cvc_body b = {
		.car = chr, .chr = chr, .subject = devkey, .with_params = 1,
		.chat_oid = CHAT_ID_AT, .chat_oid_len = sizeof(CHAT_ID_AT),
		.chat_role = ROLE_DEVICE, .effective = PICO_FROM, .expiry = PICO_TO,
	};
	return cvc_cert(&b, devkey, 0, out);
}

int sim_devid_forge(uint8_t *certs, size_t len)
{
	tlv c, sig;
	size_t off = 0;
	if (tlv_next(certs, len, &off, &c) || c.tag != 0x7F21 ||
	    tlv_find(c.val, c.len, 0x5F37, &sig) || sig.len < 2)
		return -1;
	/* The first byte of s: r stays a valid-looking integer, s is wrong. */
	certs[(size_t)(sig.val - certs) + sig.len / 2] ^= 0x01;
	return 0;
}
