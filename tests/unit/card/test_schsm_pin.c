/* SELECT, PIN status / VERIFY / CHANGE with the last-try rule, INITIALIZE
 * (byte-exact against smartcard-hsm.md 3.1) and status-word messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "card/schsm.h"
#include "card/schsm_sw.h"
#include "fake_transport.h"

#define SELECT_04 "00 A4 04 04 0B E8 2B 06 01 04 01 81 C3 1F 02 01 00"
#define SELECT_00 "00 A4 04 00 0B E8 2B 06 01 04 01 81 C3 1F 02 01 00"
/* pico-hsm's FCP (smartcard-hsm.md 1.1): options 0001, type FF, 6.6 */
#define PICO_FCP "62 22 81 02 00 00 82 01 01 83 02 00 00 84 0B 2B 06 01 04 01 81 C3 1F 02 01 00 8A 01 05 85 05 00 01 FF 06 06 90 00"

static void card_on(schsm_card *c, fake_transport *f)
{
	memset(c, 0, sizeof(*c));
	c->t = &f->t;
	c->max_send = 1223;
	strcpy(c->serial, "DEHSM00123");
}

static secbuf *pin(const char *s)
{
	return secbuf_dup(s, strlen(s));
}

static void test_select_fcp(void **state)
{
	(void)state;
	static const fake_step steps[] = { { .cmd = SELECT_04, .resp = PICO_FCP } };
	fake_transport f;
	fake_init(&f, steps, 1);
	schsm_card c;
	hv_err err = { 0 };
	assert_int_equal(schsm_open(&c, &f.t, &err), HV_OK);
	fake_assert_done(&f);
	assert_true(c.fcp.has_85);
	assert_true(c.fcp.has_options);
	assert_int_equal(c.fcp.options, 0x0001);
	assert_int_equal(c.fcp.type, 0xFF);
	assert_int_equal(c.fcp.fw_major, 6);
	assert_int_equal(c.fcp.fw_minor, 6);
	assert_int_equal(c.max_send, 1223);
}

static void test_select_fallback_p2_00(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = SELECT_04, .resp = "6A86" },
		{ .cmd = SELECT_00, .resp = "62 04 85 02 01 03 9000" },
	};
	fake_transport f;
	fake_init(&f, steps, 2);
	schsm_card c;
	assert_int_equal(schsm_open(&c, &f.t, NULL), HV_OK);
	fake_assert_done(&f);
	assert_false(c.fcp.has_options);
	assert_int_equal(c.fcp.fw_major, 1);
	assert_int_equal(c.fcp.fw_minor, 3);
}

static void test_select_not_schsm(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = SELECT_04, .resp = "6A82" },
		{ .cmd = SELECT_00, .resp = "6A82" },
	};
	fake_transport f;
	fake_init(&f, steps, 2);
	schsm_card c;
	hv_err err = { 0 };
	assert_int_equal(schsm_open(&c, &f.t, &err), HV_ECARD);
	fake_assert_done(&f);
	assert_non_null(strstr(err.msg, "no SmartCard-HSM applet"));
}

static void test_fcp_hostile(void **state)
{
	(void)state;
	schsm_fcp fcp;
	hv_err err = { 0 };
	size_t n;
	/* tag 85 too short */
	uint8_t *b = fake_hex("62 03 85 01 06", &n);
	assert_int_equal(schsm_parse_fcp(b, n, &fcp, &err), HV_ECARD);
	assert_false(fcp.has_85);
	free(b);
	/* template claims more than there is */
	b = fake_hex("62 22 81 02 00 00 85 05 00 01", &n);
	assert_int_equal(schsm_parse_fcp(b, n, &fcp, &err), HV_ECARD);
	free(b);
	/* 85 claims 5 bytes, 3 present */
	b = fake_hex("62 05 85 05 00 01 FF", &n);
	assert_int_equal(schsm_parse_fcp(b, n, &fcp, &err), HV_ECARD);
	free(b);
	/* no data at all */
	assert_int_equal(schsm_parse_fcp(NULL, 0, &fcp, &err), HV_ECARD);
	/* three-byte 85: type and version, no options */
	b = fake_hex("62 05 85 03 01 04 02", &n);
	assert_int_equal(schsm_parse_fcp(b, n, &fcp, &err), HV_OK);
	assert_false(fcp.has_options);
	assert_int_equal(fcp.type, 1);
	assert_int_equal(fcp.fw_major, 4);
	free(b);
}

static void test_pin_status_forms(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "00 20 00 81", .resp = "63C3" },
		{ .cmd = "00 20 00 81", .resp = "9000" },
		{ .cmd = "00 20 00 81", .resp = "6983" },
		{ .cmd = "00 20 00 81", .resp = "63C0" },
		{ .cmd = "00 20 00 81", .resp = "6984" },
		{ .cmd = "00 20 00 88", .resp = "6A88" },
		{ .cmd = "00 20 00 88", .resp = "63CF" },
	};
	fake_transport f;
	fake_init(&f, steps, 7);
	schsm_card c;
	card_on(&c, &f);
	schsm_pin_info st;
	assert_int_equal(schsm_pin_status(&c, SCHSM_PIN_USER, &st, NULL), HV_OK);
	assert_int_equal(st.state, SCHSM_PIN_TRIES);
	assert_int_equal(st.tries, 3);
	assert_int_equal(schsm_pin_status(&c, SCHSM_PIN_USER, &st, NULL), HV_OK);
	assert_int_equal(st.state, SCHSM_PIN_OK);
	assert_int_equal(schsm_pin_status(&c, SCHSM_PIN_USER, &st, NULL), HV_OK);
	assert_int_equal(st.state, SCHSM_PIN_BLOCKED);
	assert_int_equal(schsm_pin_status(&c, SCHSM_PIN_USER, &st, NULL), HV_OK);
	assert_int_equal(st.state, SCHSM_PIN_BLOCKED);
	assert_int_equal(schsm_pin_status(&c, SCHSM_PIN_USER, &st, NULL), HV_OK);
	assert_int_equal(st.state, SCHSM_PIN_TRANSPORT);
	assert_int_equal(schsm_pin_status(&c, SCHSM_PIN_SO, &st, NULL), HV_OK);
	assert_int_equal(st.state, SCHSM_PIN_NOT_SET);
	assert_int_equal(schsm_pin_status(&c, SCHSM_PIN_SO, &st, NULL), HV_OK);
	assert_int_equal(st.state, SCHSM_PIN_TRIES);
	assert_int_equal(st.tries, 15);
	fake_assert_done(&f);
}

static void test_pin_status_reselects_on_6e00(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "00 20 00 81", .resp = "6E00" },
		{ .cmd = SELECT_04, .resp = PICO_FCP },
		{ .cmd = "00 20 00 81", .resp = "63C2" },
	};
	fake_transport f;
	fake_init(&f, steps, 3);
	schsm_card c;
	card_on(&c, &f);
	schsm_pin_info st;
	assert_int_equal(schsm_pin_status(&c, SCHSM_PIN_USER, &st, NULL), HV_OK);
	fake_assert_done(&f);
	assert_int_equal(st.tries, 2);
}

static void test_verify_ok(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "00 20 00 81", .resp = "63C3" },
		{ .cmd = "00 20 00 81 06 36 34 38 32 31 39", .resp = "9000" },
	};
	fake_transport f;
	fake_init(&f, steps, 2);
	schsm_card c;
	card_on(&c, &f);
	secbuf *p = pin("648219");
	assert_int_equal(schsm_verify_pin(&c, p, 0, NULL), HV_OK);
	fake_assert_done(&f);
	assert_true(c.user_verified);
	secbuf_free(p);
}

static void test_verify_wrong(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "00 20 00 81", .resp = "63C3" },
		{ .cmd = "00 20 00 81 06 31 31 31 31 31 31", .resp = "63C2" },
	};
	fake_transport f;
	fake_init(&f, steps, 2);
	schsm_card c;
	card_on(&c, &f);
	secbuf *p = pin("111111");
	hv_err err = { 0 };
	assert_int_equal(schsm_verify_pin(&c, p, 0, &err), HV_ESECRET);
	fake_assert_done(&f);
	assert_non_null(strstr(err.msg, "wrong PIN, 2 tries left"));
	assert_non_null(strstr(err.msg, "DEHSM00123"));
	assert_int_equal(c.last_sw, 0x63C2);
	assert_false(c.user_verified);
	secbuf_free(p);
}

static void test_verify_refuses_last_try(void **state)
{
	(void)state;
	/* Only the status query: VERIFY must never be sent. */
	static const fake_step steps[] = {
		{ .cmd = "00 20 00 81", .resp = "63C1" },
	};
	fake_transport f;
	fake_init(&f, steps, 1);
	schsm_card c;
	card_on(&c, &f);
	secbuf *p = pin("648219");
	hv_err err = { 0 };
	assert_int_equal(schsm_verify_pin(&c, p, 0, &err), HV_ESAFETY);
	fake_assert_done(&f);
	assert_non_null(strstr(err.msg,
		"only one PIN try left on card DEHSM00123: hsmvault will not risk blocking it"));

	/* with force the PIN goes out */
	static const fake_step forced[] = {
		{ .cmd = "00 20 00 81", .resp = "63C1" },
		{ .cmd = "00 20 00 81 06 36 34 38 32 31 39", .resp = "9000" },
	};
	fake_init(&f, forced, 2);
	card_on(&c, &f);
	assert_int_equal(schsm_verify_pin(&c, p, 1, &err), HV_OK);
	fake_assert_done(&f);
	secbuf_free(p);
}

static void test_verify_blocked_and_uninitialized(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "00 20 00 81", .resp = "6983" },
		{ .cmd = "00 20 00 81", .resp = "6A88" },
		{ .cmd = "00 20 00 81", .resp = "6984" },
	};
	fake_transport f;
	fake_init(&f, steps, 3);
	schsm_card c;
	card_on(&c, &f);
	secbuf *p = pin("648219");
	hv_err err = { 0 };
	assert_int_equal(schsm_verify_pin(&c, p, 1, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "blocked"));
	assert_int_equal(schsm_verify_pin(&c, p, 1, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "not initialized"));
	assert_int_equal(schsm_verify_pin(&c, p, 1, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "transport PIN"));
	fake_assert_done(&f);
	secbuf_free(p);
}

static void test_verify_last_attempt_6983(void **state)
{
	(void)state;
	/* pico answers the attempt that blocks with 69 83 */
	static const fake_step steps[] = {
		{ .cmd = "00 20 00 81", .resp = "63C2" },
		{ .cmd = "00 20 00 81 06 31 31 31 31 31 31", .resp = "6983" },
	};
	fake_transport f;
	fake_init(&f, steps, 2);
	schsm_card c;
	card_on(&c, &f);
	secbuf *p = pin("111111");
	hv_err err = { 0 };
	assert_int_equal(schsm_verify_pin(&c, p, 0, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "blocked"));
	fake_assert_done(&f);
	secbuf_free(p);
}

static void test_verify_pin_length(void **state)
{
	(void)state;
	fake_transport f;
	fake_init(&f, NULL, 0);
	schsm_card c;
	card_on(&c, &f);
	secbuf *p = pin("12345");
	assert_int_equal(schsm_verify_pin(&c, p, 0, NULL), HV_EUSAGE);
	secbuf_free(p);
	p = pin("12345678901234567");
	assert_int_equal(schsm_verify_pin(&c, p, 0, NULL), HV_EUSAGE);
	secbuf_free(p);
	fake_assert_done(&f);
}

static void test_change_so_pin(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "00 20 00 88", .resp = "63CF" },
		{ .cmd = "00 24 00 88 10 35 37 36 32 31 38 38 30 01 02 03 04 05 06 07 08",
		  .resp = "9000" },
		{ .cmd = "00 20 00 88", .resp = "63C1" },
	};
	fake_transport f;
	fake_init(&f, steps, 3);
	schsm_card c;
	card_on(&c, &f);
	secbuf *o = secbuf_dup("57621880", 8);
	static const uint8_t nw[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	secbuf *n = secbuf_dup(nw, 8);
	assert_int_equal(schsm_change_pin(&c, SCHSM_PIN_SO, o, n, 0, NULL), HV_OK);
	hv_err err = { 0 };
	assert_int_equal(schsm_change_pin(&c, SCHSM_PIN_SO, o, n, 0, &err), HV_ESAFETY);
	assert_non_null(strstr(err.msg, "only one SO-PIN try left"));
	fake_assert_done(&f);
	secbuf_free(o);
	secbuf_free(n);
}

static void test_change_user_pin(void **state)
{
	(void)state;
	/* replacing a transport PIN is what CHANGE is for */
	static const fake_step steps[] = {
		{ .cmd = "00 20 00 81", .resp = "6984" },
		{ .cmd = "00 24 00 81 0C 36 34 38 32 31 39 31 32 33 34 35 36", .resp = "9000" },
		{ .cmd = "00 20 00 81", .resp = "63C1" },
	};
	fake_transport f;
	fake_init(&f, steps, 3);
	schsm_card c;
	card_on(&c, &f);
	secbuf *o = pin("648219"), *n = pin("123456");
	hv_err err = { 0 };
	assert_int_equal(schsm_change_pin(&c, SCHSM_PIN_USER, o, n, 0, &err), HV_OK);
	/* and the last-try rule holds for CHANGE too */
	assert_int_equal(schsm_change_pin(&c, SCHSM_PIN_USER, o, n, 0, &err), HV_ESAFETY);
	fake_assert_done(&f);
	static const fake_step ok[] = {
		{ .cmd = "00 20 00 81", .resp = "63C3" },
		{ .cmd = "00 24 00 81 0C 36 34 38 32 31 39 31 32 33 34 35 36", .resp = "9000" },
	};
	fake_init(&f, ok, 2);
	card_on(&c, &f);
	assert_int_equal(schsm_change_pin(&c, SCHSM_PIN_USER, o, n, 0, &err), HV_OK);
	fake_assert_done(&f);
	secbuf_free(o);
	secbuf_free(n);
}

static void test_reset_retry_counter(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "00 20 00 88", .resp = "63CF" },
		{ .cmd = "00 2C 00 81 0E 35 37 36 32 31 38 38 30 36 34 38 32 31 39", .resp = "9000" },
		{ .cmd = "00 20 00 88", .resp = "63CF" },
		{ .cmd = "00 2C 01 81 08 35 37 36 32 31 38 38 30", .resp = "6986" },
		{ .cmd = "00 20 00 88", .resp = "63C1" },
		{ .cmd = "00 20 00 88", .resp = "63C9" },
		{ .cmd = "00 2C 01 81 08 35 37 36 32 31 38 38 30", .resp = "63C8" },
	};
	fake_transport f;
	fake_init(&f, steps, 7);
	schsm_card c;
	card_on(&c, &f);
	secbuf *so = secbuf_dup("57621880", 8), *np = pin("648219");
	hv_err err = { 0 };
	assert_int_equal(schsm_reset_retry_counter(&c, so, np, 0, &err), HV_OK);
	assert_int_equal(schsm_reset_retry_counter(&c, so, NULL, 0, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "does not allow resetting the PIN"));
	assert_int_equal(schsm_reset_retry_counter(&c, so, NULL, 0, &err), HV_ESAFETY);
	assert_non_null(strstr(err.msg, "only one SO-PIN try left"));
	assert_int_equal(schsm_reset_retry_counter(&c, so, NULL, 0, &err), HV_ESECRET);
	assert_non_null(strstr(err.msg, "wrong SO-PIN, 8 tries left"));
	fake_assert_done(&f);
	so->len = 7;
	assert_int_equal(schsm_reset_retry_counter(&c, so, NULL, 0, &err), HV_EUSAGE);
	secbuf_free(so);
	secbuf_free(np);
}

static void test_device_status(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "00 20 00 81", .resp = "6A88" },
		{ .cmd = "00 20 00 88", .resp = "6A88" },
		{ .cmd = "00 20 00 81", .resp = "6984" },
		{ .cmd = "00 20 00 88", .resp = "63CF" },
		{ .cmd = "00 20 00 81", .resp = "63C3" },
		{ .cmd = "00 20 00 88", .resp = "63CF" },
	};
	fake_transport f;
	fake_init(&f, steps, 6);
	schsm_card c;
	card_on(&c, &f);
	schsm_device_info d;
	assert_int_equal(schsm_device_status(&c, &d, NULL), HV_OK);
	assert_int_equal(d.state, SCHSM_DEV_UNINITIALIZED);
	assert_int_equal(schsm_device_status(&c, &d, NULL), HV_OK);
	assert_int_equal(d.state, SCHSM_DEV_TRANSPORT_PIN);
	assert_int_equal(schsm_device_status(&c, &d, NULL), HV_OK);
	assert_int_equal(d.state, SCHSM_DEV_INITIALIZED);
	assert_int_equal(d.user.tries, 3);
	assert_int_equal(d.so.tries, 15);
	fake_assert_done(&f);
}

/* sc-hsm-tool --initialize --so-pin 3537363231383830 --pin 648219
 * --dkek-shares 2 (smartcard-hsm.md 3.1) */
#define INIT_APDU "80 50 00 00 1C 80 02 00 01 81 06 36 34 38 32 31 39 " \
	"82 08 35 37 36 32 31 38 38 30 91 01 03 92 01 02"

static void init_params(schsm_init_params *p, secbuf **u, secbuf **so)
{
	*u = pin("648219");
	static const uint8_t sob[8] = { 0x35, 0x37, 0x36, 0x32, 0x31, 0x38, 0x38, 0x30 };
	*so = secbuf_dup(sob, 8);
	memset(p, 0, sizeof(*p));
	p->options = 0x0001;
	p->user_pin = *u;
	p->so_pin = *so;
	p->retry_counter = 3;
	p->dkek_shares = 2;
}

static void test_initialize_bytes(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "00 20 00 88", .resp = "6A88" },
		{ .cmd = INIT_APDU, .resp = "9000" },
		{ .cmd = SELECT_04, .resp = PICO_FCP },
	};
	fake_transport f;
	fake_init(&f, steps, 3);
	schsm_card c;
	card_on(&c, &f);
	c.user_verified = 1;
	schsm_init_params p;
	secbuf *u, *so;
	init_params(&p, &u, &so);
	assert_int_equal(schsm_initialize(&c, &p, 0, NULL), HV_OK);
	fake_assert_done(&f);
	assert_false(c.user_verified);

	/* no DKEK tag, public key authentication 2-of-3 */
	secbuf *d = NULL;
	p.dkek_shares = -1;
	p.pka_total = 3;
	p.pka_required = 2;
	assert_int_equal(schsm_build_init_data(&p, &d, NULL), HV_OK);
	size_t n;
	uint8_t *want = fake_hex("80 02 00 01 81 06 36 34 38 32 31 39 82 08 35 37 36 32 31 38 38 30 "
				 "91 01 03 93 02 03 02", &n);
	assert_int_equal(d->len, n);
	assert_memory_equal(d->data, want, n);
	free(want);
	secbuf_free(d);
	secbuf_free(u);
	secbuf_free(so);
}

static void test_initialize_so_safety(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "00 20 00 88", .resp = "63C1" },
		{ .cmd = "00 20 00 88", .resp = "6983" },
		{ .cmd = "00 20 00 88", .resp = "63C5" },
		{ .cmd = INIT_APDU, .resp = "6982" },
	};
	fake_transport f;
	fake_init(&f, steps, 4);
	schsm_card c;
	card_on(&c, &f);
	schsm_init_params p;
	secbuf *u, *so;
	init_params(&p, &u, &so);
	hv_err err = { 0 };
	assert_int_equal(schsm_initialize(&c, &p, 0, &err), HV_ESAFETY);
	assert_non_null(strstr(err.msg, "only one SO-PIN try left on card DEHSM00123"));
	assert_int_equal(schsm_initialize(&c, &p, 1, &err), HV_ECARD);
	assert_non_null(strstr(err.msg, "SO-PIN"));
	assert_non_null(strstr(err.msg, "blocked"));
	assert_int_equal(schsm_initialize(&c, &p, 0, &err), HV_ESECRET);
	assert_non_null(strstr(err.msg, "refused the SO-PIN"));
	fake_assert_done(&f);

	/* bad parameters never reach the card */
	fake_init(&f, NULL, 0);
	p.retry_counter = 11;
	assert_int_equal(schsm_initialize(&c, &p, 0, &err), HV_EUSAGE);
	p.retry_counter = 3;
	so->len = 7;
	assert_int_equal(schsm_initialize(&c, &p, 0, &err), HV_EUSAGE);
	fake_assert_done(&f);
	secbuf_free(u);
	secbuf_free(so);
}

static void test_sw_messages(void **state)
{
	(void)state;
	char s[96];
	assert_string_equal(schsm_sw_message(SCHSM_OP_VERIFY, 0x63C2, s, sizeof(s)),
			    "wrong PIN, 2 tries left");
	assert_string_equal(schsm_sw_message(SCHSM_OP_VERIFY, 0x63C1, s, sizeof(s)),
			    "wrong PIN, 1 try left");
	assert_non_null(strstr(schsm_sw_message(SCHSM_OP_VERIFY, 0x63C0, s, sizeof(s)), "blocked"));
	assert_string_equal(schsm_sw_message(SCHSM_OP_VERIFY, 0x6A88, s, sizeof(s)),
			    "card not initialized");
	assert_string_equal(schsm_sw_message(SCHSM_OP_WRAP, 0x6985, s, sizeof(s)),
			    "the key is not exportable (its policy lacks the wrap algorithm)");
	assert_string_equal(schsm_sw_message(SCHSM_OP_UNWRAP, 0x6A80, s, sizeof(s)),
			    "the wrapped key does not match this card's DKEK");
	assert_string_equal(schsm_sw_message(SCHSM_OP_UNWRAP, 0x6400, s, sizeof(s)),
			    "the wrapped key does not match this card's DKEK");
	assert_non_null(strstr(schsm_sw_message(SCHSM_OP_WRAP, 0x6A88, s, sizeof(s)), "DKEK"));
	assert_non_null(strstr(schsm_sw_message(SCHSM_OP_DKEK, 0x6D00, s, sizeof(s)),
			       "not initialized for DKEK"));
	assert_non_null(strstr(schsm_sw_message(SCHSM_OP_OTHER, 0x6E00, s, sizeof(s)),
			       "not selected"));
	assert_non_null(strstr(schsm_sw_message(SCHSM_OP_SIGN, 0x6982, s, sizeof(s)),
			       "PIN has not been verified"));
	assert_int_equal(schsm_sw_code(SCHSM_OP_VERIFY, 0x63C2), HV_ESECRET);
	assert_int_equal(schsm_sw_code(SCHSM_OP_VERIFY, 0x63C0), HV_ECARD);
	assert_int_equal(schsm_sw_code(SCHSM_OP_WRAP, 0x6985), HV_ECARD);
	schsm_card c = { 0 };
	fake_transport f;
	fake_init(&f, NULL, 0);
	c.t = &f.t;
	hv_err err = { 0 };
	assert_int_equal(schsm_sw_fail(&c, SCHSM_OP_WRAP, 0x6985, "wrapping key 3", &err), HV_ECARD);
	assert_string_equal(err.msg, "wrapping key 3 on card in reader Fake Reader 00 00: "
			    "the key is not exportable (its policy lacks the wrap algorithm) (SW 6985)");
}

static void test_removed_during_status(void **state)
{
	(void)state;
	static const fake_step steps[] = {
		{ .cmd = "00 20 00 81", .resp = FAKE_REMOVED },
	};
	fake_transport f;
	fake_init(&f, steps, 1);
	schsm_card c;
	card_on(&c, &f);
	secbuf *p = pin("648219");
	hv_err err = { 0 };
	assert_int_equal(schsm_verify_pin(&c, p, 0, &err), HV_ECARD);
	assert_true(schsm_card_removed(&c));
	assert_int_equal(c.last_sw, 0);
	assert_non_null(strstr(err.msg, "was removed"));
	fake_assert_done(&f);
	secbuf_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select_fcp),
		cmocka_unit_test(test_select_fallback_p2_00),
		cmocka_unit_test(test_select_not_schsm),
		cmocka_unit_test(test_fcp_hostile),
		cmocka_unit_test(test_pin_status_forms),
		cmocka_unit_test(test_pin_status_reselects_on_6e00),
		cmocka_unit_test(test_verify_ok),
		cmocka_unit_test(test_verify_wrong),
		cmocka_unit_test(test_verify_refuses_last_try),
		cmocka_unit_test(test_verify_blocked_and_uninitialized),
		cmocka_unit_test(test_verify_last_attempt_6983),
		cmocka_unit_test(test_verify_pin_length),
		cmocka_unit_test(test_change_so_pin),
		cmocka_unit_test(test_change_user_pin),
		cmocka_unit_test(test_reset_retry_counter),
		cmocka_unit_test(test_device_status),
		cmocka_unit_test(test_initialize_bytes),
		cmocka_unit_test(test_initialize_so_safety),
		cmocka_unit_test(test_sw_messages),
		cmocka_unit_test(test_removed_during_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
