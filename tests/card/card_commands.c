/* Integration tests of the card layer (src/card) against hsmvault-sim
 * through the real pcscd of the test harness. Runs under
 * tests/harness/run-in-pcsc-env.sh with HV_PCSC_ENTRIES=2 (4 readers):
 * card A in reader 0, card B in reader 1, reader 2 for the pulled card.
 *
 * The tests run in order and build on each other, like an operator's
 * session: initialize, import shares, generate, wrap on A, unwrap on B,
 * sign on both, delete. Every command goes through a recording transport
 * that sits between the card layer and PC/SC, so a test can prove what was
 * (not) sent to the card. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>

#include "card/pcsc.h"
#include "card/schsm.h"
#include "crypto/dkek.h"
#include "crypto/keyblob.h"
#include "crypto/prkd.h"
#include "pcsc_harness.h"
#include "util/hex.h"
#include "util/secbuf.h"

#define READER_A 0
#define READER_B 1
#define READER_PULL 2

/* The PINs of tests/data/sc-hsm-tool/README.md. */
static const char USER_PIN[] = "648219";
static const char SO_PIN_HEX[] = "3537363231383830";
/* Shares 1 and 2 of tests/data/sc-hsm-tool, and the KCV of their DKEK. */
static const char SHARE1_HEX[] = "ef20b17736ac1e33c6286081b274d9c8a7042eed9cf05a6adf0b171d8b0adea5";
static const char SHARE2_HEX[] = "5fda8a85eefcd1d90a0cfbdd58f1930c3b8f5345fa7983375859d4f2bf16e0bd";
static const char KCV_HEX[] = "DBFFED54BA9E1D5B";

/* ---- a transport that records what the card layer sends ---- */

typedef struct rec_transport {
	card_transport t; /* first: the card layer sees only this */
	card_transport *inner;
	unsigned verify_with_data; /* VERIFY (INS 20) carrying a PIN */
	unsigned verify_queries;   /* VERIFY without data (status) */
	unsigned commands;
} rec_transport;

static int rec_transmit(card_transport *t, const uint8_t *cmd, size_t len, uint8_t *resp,
			size_t *resp_len, hv_err *err)
{
	rec_transport *r = (rec_transport *)t;
	r->commands++;
	if (len >= 4 && cmd[1] == 0x20) {
		if (len > 5)
			r->verify_with_data++;
		else
			r->verify_queries++;
	}
	int rc = r->inner->transmit(r->inner, cmd, len, resp, resp_len, err);
	r->t.removed = r->inner->removed;
	r->t.count = r->inner->count;
	return rc;
}

typedef struct session {
	pcsc_card *pc;
	rec_transport rec;
	schsm_card c;
} session;

static pcsc_ctx *ctx;
static uint8_t share1[32], share2[32], so_pin[8];
static uint8_t ec_ref, rsa_ref;          /* keys generated on card A */
static EVP_PKEY *ec_pub, *rsa_pub;       /* their public keys */

static void check_ok(int rc, const hv_err *err, const char *what)
{
	if (rc != HV_OK)
		fail_msg("%s failed (%d): %s", what, rc, err->msg);
}

/* Connects to the card in reader idx and selects the applet. */
static void open_session(int idx, session *s)
{
	hv_err err;
	hv_err_clear(&err);
	memset(s, 0, sizeof(*s));
	check_ok(pcsc_connect(ctx, harness_reader_name(idx), &s->pc, &err), &err, "pcsc_connect");
	s->rec.inner = pcsc_transport(s->pc);
	s->rec.t.transmit = rec_transmit;
	s->rec.t.reader = s->rec.inner->reader;
	check_ok(schsm_open(&s->c, &s->rec.t, &err), &err, "schsm_open");
}

static void close_session(session *s)
{
	pcsc_disconnect(s->pc);
	s->pc = NULL;
}

static secbuf *pin(const char *p)
{
	secbuf *b = secbuf_dup(p, strlen(p));
	assert_non_null(b);
	return b;
}

static void verify_user(session *s)
{
	hv_err err;
	hv_err_clear(&err);
	secbuf *p = pin(USER_PIN);
	check_ok(schsm_verify_pin(&s->c, p, 0, &err), &err, "verify PIN");
	secbuf_free(p);
}

static void initialize(session *s, int shares)
{
	hv_err err;
	hv_err_clear(&err);
	secbuf *up = pin(USER_PIN);
	secbuf *sp = secbuf_dup(so_pin, sizeof(so_pin));
	schsm_init_params p = {
		.options = 0x0001,
		.user_pin = up,
		.so_pin = sp,
		.retry_counter = 3,
		.dkek_shares = shares,
	};
	check_ok(schsm_initialize(&s->c, &p, 0, &err), &err, "initialize");
	secbuf_free(up);
	secbuf_free(sp);
}

static void import_shares(session *s, schsm_dkek_info *after)
{
	hv_err err;
	hv_err_clear(&err);
	secbuf *a = secbuf_dup(share1, 32), *b = secbuf_dup(share2, 32);
	schsm_dkek_info mid;
	check_ok(schsm_import_dkek_share(&s->c, a, &mid, &err), &err, "import share 1");
	assert_int_equal(mid.shares_total, 2);
	assert_int_equal(mid.shares_missing, 1);
	assert_false(mid.kcv_known);
	check_ok(schsm_import_dkek_share(&s->c, b, after, &err), &err, "import share 2");
	secbuf_free(a);
	secbuf_free(b);
}

static void expect_kcv(const schsm_dkek_info *st)
{
	uint8_t want[8];
	assert_int_equal(hex_decode(KCV_HEX, want, sizeof(want)), 8);
	assert_true(st->configured);
	assert_int_equal(st->shares_total, 2);
	assert_int_equal(st->shares_missing, 0);
	assert_true(st->kcv_known);
	assert_memory_equal(st->kcv, want, 8);
}

/* Writes the PRKD OpenSC / CardContact would write after generation. */
static void write_prkd(session *s, uint8_t ref, int kind, const char *label, uint8_t id,
		       unsigned bits)
{
	hv_err err;
	hv_err_clear(&err);
	prkd_info info;
	memset(&info, 0, sizeof(info));
	info.kind = kind;
	snprintf(info.label, sizeof(info.label), "%s", label);
	info.id[0] = id;
	info.id_len = 1;
	info.key_ref = ref;
	info.key_bits = bits;
	bytebuf b = { 0 };
	check_ok(prkd_encode(&info, &b, &err), &err, "prkd_encode");
	check_ok(schsm_write_ef(&s->c, (uint16_t)(0xC400 | ref), b.data, b.len, &err), &err,
		 "write PRKD");
	buf_free(&b);
}

static const schsm_key *find_key(const schsm_key_list *l, uint8_t ref)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->keys[i].ref == ref)
			return &l->keys[i];
	return NULL;
}

/* Signs SHA-256("hsmvault card test") with key ref and verifies it with pub. */
static void sign_and_verify(session *s, uint8_t ref, int alg, EVP_PKEY *pub)
{
	hv_err err;
	hv_err_clear(&err);
	static const char msg[] = "hsmvault card test";
	uint8_t digest[32];
	unsigned dlen = 0;
	assert_int_equal(EVP_Digest(msg, sizeof(msg) - 1, digest, &dlen, EVP_sha256(), NULL), 1);
	bytebuf sig = { 0 };
	check_ok(schsm_sign_digest(&s->c, ref, pub, EVP_sha256(), digest, dlen, &sig, NULL, &err), &err,
		 "sign");
	EVP_PKEY_CTX *v = EVP_PKEY_CTX_new(pub, NULL);
	assert_non_null(v);
	assert_int_equal(EVP_PKEY_verify_init(v), 1);
	if (alg == SCHSM_KEY_RSA)
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(v, RSA_PKCS1_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(v, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_verify(v, sig.data, sig.len, digest, dlen), 1);
	/* and a different digest must not verify */
	digest[0] ^= 1;
	assert_int_not_equal(EVP_PKEY_verify(v, sig.data, sig.len, digest, dlen), 1);
	EVP_PKEY_CTX_free(v);
	buf_free(&sig);
}

/* ---- tests ---- */

static void test_select_blank(void **state)
{
	(void)state;
	session s;
	hv_err err;
	hv_err_clear(&err);
	open_session(READER_A, &s);
	assert_true(s.c.fcp.has_85);
	schsm_identity id;
	check_ok(schsm_card_identity(&s.c, &id, &err), &err, "identity");
	assert_string_equal(id.serial, "HVTESTA01");
	schsm_device_info ds;
	check_ok(schsm_device_status(&s.c, &ds, &err), &err, "device status");
	assert_int_equal(ds.state, SCHSM_DEV_UNINITIALIZED);
	assert_int_equal(ds.user.state, SCHSM_PIN_NOT_SET);
	assert_int_equal(ds.so.state, SCHSM_PIN_NOT_SET);
	/* Status queries only: nothing that could use a try. */
	assert_int_equal(s.rec.verify_with_data, 0);
	assert_true(s.rec.verify_queries >= 2);
	close_session(&s);
}

static void test_initialize(void **state)
{
	(void)state;
	session s;
	hv_err err;
	hv_err_clear(&err);
	open_session(READER_A, &s);
	initialize(&s, 2);
	schsm_device_info ds;
	check_ok(schsm_device_status(&s.c, &ds, &err), &err, "device status");
	assert_int_equal(ds.state, SCHSM_DEV_INITIALIZED);
	assert_int_equal(ds.user.state, SCHSM_PIN_TRIES);
	assert_int_equal(ds.user.tries, 3);
	assert_int_equal(ds.so.state, SCHSM_PIN_TRIES);
	assert_int_equal(ds.so.tries, 15);
	assert_int_equal(s.c.fcp.options & 0x0001, 0x0001);
	schsm_dkek_info dk;
	check_ok(schsm_dkek_status(&s.c, &dk, &err), &err, "DKEK status");
	assert_true(dk.configured);
	assert_int_equal(dk.shares_total, 2);
	assert_int_equal(dk.shares_missing, 2);
	assert_false(dk.kcv_known);
	close_session(&s);
}

static void test_pin_status_and_verify(void **state)
{
	(void)state;
	session s;
	hv_err err;
	hv_err_clear(&err);
	open_session(READER_A, &s);
	schsm_pin_info ps;
	check_ok(schsm_pin_status(&s.c, SCHSM_PIN_USER, &ps, &err), &err, "PIN status");
	assert_int_equal(ps.state, SCHSM_PIN_TRIES);
	assert_int_equal(ps.tries, 3);

	/* wrong PIN: HV_ESECRET naming the tries left */
	secbuf *bad = pin("000000");
	int rc = schsm_verify_pin(&s.c, bad, 0, &err);
	secbuf_free(bad);
	assert_int_equal(rc, HV_ESECRET);
	assert_non_null(strstr(err.msg, "2 tries left"));
	assert_int_equal(s.c.last_sw, 0x63C2);
	check_ok(schsm_pin_status(&s.c, SCHSM_PIN_USER, &ps, &err), &err, "PIN status");
	assert_int_equal(ps.tries, 2);

	/* right PIN: verified, counter back to 3 */
	hv_err_clear(&err);
	verify_user(&s);
	assert_true(s.c.user_verified);
	check_ok(schsm_pin_status(&s.c, SCHSM_PIN_USER, &ps, &err), &err, "PIN status");
	assert_int_equal(ps.state, SCHSM_PIN_OK);
	/* a new SELECT logs out */
	check_ok(schsm_select(&s.c, &err), &err, "select");
	check_ok(schsm_pin_status(&s.c, SCHSM_PIN_USER, &ps, &err), &err, "PIN status");
	assert_int_equal(ps.state, SCHSM_PIN_TRIES);
	assert_int_equal(ps.tries, 3);
	close_session(&s);
}

static void test_change_pin(void **state)
{
	(void)state;
	session s;
	hv_err err;
	hv_err_clear(&err);
	open_session(READER_A, &s);
	secbuf *old = pin(USER_PIN), *nw = pin("12345678");
	check_ok(schsm_change_pin(&s.c, SCHSM_PIN_USER, old, nw, 0, &err), &err, "change PIN");
	check_ok(schsm_select(&s.c, &err), &err, "select");
	/* the old PIN is wrong now, the new one works */
	int rc = schsm_verify_pin(&s.c, old, 0, &err);
	assert_int_equal(rc, HV_ESECRET);
	check_ok(schsm_verify_pin(&s.c, nw, 0, &err), &err, "verify new PIN");
	/* and back, so later tests use the usual PIN */
	check_ok(schsm_change_pin(&s.c, SCHSM_PIN_USER, nw, old, 0, &err), &err, "change back");
	check_ok(schsm_select(&s.c, &err), &err, "select");
	verify_user(&s);
	secbuf_free(old);
	secbuf_free(nw);
	close_session(&s);
}

static void test_dkek_import(void **state)
{
	(void)state;
	session s;
	hv_err err;
	hv_err_clear(&err);
	open_session(READER_A, &s);
	schsm_dkek_info after;
	import_shares(&s, &after);
	expect_kcv(&after);
	/* the card's KCV is the one the crypto layer computes from the shares */
	uint8_t shares[2][32], dkek[32], kcv[8];
	memcpy(shares[0], share1, 32);
	memcpy(shares[1], share2, 32);
	dkek_combine((const uint8_t(*)[32])shares, 2, dkek);
	dkek_kcv(dkek, kcv);
	assert_memory_equal(kcv, after.kcv, 8);
	/* read back without any PIN in a fresh session */
	close_session(&s);
	open_session(READER_A, &s);
	schsm_dkek_info again;
	check_ok(schsm_dkek_status(&s.c, &again, &err), &err, "DKEK status");
	expect_kcv(&again);
	close_session(&s);
}

static void test_generate_ec(void **state)
{
	(void)state;
	session s;
	hv_err err;
	hv_err_clear(&err);
	open_session(READER_A, &s);
	verify_user(&s);
	check_ok(schsm_free_key_ref(&s.c, &ec_ref, &err), &err, "free key ref");
	assert_int_equal(ec_ref, 1);
	schsm_keygen g = { .alg = SCHSM_KEY_EC, .curve_nid = NID_X9_62_prime256v1, .key_domain = -1 };
	bytebuf req = { 0 };
	check_ok(schsm_generate_key(&s.c, ec_ref, &g, &req, &err), &err, "generate EC");
	assert_true(req.len > 64);
	assert_int_equal(req.data[0], 0x67); /* authenticated CV request */
	check_ok(schsm_parse_public_key(req.data, req.len, &ec_pub, NULL, &err), &err,
		 "public key of the request");
	assert_int_equal(EVP_PKEY_get_base_id(ec_pub), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_bits(ec_pub), 256);
	write_prkd(&s, ec_ref, PRKD_EC, "card-test-ec", 0x11, 256);
	buf_free(&req);
	close_session(&s);
}

static void test_generate_rsa(void **state)
{
	(void)state;
	session s;
	hv_err err;
	hv_err_clear(&err);
	open_session(READER_A, &s);
	verify_user(&s);
	check_ok(schsm_free_key_ref(&s.c, &rsa_ref, &err), &err, "free key ref");
	assert_int_equal(rsa_ref, 2);
	schsm_keygen g = { .alg = SCHSM_KEY_RSA, .rsa_bits = 2048, .key_domain = -1 };
	bytebuf req = { 0 };
	check_ok(schsm_generate_key(&s.c, rsa_ref, &g, &req, &err), &err, "generate RSA");
	check_ok(schsm_parse_public_key(req.data, req.len, &rsa_pub, NULL, &err), &err,
		 "public key of the request");
	assert_int_equal(EVP_PKEY_get_base_id(rsa_pub), EVP_PKEY_RSA);
	assert_int_equal(EVP_PKEY_get_bits(rsa_pub), 2048);
	write_prkd(&s, rsa_ref, PRKD_RSA, "card-test-rsa", 0x22, 2048);
	buf_free(&req);
	close_session(&s);
}

static int has_fid(const uint16_t *f, size_t n, uint16_t fid)
{
	for (size_t i = 0; i < n; i++)
		if (f[i] == fid)
			return 1;
	return 0;
}

static void test_enumerate_and_read(void **state)
{
	(void)state;
	session s;
	hv_err err;
	hv_err_clear(&err);
	open_session(READER_A, &s);
	uint16_t *fids = NULL;
	size_t n = 0;
	check_ok(schsm_enumerate(&s.c, &fids, &n, &err), &err, "enumerate");
	assert_true(has_fid(fids, n, 0xCC00));
	assert_true(has_fid(fids, n, 0xCC00 | ec_ref));
	assert_true(has_fid(fids, n, 0xCC00 | rsa_ref));
	assert_true(has_fid(fids, n, 0xC400 | ec_ref));
	assert_false(has_fid(fids, n, 0xCC03));
	free(fids);

	/* the PRKD reads back as written */
	bytebuf prkd = { 0 };
	int exists = 0;
	check_ok(schsm_read_ef(&s.c, (uint16_t)(0xC400 | ec_ref), &prkd, &exists, &err), &err,
		 "read PRKD");
	assert_true(exists);
	prkd_info pi;
	check_ok(prkd_parse(prkd.data, prkd.len, &pi, &err), &err, "parse PRKD");
	assert_string_equal(pi.label, "card-test-ec");
	buf_free(&prkd);
	/* an absent file is reported as absent, not as an error */
	bytebuf none = { 0 };
	check_ok(schsm_read_ef(&s.c, 0xC4FE, &none, &exists, &err), &err, "read absent EF");
	assert_false(exists);
	buf_free(&none);

	/* the inventory: labels, ids, algorithms, public keys from CEn */
	schsm_key_list l = { 0 };
	check_ok(schsm_list_keys(&s.c, &l, &err), &err, "list keys");
	const schsm_key *ec = find_key(&l, ec_ref), *rsa = find_key(&l, rsa_ref);
	assert_non_null(ec);
	assert_non_null(rsa);
	assert_string_equal(ec->label, "card-test-ec");
	assert_int_equal(ec->id_len, 1);
	assert_int_equal(ec->id[0], 0x11);
	assert_int_equal(ec->alg, SCHSM_KEY_EC);
	assert_int_equal(ec->bits, 256);
	assert_true(ec->has_cv_request);
	assert_false(ec->has_cert);
	assert_true(ec->exportable);
	assert_non_null(ec->pub);
	assert_int_equal(EVP_PKEY_eq(ec->pub, ec_pub), 1);
	assert_string_equal(rsa->label, "card-test-rsa");
	assert_int_equal(rsa->alg, SCHSM_KEY_RSA);
	assert_int_equal(rsa->bits, 2048);
	assert_non_null(rsa->pub);
	assert_int_equal(EVP_PKEY_eq(rsa->pub, rsa_pub), 1);
	const schsm_key *dev = find_key(&l, 0);
	if (dev) {
		assert_true(dev->device_key);
		assert_false(dev->exportable);
	}
	schsm_key_list_free(&l);
	close_session(&s);
}

static void test_sign(void **state)
{
	(void)state;
	session s;
	open_session(READER_A, &s);
	/* without the PIN the card refuses */
	hv_err err;
	hv_err_clear(&err);
	uint8_t digest[32] = { 1 };
	bytebuf sig = { 0 };
	int rc = schsm_sign_digest(&s.c, ec_ref, ec_pub, EVP_sha256(), digest, 32, &sig, NULL, &err);
	assert_int_not_equal(rc, HV_OK);
	assert_int_equal(s.c.last_sw, 0x6982);
	buf_free(&sig);
	verify_user(&s);
	sign_and_verify(&s, ec_ref, SCHSM_KEY_EC, ec_pub);
	sign_and_verify(&s, rsa_ref, SCHSM_KEY_RSA, rsa_pub);
	close_session(&s);
}

static void test_wrap_unwrap_second_card(void **state)
{
	(void)state;
	session a, b;
	hv_err err;
	hv_err_clear(&err);
	open_session(READER_A, &a);
	verify_user(&a);
	bytebuf blob = { 0 };
	check_ok(schsm_wrap_key(&a.c, ec_ref, &blob, &err), &err, "wrap");
	bytebuf prkd = { 0 };
	check_ok(schsm_read_ef(&a.c, (uint16_t)(0xC400 | ec_ref), &prkd, NULL, &err), &err,
		 "read PRKD");
	/* the device key never leaves */
	bytebuf dev = { 0 };
	assert_int_equal(schsm_wrap_key(&a.c, 0, &dev, &err), HV_EUSAGE);
	buf_free(&dev);
	close_session(&a);

	/* the blob is sound under the DKEK of the two shares */
	uint8_t dkek[32];
	memcpy(dkek, share1, 32);
	dkek_add_share(dkek, share2);
	hv_err_clear(&err);
	check_ok(keyblob_check(blob.data, blob.len, dkek, &err), &err, "keyblob_check");
	EVP_PKEY *priv = NULL;
	keyblob_info info;
	check_ok(keyblob_unwrap(blob.data, blob.len, dkek, &info, &priv, NULL, &err), &err,
		 "keyblob_unwrap");
	assert_int_equal(info.type, KEYBLOB_EC);
	assert_int_equal(EVP_PKEY_eq(priv, ec_pub), 1);
	EVP_PKEY_free(priv);

	/* card B: blank, initialized with the same shares, same KCV */
	open_session(READER_B, &b);
	initialize(&b, 2);
	schsm_dkek_info st;
	import_shares(&b, &st);
	expect_kcv(&st);
	verify_user(&b);
	uint8_t ref = 0;
	check_ok(schsm_free_key_ref(&b.c, &ref, &err), &err, "free key ref on B");
	assert_int_equal(ref, 1);
	check_ok(schsm_unwrap_key(&b.c, ref, blob.data, blob.len, 0, &err), &err, "unwrap");
	check_ok(schsm_replace_ef(&b.c, (uint16_t)(0xC400 | ref), prkd.data, prkd.len, &err), &err,
		 "write PRKD on B");
	/* the restored key signs; the signature verifies with A's public key */
	sign_and_verify(&b, ref, SCHSM_KEY_EC, ec_pub);

	/* a blob whose MAC was altered is refused by the card */
	blob.data[blob.len - 1] ^= 0x01;
	int rc = schsm_unwrap_key(&b.c, 2, blob.data, blob.len, 0, &err);
	assert_int_not_equal(rc, HV_OK);
	schsm_key_list l = { 0 };
	check_ok(schsm_list_keys(&b.c, &l, &err), &err, "list keys on B");
	assert_null(find_key(&l, 2));
	const schsm_key *k = find_key(&l, ref);
	assert_non_null(k);
	assert_string_equal(k->label, "card-test-ec");
	schsm_key_list_free(&l);
	buf_free(&blob);
	buf_free(&prkd);
	close_session(&b);
}

static void test_delete(void **state)
{
	(void)state;
	session b;
	hv_err err;
	hv_err_clear(&err);
	open_session(READER_B, &b);
	verify_user(&b);
	check_ok(schsm_delete_key(&b.c, 1, &err), &err, "delete key");
	schsm_key_list l = { 0 };
	check_ok(schsm_list_keys(&b.c, &l, &err), &err, "list keys");
	assert_null(find_key(&l, 1));
	schsm_key_list_free(&l);
	bytebuf x = { 0 };
	int exists = 1;
	check_ok(schsm_read_ef(&b.c, 0xC401, &x, &exists, &err), &err, "read deleted PRKD");
	assert_false(exists);
	buf_free(&x);
	assert_int_equal(schsm_delete_key(&b.c, 0, &err), HV_EUSAGE);
	close_session(&b);
}

/* The card is pulled while a command is on its way: the sim drops the
 * connection after a few APDUs, in the middle of the inventory. */
static void test_card_pulled_mid_command(void **state)
{
	(void)state;
	char src[4096], copy[4096];
	snprintf(src, sizeof(src), "%s", harness_work_path("card-a.state"));
	snprintf(copy, sizeof(copy), "%s", harness_work_path("card-pulled.state"));
	char cmd[8300];
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, copy);
	assert_int_equal(system(cmd), 0);
	const char *const extra[] = { "--drop-after", "4", NULL };
	assert_int_equal(harness_sim_insert(READER_PULL, copy, extra), 0);

	session s;
	hv_err err;
	hv_err_clear(&err);
	open_session(READER_PULL, &s); /* SELECT: the first APDU */
	schsm_key_list l = { 0 };
	int rc = schsm_list_keys(&s.c, &l, &err);
	schsm_key_list_free(&l);
	assert_int_equal(rc, HV_ECARD);
	assert_true(schsm_card_removed(&s.c));
	assert_true(pcsc_card_removed(s.pc));
	assert_non_null(strstr(err.msg, "removed"));
	close_session(&s);
	assert_int_equal(harness_sim_wait_gone(READER_PULL, 10000), 0);

	/* an ordinary card error is not reported as a removal */
	open_session(READER_A, &s);
	hv_err_clear(&err);
	bytebuf blob = { 0 };
	rc = schsm_wrap_key(&s.c, ec_ref, &blob, &err); /* no PIN: 69 82 */
	assert_int_not_equal(rc, HV_OK);
	assert_false(schsm_card_removed(&s.c));
	assert_null(strstr(err.msg, "removed"));
	buf_free(&blob);
	close_session(&s);
}

/* Size of pcscd's APDU log (pcscd -a), to look at what comes after. */
static long pcscd_log_size(void)
{
	FILE *f = fopen(harness_work_path("pcscd.log"), "r");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fclose(f);
	return n;
}

/* Counts VERIFY commands carrying data ("APDU: 00 20 00 81 <Lc> ...") that
 * pcscd logged after offset `from`: the wire-side proof, independent of
 * the card layer, of what reached the card. */
static int pcscd_logged_pin_verifies(long from)
{
	FILE *f = fopen(harness_work_path("pcscd.log"), "r");
	if (!f)
		return -1;
	fseek(f, from, SEEK_SET);
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *a = strstr(line, "APDU: 00 20 00 81 ");
		if (a && a[18] != '\0' && a[18] != '\n' && a[18] != ' ')
			n++;
	}
	fclose(f);
	return n;
}

/* Never consume the last try: with one try left the layer refuses to send
 * the PIN at all, and the card still has its one try afterwards. */
static void test_last_pin_try_refused(void **state)
{
	(void)state;
	session s;
	hv_err err;
	hv_err_clear(&err);
	open_session(READER_A, &s);
	secbuf *bad = pin("999999");
	assert_int_equal(schsm_verify_pin(&s.c, bad, 0, &err), HV_ESECRET);
	assert_int_equal(schsm_verify_pin(&s.c, bad, 0, &err), HV_ESECRET);
	assert_non_null(strstr(err.msg, "1 try left"));
	close_session(&s);

	/* pull and reinsert: the counter lives on the card */
	assert_int_equal(harness_sim_pull(READER_A), 0);
	assert_int_equal(harness_sim_insert(READER_A, harness_work_path("card-a.state"), NULL), 0);

	open_session(READER_A, &s);
	long log_from = pcscd_log_size();
	assert_true(log_from > 0);
	unsigned sent_before = s.rec.verify_with_data;
	secbuf *good = pin(USER_PIN);
	hv_err_clear(&err);
	int rc = schsm_verify_pin(&s.c, good, 0, &err);
	assert_int_equal(rc, HV_ESAFETY);
	assert_non_null(strstr(err.msg, "one PIN try"));
	assert_int_equal(s.rec.verify_with_data, sent_before); /* nothing sent */
	/* wrong PIN too: refused before sending */
	assert_int_equal(schsm_verify_pin(&s.c, bad, 0, &err), HV_ESAFETY);
	assert_int_equal(s.rec.verify_with_data, sent_before);
	/* CHANGE REFERENCE DATA is held to the same rule */
	assert_int_equal(schsm_change_pin(&s.c, SCHSM_PIN_USER, good, good, 0, &err), HV_ESAFETY);
	schsm_pin_info ps;
	check_ok(schsm_pin_status(&s.c, SCHSM_PIN_USER, &ps, &err), &err, "PIN status");
	assert_int_equal(ps.state, SCHSM_PIN_TRIES);
	assert_int_equal(ps.tries, 1);
	/* pcscd's own APDU log agrees: no VERIFY with a PIN went out */
	assert_int_equal(pcscd_logged_pin_verifies(log_from), 0);

	/* the operator's explicit force with the right PIN restores the counter */
	check_ok(schsm_verify_pin(&s.c, good, 1, &err), &err, "forced verify");
	/* (and the log check above can see a VERIFY when one is sent) */
	assert_int_equal(pcscd_logged_pin_verifies(log_from), 1);
	check_ok(schsm_select(&s.c, &err), &err, "select");
	check_ok(schsm_pin_status(&s.c, SCHSM_PIN_USER, &ps, &err), &err, "PIN status");
	assert_int_equal(ps.tries, 3);
	secbuf_free(bad);
	secbuf_free(good);
	close_session(&s);
}

static int group_setup(void **state)
{
	(void)state;
	if (harness_check_env() != 0)
		return -1;
	if (harness_reader_count() < 3) {
		fprintf(stderr, "card tests need 3 readers (HV_PCSC_ENTRIES=2)\n");
		return -1;
	}
	if (hex_decode(SHARE1_HEX, share1, 32) != 32 || hex_decode(SHARE2_HEX, share2, 32) != 32 ||
	    hex_decode(SO_PIN_HEX, so_pin, 8) != 8)
		return -1;
	const char *const a[] = { "--blank", "--serial", "HVTESTA01", NULL };
	const char *const b[] = { "--blank", "--serial", "HVTESTB01", NULL };
	if (harness_sim_insert(READER_A, harness_work_path("card-a.state"), a) != 0 ||
	    harness_sim_insert(READER_B, harness_work_path("card-b.state"), b) != 0)
		return -1;
	hv_err err;
	hv_err_clear(&err);
	if (pcsc_open(&ctx, &err) != HV_OK) {
		fprintf(stderr, "pcsc_open: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(ec_pub);
	EVP_PKEY_free(rsa_pub);
	pcsc_close(ctx);
	harness_sim_pull_all();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select_blank),
		cmocka_unit_test(test_initialize),
		cmocka_unit_test(test_pin_status_and_verify),
		cmocka_unit_test(test_change_pin),
		cmocka_unit_test(test_dkek_import),
		cmocka_unit_test(test_generate_ec),
		cmocka_unit_test(test_generate_rsa),
		cmocka_unit_test(test_enumerate_and_read),
		cmocka_unit_test(test_sign),
		cmocka_unit_test(test_wrap_unwrap_second_card),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_card_pulled_mid_command),
		cmocka_unit_test(test_last_pin_try_refused),
	};
	return cmocka_run_group_tests_name("card", tests, group_setup, group_teardown);
}
