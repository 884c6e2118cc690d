/* The simulated SmartCard-HSM, driven APDU by APDU: selection, PINs,
 * initialization, DKEK shares (KCV vectors of smartcard-hsm.md section 9),
 * files, key generation, signatures, wrap/unwrap and the state file. */
#include "sim_test.h"

#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "crypto/dkek.h"
#include "crypto/keyblob.h"
#include "sim/cvc.h"
#include "sim/state.h"
#include "util/tlv.h"

#define SELECT_AID "00A404000BE82B0601040181C31F020100"
#define INIT_2_SHARES "80500000 1C 80020001 8106363438323139 82083537363231383830 910103 920102"
#define VERIFY_PIN "0020008106363438323139"
#define SHARE1 "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
#define SHARE2 "5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A"
#define REAL_DKEK "b0fa3bf2d850cfeacc249b5cea854ac49c8b7da86689d95d8752c3ef341c3e18"
/* The P-256 GENERATE ASYMMETRIC KEY PAIR data of smartcard-hsm.md 6.1. */
#define GAKP_P256_DATA \
	"5F290100" "4209555443413030303031" \
	"7F4981DA" "060A04007F00070202020203" \
	"8120FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF" \
	"8220FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC" \
	"83205AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B" \
	"8441046B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296" \
	"4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5" \
	"8520FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551" \
	"870101" "5F200D5554434455 4D4D593030303031"

typedef struct fixture {
	sim_state st;
	sim_card card;
	char path[64];
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	hv_err err;
	assert_int_equal(sim_state_blank(&f->st, sim_profile_get(SIM_PROFILE_SMARTCARD_HSM), "UTSIM01", 0, &err), 0);
	sim_card_init(&f->card, &f->st);
	snprintf(f->path, sizeof(f->path), "/tmp/hv-sim-test-XXXXXX");
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	close(fd);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	sim_card_free(&f->card);
	sim_state_free(&f->st);
	unlink(f->path);
	free(f);
	return 0;
}

static void initialized(fixture *f)
{
	assert_int_equal(xfer(&f->card, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&f->card, INIT_2_SHARES, NULL), 0x9000);
}

static void dkek_ready(fixture *f)
{
	initialized(f);
	assert_int_equal(xfer(&f->card, "8052000020" SHARE1 "00", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "8052000020" SHARE2 "00", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, VERIFY_PIN, NULL), 0x9000);
}

static void test_blank_card(void **state)
{
	fixture *f = *state;
	bytebuf d = { 0 };
	/* Nothing works before the applet is selected. */
	assert_int_equal(xfer(&f->card, "0020008100", NULL), 0x6D00);
	assert_int_equal(xfer(&f->card, SELECT_AID, &d), 0x9000);
	/* FCP with tag 85: options 0000, platform 00, version 3.5 */
	assert_data_hex(&d, "6217820138840BE82B0601040181C31F0201" "85050000000305");
	assert_int_equal(xfer(&f->card, "00A4040C0BE82B0601040181C31F0201", &d), 0x9000);
	assert_int_equal(d.len, 0);
	assert_int_equal(xfer(&f->card, "00200081", NULL), 0x6A88);
	assert_int_equal(xfer(&f->card, "00200088", NULL), 0x6A88);
	assert_int_equal(xfer(&f->card, "00200085", NULL), 0x6A88);
	assert_int_equal(xfer(&f->card, "00200086", NULL), 0x6A88);
	assert_int_equal(xfer(&f->card, "8052000000", NULL), 0x6D00);
	assert_int_equal(xfer(&f->card, "80AA000000", NULL), 0x6D00);
	/* 2F02: device CVC with CHR serial + 00000, then the DICA. */
	assert_int_equal(xfer(&f->card, "00A40000022F0200", &d), 0x9000);
	assert_int_equal(d.data[0], 0x62);
	assert_int_equal(xfer(&f->card, "00B10000000004540200000000", &d), 0x6282);
	char chr[17];
	assert_int_equal(cvc_first_chr(d.data, d.len, chr), 0);
	assert_string_equal(chr, "UTSIM0100000");
	tlv c1, c2;
	size_t off = 0;
	assert_int_equal(tlv_next(d.data, d.len, &off, &c1), 0);
	assert_int_equal(c1.tag, 0x7F21);
	assert_int_equal(tlv_next(d.data, d.len, &off, &c2), 0);
	assert_int_equal(c2.tag, 0x7F21);
	assert_int_equal(off, d.len);
	/* GET CHALLENGE: 1 ... 1024 bytes */
	assert_int_equal(xfer(&f->card, "0084000008", &d), 0x9000);
	assert_int_equal(d.len, 8);
	assert_int_equal(xfer(&f->card, "0084000000040 0", &d), 0x9000);
	assert_int_equal(d.len, 1024);
	assert_int_equal(xfer(&f->card, "0084000000040 1", &d), 0x6700);
	buf_free(&d);
}

static void test_initialize_and_pins(void **state)
{
	fixture *f = *state;
	bytebuf d = { 0 };
	initialized(f);
	assert_int_equal(xfer(&f->card, "00200081", NULL), 0x63C3);
	assert_int_equal(xfer(&f->card, "00200088", NULL), 0x63CF);
	assert_int_equal(xfer(&f->card, SELECT_AID, &d), 0x9000);
	assert_data_hex(&d, "6217820138840BE82B0601040181C31F0201" "85050001000305");
	/* Wrong PINs count down; the status query never costs a try. */
	assert_int_equal(xfer(&f->card, "0020008106313131313131", NULL), 0x63C2);
	assert_int_equal(xfer(&f->card, "00200081", NULL), 0x63C2);
	assert_int_equal(xfer(&f->card, "0020008106313131313131", NULL), 0x63C1);
	assert_int_equal(xfer(&f->card, VERIFY_PIN, NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "00200081", NULL), 0x9000);
	/* Re-selecting logs out. */
	assert_int_equal(xfer(&f->card, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "00200081", NULL), 0x63C3);
	assert_int_equal(xfer(&f->card, "0020008103313131", NULL), 0x6A80);
	for (int left = 2; left >= 0; left--)
		assert_int_equal(xfer(&f->card, "0020008106313131313131", NULL), 0x63C0 | left);
	assert_int_equal(xfer(&f->card, VERIFY_PIN, NULL), 0x6983);
	assert_int_equal(xfer(&f->card, "00200081", NULL), 0x6983);
	/* Unblock with the SO-PIN (option 0001), first with a wrong one. */
	assert_int_equal(xfer(&f->card, "002C00810E3030303030303030 363534333231", NULL), 0x63CE);
	assert_int_equal(xfer(&f->card, "00200088", NULL), 0x63CE);
	assert_int_equal(xfer(&f->card, "002C00810E3537363231383830 363534333231", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "00200088", NULL), 0x63CF);
	assert_int_equal(xfer(&f->card, "0020008106363534333231", NULL), 0x9000);
	/* CHANGE REFERENCE DATA: old || new */
	assert_int_equal(xfer(&f->card, "002400810C363534333231 313233343536", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "0020008106313233343536", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "002C01810835373632313838 30", NULL), 0x9000);
	/* Re-initialization needs the current SO-PIN. */
	assert_int_equal(xfer(&f->card, "80500000 1C 80020001 8106363438323139 82083030303030303030 910103 920102", NULL), 0x6985);
	assert_int_equal(xfer(&f->card, "00200088", NULL), 0x63CE);
	assert_int_equal(xfer(&f->card, INIT_2_SHARES, NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "00200088", NULL), 0x63CF);
	/* The user is not logged in after INITIALIZE. */
	assert_int_equal(xfer(&f->card, "00200081", NULL), 0x63C3);
	buf_free(&d);
}

static void test_transport_pin(void **state)
{
	fixture *f = *state;
	assert_int_equal(xfer(&f->card, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "80500000 19 80020003 8106363438323139 82083537363231383830 910103", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "00200081", NULL), 0x6984);
	assert_int_equal(xfer(&f->card, VERIFY_PIN, NULL), 0x6984);
	assert_int_equal(xfer(&f->card, "002400810C363438323139 313233343536", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "0020008106313233343536", NULL), 0x9000);
	/* No DKEK configured: what sc-hsm-tool expects. */
	assert_int_equal(xfer(&f->card, "8052000000", NULL), 0x6D00);
}

static void test_dkek_shares(void **state)
{
	fixture *f = *state;
	bytebuf d = { 0 };
	initialized(f);
	assert_int_equal(xfer(&f->card, "8052000000", &d), 0x9000);
	assert_data_hex(&d, "02020000000000000000");
	/* Shares need no PIN on the real card. */
	assert_int_equal(xfer(&f->card, "8052000020" SHARE1 "00", &d), 0x9000);
	assert_data_hex(&d, "02010000000000000000");
	assert_int_equal(xfer(&f->card, "805200001F" SHARE1, &d), 0x6700);
	assert_int_equal(xfer(&f->card, "8052000020" SHARE2 "00", &d), 0x9000);
	assert_data_hex(&d, "020015021DA513317220");
	assert_int_equal(xfer(&f->card, "8052000020" SHARE2 "00", &d), 0x6986);
	assert_int_equal(xfer(&f->card, "8052000100", &d), 0x6A86);
	/* One share: KCV of share 1 alone (vector V2). */
	assert_int_equal(xfer(&f->card, "80500000 1C 80020001 8106363438323139 82083537363231383830 910103 920101", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "8052000020" SHARE1 "00", &d), 0x9000);
	assert_data_hex(&d, "0100630DCD2966C43366");
	buf_free(&d);
}

static void test_files(void **state)
{
	fixture *f = *state;
	bytebuf d = { 0 };
	initialized(f);
	/* Writes need the user PIN. */
	assert_int_equal(xfer(&f->card, "00D7C9010954020000530368656C", NULL), 0x6982);
	assert_int_equal(xfer(&f->card, VERIFY_PIN, NULL), 0x9000);
	/* Create empty, then write through the current EF (OpenSC's way). */
	assert_int_equal(xfer(&f->card, "00D7C901065402000053 00", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "00D700000A5402000053 0468656C6C", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "00D7000007540200045301 6F", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "00B1C901045402000000", &d), 0x6282);
	assert_data_hex(&d, "68656C6C6F");
	/* Offset 0 replaces the content. */
	assert_int_equal(xfer(&f->card, "00D7C90108540200005302 4142", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "00A4000002C90100", &d), 0x9000);
	assert_data_hex(&d, "620B800200028201018302C901");
	assert_int_equal(xfer(&f->card, "00B10000045402000002", &d), 0x9000);
	assert_data_hex(&d, "4142");
	assert_int_equal(xfer(&f->card, "00B10000045402000200", &d), 0x9000);
	assert_int_equal(d.len, 0);
	assert_int_equal(xfer(&f->card, "00B10000045402000300", &d), 0x6282);
	assert_int_equal(d.len, 0);
	assert_int_equal(xfer(&f->card, "00B0000001", &d), 0x9000);
	assert_data_hex(&d, "41");
	/* Extended Le reads a whole file; short Le caps at 256. */
	char big[2 * 600 + 64];
	strcpy(big, "00D7C9020002605402000053820258");
	for (int i = 0; i < 600; i++)
		strcat(big, "AB");
	assert_int_equal(xfer(&f->card, big, NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "00B1C902000004540200000000", &d), 0x6282);
	assert_int_equal(d.len, 600);
	assert_int_equal(xfer(&f->card, "00B1C902045402000000", &d), 0x9000);
	assert_int_equal(d.len, 256);
	/* ENUMERATE: device key, then EFs in FID order. */
	assert_int_equal(xfer(&f->card, "80580000000000", &d), 0x9000);
	assert_data_hex(&d, "CC002F02C901C902");
	/* DELETE */
	assert_int_equal(xfer(&f->card, "00E4020002C901", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "00E4020002C901", NULL), 0x6A82);
	assert_int_equal(xfer(&f->card, "00E4020002CC00", NULL), 0x6985);
	assert_int_equal(xfer(&f->card, "00E40200022F02", NULL), 0x6985);
	assert_int_equal(xfer(&f->card, "00A4000002C90100", NULL), 0x6A82);
	/* Key objects are never readable. */
	assert_int_equal(xfer(&f->card, "00B1CC00045402000000", NULL), 0x6982);
	/* EF.TokenInfo as OpenSC writes the label. */
	assert_int_equal(xfer(&f->card, "00D72F031A5402000053143012020100800970696 36F2D74657374030205 20", NULL), 0x9000);
	/* INITIALIZE wipes host files but keeps 2F02. */
	assert_int_equal(xfer(&f->card, INIT_2_SHARES, NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "80580000000000", &d), 0x9000);
	assert_data_hex(&d, "CC002F02");
	buf_free(&d);
}

/* Verifies a plain r || s ECDSA signature (CVC form) with SHA-256. */
static void assert_cvc_sig_ok(EVP_PKEY *key, const uint8_t *data, size_t len, const uint8_t *sig, size_t sig_len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)sig_len / 2, NULL);
	BIGNUM *s = BN_bin2bn(sig + sig_len / 2, (int)sig_len / 2, NULL);
	assert_int_equal(ECDSA_SIG_set0(es, r, s), 1);
	uint8_t *der = NULL;
	int der_len = i2d_ECDSA_SIG(es, &der);
	assert_true(der_len > 0);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestVerify(m, der, (size_t)der_len, data, len), 1);
	EVP_MD_CTX_free(m);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
}

static EVP_PKEY *ec_public(const char *curve, const uint8_t *q, size_t len)
{
	OSSL_PARAM p[3] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve, 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)q, len),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;
	assert_int_equal(EVP_PKEY_fromdata_init(c), 1);
	assert_int_equal(EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, p), 1);
	EVP_PKEY_CTX_free(c);
	return k;
}

/* Generates an EC P-256 key at ref 1 and returns its public key. */
static EVP_PKEY *generate_p256(fixture *f, bytebuf *req)
{
	char apdu[1200];
	snprintf(apdu, sizeof(apdu), "00460100 0000FD %s 0000", GAKP_P256_DATA);
	assert_int_equal(xfer(&f->card, apdu, req), 0x9000);
	/* 67 { 7F21 { 7F4E body, 5F37 sig }, 42 outer CAR, 5F37 outer sig } */
	tlv a, c, body, sig, car, osig, pk, q;
	size_t off = 0;
	assert_int_equal(tlv_next(req->data, req->len, &off, &a), 0);
	assert_int_equal(a.tag, 0x67);
	off = 0;
	assert_int_equal(tlv_next(a.val, a.len, &off, &c), 0);
	assert_int_equal(c.tag, 0x7F21);
	assert_int_equal(tlv_next(a.val, a.len, &off, &car), 0);
	assert_int_equal(car.tag, 0x42);
	assert_int_equal(car.len, strlen("UTSIM0100000"));
	assert_memory_equal(car.val, "UTSIM0100000", car.len);
	assert_int_equal(tlv_next(a.val, a.len, &off, &osig), 0);
	assert_int_equal(osig.tag, 0x5F37);
	assert_int_equal(osig.len, 64);
	size_t o2 = 0;
	assert_int_equal(tlv_next(c.val, c.len, &o2, &body), 0);
	assert_int_equal(body.tag, 0x7F4E);
	assert_int_equal(tlv_next(c.val, c.len, &o2, &sig), 0);
	assert_int_equal(sig.tag, 0x5F37);
	assert_int_equal(tlv_find(body.val, body.len, 0x7F49, &pk), 0);
	assert_int_equal(tlv_find(pk.val, pk.len, 0x86, &q), 0);
	assert_int_equal(q.len, 65);
	EVP_PKEY *pub = ec_public("prime256v1", q.val, q.len);
	/* Proof of possession over the body. */
	assert_cvc_sig_ok(pub, body.raw, body.raw_len, sig.val, sig.len);
	/* Outer signature by the device key (public key in 2F02). */
	EVP_PKEY *dev = NULL;
	{
		sim_ef *e = sim_ef_find(&f->st, 0x2F02);
		tlv dc, db, dpk, dq;
		size_t o = 0;
		assert_int_equal(tlv_next(e->data, e->len, &o, &dc), 0);
		assert_int_equal(tlv_find(dc.val, dc.len, 0x7F4E, &db), 0);
		assert_int_equal(tlv_find(db.val, db.len, 0x7F49, &dpk), 0);
		assert_int_equal(tlv_find(dpk.val, dpk.len, 0x86, &dq), 0);
		/* The device key is on the test root's curve. */
		dev = ec_public("brainpoolP256r1", dq.val, dq.len);
	}
	size_t tbs_len = (size_t)(car.raw + car.raw_len - c.raw);
	assert_cvc_sig_ok(dev, c.raw, tbs_len, osig.val, osig.len);
	EVP_PKEY_free(dev);
	return pub;
}

static void test_generate_sign(void **state)
{
	fixture *f = *state;
	bytebuf req = { 0 }, d = { 0 };
	initialized(f);
	char apdu[1200];
	snprintf(apdu, sizeof(apdu), "00460100 0000FD %s 0000", GAKP_P256_DATA);
	assert_int_equal(xfer(&f->card, apdu, NULL), 0x6982);
	assert_int_equal(xfer(&f->card, VERIFY_PIN, NULL), 0x9000);
	/* Refused while DKEK shares are outstanding. */
	assert_int_equal(xfer(&f->card, apdu, NULL), 0x6985);
	assert_int_equal(xfer(&f->card, "8052000020" SHARE1 "00", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "8052000020" SHARE2 "00", NULL), 0x9000);
	EVP_PKEY *pub = generate_p256(f, &req);
	/* The card keeps the request in CE01. */
	sim_ef *ce = sim_ef_find(&f->st, 0xCE01);
	assert_non_null(ce);
	assert_int_equal(ce->len, req.len);
	assert_memory_equal(ce->data, req.data, req.len);
	assert_int_equal(xfer(&f->card, "80580000000000", &d), 0x9000);
	assert_data_hex(&d, "CC00CC012F02CE01");
	/* ECDSA over a supplied hash: DER SEQUENCE { r, s }. */
	uint8_t hash[32];
	for (int i = 0; i < 32; i++)
		hash[i] = (uint8_t)i;
	char sign[200];
	char hh[65];
	hex_encode(hash, 32, hh, 1);
	snprintf(sign, sizeof(sign), "80680170 000020 %s 0200", hh);
	assert_int_equal(xfer(&f->card, sign, &d), 0x9000);
	assert_int_equal(d.data[0], 0x30);
	EVP_PKEY_CTX *v = EVP_PKEY_CTX_new(pub, NULL);
	assert_int_equal(EVP_PKEY_verify_init(v), 1);
	assert_int_equal(EVP_PKEY_verify(v, d.data, d.len, hash, 32), 1);
	/* ECDSA-SHA256 hashes on the card. */
	assert_int_equal(xfer(&f->card, "80680173 000003 616263 0200", &d), 0x9000);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, pub), 1);
	assert_int_equal(EVP_DigestVerify(m, d.data, d.len, (const uint8_t *)"abc", 3), 1);
	EVP_MD_CTX_free(m);
	/* Wrong algorithm for an EC key, unknown algorithm, missing key. */
	assert_int_equal(xfer(&f->card, "80680120 000003 616263 0200", NULL), 0x6985);
	assert_int_equal(xfer(&f->card, "806801EE 000003 616263 0200", NULL), 0x6A86);
	assert_int_equal(xfer(&f->card, "80680570 000003 616263 0200", NULL), 0x6A82);
	/* An unknown curve (P-256 with a changed b) is refused. */
	char bad[1200];
	snprintf(bad, sizeof(bad), "00460200 0000FD %s 0000", GAKP_P256_DATA);
	char *b = strstr(bad, "83205AC6");
	assert_non_null(b);
	b[4] = '6';
	assert_int_equal(xfer(&f->card, bad, NULL), 0x6A80);
	EVP_PKEY_CTX_free(v);
	EVP_PKEY_free(pub);
	buf_free(&req);
	buf_free(&d);
}

static void test_rsa(void **state)
{
	fixture *f = *state;
	bytebuf req = { 0 }, d = { 0 };
	dkek_ready(f);
	/* RSA-1024 (fast), as OpenSC asks: OID, exponent, size. */
	assert_int_equal(xfer(&f->card, "00460300 000036 5F290100 4209555443413030303031 "
				       "7F4915060A04007F00070202020102 820301000102020400 "
				       "5F200C5554534D3031303030303031 0000", &req), 0x9000);
	tlv a, c, body, pk, n;
	size_t off = 0;
	assert_int_equal(tlv_next(req.data, req.len, &off, &a), 0);
	assert_int_equal(tlv_find(a.val, a.len, 0x7F21, &c), 0);
	assert_int_equal(tlv_find(c.val, c.len, 0x7F4E, &body), 0);
	assert_int_equal(tlv_find(body.val, body.len, 0x7F49, &pk), 0);
	assert_int_equal(tlv_find(pk.val, pk.len, 0x81, &n), 0);
	assert_int_equal(n.len, 128);
	/* Raw RSA (host padding) and PKCS#1 with SHA-256 on the card agree. */
	bytebuf s1 = { 0 }, s2 = { 0 };
	assert_int_equal(xfer(&f->card, "80680333 000003 616263 0200", &s1), 0x9000);
	assert_int_equal(s1.len, 128);
	char raw[600] = "80680320 000080 0001";
	for (int i = 0; i < 128 - 3 - 19 - 32; i++)
		strcat(raw, "FF");
	strcat(raw, "00 3031300D060960864801650304020105000420"
		    "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD 0200");
	assert_int_equal(xfer(&f->card, raw, &s2), 0x9000);
	assert_int_equal(s1.len, s2.len);
	assert_memory_equal(s1.data, s2.data, s1.len);
	/* Wrap (type 6, CRT for <= 2048 bits) and check under the DKEK. */
	assert_int_equal(xfer(&f->card, "80720392000000", &d), 0x9000);
	uint8_t dkek[32];
	memcpy(dkek, f->st.dkek, 32);
	keyblob_info info;
	hv_err err;
	assert_int_equal(keyblob_parse_header(d.data, d.len, &info, &err), 0);
	assert_int_equal(info.type, KEYBLOB_RSA_CRT);
	assert_int_equal(keyblob_check(d.data, d.len, dkek, &err), 0);
	EVP_PKEY *back = NULL;
	assert_int_equal(keyblob_unwrap(d.data, d.len, dkek, &info, &back, NULL, &err), 0);
	assert_int_equal(info.key_size, 1024);
	assert_int_equal(EVP_PKEY_eq(back, f->st.keys[3].pkey), 1);
	EVP_PKEY_free(back);
	buf_free(&req);
	buf_free(&d);
	buf_free(&s1);
	buf_free(&s2);
}

static void test_wrap_unwrap(void **state)
{
	fixture *f = *state;
	bytebuf req = { 0 }, blob = { 0 }, d = { 0 };
	dkek_ready(f);
	EVP_PKEY *pub = generate_p256(f, &req);
	assert_int_equal(xfer(&f->card, "80720192000000", &blob), 0x9000);
	hv_err err;
	assert_int_equal(keyblob_check(blob.data, blob.len, f->st.dkek, &err), 0);
	keyblob_info info;
	assert_int_equal(keyblob_parse_header(blob.data, blob.len, &info, &err), 0);
	assert_int_equal(info.type, KEYBLOB_EC);
	assert_memory_equal(info.kcv, "\x15\x02\x1D\xA5\x13\x31\x72\x20", 8);
	/* Preconditions: PIN, key present, P2 92, device key never. */
	assert_int_equal(xfer(&f->card, "80720292000000", NULL), 0x6A82);
	assert_int_equal(xfer(&f->card, "80720093000000", NULL), 0x6A86);
	assert_int_equal(xfer(&f->card, "80720092000000", NULL), 0x6985);

	/* Onto an occupied reference: refused. */
	char cmd[2000];
	char hexblob[1600];
	assert_true(blob.len * 2 < sizeof(hexblob));
	hex_encode(blob.data, blob.len, hexblob, 1);
	snprintf(cmd, sizeof(cmd), "80740193 00%04zX %s", blob.len, hexblob);
	assert_int_equal(xfer(&f->card, cmd, NULL), 0x6A89);
	/* Onto a free one, directly: the same key signs. */
	snprintf(cmd, sizeof(cmd), "80740493 00%04zX %s", blob.len, hexblob);
	assert_int_equal(xfer(&f->card, cmd, NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "80680470 000003 616263 0200", &d), 0x9000);
	EVP_PKEY_CTX *v = EVP_PKEY_CTX_new(pub, NULL);
	assert_int_equal(EVP_PKEY_verify_init(v), 1);
	assert_int_equal(EVP_PKEY_verify(v, d.data, d.len, (const uint8_t *)"abc", 3), 1);
	EVP_PKEY_CTX_free(v);
	/* Through the staging EF 2F10 (OpenSC's case-1 form). */
	snprintf(cmd, sizeof(cmd), "00D72F10 00%04zX 5402000053820%03zX %s", blob.len + 8, blob.len, hexblob);
	assert_int_equal(xfer(&f->card, cmd, NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "80740593", NULL), 0x9000);
	assert_true(f->st.keys[5].used);
	/* A flipped bit: the "incorrect parameters" class. */
	hexblob[100] = hexblob[100] == '0' ? '1' : '0';
	snprintf(cmd, sizeof(cmd), "80740693 00%04zX %s", blob.len, hexblob);
	assert_int_equal(xfer(&f->card, cmd, NULL), 0x6A80);
	assert_false(f->st.keys[6].used);
	EVP_PKEY_free(pub);
	buf_free(&req);
	buf_free(&blob);
	buf_free(&d);
}

/* The key that the real sc-hsm-tool wrapped on a pico-hsm imports here. */
static void test_unwrap_real_tool_file(void **state)
{
	fixture *f = *state;
	const char *dir = getenv("HV_TEST_DATA");
	assert_non_null(dir);
	char path[512];
	snprintf(path, sizeof(path), "%s/sc-hsm-tool/wrapped.bin", dir);
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	uint8_t file[4096];
	size_t n = fread(file, 1, sizeof(file), fp);
	fclose(fp);
	tlv seq, blob;
	size_t off = 0;
	assert_int_equal(tlv_next(file, n, &off, &seq), 0);
	off = 0;
	assert_int_equal(tlv_next(seq.val, seq.len, &off, &blob), 0);
	assert_int_equal(blob.tag, 0x04);

	initialized(f);
	/* Shares 1 and 2 of the fixture, decrypted (README values). */
	assert_int_equal(xfer(&f->card, "8052000020 ef20b17736ac1e33c6286081b274d9c8a7042eed9cf05a6adf0b171d8b0adea5 00", NULL), 0x9000);
	bytebuf d = { 0 };
	assert_int_equal(xfer(&f->card, "8052000020 5fda8a85eefcd1d90a0cfbdd58f1930c3b8f5345fa7983375859d4f2bf16e0bd 00", &d), 0x9000);
	assert_data_hex(&d, "0200DBFFED54BA9E1D5B");
	assert_int_equal(xfer(&f->card, VERIFY_PIN, NULL), 0x9000);
	uint8_t cmd[2048] = { 0x80, 0x74, 0x01, 0x93, 0x00, (uint8_t)(blob.len >> 8), (uint8_t)blob.len };
	memcpy(cmd + 7, blob.val, blob.len);
	assert_int_equal(xfer_bytes(&f->card, cmd, 7 + blob.len, NULL, NULL), 0x9000);

	snprintf(path, sizeof(path), "%s/sc-hsm-tool/pub-before.pem", dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	EVP_PKEY *pub = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(pub);
	assert_int_equal(EVP_PKEY_eq(pub, f->st.keys[1].pkey), 1);
	EVP_PKEY_free(pub);
	buf_free(&d);
}

static void test_state_round_trip(void **state)
{
	fixture *f = *state;
	bytebuf req = { 0 }, d = { 0 };
	dkek_ready(f);
	EVP_PKEY *pub = generate_p256(f, &req);
	assert_int_equal(xfer(&f->card, "00D7C40107540200005301 AA", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "0020008106313131313131", NULL), 0x63C2);
	hv_err err;
	assert_int_equal(sim_state_save(&f->st, f->path, &err), 0);

	sim_state s2;
	assert_int_equal(sim_state_load(&s2, f->path, &err), 0);
	assert_string_equal(s2.serial, "UTSIM01");
	assert_int_equal(s2.options, 1);
	assert_int_equal(s2.user_left, 2);
	assert_int_equal(s2.user_max, 3);
	assert_int_equal(s2.dkek_total, 2);
	assert_int_equal(s2.dkek_outstanding, 0);
	assert_memory_equal(s2.dkek, f->st.dkek, 32);
	assert_int_equal(s2.n_efs, f->st.n_efs);
	for (size_t i = 0; i < s2.n_efs; i++) {
		assert_int_equal(s2.efs[i].fid, f->st.efs[i].fid);
		assert_int_equal(s2.efs[i].len, f->st.efs[i].len);
		assert_memory_equal(s2.efs[i].data, f->st.efs[i].data, s2.efs[i].len);
	}
	assert_int_equal(EVP_PKEY_eq(s2.keys[1].pkey, pub), 1);
	assert_int_equal(EVP_PKEY_eq(s2.devkey, f->st.devkey), 1);

	/* The reloaded card answers like the old one. */
	sim_card c2;
	sim_card_init(&c2, &s2);
	assert_int_equal(xfer(&c2, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&c2, "00200081", NULL), 0x63C2);
	assert_int_equal(xfer(&c2, VERIFY_PIN, NULL), 0x9000);
	assert_int_equal(xfer(&c2, "80680173 000003 616263 0200", &d), 0x9000);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, pub), 1);
	assert_int_equal(EVP_DigestVerify(m, d.data, d.len, (const uint8_t *)"abc", 3), 1);
	EVP_MD_CTX_free(m);
	sim_card_free(&c2);
	sim_state_free(&s2);

	/* A damaged file is refused with a message naming it. */
	FILE *fp = fopen(f->path, "a");
	fputs("bogus line\n", fp);
	fclose(fp);
	fp = fopen(f->path, "r+");
	fputs("hsmvault-sim-state 9", fp);
	fclose(fp);
	assert_int_not_equal(sim_state_load(&s2, f->path, &err), 0);
	assert_non_null(strstr(err.msg, f->path));
	EVP_PKEY_free(pub);
	buf_free(&req);
	buf_free(&d);
}

static void test_apdu_forms(void **state)
{
	fixture *f = *state;
	bytebuf d = { 0 };
	/* Malformed lengths */
	assert_int_equal(xfer_bytes(&f->card, (const uint8_t *)"\x00\xA4", 2, NULL, NULL), 0x6700);
	assert_int_equal(xfer(&f->card, "00A404000BE82B06", NULL), 0x6700);
	/* Extended SELECT */
	assert_int_equal(xfer(&f->card, "00A4040000000BE82B0601040181C31F02010000", &d), 0x9000);
	assert_int_equal(d.data[0], 0x62);
	/* Response longer than Ne: 61xx and GET RESPONSE. */
	assert_int_equal(xfer(&f->card, "00A4040000000BE82B0601040181C31F0201 0010", &d), 0x6109);
	assert_int_equal(d.len, 16);
	assert_int_equal(xfer(&f->card, "00C0000009", &d), 0x9000);
	assert_int_equal(d.len, 9);
	/* Command chaining: two links make one command; a SELECT aborts. */
	initialized(f);
	assert_int_equal(xfer(&f->card, "10200081 03 363438", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, SELECT_AID, NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "00200081 03 323139", NULL), 0x6A80);
	assert_int_equal(xfer(&f->card, "10200082 03 363438", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "00200081 03 323139", NULL), 0x6883);
	assert_int_equal(xfer(&f->card, "10200081 03 363438", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "00200081 03 323139", NULL), 0x9000);
	assert_int_equal(xfer(&f->card, "00200081", NULL), 0x9000);
	/* Secure messaging is not offered; unknown CLA refused. */
	assert_int_equal(xfer(&f->card, "0C200081", NULL), 0x6882);
	assert_int_equal(xfer(&f->card, "A0200081", NULL), 0x6E00);
	buf_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_blank_card, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initialize_and_pins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dkek_shares, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generate_sign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rsa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap_unwrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwrap_real_tool_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apdu_forms, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
