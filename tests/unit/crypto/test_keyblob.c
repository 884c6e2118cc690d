/* DKEK derivations (V2, V3), key blobs (V4, V6) and the real sc-hsm-tool
 * wrapped key, including damaged and hostile blobs. */
#include "crypto_test.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "crypto/dkek.h"
#include "crypto/keyblob.h"
#include "crypto/wrapfile.h"
#include "util/secbuf.h"

#define SHARE1 "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
#define SHARE2 "5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A"
#define V2_DKEK "5A5B58595E5F5C5D52535051565754554A4B48494E4F4C4D4243404146474445"
#define V4_BLOB "15021DA5133172200F0008608648016503040100041011189900000000AE3C8A48546986F557209A25B753D19D0C2C2C6D76917E3FBE4E9085A99A428974766AE6A18EA264DE014C1316E79D31"
#define V6_D "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721"
#define V6_Q "0460FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB67903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"
/* DKEK of the real shares 1 and 2 (tests/data/sc-hsm-tool/README.md). */
#define REAL_DKEK "b0fa3bf2d850cfeacc249b5cea854ac49c8b7da86689d95d8752c3ef341c3e18"

static void v2_dkek(uint8_t dkek[32])
{
	uint8_t s[2][32];
	unhex_into(SHARE1, s[0], 32);
	unhex_into(SHARE2, s[1], 32);
	dkek_combine((const uint8_t(*)[32])s, 2, dkek);
}

static void test_v2_v3(void **state)
{
	(void)state;
	uint8_t s[2][32], dkek[32], kcv[8], k[32];
	unhex_into(SHARE1, s[0], 32);
	unhex_into(SHARE2, s[1], 32);
	dkek_combine((const uint8_t(*)[32])s, 2, dkek);
	assert_hex_equal(dkek, 32, V2_DKEK);
	dkek_kcv(dkek, kcv);
	assert_hex_equal(kcv, 8, "15021DA513317220");
	dkek_combine((const uint8_t(*)[32])s, 1, dkek);
	dkek_kcv(dkek, kcv);
	assert_hex_equal(kcv, 8, "630DCD2966C43366");
	dkek_add_share(dkek, s[0]); /* same share twice: all zero */
	dkek_kcv(dkek, kcv);
	assert_hex_equal(kcv, 8, "66687AADF862BD77");
	dkek_combine(NULL, 0, dkek);
	dkek_kcv(dkek, kcv);
	assert_hex_equal(kcv, 8, "66687AADF862BD77");
	v2_dkek(dkek);
	dkek_kenc(dkek, k);
	assert_hex_equal(k, 32, "92BD09C6D25A1DC3541762CA33EEFEB623DEC62F0E547C8F6D5745FEDD218E16");
	dkek_kmac(dkek, k);
	assert_hex_equal(k, 32, "6DAE29D831467725DCE700C460825B97B5D20349BCF0E50681FFB47F35FEE911");
}

static void test_v4_aes(void **state)
{
	(void)state;
	uint8_t dkek[32], key[16], rnd[8], allowed[4];
	v2_dkek(dkek);
	unhex_into("000102030405060708090A0B0C0D0E0F", key, 16);
	unhex_into("1122334455667788", rnd, 8);
	unhex_into("10111899", allowed, 4);
	bytebuf out = { 0 };
	hv_err err = { 0 };
	assert_int_equal(keyblob_wrap_aes(key, 16, dkek, allowed, 4, rnd, &out, &err), 0);
	assert_hex_equal(out.data, out.len, V4_BLOB);

	keyblob_info info;
	assert_int_equal(keyblob_parse_header(out.data, out.len, &info, &err), 0);
	assert_int_equal(info.type, KEYBLOB_AES);
	assert_hex_equal(info.kcv, 8, "15021DA513317220");
	assert_hex_equal(info.alg_oid, info.alg_oid_len, "6086480165030401");
	assert_hex_equal(info.allowed, info.allowed_len, "10111899");
	assert_int_equal(keyblob_check(out.data, out.len, dkek, &err), 0);

	secbuf *aes = NULL;
	EVP_PKEY *pk = NULL;
	assert_int_equal(keyblob_unwrap(out.data, out.len, dkek, &info, &pk, &aes, &err), 0);
	assert_null(pk);
	assert_non_null(aes);
	assert_hex_equal(aes->data, aes->len, "000102030405060708090A0B0C0D0E0F");
	assert_int_equal(info.key_size, 16);
	secbuf_free(aes);

	/* An AES blob where only an asymmetric key is expected. */
	assert_int_equal(keyblob_unwrap(out.data, out.len, dkek, &info, &pk, NULL, &err),
			 HV_EUSAGE);

	/* 24 and 32 byte keys with fresh random round-trip too. */
	for (size_t kl = 24; kl <= 32; kl += 8) {
		/* Fill the whole array, use its first kl bytes: a fill bounded by kl
		 * made gcc -O3 (unrolling) warn of a write past the end. */
		uint8_t k2[32];
		for (size_t i = 0; i < sizeof(k2); i++)
			k2[i] = (uint8_t)(0xA0 + i);
		out.len = 0;
		assert_int_equal(keyblob_wrap_aes(k2, kl, dkek, NULL, 0, NULL, &out, &err), 0);
		assert_int_equal(keyblob_unwrap(out.data, out.len, dkek, &info, NULL, &aes, &err), 0);
		assert_int_equal(aes->len, kl);
		assert_memory_equal(aes->data, k2, kl);
		secbuf_free(aes);
	}
	assert_int_equal(keyblob_wrap_aes(key, 15, dkek, NULL, 0, NULL, &out, &err), HV_EUSAGE);
	buf_free(&out);
}

/* The AES default-algorithm field written wrongly by firmware 3.0-3.2 must
 * not stop an unwrap: build such a blob by hand (MAC recomputed). */
static void reseal(uint8_t *blob, size_t len, const uint8_t dkek[32]);

static void test_aes_oid_quirk(void **state)
{
	(void)state;
	uint8_t dkek[32];
	v2_dkek(dkek);
	size_t len;
	uint8_t *blob = unhex(V4_BLOB, &len);
	blob[11] = 0x06; /* first OID byte is no longer 60 */
	reseal(blob, len, dkek);
	hv_err err = { 0 };
	secbuf *aes = NULL;
	keyblob_info info;
	assert_int_equal(keyblob_unwrap(blob, len, dkek, &info, NULL, &aes, &err), 0);
	assert_hex_equal(aes->data, aes->len, "000102030405060708090A0B0C0D0E0F");
	secbuf_free(aes);
	free(blob);
}

static void cmac_raw(const uint8_t key[32], const uint8_t *d, size_t n, uint8_t out[16])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
	char c[] = "AES-256-CBC";
	OSSL_PARAM p[] = { OSSL_PARAM_construct_utf8_string("cipher", c, 0),
			   OSSL_PARAM_construct_end() };
	size_t ol;
	assert_int_equal(EVP_MAC_init(ctx, key, 32, p), 1);
	assert_int_equal(EVP_MAC_update(ctx, d, n), 1);
	assert_int_equal(EVP_MAC_final(ctx, out, &ol, 16), 1);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
}

static void reseal(uint8_t *blob, size_t len, const uint8_t dkek[32])
{
	uint8_t kmac[32];
	dkek_kmac(dkek, kmac);
	cmac_raw(kmac, blob, len - 16, blob + len - 16);
}

/* A blob with an arbitrary plaintext, properly encrypted and MACed: lets
 * the tests reach the payload decoder with hostile contents. */
static uint8_t *forge(int type, const uint8_t *pt, size_t ptlen, const uint8_t dkek[32],
		      size_t *len)
{
	assert_true(ptlen % 16 == 0);
	uint8_t hdr[27] = { 0 };
	dkek_kcv(dkek, hdr);
	hdr[8] = (uint8_t)type; /* four empty LVs */
	*len = 9 + 8 + ptlen + 16;
	uint8_t *b = calloc(1, *len);
	memcpy(b, hdr, 17);
	uint8_t kenc[32], iv[16] = { 0 };
	dkek_kenc(dkek, kenc);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l1, l2;
	assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_cbc(), NULL, kenc, iv), 1);
	EVP_CIPHER_CTX_set_padding(c, 0);
	assert_int_equal(EVP_EncryptUpdate(c, b + 17, &l1, pt, (int)ptlen), 1);
	assert_int_equal(EVP_EncryptFinal_ex(c, b + 17 + l1, &l2), 1);
	EVP_CIPHER_CTX_free(c);
	reseal(b, *len, dkek);
	return b;
}

static EVP_PKEY *v6_key(void)
{
	uint8_t d[32], q[65];
	unhex_into(V6_D, d, 32);
	unhex_into(V6_Q, q, 65);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bd = BN_bin2bn(d, 32, NULL);
	OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bd);
	OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, 65);
	OSSL_PARAM *p = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, p), 1);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(p);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bd);
	return k;
}

static void assert_ec_dq(EVP_PKEY *k, const char *dhex, const char *qhex)
{
	BIGNUM *d = NULL;
	uint8_t db[66], q[140];
	size_t ql;
	assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d), 1);
	int n = BN_bn2binpad(d, db, (int)(strlen(dhex) / 2));
	assert_hex_equal(db, (size_t)n, dhex);
	BN_free(d);
	assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, q, sizeof q, &ql), 1);
	assert_hex_equal(q, ql, qhex);
}

/* Signs with a and verifies with b: the keys are a matching pair. */
static void assert_signs_for(EVP_PKEY *a, EVP_PKEY *b)
{
	static const uint8_t msg[] = "hsmvault challenge";
	uint8_t sig[1024];
	size_t sl = sizeof sig;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, a), 1);
	assert_int_equal(EVP_DigestSign(m, sig, &sl, msg, sizeof msg), 1);
	EVP_MD_CTX_free(m);
	m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, b), 1);
	assert_int_equal(EVP_DigestVerify(m, sig, sl, msg, sizeof msg), 1);
	EVP_MD_CTX_free(m);
}

static void test_v6_ec(void **state)
{
	(void)state;
	uint8_t dkek[32], rnd[8];
	v2_dkek(dkek);
	unhex_into("A1A2A3A4A5A6A7A8", rnd, 8);
	EVP_PKEY *k = v6_key();
	bytebuf out = { 0 };
	hv_err err = { 0 };
	assert_int_equal(keyblob_wrap_pkey(k, dkek, NULL, 0, 0, rnd, &out, &err), 0);
	assert_int_equal(out.len, 363);
	assert_hex_equal(out.data, out.len, V6_BLOB);

	keyblob_info info;
	EVP_PKEY *u = NULL;
	assert_int_equal(keyblob_unwrap(out.data, out.len, dkek, &info, &u, NULL, &err), 0);
	assert_int_equal(info.type, KEYBLOB_EC);
	assert_int_equal(info.key_size, 256);
	assert_int_equal(info.allowed_len, 0);
	assert_hex_equal(info.alg_oid, info.alg_oid_len, "04007F00070202020203");
	assert_ec_dq(u, V6_D, V6_Q);
	assert_int_equal(EVP_PKEY_eq(k, u), 1);
	assert_signs_for(u, k);
	EVP_PKEY_free(u);
	/* An EC blob where an AES key is expected. */
	secbuf *aes = NULL;
	assert_int_equal(keyblob_unwrap(out.data, out.len, dkek, &info, NULL, &aes, &err), HV_EUSAGE);
	EVP_PKEY_free(k);
	buf_free(&out);
}

static void roundtrip_curve(const char *curve, unsigned bits)
{
	uint8_t dkek[32];
	v2_dkek(dkek);
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	assert_non_null(k);
	bytebuf out = { 0 };
	hv_err err = { 0 };
	static const uint8_t allowed[] = { 0x70, 0x92 };
	assert_int_equal(keyblob_wrap_pkey(k, dkek, allowed, 2, 0, NULL, &out, &err), 0);
	keyblob_info info;
	EVP_PKEY *u = NULL;
	if (keyblob_unwrap(out.data, out.len, dkek, &info, &u, NULL, &err) != 0)
		fail_msg("%s: %s", curve, err.msg);
	assert_int_equal(info.key_size, bits);
	assert_hex_equal(info.allowed, info.allowed_len, "7092");
	assert_int_equal(EVP_PKEY_eq(k, u), 1);
	assert_signs_for(u, k);
	EVP_PKEY_free(u);
	EVP_PKEY_free(k);
	buf_free(&out);
}

static void test_ec_curves(void **state)
{
	(void)state;
	roundtrip_curve("P-384", 384);
	roundtrip_curve("P-521", 528);
	roundtrip_curve("secp256k1", 256);
	roundtrip_curve("brainpoolP256r1", 256);
	roundtrip_curve("brainpoolP320r1", 320);
}

static void test_rsa(void **state)
{
	(void)state;
	uint8_t dkek[32];
	v2_dkek(dkek);
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(k);
	for (int crt = 0; crt <= 1; crt++) {
		bytebuf out = { 0 };
		hv_err err = { 0 };
		assert_int_equal(keyblob_wrap_pkey(k, dkek, NULL, 0, crt, NULL, &out, &err), 0);
		keyblob_info info;
		EVP_PKEY *u = NULL;
		if (keyblob_unwrap(out.data, out.len, dkek, &info, &u, NULL, &err) != 0)
			fail_msg("crt %d: %s", crt, err.msg);
		assert_int_equal(info.type, crt ? KEYBLOB_RSA_CRT : KEYBLOB_RSA);
		assert_int_equal(info.key_size, 2048);
		assert_hex_equal(info.alg_oid, info.alg_oid_len, "04007F00070202020102");
		assert_int_equal(EVP_PKEY_eq(k, u), 1);
		assert_signs_for(u, k);
		EVP_PKEY_free(u);
		buf_free(&out);
	}
	EVP_PKEY_free(k);
}

/* Every bit of a blob matters: header bits break the header or the MAC,
 * ciphertext and MAC bits break the MAC. */
static void test_bit_flips(void **state)
{
	(void)state;
	uint8_t dkek[32];
	v2_dkek(dkek);
	size_t len;
	uint8_t *blob = unhex(V6_BLOB, &len);
	hv_err err;
	for (size_t bit = 0; bit < len * 8; bit += 3) {
		blob[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		EVP_PKEY *u = NULL;
		int r = keyblob_unwrap(blob, len, dkek, NULL, &u, NULL, &err);
		if (r != HV_EINTEGRITY)
			fail_msg("bit %zu flipped: result %d", bit, r);
		assert_null(u);
		assert_int_equal(keyblob_check(blob, len, dkek, &err), HV_EINTEGRITY);
		blob[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	assert_int_equal(keyblob_check(blob, len, dkek, &err), 0);
	/* Wrong DKEK: the KCV check names it. */
	uint8_t other[32];
	unhex_into(SHARE1, other, 32);
	assert_int_equal(keyblob_check(blob, len, other, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "different DKEK"));
	/* MAC wrong but KCV right. */
	blob[len - 1] ^= 1;
	assert_int_equal(keyblob_check(blob, len, dkek, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "MAC"));
	blob[len - 1] ^= 1;
	/* Every truncation. */
	for (size_t l = 0; l < len; l++)
		assert_int_equal(keyblob_check(blob, l, dkek, &err), HV_EINTEGRITY);
	/* One byte too many: ciphertext no longer a multiple of 16. */
	uint8_t *big = calloc(1, len + 1);
	memcpy(big, blob, len);
	assert_int_equal(keyblob_check(big, len + 1, dkek, &err), HV_EINTEGRITY);
	free(big);
	free(blob);
}

static void test_hostile_header(void **state)
{
	(void)state;
	hv_err err;
	keyblob_info info;
	size_t len;
	uint8_t *blob = unhex(V4_BLOB, &len);
	/* Unknown type. */
	blob[8] = 7;
	assert_int_equal(keyblob_parse_header(blob, len, &info, &err), HV_EINTEGRITY);
	blob[8] = 15;
	/* Each header LV length pointing past the end. */
	size_t lv_offsets[] = { 9, 19, 25, 27 };
	for (size_t i = 0; i < 4; i++) {
		uint8_t hi = blob[lv_offsets[i]], lo = blob[lv_offsets[i] + 1];
		blob[lv_offsets[i]] = 0xFF;
		blob[lv_offsets[i] + 1] = 0xFF;
		assert_int_equal(keyblob_parse_header(blob, len, &info, &err), HV_EINTEGRITY);
		blob[lv_offsets[i]] = hi;
		blob[lv_offsets[i] + 1] = lo;
	}
	/* Oversized OID / allowed list (fits the blob but not the info). */
	uint8_t big[9 + 2 + 40 + 6 + 32 + 16] = { 0 };
	big[8] = 12;
	big[10] = 40;
	assert_int_equal(keyblob_parse_header(big, sizeof big, &info, &err), HV_EINTEGRITY);
	big[10] = 0;
	big[12] = 40;
	assert_int_equal(keyblob_parse_header(big, sizeof big, &info, &err), HV_EINTEGRITY);
	assert_int_equal(keyblob_parse_header(blob, len, &info, &err), 0);
	free(blob);
}

/* Payloads that pass the MAC but lie about their own lengths. */
static void test_hostile_payload(void **state)
{
	(void)state;
	uint8_t dkek[32];
	v2_dkek(dkek);
	hv_err err;
	EVP_PKEY *u = NULL;
	secbuf *aes = NULL;
	uint8_t pt[64];
	size_t len;
	uint8_t *b;

	/* EC: first LV claims 0xFFFF bytes. */
	memset(pt, 0, sizeof pt);
	pt[8] = 1;
	pt[10] = 0xFF;
	pt[11] = 0xFF;
	b = forge(KEYBLOB_EC, pt, 64, dkek, &len);
	assert_int_equal(keyblob_check(b, len, dkek, &err), 0);
	assert_int_equal(keyblob_unwrap(b, len, dkek, NULL, &u, NULL, &err), HV_EINTEGRITY);
	assert_null(u);
	free(b);
	/* EC: all seven LVs empty. */
	memset(pt, 0, sizeof pt);
	b = forge(KEYBLOB_EC, pt, 32, dkek, &len);
	assert_int_equal(keyblob_unwrap(b, len, dkek, NULL, &u, NULL, &err), HV_EINTEGRITY);
	free(b);
	/* RSA 5 and 6: lengths past the end, and all-empty. */
	for (int t = KEYBLOB_RSA; t <= KEYBLOB_RSA_CRT; t++) {
		memset(pt, 0, sizeof pt);
		pt[10] = 0x01;
		pt[11] = 0x00;
		b = forge(t, pt, 64, dkek, &len);
		assert_int_equal(keyblob_unwrap(b, len, dkek, NULL, &u, NULL, &err), HV_EINTEGRITY);
		free(b);
		memset(pt, 0, sizeof pt);
		b = forge(t, pt, 32, dkek, &len);
		assert_int_equal(keyblob_unwrap(b, len, dkek, NULL, &u, NULL, &err), HV_EINTEGRITY);
		free(b);
	}
	/* AES: key size 32 but only 22 bytes of payload after it. */
	memset(pt, 0, sizeof pt);
	pt[9] = 32;
	b = forge(KEYBLOB_AES, pt, 32, dkek, &len);
	assert_int_equal(keyblob_unwrap(b, len, dkek, NULL, NULL, &aes, &err), HV_EINTEGRITY);
	assert_null(aes);
	free(b);
	/* AES: key size 17. */
	pt[9] = 17;
	b = forge(KEYBLOB_AES, pt, 64, dkek, &len);
	assert_int_equal(keyblob_unwrap(b, len, dkek, NULL, NULL, &aes, &err), HV_EINTEGRITY);
	free(b);
	/* AES-16 without any padding byte (pico, aligned payload) is fine. */
	memset(pt, 0, sizeof pt);
	pt[9] = 16;
	for (int i = 0; i < 16; i++)
		pt[10 + i] = (uint8_t)i;
	b = forge(KEYBLOB_AES, pt, 32, dkek, &len);
	assert_int_equal(keyblob_unwrap(b, len, dkek, NULL, NULL, &aes, &err), 0);
	assert_hex_equal(aes->data, aes->len, "000102030405060708090A0B0C0D0E0F");
	secbuf_free(aes);
	free(b);
}

/* Decrypts a blob's payload (test side, independent of keyblob.c). */
static uint8_t *payload_of(const uint8_t *blob, size_t len, size_t hdr, const uint8_t dkek[32],
			   size_t *plen)
{
	*plen = len - hdr - 16;
	uint8_t *pt = malloc(*plen);
	uint8_t kenc[32], iv[16] = { 0 };
	dkek_kenc(dkek, kenc);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l1, l2;
	assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_256_cbc(), NULL, kenc, iv), 1);
	EVP_CIPHER_CTX_set_padding(c, 0);
	assert_int_equal(EVP_DecryptUpdate(c, pt, &l1, blob + hdr, (int)*plen), 1);
	assert_int_equal(EVP_DecryptFinal_ex(c, pt + l1, &l2), 1);
	EVP_CIPHER_CTX_free(c);
	return pt;
}

/* Well-MACed blobs whose keys are inconsistent: EC Q not d*G, RSA d not
 * matching n and e, RSA CRT p*q != n. */
static void test_inconsistent_keys(void **state)
{
	(void)state;
	uint8_t dkek[32];
	v2_dkek(dkek);
	hv_err err;
	size_t len, plen, flen;
	uint8_t *blob = unhex(V6_BLOB, &len);
	uint8_t *pt = payload_of(blob, len, 27, dkek, &plen);
	/* Q is the last LV: 65 bytes ending 6 bytes before the padding end. */
	pt[plen - 6 - 1] ^= 0x01;
	uint8_t *f = forge(KEYBLOB_EC, pt, plen, dkek, &flen);
	EVP_PKEY *u = NULL;
	assert_int_equal(keyblob_unwrap(f, flen, dkek, NULL, &u, NULL, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "Q"));
	assert_null(u);
	free(f);
	free(pt);
	free(blob);

	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(k);
	for (int crt = 0; crt <= 1; crt++) {
		bytebuf out = { 0 };
		assert_int_equal(keyblob_wrap_pkey(k, dkek, NULL, 0, crt, NULL, &out, &err), 0);
		pt = payload_of(out.data, out.len, 27, dkek, &plen);
		/* Flip a low bit of the first LV's value (d, or dp for CRT). */
		size_t l0 = (size_t)pt[10] << 8 | pt[11];
		pt[12 + l0 - 1] ^= 0x02;
		f = forge(crt ? KEYBLOB_RSA_CRT : KEYBLOB_RSA, pt, plen, dkek, &flen);
		assert_int_equal(keyblob_unwrap(f, flen, dkek, NULL, &u, NULL, &err), HV_EINTEGRITY);
		assert_null(u);
		free(f);
		if (crt) {
			/* p (third LV) changed: p*q != n. */
			pt[12 + l0 - 1] ^= 0x02;
			size_t off = 10;
			for (int i = 0; i < 2; i++)
				off += 2 + ((size_t)pt[off] << 8 | pt[off + 1]);
			size_t lp = (size_t)pt[off] << 8 | pt[off + 1];
			pt[off + 2 + lp - 1] ^= 0x04;
			f = forge(KEYBLOB_RSA_CRT, pt, plen, dkek, &flen);
			assert_int_equal(keyblob_unwrap(f, flen, dkek, NULL, &u, NULL, &err),
					 HV_EINTEGRITY);
			assert_non_null(strstr(err.msg, "p*q"));
			free(f);
		}
		free(pt);
		buf_free(&out);
	}
	EVP_PKEY_free(k);
}

/* The real pico-hsm blob (empty EC `a`) under the real DKEK of shares 1+2. */
static void test_real_wrapped(void **state)
{
	(void)state;
	size_t len, plen;
	uint8_t *data = fixture("wrapped.bin", &len);
	uint8_t *pem = fixture("pub-before.pem", &plen);
	uint8_t dkek[32];
	unhex_into(REAL_DKEK, dkek, 32);
	wrapfile wf;
	hv_err err = { 0 };
	assert_int_equal(wrapfile_parse(data, len, &wf, &err), 0);
	keyblob_info info;
	assert_int_equal(keyblob_parse_header(wf.blob, wf.blob_len, &info, &err), 0);
	assert_hex_equal(info.kcv, 8, "DBFFED54BA9E1D5B");
	assert_int_equal(info.type, KEYBLOB_EC);
	assert_string_equal(keyblob_type_name(info.type), "EC");
	assert_null(keyblob_type_name(7));
	assert_int_equal(keyblob_check(wf.blob, wf.blob_len, dkek, &err), 0);
	EVP_PKEY *u = NULL;
	if (keyblob_unwrap(wf.blob, wf.blob_len, dkek, &info, &u, NULL, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(info.key_size, 256);
	BIO *bio = BIO_new_mem_buf(pem, (int)plen);
	EVP_PKEY *pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(pub);
	assert_int_equal(EVP_PKEY_eq(pub, u), 1);
	assert_signs_for(u, pub);
	/* The rebuilt key is a named P-256 key: same SubjectPublicKeyInfo. */
	uint8_t *d1 = NULL, *d2 = NULL;
	int l1 = i2d_PUBKEY(u, &d1), l2 = i2d_PUBKEY(pub, &d2);
	assert_int_equal(l1, l2);
	assert_memory_equal(d1, d2, (size_t)l1);
	OPENSSL_free(d1);
	OPENSSL_free(d2);

	/* Re-wrapping it the card's way gives a blob that unwraps again. */
	bytebuf out = { 0 };
	assert_int_equal(keyblob_wrap_pkey(u, dkek, NULL, 0, 0, NULL, &out, &err), 0);
	EVP_PKEY *u2 = NULL;
	assert_int_equal(keyblob_unwrap(out.data, out.len, dkek, NULL, &u2, NULL, &err), 0);
	assert_int_equal(EVP_PKEY_eq(u2, pub), 1);
	EVP_PKEY_free(u2);
	buf_free(&out);

	/* A flipped bit anywhere in the file's first 339 bytes (SEQUENCE and
	 * OCTET STRING headers, blob) is caught by the parser or the blob
	 * check. The PRKD and CV request after it carry no MAC: only the
	 * manifest's file hash protects them. */
	for (size_t bit = 0; bit < 339 * 8; bit += 2) {
		data[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		int r = wrapfile_parse(data, len, &wf, &err);
		if (r == 0)
			r = keyblob_check(wf.blob, wf.blob_len, dkek, &err);
		if (r == 0)
			fail_msg("bit %zu of wrapped.bin flipped and not detected", bit);
		data[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	EVP_PKEY_free(u);
	EVP_PKEY_free(pub);
	free(data);
	free(pem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v2_v3),
		cmocka_unit_test(test_v4_aes),
		cmocka_unit_test(test_aes_oid_quirk),
		cmocka_unit_test(test_v6_ec),
		cmocka_unit_test(test_ec_curves),
		cmocka_unit_test(test_rsa),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_hostile_header),
		cmocka_unit_test(test_hostile_payload),
		cmocka_unit_test(test_inconsistent_keys),
		cmocka_unit_test(test_real_wrapped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
