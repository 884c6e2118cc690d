/* The card families of the simulator (sim/profile.h), each against what is
 * known of it: pico-hsm's empty 2F02 until INITIALIZE and its self-signed
 * identity afterwards, the factory chain under the test root (parsed here
 * and its signatures checked with OpenSSL directly), the KCV that pico
 * shows only after VERIFY, SIGN 30 -> 64 00, SELECT with P2 0C, the
 * device key at reference 0, the FCP and the state file. */
#include "sim_test.h"

#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "crypto/dkek.h"
#include "crypto/keyblob.h"
#include "crypto/prkd.h"
#include "sim/devid.h"
#include "sim/profile.h"
#include "sim/state.h"
#include "util/tlv.h"

#define SELECT_AID "00A404000BE82B0601040181C31F020100"
#define SELECT_AID_NO_FCP "00A4040C0BE82B0601040181C31F0201"
#define INIT_1_SHARE "80500000 1C 80020001 8106363438323139 82083537363231383830 910103 920101"
#define INIT_NO_DKEK "80500000 19 80020001 8106363438323139 82083537363231383830 910103"
/* The same PIN, another SO-PIN / both others. */
#define REINIT_OTHER_SO "80500000 19 80020001 8106363438323139 82083131313131313131 910103"
#define REINIT_OTHER_BOTH "80500000 19 80020001 8106393939393939 82083232323232323232 910103"
#define VERIFY_PIN "0020008106363438323139"
#define SHARE1 "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
/* Extended READ BINARY of the whole EF: 62 82 when fewer bytes than Ne
 * were left (src/sim/README.md), 90 00 on pico-hsm and for an empty EF. */
#define READ_2F02 "00B12F02 000004 54020000 0000"
/* GENERATE ASYMMETRIC KEY PAIR, RSA 1024 (id-TA-RSA-v1-5-SHA-256, e = 65537). */
#define GAKP_RSA1024_REF2 "00460200 000027 5F290100 7F4915 060A04007F00070202020102 8203010001 02020400 5F2008 5554525341303032 0000"
#define GAKP_RSA1024 "00460100 000027 5F290100 7F4915 060A04007F00070202020102 8203010001 02020400 5F2008 5554525341303031 0000"

typedef struct card {
	sim_state st;
	sim_card c;
} card;

static void card_new(card *k, sim_profile_id id, const char *serial)
{
	hv_err err;
	assert_int_equal(sim_state_blank(&k->st, sim_profile_get(id), serial, 0, &err), 0);
	sim_card_init(&k->c, &k->st);
}

static void card_free(card *k)
{
	sim_card_free(&k->c);
	sim_state_free(&k->st);
}

/* The 7F21 certificates of an EF 2F02 in order. */
static size_t split_certs(const bytebuf *d, tlv *certs, size_t max)
{
	size_t off = 0, n = 0;
	while (off < d->len && n < max) {
		assert_int_equal(tlv_next(d->data, d->len, &off, &certs[n]), 0);
		assert_int_equal(certs[n].tag, 0x7F21);
		n++;
	}
	assert_int_equal(off, d->len);
	return n;
}

static void field(const tlv *cert, uint32_t tag, tlv *out)
{
	tlv body;
	assert_int_equal(tlv_find(cert->val, cert->len, 0x7F4E, &body), 0);
	assert_int_equal(tlv_find(body.val, body.len, tag, out), 0);
}

static void assert_field_str(const tlv *cert, uint32_t tag, const char *want)
{
	tlv t;
	field(cert, tag, &t);
	assert_int_equal(t.len, strlen(want));
	assert_memory_equal(t.val, want, t.len);
}

static uint8_t chat_role(const tlv *cert)
{
	tlv chat, role;
	field(cert, 0x7F4C, &chat);
	assert_int_equal(tlv_find(chat.val, chat.len, 0x53, &role), 0);
	assert_int_equal(role.len, 1);
	return role.val[0];
}

/* The public key 86 of a certificate on curve (OpenSSL name). */
static EVP_PKEY *cert_key(const tlv *cert, const char *curve)
{
	tlv pk, q;
	field(cert, 0x7F49, &pk);
	assert_int_equal(tlv_find(pk.val, pk.len, 0x86, &q), 0);
	OSSL_PARAM p[3] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve, 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)q.val, q.len),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;
	assert_int_equal(EVP_PKEY_fromdata_init(c), 1);
	assert_int_equal(EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, p), 1);
	EVP_PKEY_CTX_free(c);
	return k;
}

/* The explicit prime (81) of a certificate is the named curve's. */
static void assert_explicit_curve(const tlv *cert, int nid)
{
	tlv pk, p81;
	field(cert, 0x7F49, &pk);
	assert_int_equal(tlv_find(pk.val, pk.len, 0x81, &p81), 0);
	EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
	BIGNUM *p = BN_new(), *got = BN_bin2bn(p81.val, (int)p81.len, NULL);
	assert_int_equal(EC_GROUP_get_curve(g, p, NULL, NULL, NULL), 1);
	assert_int_equal(BN_cmp(p, got), 0);
	BN_free(p);
	BN_free(got);
	EC_GROUP_free(g);
}

/* 1 when 5F37 of cert is an ECDSA-SHA-256 signature by key over its 7F4E. */
static int cvc_sig_ok(EVP_PKEY *key, const tlv *cert)
{
	tlv body, sig;
	assert_int_equal(tlv_find(cert->val, cert->len, 0x7F4E, &body), 0);
	assert_int_equal(tlv_find(cert->val, cert->len, 0x5F37, &sig), 0);
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig.val, (int)sig.len / 2, NULL);
	BIGNUM *s = BN_bin2bn(sig.val + sig.len / 2, (int)sig.len / 2, NULL);
	assert_int_equal(ECDSA_SIG_set0(es, r, s), 1);
	uint8_t *der = NULL;
	int der_len = i2d_ECDSA_SIG(es, &der);
	assert_true(der_len > 0);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, key), 1);
	int ok = EVP_DigestVerify(m, der, (size_t)der_len, body.raw, body.raw_len) == 1;
	EVP_MD_CTX_free(m);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return ok;
}

/* ---- the test root and the factory chain ---- */

static void check_factory_chain(sim_profile_id id, const char *serial, const char *dev_chr,
				const char *dica_chr, int forged)
{
	bytebuf root = { 0 }, again = { 0 }, d = { 0 };
	assert_int_equal(sim_root_cert(&root), 0);
	assert_int_equal(sim_root_cert(&again), 0);
	/* Deterministic: tests and the drill pin these bytes. */
	assert_int_equal(root.len, again.len);
	assert_memory_equal(root.data, again.data, root.len);
	tlv rc;
	assert_int_equal(split_certs(&root, &rc, 1), 1);
	assert_field_str(&rc, 0x42, SIM_ROOT_CHR);
	assert_field_str(&rc, 0x5F20, SIM_ROOT_CHR);
	assert_int_equal(chat_role(&rc), 0xC0);
	assert_explicit_curve(&rc, NID_brainpoolP256r1);
	/* Not CardContact's root. */
	assert_true(strncmp(SIM_ROOT_CHR, "DESRCACC", 8) != 0 && strncmp(SIM_ROOT_CHR, "UTSRCACC", 8) != 0);
	EVP_PKEY *root_key = cert_key(&rc, "brainpoolP256r1");
	assert_true(cvc_sig_ok(root_key, &rc));

	card k;
	hv_err err;
	assert_int_equal(sim_state_blank(&k.st, sim_profile_get(id), serial, forged, &err), 0);
	sim_card_init(&k.c, &k.st);
	assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, READ_2F02, &d), 0x6282);
	tlv certs[3];
	assert_int_equal(split_certs(&d, certs, 3), 2);
	/* Device -> DICA -> root by CAR/CHR. */
	assert_field_str(&certs[0], 0x5F20, dev_chr);
	assert_field_str(&certs[0], 0x42, dica_chr);
	assert_field_str(&certs[1], 0x5F20, dica_chr);
	assert_field_str(&certs[1], 0x42, SIM_ROOT_CHR);
	assert_int_equal(chat_role(&certs[0]), 0x00);
	assert_int_equal(chat_role(&certs[1]), 0x80);
	/* Only the point below the root: the curve is inherited. */
	tlv pk, p81;
	field(&certs[0], 0x7F49, &pk);
	assert_int_not_equal(tlv_find(pk.val, pk.len, 0x81, &p81), 0);
	EVP_PKEY *dica_key = cert_key(&certs[1], "brainpoolP256r1");
	EVP_PKEY *dev_key = cert_key(&certs[0], "brainpoolP256r1");
	assert_true(cvc_sig_ok(root_key, &certs[1]));
	assert_int_equal(cvc_sig_ok(dica_key, &certs[0]), !forged);
	/* The certified key is the card's device key. */
	assert_int_equal(EVP_PKEY_eq(dev_key, k.st.devkey), 1);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(dica_key);
	EVP_PKEY_free(dev_key);
	card_free(&k);
	buf_free(&root);
	buf_free(&again);
	buf_free(&d);
}

static void test_chain_smartcard_hsm(void **state)
{
	(void)state;
	check_factory_chain(SIM_PROFILE_SMARTCARD_HSM, NULL, "DECM019000100000", "DEDICM0190001", 0);
	check_factory_chain(SIM_PROFILE_SMARTCARD_HSM, "DECM0104448", "DECM010444800000", "DEDICM0190001", 0);
}

static void test_chain_nitrokey(void **state)
{
	(void)state;
	check_factory_chain(SIM_PROFILE_NITROKEY_HSM2, NULL, "DENK049000100000", "DEDINK0490001", 0);
}

static void test_chain_forged(void **state)
{
	(void)state;
	/* Everything parses and links; only the device signature is wrong. */
	check_factory_chain(SIM_PROFILE_SMARTCARD_HSM, "DECM0100007", "DECM010000700000", "DEDICM0190001", 1);
	sim_state s;
	hv_err err;
	assert_int_equal(sim_state_blank(&s, sim_profile_get(SIM_PROFILE_PICO_HSM), NULL, 1, &err), HV_EUSAGE);
}

static void test_serial_forms(void **state)
{
	(void)state;
	const sim_profile *sc = sim_profile_get(SIM_PROFILE_SMARTCARD_HSM);
	const sim_profile *nk = sim_profile_get(SIM_PROFILE_NITROKEY_HSM2);
	const sim_profile *pico = sim_profile_get(SIM_PROFILE_PICO_HSM);
	assert_true(sim_profile_serial_ok(sc, "DECM0104448"));
	assert_true(sim_profile_serial_ok(sc, "HVTEST01")); /* free test serials */
	assert_false(sim_profile_serial_ok(sc, "DENK0404144"));
	assert_false(sim_profile_serial_ok(nk, "ESP41D722E2"));
	assert_false(sim_profile_serial_ok(pico, "DECM0104448"));
	assert_true(sim_profile_serial_ok(pico, "ESP41D722E2"));
	assert_false(sim_profile_serial_ok(sc, "AB"));
	assert_false(sim_profile_serial_ok(sc, "ABCDEFGHIJKL"));
	assert_false(sim_profile_serial_ok(sc, "AB-01"));
	assert_ptr_equal(sim_profile_find("nitrokey-hsm2"), nk);
	assert_null(sim_profile_find("nitrokey"));
}

/* ---- pico-hsm's identity ---- */

static void test_pico_2f02_before_and_after_init(void **state)
{
	(void)state;
	card k;
	bytebuf d = { 0 }, first = { 0 };
	card_new(&k, SIM_PROFILE_PICO_HSM, "ESP41D722E2");
	assert_null(k.st.devkey);
	assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
	/* Factory-fresh: 2F02 exists and holds nothing (READ: 90 00, no data). */
	assert_int_equal(xfer(&k.c, "00A40000022F0200", &d), 0x9000);
	assert_int_equal(xfer(&k.c, "00B0000000", &d), 0x9000);
	assert_int_equal(d.len, 0);
	assert_int_equal(xfer(&k.c, READ_2F02, &d), 0x9000);
	assert_int_equal(d.len, 0);

	assert_int_equal(xfer(&k.c, INIT_1_SHARE, NULL), 0x9000);
	assert_non_null(k.st.devkey);
	assert_int_equal(xfer(&k.c, READ_2F02, &d), 0x9000);
	/* One self-signed certificate: CAR = CHR = serial + 00001, full
	 * secp256k1 parameters, the layout of the captured board ESP41D722E2
	 * (443 bytes, 7F21 of 0x1B6: tests/vectors/devaut/pico-hsm). */
	tlv c;
	assert_int_equal(split_certs(&d, &c, 2), 1);
	assert_int_equal(d.len, 443);
	assert_int_equal(c.len, 0x1B6);
	assert_field_str(&c, 0x42, "ESP41D722E200001");
	assert_field_str(&c, 0x5F20, "ESP41D722E200001");
	assert_explicit_curve(&c, NID_secp256k1);
	assert_int_equal(chat_role(&c), 0x00);
	EVP_PKEY *pub = cert_key(&c, "secp256k1");
	assert_true(cvc_sig_ok(pub, &c));
	assert_int_equal(EVP_PKEY_eq(pub, k.st.devkey), 1);
	EVP_PKEY_free(pub);
	buf_put(&first, d.data, d.len);

	/* Re-INITIALIZE with the same user PIN (other SO-PIN: not checked)
	 * keeps the identity. */
	assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, REINIT_OTHER_SO, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, READ_2F02, &d), 0x9000);
	assert_int_equal(d.len, first.len);
	assert_memory_equal(d.data, first.data, d.len);
	/* Without a session and with both PINs new, pico cannot unlock its
	 * master key and makes its key again from the OTP key: the same key
	 * and names, a new signature (what the emulator does). */
	assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, REINIT_OTHER_BOTH, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, READ_2F02, &d), 0x9000);
	assert_int_equal(d.len, first.len);
	assert_memory_not_equal(d.data, first.data, d.len);
	assert_memory_equal(d.data, first.data, d.len - 64);
	assert_int_equal(split_certs(&d, &c, 2), 1);
	assert_field_str(&c, 0x5F20, "ESP41D722E200001");
	pub = cert_key(&c, "secp256k1");
	assert_true(cvc_sig_ok(pub, &c));
	EVP_PKEY_free(pub);
	card_free(&k);
	buf_free(&d);
	buf_free(&first);
}

static void test_device_key_at_ref_0(void **state)
{
	(void)state;
	bytebuf d = { 0 };
	card k;
	/* pico: C400 leads, always; CC00 once INITIALIZE made the device
	 * key; nothing but CC / C4 / C8 / C9, newest reference first. */
	card_new(&k, SIM_PROFILE_PICO_HSM, NULL);
	assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "8058000000", &d), 0x9000);
	assert_data_hex(&d, "C400");
	/* C400 exists, empty, before INITIALIZE; INITIALIZE without data
	 * answers free memory and version. */
	assert_int_equal(xfer(&k.c, "00B1C400 04 54020000 00", &d), 0x9000);
	assert_int_equal(d.len, 0);
	assert_int_equal(xfer(&k.c, "80500000 00", &d), 0x9000);
	assert_data_hex(&d, "00100000000606");
	assert_int_equal(xfer(&k.c, INIT_NO_DKEK, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "8058000000", &d), 0x9000);
	assert_data_hex(&d, "C400CC00");
	/* INITIALIZE left the user PIN verified: keys can be made at once. */
	assert_int_equal(xfer(&k.c, GAKP_RSA1024, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "00D7C801 07 540200005301AA", NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "00D7CF01 07 540200005301AA", NULL), 0x9000);
	assert_int_equal(xfer(&k.c, GAKP_RSA1024_REF2, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "8058000000", &d), 0x9000);
	/* CE00, CE01, CF01, 2F02 hidden; C401, C402 made by the card itself. */
	assert_data_hex(&d, "C400CC00CC02CC01C402C401C801");
	assert_int_equal(xfer(&k.c, "00B1C401 04 54020000 00", &d), 0x9000);
	assert_true(d.len > 4);
	card_free(&k);

	/* The real families list every object, CC00 first. */
	card_new(&k, SIM_PROFILE_NITROKEY_HSM2, NULL);
	assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "8058000000", &d), 0x9000);
	assert_data_hex(&d, "CC002F02");
	card_free(&k);
	buf_free(&d);
}

/* ---- KCV, SIGN, SELECT, FCP, status words ---- */

static void test_kcv_hidden_until_verify(void **state)
{
	(void)state;
	bytebuf d = { 0 };
	uint8_t dkek[32] = { 0 }, kcv[8];
	hex_decode(SHARE1, dkek, 32);
	dkek_kcv(dkek, kcv);
	char want[21] = "0100";
	hex_encode(kcv, 8, want + 4, 1);

	card k;
	card_new(&k, SIM_PROFILE_PICO_HSM, NULL);
	assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "8052000000", NULL), 0x6B00); /* never initialized */
	assert_int_equal(xfer(&k.c, INIT_1_SHARE, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "8052000020" SHARE1 "00", &d), 0x9000);
	/* Right after INITIALIZE the session is still open: KCV shown. */
	assert_data_hex(&d, want);
	/* A new card session (SELECT): zeros until the user PIN is verified. */
	assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "8052000000", &d), 0x9000);
	assert_data_hex(&d, "01000000000000000000");
	assert_int_equal(xfer(&k.c, VERIFY_PIN, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "8052000000", &d), 0x9000);
	assert_data_hex(&d, want);
	sim_card_reset(&k.c);
	assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "8052000000", &d), 0x9000);
	assert_data_hex(&d, "01000000000000000000");
	/* No DKEK at all: 00 00 and a zero KCV; an import is not allowed. */
	assert_int_equal(xfer(&k.c, INIT_NO_DKEK, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "8052000000", &d), 0x9000);
	assert_data_hex(&d, "00000000000000000000");
	assert_int_equal(xfer(&k.c, "8052000020" SHARE1 "00", NULL), 0x6986);
	card_free(&k);

	/* The real families show it without any PIN. */
	for (sim_profile_id id = SIM_PROFILE_SMARTCARD_HSM; id <= SIM_PROFILE_NITROKEY_HSM2; id++) {
		card_new(&k, id, NULL);
		assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
		assert_int_equal(xfer(&k.c, "8052000000", NULL), 0x6D00);
		assert_int_equal(xfer(&k.c, INIT_1_SHARE, NULL), 0x9000);
		assert_int_equal(xfer(&k.c, "8052000020" SHARE1 "00", NULL), 0x9000);
		assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
		assert_int_equal(xfer(&k.c, "8052000000", &d), 0x9000);
		assert_data_hex(&d, want);
		assert_int_equal(xfer(&k.c, INIT_NO_DKEK, NULL), 0x9000);
		assert_int_equal(xfer(&k.c, "8052000000", NULL), 0x6D00);
		card_free(&k);
	}
	buf_free(&d);
}

/* RSA public key of the generated request (81 n, 82 e). */
static EVP_PKEY *request_rsa_key(const bytebuf *req)
{
	tlv a, c, body, pk, n, e;
	size_t off = 0;
	assert_int_equal(tlv_next(req->data, req->len, &off, &a), 0);
	assert_int_equal(a.tag, 0x67);
	assert_int_equal(tlv_find(a.val, a.len, 0x7F21, &c), 0);
	assert_int_equal(tlv_find(c.val, c.len, 0x7F4E, &body), 0);
	assert_int_equal(tlv_find(body.val, body.len, 0x7F49, &pk), 0);
	assert_int_equal(tlv_find(pk.val, pk.len, 0x81, &n), 0);
	assert_int_equal(tlv_find(pk.val, pk.len, 0x82, &e), 0);
	BIGNUM *bn = BN_bin2bn(n.val, (int)n.len, NULL), *be = BN_bin2bn(e.val, (int)e.len, NULL);
	uint8_t nle[512], ele[8];
	BN_bn2lebinpad(bn, nle, (int)n.len);
	BN_bn2lebinpad(be, ele, (int)e.len);
	OSSL_PARAM p[3] = {
		OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_N, nle, n.len),
		OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_E, ele, e.len),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *k = NULL;
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, p), 1);
	EVP_PKEY_CTX_free(ctx);
	BN_free(bn);
	BN_free(be);
	return k;
}

/* SHA-256 DigestInfo of "abc", PKCS#1 v1.5 padded by the host to 128
 * bytes (what OpenSC sends with algorithm 20). */
#define DIGESTINFO_ABC "3031300D060960864801650304020105000420" \
	"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"

static void check_sign(sim_profile_id id, uint16_t sw_pkcs1)
{
	bytebuf req = { 0 }, d = { 0 };
	card k;
	card_new(&k, id, NULL);
	assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, INIT_NO_DKEK, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, VERIFY_PIN, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, GAKP_RSA1024, &req), 0x9000);
	EVP_PKEY *pub = request_rsa_key(&req);
	/* 30: the card pads the DigestInfo. */
	assert_int_equal(xfer(&k.c, "80680130 00 0033 " DIGESTINFO_ABC " 0000", &d), sw_pkcs1);
	/* 20: raw, the host padded. */
	char raw[600] = "80680120 00 0080 0001";
	size_t pad = 128 - 3 - 51;
	for (size_t i = 0; i < pad; i++)
		strcat(raw, "FF");
	strcat(raw, "00" DIGESTINFO_ABC " 0000");
	assert_int_equal(xfer(&k.c, raw, &d), 0x9000);
	assert_int_equal(d.len, 128);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, pub), 1);
	assert_int_equal(EVP_DigestVerify(m, d.data, d.len, (const uint8_t *)"abc", 3), 1);
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(pub);
	card_free(&k);
	buf_free(&req);
	buf_free(&d);
}

static void test_sign_algorithms(void **state)
{
	(void)state;
	check_sign(SIM_PROFILE_PICO_HSM, 0x6400);
	check_sign(SIM_PROFILE_SMARTCARD_HSM, 0x9000);
	check_sign(SIM_PROFILE_NITROKEY_HSM2, 0x9000);
}

static void test_select_and_fcp(void **state)
{
	(void)state;
	bytebuf d = { 0 };
	card k;
	card_new(&k, SIM_PROFILE_PICO_HSM, NULL);
	assert_int_equal(xfer(&k.c, SELECT_AID_NO_FCP, NULL), 0x6A86);
	/* pico's observed FCP, options 0000 before the first INITIALIZE. */
	assert_int_equal(xfer(&k.c, SELECT_AID, &d), 0x9000);
	assert_data_hex(&d, "6222810200008201018302000084" "0B2B0601040181C31F020130" "8A0105" "85050000FF0606");
	assert_int_equal(xfer(&k.c, INIT_NO_DKEK, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, SELECT_AID, &d), 0x9000);
	assert_data_hex(&d, "6222810200008201018302000084" "0B2B0601040181C31F020130" "8A0105" "85050001FF0606");
	/* Without Le the data waits for GET RESPONSE; 3F00 does not exist. */
	assert_int_equal(xfer(&k.c, "00A404000BE82B0601040181C31F0201", NULL), 0x6124);
	assert_int_equal(xfer(&k.c, "00C0000024", &d), 0x9000);
	assert_int_equal(d.len, 0x24);
	assert_int_equal(xfer(&k.c, "00A40000023F0000", NULL), 0x6A82);
	/* Wrong data (an offset object that is not 54): 67 00 where the real
	 * card says 6A 80. */
	assert_int_equal(xfer(&k.c, "00B12F02 02 5500 00", NULL), 0x6700);
	/* Any VERIFY ends both sessions; a PIN of any length is counted; the
	 * SO status shows an open SO session. */
	assert_int_equal(xfer(&k.c, VERIFY_PIN, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "0020008808 3537363231383830", NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "00200088", NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "00200081", NULL), 0x63C3);
	assert_int_equal(xfer(&k.c, "0020008103313131", NULL), 0x63C2);
	assert_int_equal(xfer(&k.c, "00200088", NULL), 0x63CF);
	assert_int_equal(k.st.profile->atr_len, 24);
	card_free(&k);

	card_new(&k, SIM_PROFILE_SMARTCARD_HSM, NULL);
	assert_int_equal(xfer(&k.c, SELECT_AID_NO_FCP, &d), 0x9000);
	assert_int_equal(d.len, 0);
	assert_int_equal(xfer(&k.c, SELECT_AID, &d), 0x9000);
	assert_data_hex(&d, "6217820138840BE82B0601040181C31F020185050000000305");
	card_free(&k);

	card_new(&k, SIM_PROFILE_NITROKEY_HSM2, NULL);
	assert_int_equal(xfer(&k.c, SELECT_AID_NO_FCP, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, SELECT_AID, &d), 0x9000);
	assert_data_hex(&d, "6217820138840BE82B0601040181C31F020185050000000401");
	/* JCOP 3 ATR (OpenSC's table; Nitrokey's documentation). */
	char atr[64];
	hex_encode(k.st.profile->atr, k.st.profile->atr_len, atr, 1);
	assert_string_equal(atr, "3BDE18FF8191FE1FC3803181544853" "4D31738021408107" "1C");
	assert_int_equal(xfer(&k.c, INIT_NO_DKEK, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "00B12F02 02 5500 00", NULL), 0x6A80);
	assert_int_equal(xfer(&k.c, "0020008103313131", NULL), 0x6A80);
	assert_int_equal(xfer(&k.c, "80500000 00", NULL), 0x6A80);
	card_free(&k);
	buf_free(&d);
}

static void test_pico_unwrap_and_reinit(void **state)
{
	(void)state;
	card k;
	card_new(&k, SIM_PROFILE_PICO_HSM, NULL);
	assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, INIT_1_SHARE, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "8052000020" SHARE1 "00", NULL), 0x9000);
	/* A blob that does not decode under the DKEK: generic 64 00. */
	assert_int_equal(xfer(&k.c, "80740593 08 0102030405060708", NULL), 0x6400);
	/* Re-INITIALIZE with a wrong SO-PIN is not refused. */
	assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, REINIT_OTHER_SO, NULL), 0x9000);
	card_free(&k);

	card_new(&k, SIM_PROFILE_SMARTCARD_HSM, NULL);
	assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, INIT_1_SHARE, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "8052000020" SHARE1 "00", NULL), 0x9000);
	/* The real card's session is not open after INITIALIZE. */
	assert_int_equal(xfer(&k.c, "80740593 08 0102030405060708", NULL), 0x6982);
	assert_int_equal(xfer(&k.c, VERIFY_PIN, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "80740593 08 0102030405060708", NULL), 0x6A80);
	assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, REINIT_OTHER_SO, NULL), 0x6985);
	card_free(&k);
}

/* pico-hsm does not protect reference 0: an UNWRAP there replaces the
 * device key (2F02 unchanged, C400 describes the new key with ID "0"). */
static void test_pico_unwrap_onto_device_key(void **state)
{
	(void)state;
	uint8_t dkek[32];
	hex_decode(SHARE1, dkek, 32);
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	bytebuf blob = { 0 }, d = { 0 }, before = { 0 };
	hv_err err;
	assert_int_equal(keyblob_wrap_pkey(key, dkek, NULL, 0, 0, NULL, &blob, &err), 0);
	char *cmd = malloc(blob.len * 2 + 64), *hex = malloc(blob.len * 2 + 1);
	hex_encode(blob.data, blob.len, hex, 1);
	sprintf(cmd, "80740093 00%04zX %s", blob.len, hex);
	for (sim_profile_id id = SIM_PROFILE_SMARTCARD_HSM; id <= SIM_PROFILE_PICO_HSM; id++) {
		card k;
		card_new(&k, id, NULL);
		assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
		assert_int_equal(xfer(&k.c, INIT_1_SHARE, NULL), 0x9000);
		assert_int_equal(xfer(&k.c, "8052000020" SHARE1 "00", NULL), 0x9000);
		assert_int_equal(xfer(&k.c, VERIFY_PIN, NULL), 0x9000);
		assert_int_equal(xfer(&k.c, READ_2F02, &before), id == SIM_PROFILE_PICO_HSM ? 0x9000 : 0x6282);
		if (id != SIM_PROFILE_PICO_HSM) {
			assert_int_equal(xfer(&k.c, cmd, NULL), 0x6A86);
			card_free(&k);
			continue;
		}
		assert_int_equal(xfer(&k.c, cmd, NULL), 0x9000);
		assert_int_equal(EVP_PKEY_eq(k.st.devkey, key), 1);
		assert_int_equal(xfer(&k.c, READ_2F02, &d), 0x9000);
		assert_int_equal(d.len, before.len);
		assert_memory_equal(d.data, before.data, d.len);
		assert_int_equal(xfer(&k.c, "00B1C400 04 54020000 00", &d), 0x9000);
		prkd_info info;
		assert_int_equal(prkd_parse(d.data, d.len, &info, &err), 0);
		assert_int_equal(info.id_len, 1);
		assert_int_equal(info.id[0], '0');
		card_free(&k);
	}
	free(cmd);
	free(hex);
	EVP_PKEY_free(key);
	buf_free(&blob);
	buf_free(&d);
	buf_free(&before);
}

/* ---- state file ---- */

/* An RSA key unwrapped from the plain (n, e, d) form has no primes: the
 * state file keeps it anyway, and the reloaded card signs with it. */
static void test_state_rsa_without_primes(void **state)
{
	(void)state;
	char path[] = "/tmp/hv-sim-rsand-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	uint8_t dkek[32];
	hex_decode(SHARE1, dkek, 32);
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	bytebuf blob = { 0 }, d = { 0 };
	hv_err err;
	assert_int_equal(keyblob_wrap_pkey(key, dkek, NULL, 0, 0, NULL, &blob, &err), 0);
	char *cmd = malloc(blob.len * 2 + 64), *hex = malloc(blob.len * 2 + 1);
	hex_encode(blob.data, blob.len, hex, 1);
	sprintf(cmd, "80740393 00%04zX %s", blob.len, hex);
	card k;
	card_new(&k, SIM_PROFILE_SMARTCARD_HSM, NULL);
	assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, INIT_1_SHARE, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, "8052000020" SHARE1 "00", NULL), 0x9000);
	assert_int_equal(xfer(&k.c, VERIFY_PIN, NULL), 0x9000);
	assert_int_equal(xfer(&k.c, cmd, NULL), 0x9000);
	assert_int_equal(sim_state_save(&k.st, path, &err), 0);
	FILE *fp = fopen(path, "r");
	static char text[20000];
	size_t n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = 0;
	assert_non_null(strstr(text, "\nkey 3 rsa 0 - RSAND:"));
	sim_state s2;
	assert_int_equal(sim_state_load(&s2, path, &err), 0);
	assert_int_equal(EVP_PKEY_eq(s2.keys[3].pkey, key), 1);
	sim_card c2;
	sim_card_init(&c2, &s2);
	assert_int_equal(xfer(&c2, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&c2, VERIFY_PIN, NULL), 0x9000);
	assert_int_equal(xfer(&c2, "80680333 000003 616263 0000", &d), 0x9000);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestVerify(m, d.data, d.len, (const uint8_t *)"abc", 3), 1);
	EVP_MD_CTX_free(m);
	sim_card_free(&c2);
	sim_state_free(&s2);
	card_free(&k);
	free(cmd);
	free(hex);
	EVP_PKEY_free(key);
	buf_free(&blob);
	buf_free(&d);
	unlink(path);
}

static void test_state_profiles(void **state)
{
	(void)state;
	char path[] = "/tmp/hv-sim-prof-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	hv_err err;
	card k;
	/* A fresh pico (no device key yet) and an initialized one round-trip. */
	card_new(&k, SIM_PROFILE_PICO_HSM, NULL);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(sim_state_save(&k.st, path, &err), 0);
		sim_state s2;
		assert_int_equal(sim_state_load(&s2, path, &err), 0);
		assert_ptr_equal(s2.profile, sim_profile_get(SIM_PROFILE_PICO_HSM));
		assert_int_equal(s2.devaut, k.st.devaut);
		assert_int_equal(s2.devkey == NULL, k.st.devkey == NULL);
		if (k.st.devkey)
			assert_int_equal(EVP_PKEY_eq(s2.devkey, k.st.devkey), 1);
		sim_state_free(&s2);
		assert_int_equal(xfer(&k.c, SELECT_AID, NULL), 0x9000);
		assert_int_equal(xfer(&k.c, INIT_NO_DKEK, NULL), 0x9000);
		assert_int_equal(k.st.devaut, SIM_DEVAUT_SELF_SIGNED);
	}
	card_free(&k);

	/* A version-1 file (before profiles) loads as a SmartCard-HSM. */
	card_new(&k, SIM_PROFILE_SMARTCARD_HSM, "OLDV1");
	assert_int_equal(sim_state_save(&k.st, path, &err), 0);
	FILE *fp = fopen(path, "r");
	char text[20000];
	size_t n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = 0;
	char *prof = strstr(text, "profile smartcard-hsm\n");
	char *dev = strstr(text, "devaut factory\n");
	assert_non_null(prof);
	assert_non_null(dev);
	memmove(dev, dev + strlen("devaut factory\n"), strlen(dev + strlen("devaut factory\n")) + 1);
	memmove(prof, prof + strlen("profile smartcard-hsm\n"), strlen(prof + strlen("profile smartcard-hsm\n")) + 1);
	text[strlen("hsmvault-sim-state ")] = '1';
	fp = fopen(path, "w");
	fputs(text, fp);
	fclose(fp);
	sim_state s2;
	assert_int_equal(sim_state_load(&s2, path, &err), 0);
	assert_ptr_equal(s2.profile, sim_profile_get(SIM_PROFILE_SMARTCARD_HSM));
	assert_int_equal(s2.devaut, SIM_DEVAUT_LEGACY);
	assert_string_equal(s2.serial, "OLDV1");
	sim_state_free(&s2);
	card_free(&k);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_smartcard_hsm),
		cmocka_unit_test(test_chain_nitrokey),
		cmocka_unit_test(test_chain_forged),
		cmocka_unit_test(test_serial_forms),
		cmocka_unit_test(test_pico_2f02_before_and_after_init),
		cmocka_unit_test(test_device_key_at_ref_0),
		cmocka_unit_test(test_kcv_hidden_until_verify),
		cmocka_unit_test(test_sign_algorithms),
		cmocka_unit_test(test_select_and_fcp),
		cmocka_unit_test(test_pico_unwrap_and_reinit),
		cmocka_unit_test(test_pico_unwrap_onto_device_key),
		cmocka_unit_test(test_state_profiles),
		cmocka_unit_test(test_state_rsa_without_primes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
