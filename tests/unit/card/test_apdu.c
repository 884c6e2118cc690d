/* APDU encoding (cases 1-4, short and extended), response handling
 * (61xx, 6Cxx), command chaining and the removed-card signal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <PCSC/winscard.h>

#include "card/apdu.h"
#include "card/pcsc.h"
#include "fake_transport.h"

static void assert_encodes(const apdu *a, const char *hex)
{
	bytebuf out = { 0 };
	hv_err err = { 0 };
	assert_int_equal(apdu_encode(a, &out, &err), HV_OK);
	size_t n;
	uint8_t *want = fake_hex(hex, &n);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.data, want, n);
	free(want);
	buf_free(&out);
}

static void test_case1(void **state)
{
	(void)state;
	apdu a = { .cla = 0x00, .ins = 0x20, .p1 = 0x00, .p2 = 0x81 };
	assert_encodes(&a, "00 20 00 81");
}

static void test_case2_short(void **state)
{
	(void)state;
	apdu a = { .cla = 0x80, .ins = 0x52, .ne = 256 };
	assert_encodes(&a, "80 52 00 00 00");
	a.ne = 8;
	a.cla = 0x00;
	a.ins = 0x84;
	assert_encodes(&a, "00 84 00 00 08");
}

static void test_case3_short(void **state)
{
	(void)state;
	uint8_t fid[2] = { 0xCC, 0x01 };
	apdu a = { .cla = 0x00, .ins = 0xE4, .p1 = 0x02, .data = fid, .lc = 2 };
	assert_encodes(&a, "00 E4 02 00 02 CC 01");
}

static void test_case4_short(void **state)
{
	(void)state;
	uint8_t d[3] = { 1, 2, 3 };
	apdu a = { .cla = 0x00, .ins = 0xA4, .p1 = 4, .p2 = 4, .data = d, .lc = 3, .ne = 256 };
	assert_encodes(&a, "00 A4 04 04 03 01 02 03 00");
}

static void test_case2_extended(void **state)
{
	(void)state;
	apdu a = { .cla = 0x80, .ins = 0x72, .p1 = 0x05, .p2 = 0x92, .ne = APDU_NE_MAX };
	assert_encodes(&a, "80 72 05 92 00 00 00");
	a.ne = 512;
	assert_encodes(&a, "80 72 05 92 00 02 00");
	a.ne = 257; /* just above short */
	assert_encodes(&a, "80 72 05 92 00 01 01");
}

static void test_case3_extended_auto(void **state)
{
	(void)state;
	uint8_t d[300];
	for (size_t i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)i;
	apdu a = { .cla = 0x80, .ins = 0x74, .p1 = 1, .p2 = 0x93, .data = d, .lc = 300 };
	bytebuf out = { 0 };
	assert_int_equal(apdu_encode(&a, &out, NULL), HV_OK);
	assert_int_equal(out.len, 4 + 3 + 300);
	static const uint8_t hdr[7] = { 0x80, 0x74, 0x01, 0x93, 0x00, 0x01, 0x2C };
	assert_memory_equal(out.data, hdr, 7);
	assert_memory_equal(out.data + 7, d, 300);
	buf_free(&out);
	/* 255 bytes still fit the short form */
	a.lc = 255;
	assert_int_equal(apdu_encode(&a, &out, NULL), HV_OK);
	assert_int_equal(out.len, 4 + 1 + 255);
	assert_int_equal(out.data[4], 0xFF);
	buf_free(&out);
}

static void test_case4_extended(void **state)
{
	(void)state;
	uint8_t d[300] = { 0 };
	apdu a = { .cla = 0x80, .ins = 0x68, .p1 = 1, .p2 = 0x70, .data = d, .lc = 300, .ne = 256 };
	bytebuf out = { 0 };
	assert_int_equal(apdu_encode(&a, &out, NULL), HV_OK);
	assert_int_equal(out.len, 4 + 3 + 300 + 2);
	assert_int_equal(out.data[4], 0x00);
	assert_int_equal(out.data[5], 0x01);
	assert_int_equal(out.data[6], 0x2C);
	assert_int_equal(out.data[out.len - 2], 0x01); /* Le 0100 */
	assert_int_equal(out.data[out.len - 1], 0x00);
	buf_free(&out);
	/* forced extended with a small body (SIGN of a 32-byte hash) */
	uint8_t h[2] = { 0xAA, 0xBB };
	apdu s = { .cla = 0x80, .ins = 0x68, .p1 = 3, .p2 = 0x70, .data = h, .lc = 2,
		   .ne = 512, .extended = 1 };
	assert_encodes(&s, "80 68 03 70 00 00 02 AA BB 02 00");
	/* Ne 65536 with data: Le 00 00 */
	s.ne = APDU_NE_MAX;
	assert_encodes(&s, "80 68 03 70 00 00 02 AA BB 00 00");
}

static void test_encode_limits(void **state)
{
	(void)state;
	static uint8_t big[65536];
	apdu a = { .cla = 0, .ins = 0xD7, .data = big, .lc = 65536 };
	bytebuf out = { 0 };
	hv_err err = { 0 };
	assert_int_equal(apdu_encode(&a, &out, &err), HV_EINTERNAL);
	a.lc = 0;
	a.ne = 65537;
	assert_int_equal(apdu_encode(&a, &out, &err), HV_EINTERNAL);
	a.ne = 0;
	a.lc = 5;
	a.data = NULL;
	assert_int_equal(apdu_encode(&a, &out, &err), HV_EINTERNAL);
	buf_free(&out);
}

static void test_parse_short_response(void **state)
{
	(void)state;
	apdu_resp r = { 0 };
	hv_err err = { 0 };
	uint8_t one = 0x90;
	assert_int_equal(apdu_parse_response(&one, 1, &r, &err), HV_ECARD);
	uint8_t ok[4] = { 0xDE, 0xAD, 0x63, 0xC2 };
	assert_int_equal(apdu_parse_response(ok, 4, &r, &err), HV_OK);
	assert_int_equal(r.sw, 0x63C2);
	assert_int_equal(r.data.len, 2);
	apdu_resp_free(&r);
}

static void test_get_response(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "80 58 00 00 00 00 00", .resp = "CC01 CC02 6104" },
		{ .cmd = "00 C0 00 00 04", .resp = "C401 C402 6100" },
		{ .cmd = "00 C0 00 00 00", .resp = "CE01 9000" },
	};
	fake_transport f;
	fake_init(&f, steps, 3);
	apdu a = { .cla = 0x80, .ins = 0x58, .ne = APDU_NE_MAX };
	apdu_resp r = { 0 };
	hv_err err = { 0 };
	assert_int_equal(apdu_transmit(&f.t, &a, &r, &err), HV_OK);
	fake_assert_done(&f);
	assert_int_equal(r.sw, 0x9000);
	static const uint8_t all[10] = { 0xCC, 1, 0xCC, 2, 0xC4, 1, 0xC4, 2, 0xCE, 1 };
	assert_int_equal(r.data.len, 10);
	assert_memory_equal(r.data.data, all, 10);
	assert_int_equal(f.t.count, 3);
	apdu_resp_free(&r);
}

static void test_wrong_le_resend(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "00 84 00 00 00", .resp = "6C08" },
		{ .cmd = "00 84 00 00 08", .resp = "0102030405060708 9000" },
	};
	fake_transport f;
	fake_init(&f, steps, 2);
	apdu a = { .cla = 0x00, .ins = 0x84, .ne = 256 };
	apdu_resp r = { 0 };
	assert_int_equal(apdu_transmit(&f.t, &a, &r, NULL), HV_OK);
	fake_assert_done(&f);
	assert_int_equal(r.sw, 0x9000);
	assert_int_equal(r.data.len, 8);
	apdu_resp_free(&r);
}

static void test_chaining(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "90 74 01 93 04 00 01 02 03", .resp = "9000" },
		{ .cmd = "90 74 01 93 04 04 05 06 07", .resp = "9000" },
		{ .cmd = "80 74 01 93 02 08 09", .resp = "9000" },
	};
	uint8_t d[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	fake_transport f;
	fake_init(&f, steps, 3);
	apdu a = { .cla = 0x80, .ins = 0x74, .p1 = 1, .p2 = 0x93, .data = d, .lc = 10 };
	apdu_resp r = { 0 };
	assert_int_equal(apdu_transmit_chained(&f.t, &a, 4, &r, NULL), HV_OK);
	fake_assert_done(&f);
	assert_int_equal(r.sw, 0x9000);
	apdu_resp_free(&r);

	/* a refused piece stops the chain */
	static const fake_step stop[] = {
		{ .cmd = "90 74 01 93 04 00 01 02 03", .resp = "6883" },
	};
	fake_init(&f, stop, 1);
	assert_int_equal(apdu_transmit_chained(&f.t, &a, 4, &r, NULL), HV_OK);
	fake_assert_done(&f);
	assert_int_equal(r.sw, 0x6883);
	apdu_resp_free(&r);
}

static void test_removed_is_distinct(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "00 20 00 81", .resp = FAKE_REMOVED },
	};
	fake_transport f;
	fake_init(&f, steps, 1);
	apdu a = { .cla = 0x00, .ins = 0x20, .p2 = 0x81 };
	apdu_resp r = { 0 };
	hv_err err = { 0 };
	assert_int_equal(apdu_transmit(&f.t, &a, &r, &err), HV_ECARD);
	assert_int_equal(f.t.removed, 1);
	assert_non_null(strstr(err.msg, "was removed: reinsert it"));
	fake_assert_done(&f);

	static const fake_step io[] = {
		{ .cmd = "00 20 00 81", .resp = FAKE_IOERR },
	};
	fake_init(&f, io, 1);
	assert_int_equal(apdu_transmit(&f.t, &a, &r, &err), HV_ECARD);
	assert_int_equal(f.t.removed, 0);
	apdu_resp_free(&r);
}

/* The fake itself must catch a wrong command, or every transcript
 * assertion above would be hollow. */
static void test_fake_detects_mismatch(void **state)
{
	(void)state;
	static const fake_step steps[] = { { .cmd = "00 20 00 81", .resp = "9000" } };
	fake_transport f;
	fake_init(&f, steps, 1);
	apdu a = { .cla = 0x00, .ins = 0x20, .p2 = 0x88 };
	apdu_resp r = { 0 };
	assert_int_equal(apdu_transmit(&f.t, &a, &r, NULL), HV_ECARD);
	assert_non_null(strstr(f.mismatch, "expected 00200081"));
	assert_non_null(strstr(f.mismatch, "got      00200088"));
	/* and an extra command */
	fake_init(&f, steps, 1);
	a.p2 = 0x81;
	assert_int_equal(apdu_transmit(&f.t, &a, &r, NULL), HV_OK);
	assert_int_equal(apdu_transmit(&f.t, &a, &r, NULL), HV_ECARD);
	assert_non_null(strstr(f.mismatch, "unexpected extra command"));
	apdu_resp_free(&r);
}

static void test_pcsc_removed_codes(void **state)
{
	(void)state;
	assert_true(pcsc_rv_is_removed(SCARD_W_REMOVED_CARD));
	assert_true(pcsc_rv_is_removed(SCARD_E_NO_SMARTCARD));
	assert_true(pcsc_rv_is_removed(SCARD_W_RESET_CARD));
	assert_true(pcsc_rv_is_removed(SCARD_W_UNPOWERED_CARD));
	assert_false(pcsc_rv_is_removed(SCARD_E_TIMEOUT));
	assert_false(pcsc_rv_is_removed(SCARD_E_NO_SERVICE));
	assert_false(pcsc_rv_is_removed(SCARD_E_SHARING_VIOLATION));
	assert_false(pcsc_rv_is_removed(SCARD_S_SUCCESS));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_case1),
		cmocka_unit_test(test_case2_short),
		cmocka_unit_test(test_case3_short),
		cmocka_unit_test(test_case4_short),
		cmocka_unit_test(test_case2_extended),
		cmocka_unit_test(test_case3_extended_auto),
		cmocka_unit_test(test_case4_extended),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_parse_short_response),
		cmocka_unit_test(test_get_response),
		cmocka_unit_test(test_wrong_le_resend),
		cmocka_unit_test(test_chaining),
		cmocka_unit_test(test_removed_is_distinct),
		cmocka_unit_test(test_fake_detects_mismatch),
		cmocka_unit_test(test_pcsc_removed_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
