/* Key generation (byte-exact against smartcard-hsm.md 6.1), WRAP / UNWRAP
 * framing, DELETE, SIGN, public keys from CE files and the inventory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "card/schsm.h"
#include "crypto/prkd.h"
#include "fake_transport.h"
#include "util/tlv.h"

#define P256_P "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF"

/* smartcard-hsm.md 6.1: the complete EC P-256 request */
#define GAKP_P256 \
	"00 46 04 00 00 00 FD " \
	"5F 29 01 00 " \
	"42 09 55 54 43 41 30 30 30 30 31 " \
	"7F 49 81 DA " \
	"06 0A 04 00 7F 00 07 02 02 02 02 03 " \
	"81 20 " P256_P \
	"82 20 FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC " \
	"83 20 5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B " \
	"84 41 046B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296" \
	"4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5 " \
	"85 20 FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551 " \
	"87 01 01 " \
	"5F 20 0D 55 54 43 44 55 4D 4D 59 30 30 30 30 31 " \
	"00 00"

/* vector V7's PRKD: EC, "TestKey", ID 01, 256 bits */
#define V7_PRKD "A02130090C07546573744B657930080401010303072080A10A30083002040002020100"

static void card_on(schsm_card *c, fake_transport *f)
{
	memset(c, 0, sizeof(*c));
	c->t = &f->t;
	c->max_send = 1223;
	strcpy(c->serial, "DEHSM00123");
}

static uint8_t *with_sw(const uint8_t *d, size_t n, uint16_t sw)
{
	uint8_t *b = malloc(n + 2);
	if (n)
		memcpy(b, d, n);
	b[n] = (uint8_t)(sw >> 8);
	b[n + 1] = (uint8_t)sw;
	return b;
}

static EVP_PKEY *ec_key(const char *curve)
{
	EVP_PKEY *k = EVP_EC_gen(curve);
	assert_non_null(k);
	return k;
}

/* 67 { 7F21 { 7F4E { 5F29, 42, 7F49 {06, [81 p], 86 Q}, 5F20 }, 5F37 }, 42, 5F37 } */
static void cv_request_ec(bytebuf *out, EVP_PKEY *k, int with_p)
{
	uint8_t q[200];
	size_t ql = 0;
	assert_true(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, q, sizeof(q), &ql));
	static const uint8_t oid[10] = { 0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x02, 0x03 };
	bytebuf puk = { 0 }, body = { 0 }, req = { 0 }, auth = { 0 };
	buf_put_tlv(&puk, 0x06, oid, 10);
	if (with_p) {
		size_t pl;
		uint8_t *p = fake_hex(P256_P, &pl);
		buf_put_tlv(&puk, 0x81, p, pl);
		free(p);
	}
	buf_put_tlv(&puk, 0x86, q, ql);
	uint8_t z = 0;
	buf_put_tlv(&body, 0x5F29, &z, 1);
	buf_put_tlv(&body, 0x42, "UTCA00001", 9);
	buf_put_tlv(&body, 0x7F49, puk.data, puk.len);
	buf_put_tlv(&body, 0x5F20, "UTTM00001", 9);
	buf_put_tlv(&req, 0x7F4E, body.data, body.len);
	uint8_t sig[64] = { 1 };
	buf_put_tlv(&req, 0x5F37, sig, 64);
	buf_put_tlv(&auth, 0x7F21, req.data, req.len);
	buf_put_tlv(&auth, 0x42, "DEHSM0012300001", 15);
	buf_put_tlv(&auth, 0x5F37, sig, 64);
	buf_put_tlv(out, 0x67, auth.data, auth.len);
	buf_free(&puk);
	buf_free(&body);
	buf_free(&req);
	buf_free(&auth);
}

static void cv_request_rsa(bytebuf *out, EVP_PKEY *k)
{
	BIGNUM *n = NULL, *e = NULL;
	assert_true(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n));
	assert_true(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e));
	uint8_t nb[512], eb[8];
	int nl = BN_bn2bin(n, nb), el = BN_bn2bin(e, eb);
	static const uint8_t oid[10] = { 0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x01, 0x02 };
	bytebuf puk = { 0 }, body = { 0 }, req = { 0 };
	buf_put_tlv(&puk, 0x06, oid, 10);
	buf_put_tlv(&puk, 0x81, nb, (size_t)nl);
	buf_put_tlv(&puk, 0x82, eb, (size_t)el);
	buf_put_tlv(&body, 0x7F49, puk.data, puk.len);
	buf_put_tlv(&req, 0x7F4E, body.data, body.len);
	buf_put_tlv(out, 0x7F21, req.data, req.len);
	buf_free(&puk);
	buf_free(&body);
	buf_free(&req);
	BN_free(n);
	BN_free(e);
}

static void x509_der(bytebuf *out, EVP_PKEY *k)
{
	X509 *x = X509_new();
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME *nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"key", -1, -1, 0);
	X509_set_issuer_name(x, nm);
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	unsigned char *der = NULL;
	int l = i2d_X509(x, &der);
	assert_true(l > 0);
	buf_put(out, der, (size_t)l);
	OPENSSL_free(der);
	X509_free(x);
}

static void test_keygen_p256_bytes(void **state)
{
	(void)state;
	EVP_PKEY *k = ec_key("P-256");
	bytebuf resp = { 0 };
	cv_request_ec(&resp, k, 1);
	uint8_t *r = with_sw(resp.data, resp.len, 0x9000);
	fake_step steps[] = {
		{ .cmd = GAKP_P256, .resp_bin = r, .resp_bin_len = resp.len + 2 },
	};
	fake_transport f;
	fake_init(&f, steps, 1);
	schsm_card c;
	card_on(&c, &f);
	schsm_keygen g = { .alg = SCHSM_KEY_EC, .curve_nid = NID_X9_62_prime256v1,
			   .chr = "UTCDUMMY00001", .key_domain = -1 };
	bytebuf req = { 0 };
	assert_int_equal(schsm_generate_key(&c, 4, &g, &req, NULL), HV_OK);
	fake_assert_done(&f);
	assert_int_equal(req.len, resp.len);
	assert_memory_equal(req.data, resp.data, resp.len);
	/* the request's public key is the card's new key */
	EVP_PKEY *pub = NULL;
	assert_int_equal(schsm_parse_public_key(req.data, req.len, &pub, NULL, NULL), HV_OK);
	assert_int_equal(EVP_PKEY_eq(pub, k), 1);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(k);
	buf_free(&req);
	buf_free(&resp);
	free(r);
}

static void test_keygen_data_variants(void **state)
{
	(void)state;
	bytebuf d = { 0 };
	/* RSA 2048, OpenSC's default names, allowed list and key domain */
	static const uint8_t allowed[3] = { 0x30, 0x92, 0x20 };
	schsm_keygen g = { .alg = SCHSM_KEY_RSA, .rsa_bits = 2048, .allowed = allowed,
			   .allowed_len = 3, .key_domain = 0 };
	assert_int_equal(schsm_build_keygen_data(&g, &d, NULL), HV_OK);
	size_t n;
	uint8_t *want = fake_hex("5F29 01 00 42 09 555443413030303031 "
				 "7F49 15 06 0A 04007F00070202020102 82 03 010001 02 02 0800 "
				 "5F20 09 5554544D3030303031 91 03 30 92 20 92 01 00", &n);
	assert_int_equal(d.len, n);
	assert_memory_equal(d.data, want, n);
	free(want);
	buf_free(&d);

	/* P-384 and P-521: every field at the prime's length */
	int nids[2] = { NID_secp384r1, NID_secp521r1 };
	size_t flen[2] = { 48, 66 };
	for (int i = 0; i < 2; i++) {
		schsm_keygen e = { .alg = SCHSM_KEY_EC, .curve_nid = nids[i], .key_domain = -1 };
		assert_int_equal(schsm_build_keygen_data(&e, &d, NULL), HV_OK);
		tlv puk, t;
		assert_int_equal(tlv_find(d.data, d.len, 0x7F49, &puk), 0);
		assert_int_equal(tlv_find(puk.val, puk.len, 0x81, &t), 0);
		assert_int_equal(t.len, flen[i]);
		assert_int_equal(tlv_find(puk.val, puk.len, 0x82, &t), 0);
		assert_int_equal(t.len, flen[i]);
		assert_int_equal(tlv_find(puk.val, puk.len, 0x84, &t), 0);
		assert_int_equal(t.len, 1 + 2 * flen[i]);
		assert_int_equal(tlv_find(puk.val, puk.len, 0x85, &t), 0);
		assert_int_equal(t.len, flen[i]);
		assert_int_equal(tlv_find(puk.val, puk.len, 0x87, &t), 0);
		assert_int_equal(t.len, 1);
		assert_int_equal(t.val[0], 1);
		assert_int_equal(tlv_find(d.data, d.len, 0x91, &t), -1);
		buf_free(&d);
	}

	/* refusals */
	schsm_keygen bad = { .alg = SCHSM_KEY_RSA, .rsa_bits = 2000, .key_domain = -1 };
	assert_int_equal(schsm_build_keygen_data(&bad, &d, NULL), HV_EUSAGE);
	bad.alg = SCHSM_KEY_AES;
	assert_int_equal(schsm_build_keygen_data(&bad, &d, NULL), HV_EUSAGE);
	bad.alg = SCHSM_KEY_EC;
	bad.curve_nid = NID_sha256;
	assert_int_equal(schsm_build_keygen_data(&bad, &d, NULL), HV_EUSAGE);
	buf_free(&d);
}

static void test_keygen_errors(void **state)
{
	(void)state;
	bytebuf resp = { 0 };
	EVP_PKEY *k = ec_key("P-256");
	cv_request_ec(&resp, k, 0);
	uint8_t *r = with_sw(resp.data, resp.len, 0x9000);
	schsm_keygen g = { .alg = SCHSM_KEY_EC, .curve_nid = NID_X9_62_prime256v1, .key_domain = -1 };
	bytebuf d = { 0 };
	assert_int_equal(schsm_build_keygen_data(&g, &d, NULL), HV_OK);
	bytebuf cmd = { 0 };
	apdu a = { .cla = 0, .ins = 0x46, .p1 = 5, .p2 = 0, .data = d.data, .lc = d.len,
		   .ne = APDU_NE_MAX, .extended = 1 };
	assert_int_equal(apdu_encode(&a, &cmd, NULL), HV_OK);
	fake_step steps[] = {
		{ .cmd_bin = cmd.data, .cmd_bin_len = cmd.len, .resp = "6982" },
		/* no data in the answer: the request is read from CE05 */
		{ .cmd_bin = cmd.data, .cmd_bin_len = cmd.len, .resp = "9000" },
		{ .cmd = "00 B1 CE 05 00 00 04 54 02 00 00 00 00", .resp_bin = r,
		  .resp_bin_len = resp.len + 2 },
	};
	fake_transport f;
	fake_init(&f, steps, 3);
	schsm_card c;
	card_on(&c, &f);
	hv_err err = { 0 };
	bytebuf req = { 0 };
	assert_int_equal(schsm_generate_key(&c, 5, &g, &req, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "generating key 5"));
	assert_non_null(strstr(err.msg, "PIN has not been verified"));
	assert_int_equal(schsm_generate_key(&c, 5, &g, &req, &err), HV_OK);
	assert_int_equal(req.len, resp.len);
	assert_int_equal(schsm_generate_key(&c, 0, &g, &req, &err), HV_EUSAGE);
	fake_assert_done(&f);
	buf_free(&req);
	buf_free(&cmd);
	buf_free(&d);
	buf_free(&resp);
	EVP_PKEY_free(k);
	free(r);
}

static void test_wrap(void **state)
{
	(void)state;
	/* vector V4's 77-byte AES blob as the card's answer */
	static const char *blob = "15021DA5133172200F0008608648016503040100041011189900000000"
		"AE3C8A48546986F557209A25B753D19D0C2C2C6D76917E3FBE4E9085A99A4289"
		"74766AE6A18EA264DE014C1316E79D31";
	char resp[400];
	snprintf(resp, sizeof(resp), "%s9000", blob);
	fake_step steps[] = {
		{ .cmd = "80 72 05 92 00 00 00", .resp = resp },
		{ .cmd = "80 72 06 92 00 00 00", .resp = "6985" },
		{ .cmd = "80 72 07 92 00 00 00", .resp = "6A88" },
		{ .cmd = "80 72 08 92 00 00 00", .resp = "0102 9000" },
	};
	fake_transport f;
	fake_init(&f, steps, 4);
	schsm_card c;
	card_on(&c, &f);
	bytebuf out = { 0 };
	hv_err err = { 0 };
	assert_int_equal(schsm_wrap_key(&c, 5, &out, NULL), HV_OK);
	assert_int_equal(out.len, 77);
	assert_int_equal(out.data[8], 0x0F);
	assert_int_equal(schsm_wrap_key(&c, 6, &out, &err), HV_ECARD);
	assert_string_equal(err.msg, "wrapping key 6 on card DEHSM00123: the key is not exportable "
			    "(its policy lacks the wrap algorithm) (SW 6985)");
	assert_int_equal(schsm_wrap_key(&c, 7, &out, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "no complete DKEK"));
	assert_int_equal(schsm_wrap_key(&c, 8, &out, &err), HV_ECARD);
	assert_int_equal(out.len, 77);
	/* the device key never leaves: refused without a command */
	assert_int_equal(schsm_wrap_key(&c, 0, &out, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "device key"));
	fake_assert_done(&f);
	buf_free(&out);
}

static void test_unwrap(void **state)
{
	(void)state;
	size_t bl;
	uint8_t *blob = fake_hex("15021DA5133172200F0008608648016503040100041011189900000000"
				 "AE3C8A48546986F557209A25B753D19D0C2C2C6D76917E3FBE4E9085A99A4289"
				 "74766AE6A18EA264DE014C1316E79D31", &bl);
	assert_int_equal(bl, 77);
	/* staging: 00 D7 2F 10 53 54 02 00 00 53 4D <blob>, then 80 74 ref 93 */
	uint8_t stage[5 + 6 + 77] = { 0x00, 0xD7, 0x2F, 0x10, 0x53, 0x54, 0x02, 0x00, 0x00, 0x53, 0x4D };
	memcpy(stage + 11, blob, 77);
	uint8_t direct[5 + 77] = { 0x80, 0x74, 0x03, 0x93, 0x4D };
	memcpy(direct + 5, blob, 77);
	fake_step steps[] = {
		{ .cmd_bin = stage, .cmd_bin_len = sizeof(stage), .resp = "9000" },
		{ .cmd = "80 74 03 93", .resp = "9000" },
		{ .cmd_bin = direct, .cmd_bin_len = sizeof(direct), .resp = "9000" },
		{ .cmd_bin = stage, .cmd_bin_len = sizeof(stage), .resp = "9000" },
		{ .cmd = "80 74 03 93", .resp = "6A80" },
		{ .cmd_bin = direct, .cmd_bin_len = sizeof(direct), .resp = "6400" },
		{ .cmd_bin = stage, .cmd_bin_len = sizeof(stage), .resp = "6982" },
	};
	fake_transport f;
	fake_init(&f, steps, 7);
	schsm_card c;
	card_on(&c, &f);
	hv_err err = { 0 };
	assert_int_equal(schsm_unwrap_key(&c, 3, blob, bl, 0, NULL), HV_OK);
	assert_int_equal(schsm_unwrap_key(&c, 3, blob, bl, 1, NULL), HV_OK);
	assert_int_equal(schsm_unwrap_key(&c, 3, blob, bl, 0, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "the wrapped key does not match this card's DKEK"));
	assert_int_equal(schsm_unwrap_key(&c, 3, blob, bl, 1, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "the wrapped key does not match this card's DKEK"));
	assert_int_equal(schsm_unwrap_key(&c, 3, blob, bl, 0, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "unwrapping key 3"));
	assert_int_equal(schsm_unwrap_key(&c, 0, blob, bl, 0, &err), HV_EUSAGE);
	fake_assert_done(&f);

	/* a blob over 255 bytes goes out with an extended Lc */
	uint8_t big[363];
	memset(big, 0xB5, sizeof(big));
	uint8_t hdr[7] = { 0x80, 0x74, 0x09, 0x93, 0x00, 0x01, 0x6B };
	uint8_t bigcmd[7 + 363];
	memcpy(bigcmd, hdr, 7);
	memcpy(bigcmd + 7, big, 363);
	fake_step s2[] = { { .cmd_bin = bigcmd, .cmd_bin_len = sizeof(bigcmd), .resp = "9000" } };
	fake_init(&f, s2, 1);
	assert_int_equal(schsm_unwrap_key(&c, 9, big, sizeof(big), 1, NULL), HV_OK);
	fake_assert_done(&f);
	free(blob);
}

static void test_restore_key(void **state)
{
	(void)state;
	/* The blob inside UNWRAP; only the file the listing showed (C4) is
	 * deleted before its write, CE is written straight away. */
	fake_step steps[] = {
		{ .cmd = "80 74 07 93 03 B1 B2 B3", .resp = "9000" },
		{ .cmd = "00 E4 02 00 02 C4 07", .resp = "9000" },
		{ .cmd = "00 D7 C4 07 08 54 02 00 00 53 02 A0 00", .resp = "9000" },
		{ .cmd = "00 D7 CE 07 08 54 02 00 00 53 02 30 00", .resp = "9000" },
		/* nothing listed: three commands, no DELETE */
		{ .cmd = "80 74 0A 93 03 B1 B2 B3", .resp = "9000" },
		{ .cmd = "00 D7 C4 0A 08 54 02 00 00 53 02 A0 00", .resp = "9000" },
		{ .cmd = "00 D7 CE 0A 08 54 02 00 00 53 02 30 00", .resp = "9000" },
		/* no PRKD or certificate: only the key */
		{ .cmd = "80 74 08 93 03 B1 B2 B3", .resp = "9000" },
		/* a failed UNWRAP writes nothing */
		{ .cmd = "80 74 09 93 03 B1 B2 B3", .resp = "6A80" },
		/* a failed write is reported (the file did not land) */
		{ .cmd = "80 74 0B 93 03 B1 B2 B3", .resp = "9000" },
		{ .cmd = "00 D7 C4 0B 08 54 02 00 00 53 02 A0 00", .resp = "6A84" },
		/* a blob larger than the card takes in one command: via 2F10 */
		{ .cmd = "00 D7 2F 10 09 54 02 00 00 53 03 B1 B2 B3", .resp = "9000" },
		{ .cmd = "80 74 0C 93", .resp = "9000" },
		{ .cmd = "00 E4 02 00 02 CE 0C", .resp = "6A82" },
		{ .cmd = "00 D7 CE 0C 08 54 02 00 00 53 02 30 00", .resp = "9000" },
		/* pico-hsm has no staging EF: the blob always goes inside UNWRAP */
		{ .cmd = "80 74 0D 93 03 B1 B2 B3", .resp = "9000" },
	};
	fake_transport f;
	fake_init(&f, steps, sizeof(steps) / sizeof(steps[0]));
	schsm_card c;
	card_on(&c, &f);
	static const uint8_t blob[3] = { 0xB1, 0xB2, 0xB3 }, prkd[2] = { 0xA0, 0x00 },
			     cert[2] = { 0x30, 0x00 };
	assert_int_equal(schsm_restore_key(&c, 7, blob, 3, prkd, 2, cert, 2,
					   SCHSM_RESTORE_PRKD_EXISTS, NULL), HV_OK);
	assert_int_equal(schsm_restore_key(&c, 10, blob, 3, prkd, 2, cert, 2, 0, NULL), HV_OK);
	assert_int_equal(schsm_restore_key(&c, 8, blob, 3, NULL, 0, NULL, 0, 0, NULL), HV_OK);
	hv_err err = { 0 };
	assert_int_equal(schsm_restore_key(&c, 9, blob, 3, prkd, 2, cert, 2, 0, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "does not match this card's DKEK"));
	hv_err_clear(&err);
	assert_int_not_equal(schsm_restore_key(&c, 11, blob, 3, prkd, 2, cert, 2, 0, &err), HV_OK);
	assert_non_null(strstr(err.msg, "C40B"));
	c.max_send = 2;
	assert_int_equal(schsm_restore_key(&c, 12, blob, 3, NULL, 0, cert, 2,
					   SCHSM_RESTORE_CERT_EXISTS, NULL), HV_OK);
	c.fcp.has_options = 1;
	c.fcp.type = SCHSM_PLATFORM_PICO;
	assert_int_equal(schsm_restore_key(&c, 13, blob, 3, NULL, 0, NULL, 0, 0, NULL), HV_OK);
	fake_assert_done(&f);
}

static void test_delete_key(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "00 E4 02 00 02 CC 05", .resp = "9000" },
		{ .cmd = "00 E4 02 00 02 C4 05", .resp = "9000" },
		{ .cmd = "00 E4 02 00 02 CE 05", .resp = "6A82" },
		{ .cmd = "00 E4 02 00 02 CC 06", .resp = "6A82" },
	};
	fake_transport f;
	fake_init(&f, steps, 4);
	schsm_card c;
	card_on(&c, &f);
	hv_err err = { 0 };
	assert_int_equal(schsm_delete_key(&c, 5, NULL), HV_OK);
	assert_int_equal(schsm_delete_key(&c, 6, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "no key 6"));
	assert_int_equal(schsm_delete_key(&c, 0, &err), HV_EUSAGE);
	fake_assert_done(&f);
}

/* SIGN command bytes: 80 68 ref alg 00 Lc(2) data 02 00 (Ne 512). */
static uint8_t *sign_cmd(uint8_t ref, uint8_t alg, const uint8_t *in, size_t len, size_t *n)
{
	uint8_t *b = malloc(7 + len + 2);
	assert_non_null(b);
	uint8_t hdr[7] = { 0x80, 0x68, ref, alg, 0x00, (uint8_t)(len >> 8), (uint8_t)len };
	memcpy(b, hdr, 7);
	memcpy(b + 7, in, len);
	b[7 + len] = 0x02;
	b[8 + len] = 0x00;
	*n = 9 + len;
	return b;
}

/* What a card does with raw RSA: the private-key operation on the block. */
static uint8_t *raw_rsa(EVP_PKEY *k, const uint8_t *block, size_t len, size_t *n)
{
	EVP_PKEY_CTX *x = EVP_PKEY_CTX_new(k, NULL);
	assert_non_null(x);
	assert_int_equal(EVP_PKEY_sign_init(x), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(x, RSA_NO_PADDING), 1);
	size_t sl = 0;
	assert_int_equal(EVP_PKEY_sign(x, NULL, &sl, block, len), 1);
	uint8_t *sig = malloc(sl + 2);
	assert_int_equal(EVP_PKEY_sign(x, sig, &sl, block, len), 1);
	EVP_PKEY_CTX_free(x);
	sig[sl] = 0x90;
	sig[sl + 1] = 0x00;
	*n = sl + 2;
	return sig;
}

static void test_sign(void **state)
{
	(void)state;
	uint8_t h[32];
	for (int i = 0; i < 32; i++)
		h[i] = (uint8_t)i;
	EVP_PKEY *ec = ec_key("P-256");
	EVP_PKEY *rsa = EVP_RSA_gen(1024);
	assert_non_null(rsa);
	/* the PKCS#1 v1.5 block for a 128-byte modulus, as RFC 8017 9.2 has it */
	uint8_t block[128];
	assert_int_equal(schsm_pkcs1_block(EVP_sha256(), h, 32, sizeof(block), block, NULL), HV_OK);
	size_t dil;
	uint8_t *di = fake_hex("3031300D060960864801650304020105000420"
			       "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", &dil);
	assert_int_equal(dil, 51);
	assert_int_equal(block[0], 0x00);
	assert_int_equal(block[1], 0x01);
	for (size_t i = 2; i < sizeof(block) - dil - 1; i++)
		assert_int_equal(block[i], 0xFF);
	assert_int_equal(block[sizeof(block) - dil - 1], 0x00);
	assert_memory_equal(block + sizeof(block) - dil, di, dil);
	hv_err err = { 0 };
	uint8_t small[61];
	assert_int_equal(schsm_pkcs1_block(EVP_sha256(), h, 32, sizeof(small), small, &err),
			 HV_EUSAGE);
	assert_int_equal(schsm_pkcs1_block(EVP_md5(), h, 16, sizeof(block), block, &err),
			 HV_EUSAGE);
	assert_int_equal(schsm_pkcs1_block(EVP_sha256(), h, 32, sizeof(block), block, NULL), HV_OK);

	size_t raw_n, di_n, sig_n;
	uint8_t *raw_cmd = sign_cmd(2, 0x20, block, sizeof(block), &raw_n);
	uint8_t *di_cmd = sign_cmd(2, 0x30, di, dil, &di_n);
	uint8_t *sig = raw_rsa(rsa, block, sizeof(block), &sig_n);
	fake_step steps[] = {
		/* EC: ECDSA on the hash */
		{ .cmd = "80 68 01 70 00 00 20 000102030405060708090A0B0C0D0E0F"
			 "101112131415161718191A1B1C1D1E1F 02 00",
		  .resp = "3006020101020102 9000" },
		/* RSA: raw over the host-made block, the card's signature */
		{ .cmd_bin = raw_cmd, .cmd_bin_len = raw_n, .resp_bin = sig, .resp_bin_len = sig_n },
		/* pico-like card whose raw RSA is refused (64 00): PKCS#1 v1.5 */
		{ .cmd_bin = raw_cmd, .cmd_bin_len = raw_n, .resp = "6400" },
		{ .cmd_bin = di_cmd, .cmd_bin_len = di_n, .resp = "AABBCC 9000" },
		/* a card with an algorithm list: 6A 81, then 0x30 works */
		{ .cmd_bin = raw_cmd, .cmd_bin_len = raw_n, .resp = "6985" },
		{ .cmd_bin = di_cmd, .cmd_bin_len = di_n, .resp = "DDEE 9000" },
		/* every mechanism refused */
		{ .cmd_bin = raw_cmd, .cmd_bin_len = raw_n, .resp = "6A81" },
		{ .cmd_bin = di_cmd, .cmd_bin_len = di_n, .resp = "6400" },
		/* PIN not verified: no other mechanism is tried */
		{ .cmd_bin = raw_cmd, .cmd_bin_len = raw_n, .resp = "6982" },
		/* card pulled: none either */
		{ .cmd_bin = raw_cmd, .cmd_bin_len = raw_n, .resp = FAKE_REMOVED },
		{ .cmd = "80 68 03 70 00 00 20 000102030405060708090A0B0C0D0E0F"
			 "101112131415161718191A1B1C1D1E1F 02 00",
		  .resp = "6982" },
	};
	fake_transport f;
	fake_init(&f, steps, sizeof(steps) / sizeof(steps[0]));
	schsm_card c;
	card_on(&c, &f);
	bytebuf out = { 0 };
	uint8_t alg = 0;
	assert_int_equal(schsm_sign_digest(&c, 1, ec, EVP_sha256(), h, 32, &out, &alg, NULL), HV_OK);
	assert_int_equal(out.len, 8);
	assert_int_equal(alg, SCHSM_ALG_ECDSA);
	buf_free(&out);

	assert_int_equal(schsm_sign_digest(&c, 2, rsa, EVP_sha256(), h, 32, &out, &alg, NULL), HV_OK);
	assert_int_equal(alg, SCHSM_ALG_RSA_RAW);
	assert_int_equal(out.len, 128);
	/* the raw signature is a standard PKCS#1 v1.5 signature of h */
	EVP_PKEY_CTX *v = EVP_PKEY_CTX_new(rsa, NULL);
	assert_int_equal(EVP_PKEY_verify_init(v), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(v, RSA_PKCS1_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(v, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_verify(v, out.data, out.len, h, 32), 1);
	EVP_PKEY_CTX_free(v);
	buf_free(&out);

	assert_int_equal(schsm_sign_digest(&c, 2, rsa, EVP_sha256(), h, 32, &out, &alg, &err), HV_OK);
	assert_int_equal(alg, SCHSM_ALG_RSA_PKCS1);
	assert_int_equal(out.len, 3);
	buf_free(&out);
	assert_int_equal(schsm_sign_digest(&c, 2, rsa, EVP_sha256(), h, 32, &out, &alg, &err), HV_OK);
	assert_int_equal(alg, SCHSM_ALG_RSA_PKCS1);
	assert_int_equal(out.len, 2);
	buf_free(&out);

	alg = 0;
	assert_int_equal(schsm_sign_digest(&c, 2, rsa, EVP_sha256(), h, 32, &out, &alg, &err),
			 HV_ECARD);
	assert_int_equal(alg, 0);
	assert_int_equal(out.len, 0);
	assert_non_null(strstr(err.msg, "refuses raw RSA (SW 6A81) and PKCS#1 v1.5 (SW 6400)"));
	assert_int_equal(schsm_sign_digest(&c, 2, rsa, EVP_sha256(), h, 32, &out, &alg, &err),
			 HV_ECARD);
	assert_non_null(strstr(err.msg, "PIN has not been verified"));
	assert_int_equal(schsm_sign_digest(&c, 2, rsa, EVP_sha256(), h, 32, &out, &alg, &err),
			 HV_ECARD);
	assert_true(schsm_card_removed(&c));
	f.t.removed = 0;
	assert_int_equal(schsm_sign(&c, 3, SCHSM_ALG_ECDSA, h, 32, &out, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "PIN has not been verified"));
	/* digest length must match; a public key is needed */
	assert_int_equal(schsm_sign_digest(&c, 1, ec, EVP_sha384(), h, 32, &out, NULL, &err),
			 HV_EINTERNAL);
	assert_int_equal(schsm_sign_digest(&c, 1, NULL, EVP_sha256(), h, 32, &out, NULL, &err),
			 HV_EINTERNAL);
	fake_assert_done(&f);
	buf_free(&out);
	assert_true(schsm_sign_refused(0x6400));
	assert_true(schsm_sign_refused(0x6A81));
	assert_false(schsm_sign_refused(0x6982));
	assert_false(schsm_sign_refused(0x6A88));
	free(raw_cmd);
	free(di_cmd);
	free(sig);
	free(di);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
}

static void test_public_key_parse(void **state)
{
	(void)state;
	EVP_PKEY *ec = ec_key("P-384");
	EVP_PKEY *rsa = EVP_RSA_gen(1024);
	assert_non_null(rsa);
	EVP_PKEY *pub = NULL;
	int x509 = -1;
	/* EC point without domain parameters: curve from the point length */
	bytebuf b = { 0 };
	cv_request_ec(&b, ec, 0);
	assert_int_equal(schsm_parse_public_key(b.data, b.len, &pub, &x509, NULL), HV_OK);
	assert_int_equal(x509, 0);
	assert_int_equal(EVP_PKEY_eq(pub, ec), 1);
	EVP_PKEY_free(pub);
	buf_free(&b);
	/* plain 7F21 RSA request */
	cv_request_rsa(&b, rsa);
	assert_int_equal(schsm_parse_public_key(b.data, b.len, &pub, NULL, NULL), HV_OK);
	assert_int_equal(EVP_PKEY_eq(pub, rsa), 1);
	EVP_PKEY_free(pub);
	/* hostile: truncated, wrong tag, no template */
	hv_err err = { 0 };
	assert_int_equal(schsm_parse_public_key(b.data, b.len - 10, &pub, NULL, &err), HV_ECARD);
	assert_null(pub);
	static const uint8_t junk[4] = { 0x04, 0x02, 0x00, 0x00 };
	assert_int_equal(schsm_parse_public_key(junk, 4, &pub, NULL, &err), HV_ECARD);
	static const uint8_t empty_cvc[8] = { 0x7F, 0x21, 0x05, 0x7F, 0x4E, 0x02, 0x42, 0x00 };
	assert_int_equal(schsm_parse_public_key(empty_cvc, 8, &pub, NULL, &err), HV_ECARD);
	static const uint8_t bad_x509[4] = { 0x30, 0x02, 0x05, 0x00 };
	assert_int_equal(schsm_parse_public_key(bad_x509, 4, &pub, NULL, &err), HV_ECARD);
	buf_free(&b);
	/* X.509 */
	x509_der(&b, ec);
	assert_int_equal(schsm_parse_public_key(b.data, b.len, &pub, &x509, NULL), HV_OK);
	assert_int_equal(x509, 1);
	assert_int_equal(EVP_PKEY_eq(pub, ec), 1);
	EVP_PKEY_free(pub);
	buf_free(&b);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
}

static void test_parse_prkd(void **state)
{
	(void)state;
	size_t n;
	uint8_t *p = fake_hex(V7_PRKD, &n);
	schsm_key k;
	memset(&k, 0, sizeof(k));
	assert_int_equal(schsm_parse_prkd(p, n, &k, NULL), HV_OK);
	assert_int_equal(k.alg, SCHSM_KEY_EC);
	assert_string_equal(k.label, "TestKey");
	assert_int_equal(k.id_len, 1);
	assert_int_equal(k.id[0], 1);
	assert_int_equal(k.bits, 256);
	/* truncated */
	assert_int_equal(schsm_parse_prkd(p, n - 3, &k, NULL), HV_ECARD);
	free(p);
	/* P-521 written as 528 */
	prkd_info in = { .kind = PRKD_EC, .key_ref = -1, .key_bits = 528, .id_len = 1 };
	strcpy(in.label, "big");
	in.id[0] = 9;
	bytebuf d = { 0 };
	assert_int_equal(prkd_encode(&in, &d, NULL), HV_OK);
	assert_int_equal(schsm_parse_prkd(d.data, d.len, &k, NULL), HV_OK);
	assert_int_equal(k.bits, 521);
	buf_free(&d);
}

static void test_list_keys(void **state)
{
	(void)state;
	EVP_PKEY *k3 = ec_key("P-256");
	EVP_PKEY *k2 = ec_key("P-256");
	bytebuf cert = { 0 }, req = { 0 }, prkd3 = { 0 };
	x509_der(&cert, k3);
	cv_request_ec(&req, k2, 1);
	prkd_info in = { .kind = PRKD_RSA, .key_ref = 3, .key_bits = 2048, .id_len = 2 };
	strcpy(in.label, "ca signing");
	in.id[0] = 0xAB;
	in.id[1] = 0xCD;
	assert_int_equal(prkd_encode(&in, &prkd3, NULL), HV_OK);
	/* trailing bytes after the first TLV are dropped */
	buf_put(&prkd3, "\x00\x00", 2);
	uint8_t *r_cert = with_sw(cert.data, cert.len, 0x9000);
	uint8_t *r_req = with_sw(req.data, req.len, 0x9000);
	uint8_t *r_prkd3 = with_sw(prkd3.data, prkd3.len, 0x9000);
	fake_step steps[] = {
		/* a real card lists every EF, CE files included */
		{ .cmd = "80 58 00 00 00 00 00", .resp = "CC00 CC03 C403 CE03 CC01 C401 9000" },
		{ .cmd = "00 B1 C4 01 00 00 04 54 02 00 00 00 00", .resp = V7_PRKD "9000" },
		{ .cmd = "00 B1 C4 03 00 00 04 54 02 00 00 00 00", .resp_bin = r_prkd3,
		  .resp_bin_len = prkd3.len + 2 },
		{ .cmd = "00 B1 CE 03 00 00 04 54 02 00 00 00 00", .resp_bin = r_cert,
		  .resp_bin_len = cert.len + 2 },
		/* pico lists no CE files at all: CE is read for every key */
		{ .cmd = "80 58 00 00 00 00 00", .resp = "C400 CC00 CC02 C402 CC04 9000" },
		{ .cmd = "00 B1 C4 02 00 00 04 54 02 00 00 00 00",
		  .resp = "A0 1A 30 02 0C 00 30 08 04 01 32 03 03 07 20 80 A1 0A 30 08 30 02 04 00 02 02 01 00 9000" },
		{ .cmd = "00 B1 CE 02 00 00 04 54 02 00 00 00 00", .resp_bin = r_req,
		  .resp_bin_len = req.len + 2 },
		{ .cmd = "00 B1 CE 04 00 00 04 54 02 00 00 00 00", .resp = "6A82" },
		/* a pulled card in the middle */
		{ .cmd = "80 58 00 00 00 00 00", .resp = "CC00 CC01 C401 9000" },
		{ .cmd = "00 B1 C4 01 00 00 04 54 02 00 00 00 00", .resp = FAKE_REMOVED },
	};
	fake_transport f;
	fake_init(&f, steps, sizeof(steps) / sizeof(steps[0]));
	schsm_card c;
	card_on(&c, &f);
	schsm_key_list l;
	assert_int_equal(schsm_list_keys(&c, &l, NULL), HV_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.keys[0].ref, 0);
	assert_true(l.keys[0].device_key);
	assert_false(l.keys[0].exportable);
	assert_int_equal(l.keys[1].ref, 1);
	assert_true(l.keys[1].exportable);
	assert_string_equal(l.keys[1].label, "TestKey");
	assert_int_equal(l.keys[1].alg, SCHSM_KEY_EC);
	assert_int_equal(l.keys[1].bits, 256);
	assert_true(l.keys[1].has_prkd);
	assert_int_equal(l.keys[1].prkd.len, 35);
	assert_false(l.keys[1].has_cert);
	assert_null(l.keys[1].pub);
	assert_int_equal(l.keys[2].ref, 3);
	assert_string_equal(l.keys[2].label, "ca signing");
	assert_int_equal(l.keys[2].id_len, 2);
	assert_int_equal(l.keys[2].id[1], 0xCD);
	assert_int_equal(l.keys[2].prkd.len, prkd3.len - 2);
	assert_true(l.keys[2].has_cert);
	assert_false(l.keys[2].has_cv_request);
	assert_int_equal(l.keys[2].ce.len, cert.len);
	assert_int_equal(EVP_PKEY_eq(l.keys[2].pub, k3), 1);
	schsm_key_list_free(&l);

	assert_int_equal(schsm_list_keys(&c, &l, NULL), HV_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.keys[1].ref, 2);
	assert_string_equal(l.keys[1].label, "");
	assert_int_equal(l.keys[1].id_len, 1);
	assert_int_equal(l.keys[1].id[0], '2');
	assert_true(l.keys[1].has_cv_request);
	assert_int_equal(l.keys[1].curve_nid, NID_X9_62_prime256v1);
	assert_int_equal(EVP_PKEY_eq(l.keys[1].pub, k2), 1);
	assert_int_equal(l.keys[2].ref, 4);
	assert_false(l.keys[2].has_prkd);
	assert_int_equal(l.keys[2].alg, SCHSM_KEY_UNKNOWN);
	assert_null(l.keys[2].pub);
	schsm_key_list_free(&l);

	hv_err err = { 0 };
	assert_int_equal(schsm_list_keys(&c, &l, &err), HV_ECARD);
	assert_true(schsm_card_removed(&c));
	assert_non_null(strstr(err.msg, "was removed"));
	assert_int_equal(l.n, 0);
	fake_assert_done(&f);

	buf_free(&cert);
	buf_free(&req);
	buf_free(&prkd3);
	free(r_cert);
	free(r_req);
	free(r_prkd3);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k3);
}

static void test_free_key_ref(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "80 58 00 00 00 00 00", .resp = "C400 CC00 CC01 CC02 C401 CC04 9000" },
	};
	fake_transport f;
	fake_init(&f, steps, 1);
	schsm_card c;
	card_on(&c, &f);
	uint8_t ref = 0;
	assert_int_equal(schsm_free_key_ref(&c, &ref, NULL), HV_OK);
	assert_int_equal(ref, 3);
	fake_assert_done(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keygen_p256_bytes),
		cmocka_unit_test(test_keygen_data_variants),
		cmocka_unit_test(test_keygen_errors),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_unwrap),
		cmocka_unit_test(test_restore_key),
		cmocka_unit_test(test_delete_key),
		cmocka_unit_test(test_sign),
		cmocka_unit_test(test_public_key_parse),
		cmocka_unit_test(test_parse_prkd),
		cmocka_unit_test(test_list_keys),
		cmocka_unit_test(test_free_key_ref),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
