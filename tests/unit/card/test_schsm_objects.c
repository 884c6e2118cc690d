/* DKEK status and share import, GET CHALLENGE, ENUMERATE, READ / UPDATE
 * BINARY by FID (offsets, chunking), DELETE FILE and the card identity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/sha.h>

#include "card/schsm.h"
#include "fake_transport.h"
#include "util/hex.h"

static void card_on(schsm_card *c, fake_transport *f)
{
	memset(c, 0, sizeof(*c));
	c->t = &f->t;
	c->max_send = 1223;
}

static void test_dkek_parse(void **state)
{
	(void)state;
	schsm_dkek_info st;
	size_t n;
	uint8_t *d = fake_hex("02 00 15 02 1D A5 13 31 72 20", &n);
	assert_int_equal(schsm_parse_dkek_status(0x9000, d, n, &st, NULL), HV_OK);
	assert_true(st.configured);
	assert_int_equal(st.shares_total, 2);
	assert_int_equal(st.shares_missing, 0);
	assert_true(st.kcv_known);
	static const uint8_t kcv[8] = { 0x15, 0x02, 0x1D, 0xA5, 0x13, 0x31, 0x72, 0x20 };
	assert_memory_equal(st.kcv, kcv, 8);
	free(d);

	/* pico before the user PIN: all-zero KCV is unknown, never a value */
	d = fake_hex("02 00 00 00 00 00 00 00 00 00", &n);
	assert_int_equal(schsm_parse_dkek_status(0x9000, d, n, &st, NULL), HV_OK);
	assert_true(st.configured);
	assert_false(st.kcv_known);
	free(d);

	/* outstanding shares: garbage bytes are not a KCV */
	d = fake_hex("02 01 DE AD BE EF 01 02 03 04", &n);
	assert_int_equal(schsm_parse_dkek_status(0x9000, d, n, &st, NULL), HV_OK);
	assert_int_equal(st.shares_missing, 1);
	assert_false(st.kcv_known);
	static const uint8_t zero[8] = { 0 };
	assert_memory_equal(st.kcv, zero, 8);
	free(d);

	/* XKEK domain: UID after the KCV is accepted */
	d = fake_hex("01 00 63 0D CD 29 66 C4 33 66 AA BB CC", &n);
	assert_int_equal(schsm_parse_dkek_status(0x9000, d, n, &st, NULL), HV_OK);
	assert_true(st.kcv_known);
	free(d);

	/* no DKEK: real card 6D00, pico 00 00 + zeros, fresh pico 6B00 */
	assert_int_equal(schsm_parse_dkek_status(0x6D00, NULL, 0, &st, NULL), HV_OK);
	assert_false(st.configured);
	assert_int_equal(schsm_parse_dkek_status(0x6B00, NULL, 0, &st, NULL), HV_OK);
	assert_false(st.configured);
	d = fake_hex("00 00 00 00 00 00 00 00 00 00", &n);
	assert_int_equal(schsm_parse_dkek_status(0x9000, d, n, &st, NULL), HV_OK);
	assert_false(st.configured);
	assert_false(st.kcv_known);
	free(d);

	/* hostile: too short */
	d = fake_hex("02 00 15 02 1D", &n);
	hv_err err = { 0 };
	assert_int_equal(schsm_parse_dkek_status(0x9000, d, n, &st, &err), HV_ECARD);
	free(d);
	assert_int_equal(schsm_parse_dkek_status(0x9000, NULL, 0, &st, &err), HV_ECARD);
	assert_int_equal(schsm_parse_dkek_status(0x6982, NULL, 0, &st, &err), HV_ECARD);
}

static void test_dkek_status_and_import(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "80 52 00 00 00", .resp = "02 02 00 00 00 00 00 00 00 00 9000" },
		{ .cmd = "80 52 00 00 20 000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F 00",
		  .resp = "02 01 11 22 33 44 55 66 77 88 9000" },
		{ .cmd = "80 52 00 00 20 5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A 00",
		  .resp = "02 00 15 02 1D A5 13 31 72 20 9000" },
		{ .cmd = "80 52 00 00 20 5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A 00",
		  .resp = "6986" },
	};
	fake_transport f;
	fake_init(&f, steps, 4);
	schsm_card c;
	card_on(&c, &f);
	schsm_dkek_info st;
	assert_int_equal(schsm_dkek_status(&c, &st, NULL), HV_OK);
	assert_int_equal(st.shares_missing, 2);
	uint8_t s1[32], s2[32];
	for (int i = 0; i < 32; i++) {
		s1[i] = (uint8_t)i;
		s2[i] = 0x5A;
	}
	secbuf *b1 = secbuf_dup(s1, 32), *b2 = secbuf_dup(s2, 32);
	assert_int_equal(schsm_import_dkek_share(&c, b1, &st, NULL), HV_OK);
	assert_int_equal(st.shares_missing, 1);
	assert_false(st.kcv_known);
	assert_int_equal(schsm_import_dkek_share(&c, b2, &st, NULL), HV_OK);
	assert_true(st.kcv_known);
	assert_int_equal(st.kcv[0], 0x15);
	hv_err err = { 0 };
	assert_int_equal(schsm_import_dkek_share(&c, b2, &st, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "expects no DKEK share"));
	fake_assert_done(&f);
	b1->len = 31;
	assert_int_equal(schsm_import_dkek_share(&c, b1, &st, &err), HV_EUSAGE);
	secbuf_free(b1);
	secbuf_free(b2);
}

static void test_challenge(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "00 84 00 00 08", .resp = "11 22 33 44 55 66 77 88 9000" },
		{ .cmd = "00 84 00 00 08", .resp = "11 22 33 9000" },
	};
	fake_transport f;
	fake_init(&f, steps, 2);
	schsm_card c;
	card_on(&c, &f);
	secbuf *out = secbuf_new(16);
	assert_int_equal(schsm_get_challenge(&c, 8, out, NULL), HV_OK);
	assert_int_equal(out->len, 8);
	assert_int_equal(out->data[7], 0x88);
	/* short answer is an error, not a weak secret */
	assert_int_equal(schsm_get_challenge(&c, 8, out, NULL), HV_ECARD);
	assert_int_equal(out->len, 8);
	fake_assert_done(&f);
	/* more than fits */
	assert_int_equal(schsm_get_challenge(&c, 9, out, NULL), HV_EINTERNAL);
	secbuf_free(out);
}

static void test_enumerate(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		/* pico-like: C400 CC00 lead, a dummy 0000, and an odd byte */
		{ .cmd = "80 58 00 00 00 00 00", .resp = "C400 CC00 CC02 CC01 C402 0000 C401 7F 9000" },
		/* a reader without extended length: short fallback */
		{ .cmd = "80 58 00 00 00 00 00", .resp = "6700" },
		{ .cmd = "80 58 00 00 00", .resp = "CC00 9000" },
		{ .cmd = "80 58 00 00 00 00 00", .resp = "9000" },
	};
	fake_transport f;
	fake_init(&f, steps, 4);
	schsm_card c;
	card_on(&c, &f);
	uint16_t *fids;
	size_t n;
	assert_int_equal(schsm_enumerate(&c, &fids, &n, NULL), HV_OK);
	assert_int_equal(n, 6);
	assert_int_equal(fids[0], 0xC400);
	assert_int_equal(fids[1], 0xCC00);
	assert_int_equal(fids[5], 0xC401);
	free(fids);
	assert_int_equal(c.max_send, 1223);
	assert_int_equal(schsm_enumerate(&c, &fids, &n, NULL), HV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(c.max_send, 248);
	free(fids);
	assert_int_equal(schsm_enumerate(&c, &fids, &n, NULL), HV_OK);
	assert_int_equal(n, 0);
	free(fids);
	fake_assert_done(&f);
}

static uint8_t *pattern(size_t n)
{
	uint8_t *b = malloc(n);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 7 + 3);
	return b;
}

static uint8_t *with_sw(const uint8_t *d, size_t n, uint16_t sw)
{
	uint8_t *b = malloc(n + 2);
	memcpy(b, d, n);
	b[n] = (uint8_t)(sw >> 8);
	b[n + 1] = (uint8_t)sw;
	return b;
}

static void test_read_ef(void **state)
{
	(void)state;
	uint8_t *data = pattern(1600);
	uint8_t *r1 = with_sw(data, 1500, 0x9000);
	uint8_t *r2 = with_sw(data + 1500, 100, 0x9000);
	uint8_t *r3 = with_sw(data, 1500, 0x9000);
	fake_step steps[] = {
		{ .cmd = "00 B1 C4 01 00 00 04 54 02 00 00 00 00", .resp = "A0 03 01 02 03 9000" },
		{ .cmd = "00 B1 C4 02 00 00 04 54 02 00 00 00 00", .resp = "6A82" },
		{ .cmd = "00 B1 CC 01 00 00 04 54 02 00 00 00 00", .resp = "6982" },
		/* a card that cuts a long file: continue at offset 1500 = 05DC */
		{ .cmd = "00 B1 CE 01 00 00 04 54 02 00 00 00 00", .resp_bin = r1, .resp_bin_len = 1502 },
		{ .cmd = "00 B1 CE 01 00 00 04 54 02 05 DC 00 00", .resp_bin = r2, .resp_bin_len = 102 },
		/* ... or ends it with 6282 and no data */
		{ .cmd = "00 B1 CE 02 00 00 04 54 02 00 00 00 00", .resp_bin = r3, .resp_bin_len = 1502 },
		{ .cmd = "00 B1 CE 02 00 00 04 54 02 05 DC 00 00", .resp = "6282" },
	};
	fake_transport f;
	fake_init(&f, steps, sizeof(steps) / sizeof(steps[0]));
	schsm_card c;
	card_on(&c, &f);
	bytebuf out = { 0 };
	int exists;
	hv_err err = { 0 };
	assert_int_equal(schsm_read_ef(&c, 0xC401, &out, &exists, NULL), HV_OK);
	assert_true(exists);
	assert_int_equal(out.len, 5);
	buf_free(&out);
	assert_int_equal(schsm_read_ef(&c, 0xC402, &out, &exists, NULL), HV_OK);
	assert_false(exists);
	assert_int_equal(out.len, 0);
	assert_int_equal(schsm_read_ef(&c, 0xCC01, &out, &exists, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "reading file CC01"));
	assert_int_equal(schsm_read_ef(&c, 0xCE01, &out, NULL, NULL), HV_OK);
	assert_int_equal(out.len, 1600);
	assert_memory_equal(out.data, data, 1600);
	buf_free(&out);
	assert_int_equal(schsm_read_ef(&c, 0xCE02, &out, NULL, NULL), HV_OK);
	assert_int_equal(out.len, 1500);
	buf_free(&out);
	fake_assert_done(&f);
	free(data);
	free(r1);
	free(r2);
	free(r3);
}

/* 00 D7 FID Lc 54 02 off 53 len data, Lc short or extended */
static uint8_t *update_cmd(uint16_t fid, size_t off, const uint8_t *d, size_t n, size_t *len)
{
	bytebuf b = { 0 }, body = { 0 };
	uint8_t o[4] = { 0x54, 0x02, (uint8_t)(off >> 8), (uint8_t)off };
	buf_put(&body, o, 4);
	buf_put_tlv(&body, 0x53, d, n);
	uint8_t h[4] = { 0x00, 0xD7, (uint8_t)(fid >> 8), (uint8_t)fid };
	buf_put(&b, h, 4);
	if (body.len > 255) {
		buf_put_u8(&b, 0);
		buf_put_u16be(&b, (uint16_t)body.len);
	} else {
		buf_put_u8(&b, (uint8_t)body.len);
	}
	buf_put(&b, body.data, body.len);
	buf_free(&body);
	uint8_t *r = malloc(b.len);
	memcpy(r, b.data, b.len);
	*len = b.len;
	buf_free(&b);
	return r;
}

static void test_write_ef_chunks(void **state)
{
	(void)state;
	uint8_t *data = pattern(1300);
	size_t l1, l2, l3, l4, l5;
	/* max_send 100 -> 92 data bytes per command: 0, 92 (5C), 184 (B8) */
	uint8_t *c1 = update_cmd(0xCE01, 0, data, 92, &l1);
	uint8_t *c2 = update_cmd(0xCE01, 92, data + 92, 92, &l2);
	uint8_t *c3 = update_cmd(0xCE01, 184, data + 184, 16, &l3);
	/* default 1223 -> 1215 bytes: one extended command, then 85 bytes at 04BF */
	uint8_t *c4 = update_cmd(0x2F10, 0, data, 1215, &l4);
	uint8_t *c5 = update_cmd(0x2F10, 1215, data + 1215, 85, &l5);
	fake_step steps[] = {
		{ .cmd_bin = c1, .cmd_bin_len = l1, .resp = "9000" },
		{ .cmd_bin = c2, .cmd_bin_len = l2, .resp = "9000" },
		{ .cmd_bin = c3, .cmd_bin_len = l3, .resp = "9000" },
		{ .cmd_bin = c4, .cmd_bin_len = l4, .resp = "9000" },
		{ .cmd_bin = c5, .cmd_bin_len = l5, .resp = "9000" },
		{ .cmd = "00 D7 C4 05 06 54 02 00 00 53 00", .resp = "9000" },
		{ .cmd = "00 D7 C4 05 09 54 02 00 00 53 03 0A 0B 0C", .resp = "6982" },
	};
	/* spot-check the helper against hand-written bytes */
	assert_int_equal(l3, 5 + 4 + 2 + 16);
	assert_int_equal(c3[4], 22);
	assert_int_equal(c3[7], 0x00);
	assert_int_equal(c3[8], 0xB8);
	assert_int_equal(l4, 7 + 4 + 4 + 1215);
	static const uint8_t h4[15] = { 0x00, 0xD7, 0x2F, 0x10, 0x00, 0x04, 0xC7, 0x54, 0x02,
					0x00, 0x00, 0x53, 0x82, 0x04, 0xBF };
	assert_memory_equal(c4, h4, 15);
	fake_transport f;
	fake_init(&f, steps, sizeof(steps) / sizeof(steps[0]));
	schsm_card c;
	card_on(&c, &f);
	c.max_send = 100;
	assert_int_equal(schsm_write_ef(&c, 0xCE01, data, 200, NULL), HV_OK);
	c.max_send = 1223;
	assert_int_equal(schsm_write_ef(&c, 0x2F10, data, 1300, NULL), HV_OK);
	assert_int_equal(schsm_write_ef(&c, 0xC405, NULL, 0, NULL), HV_OK);
	static const uint8_t abc[3] = { 0x0A, 0x0B, 0x0C };
	hv_err err = { 0 };
	assert_int_equal(schsm_write_ef(&c, 0xC405, abc, 3, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "PIN has not been verified"));
	fake_assert_done(&f);
	free(data);
	free(c1);
	free(c2);
	free(c3);
	free(c4);
	free(c5);
}

static void test_delete_and_replace(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "00 E4 02 00 02 CE 01", .resp = "9000" },
		{ .cmd = "00 E4 02 00 02 CE 02", .resp = "6A82" },
		{ .cmd = "00 E4 02 00 02 CE 02", .resp = "6A82" },
		{ .cmd = "00 E4 02 00 02 C4 03", .resp = "6A82" },
		{ .cmd = "00 D7 C4 03 07 54 02 00 00 53 01 AA", .resp = "9000" },
	};
	fake_transport f;
	fake_init(&f, steps, 5);
	schsm_card c;
	card_on(&c, &f);
	int existed;
	assert_int_equal(schsm_delete_file(&c, 0xCE01, &existed, NULL), HV_OK);
	assert_true(existed);
	assert_int_equal(schsm_delete_file(&c, 0xCE02, &existed, NULL), HV_OK);
	assert_false(existed);
	assert_int_equal(schsm_delete_file(&c, 0xCE02, NULL, NULL), HV_ECARD);
	uint8_t aa = 0xAA;
	assert_int_equal(schsm_replace_ef(&c, 0xC403, &aa, 1, NULL), HV_OK);
	fake_assert_done(&f);
}

/* A device CVC: 7F21 { 7F4E { 5F29 00, 42 CAR, 7F49 {06 ...}, 5F20 CHR }, 5F37 sig } */
static void devcert(bytebuf *out, const char *chr)
{
	bytebuf body = { 0 }, cert = { 0 }, puk = { 0 };
	static const uint8_t oid[10] = { 0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x02, 0x02, 0x03 };
	uint8_t z = 0;
	buf_put_tlv(&body, 0x5F29, &z, 1);
	buf_put_tlv(&body, 0x42, "DECA00001", 9);
	buf_put_tlv(&puk, 0x06, oid, sizeof(oid));
	buf_put_tlv(&body, 0x7F49, puk.data, puk.len);
	buf_put_tlv(&body, 0x5F20, chr, strlen(chr));
	buf_put_tlv(&cert, 0x7F4E, body.data, body.len);
	uint8_t sig[64];
	memset(sig, 0x5C, sizeof(sig));
	buf_put_tlv(&cert, 0x5F37, sig, sizeof(sig));
	buf_put_tlv(out, 0x7F21, cert.data, cert.len);
	buf_free(&body);
	buf_free(&cert);
	buf_free(&puk);
}

static void test_identity(void **state)
{
	(void)state;
	bytebuf ef = { 0 };
	devcert(&ef, "DEHSM0012300001");
	size_t dev_len = ef.len;
	devcert(&ef, "DECA00001");  /* the DICA certificate follows */
	uint8_t *r = with_sw(ef.data, ef.len, 0x9000);
	fake_step steps[] = {
		{ .cmd = "00 B1 2F 02 00 00 04 54 02 00 00 00 00", .resp_bin = r, .resp_bin_len = ef.len + 2 },
		/* absent on an initialized card: an error */
		{ .cmd = "00 B1 2F 02 00 00 04 54 02 00 00 00 00", .resp = "6A82" },
		{ .cmd = "00 20 00 81", .resp = "63C3" },
		{ .cmd = "00 20 00 88", .resp = "63CF" },
	};
	fake_transport f;
	fake_init(&f, steps, 4);
	schsm_card c;
	card_on(&c, &f);
	schsm_identity id;
	assert_int_equal(schsm_card_identity(&c, &id, NULL), HV_OK);
	assert_string_equal(id.chr, "DEHSM0012300001");
	assert_string_equal(id.serial, "DEHSM00123");
	assert_string_equal(c.serial, "DEHSM00123");
	uint8_t h[32];
	SHA256(ef.data, dev_len, h);
	assert_memory_equal(id.devcert_sha256, h, 32);
	char hx[17], want[64];
	hex_encode(h, 8, hx, 0);
	snprintf(want, sizeof(want), "DEHSM00123-%s", hx);
	assert_string_equal(id.id, want);
	assert_false(id.no_identity);
	schsm_identity first = id;
	hv_err err = { 0 };
	assert_int_equal(schsm_card_identity(&c, &id, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "initialized but has no device certificate"));
	assert_string_equal(c.serial, "");
	fake_assert_done(&f);

	/* two pico cards: same serial, different certificates, different id */
	bytebuf other = { 0 };
	devcert(&other, "DEHSM0012300001");
	other.data[other.len - 1] ^= 1; /* another device's signature */
	schsm_identity id2;
	assert_int_equal(schsm_parse_devaut(other.data, other.len, &id2, NULL), HV_OK);
	assert_string_equal(id2.serial, first.serial);
	assert_string_not_equal(id2.id, first.id);

	/* hostile: truncated, CHR too short, not a CVC */
	assert_int_equal(schsm_parse_devaut(ef.data, 20, &id2, NULL), HV_ECARD);
	bytebuf shortchr = { 0 };
	devcert(&shortchr, "ABC");
	assert_int_equal(schsm_parse_devaut(shortchr.data, shortchr.len, &id2, NULL), HV_ECARD);
	static const uint8_t notcvc[4] = { 0x30, 0x02, 0x05, 0x00 };
	assert_int_equal(schsm_parse_devaut(notcvc, 4, &id2, NULL), HV_ECARD);
	buf_free(&shortchr);
	buf_free(&other);
	buf_free(&ef);
	free(r);
}

/* pico-hsm before its first INITIALIZE: EF 2F02 empty (no data, or
 * 6A 82). A never-initialized card is blank, without identity; an
 * initialized card without one, or a garbled 2F02, stays an error. */
static void test_identity_blank_pico(void **state)
{
	(void)state;
	bytebuf ef = { 0 };
	devcert(&ef, "ESP41D722E200001");
	uint8_t *r = with_sw(ef.data, ef.len, 0x9000);
	static const uint8_t garbled[6] = { 0x7F, 0x21, 0x03, 0x01, 0x02, 0x03 };
	uint8_t *g = with_sw(garbled, sizeof(garbled), 0x9000);
	fake_step steps[] = {
		/* 1: no data, 90 00; both PINs not set */
		{ .cmd = "00 B1 2F 02 00 00 04 54 02 00 00 00 00", .resp = "9000" },
		{ .cmd = "00 20 00 81", .resp = "6A88" },
		{ .cmd = "00 20 00 88", .resp = "6A88" },
		/* 2: 6A 82; both PINs not set */
		{ .cmd = "00 B1 2F 02 00 00 04 54 02 00 00 00 00", .resp = "6A82" },
		{ .cmd = "00 20 00 81", .resp = "6A88" },
		{ .cmd = "00 20 00 88", .resp = "6A88" },
		/* 3: after INITIALIZE the self-signed certificate is there */
		{ .cmd = "00 B1 2F 02 00 00 04 54 02 00 00 00 00", .resp_bin = r,
		  .resp_bin_len = ef.len + 2 },
		/* 4: empty, but the card is initialized */
		{ .cmd = "00 B1 2F 02 00 00 04 54 02 00 00 00 00", .resp = "9000" },
		{ .cmd = "00 20 00 81", .resp = "63C3" },
		{ .cmd = "00 20 00 88", .resp = "63CF" },
		/* 5: garbled on a blank card: an error, no status asked */
		{ .cmd = "00 B1 2F 02 00 00 04 54 02 00 00 00 00", .resp_bin = g,
		  .resp_bin_len = sizeof(garbled) + 2 },
		/* 6: the status query fails: that error, not "blank" */
		{ .cmd = "00 B1 2F 02 00 00 04 54 02 00 00 00 00", .resp = "9000" },
		{ .cmd = "00 20 00 81", .resp = FAKE_REMOVED },
	};
	fake_transport f;
	fake_init(&f, steps, sizeof(steps) / sizeof(steps[0]));
	schsm_card c;
	card_on(&c, &f);
	schsm_identity id;
	hv_err err = { 0 };
	memset(&id, 0x55, sizeof(id));
	assert_int_equal(schsm_card_identity(&c, &id, &err), HV_OK);
	assert_true(id.no_identity);
	assert_string_equal(id.serial, "");
	assert_string_equal(id.chr, "");
	assert_string_equal(id.id, "");
	assert_string_equal(c.serial, "");

	assert_int_equal(schsm_card_identity(&c, &id, &err), HV_OK);
	assert_true(id.no_identity);

	assert_int_equal(schsm_card_identity(&c, &id, &err), HV_OK);
	assert_false(id.no_identity);
	assert_string_equal(id.serial, "ESP41D722E2");
	assert_string_equal(c.serial, "ESP41D722E2");

	assert_int_equal(schsm_card_identity(&c, &id, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "initialized but has no device certificate"));
	assert_non_null(strstr(err.msg, "is empty"));
	assert_false(id.no_identity);
	assert_string_equal(c.serial, "");

	assert_int_equal(schsm_card_identity(&c, &id, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "not a CV certificate"));
	assert_false(id.no_identity);

	assert_int_not_equal(schsm_card_identity(&c, &id, &err), HV_OK);
	assert_false(id.no_identity);
	fake_assert_done(&f);
	buf_free(&ef);
	free(r);
	free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dkek_parse),
		cmocka_unit_test(test_dkek_status_and_import),
		cmocka_unit_test(test_challenge),
		cmocka_unit_test(test_enumerate),
		cmocka_unit_test(test_read_ef),
		cmocka_unit_test(test_write_ef_chunks),
		cmocka_unit_test(test_delete_and_replace),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_identity_blank_pico),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
