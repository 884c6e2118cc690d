/* VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER (smartcard-hsm.md 2). */
#include <string.h>

#include "sim/cmds.h"
#include "util/secbuf.h"

#define PIN_USER 0x81
#define PIN_SO 0x88
#define PIN_MIN 6
#define PIN_MAX 16
#define OPT_RRC 0x0001

static int user_pin_matches(const sim_state *s, const uint8_t *pin, size_t len)
{
	return len == s->user_pin_len && secure_memcmp(pin, s->user_pin, len) == 0;
}

/* A wrong user PIN: one try less. The answer to the try that empties the
 * counter is 63 C0, as OpenSC and CardContact expect from the real card. */
static uint16_t user_wrong(sim_card *c, int *changed)
{
	c->user_ok = 0;
	if (c->st->user_left > 0)
		c->st->user_left--;
	*changed = 1;
	return SW_TRIES(c->st->user_left);
}

static void user_right(sim_card *c, int *changed)
{
	if (c->st->user_left != c->st->user_max)
		*changed = 1;
	c->st->user_left = c->st->user_max;
	c->user_ok = 1;
}

static uint16_t so_check(sim_card *c, const uint8_t *so, int *changed)
{
	if (c->st->so_left == 0)
		return SW_BLOCKED;
	if (secure_memcmp(so, c->st->so_pin, 8) != 0) {
		c->so_ok = 0;
		c->st->so_left--;
		*changed = 1;
		return SW_TRIES(c->st->so_left);
	}
	if (c->st->so_left != SIM_SO_TRIES)
		*changed = 1;
	c->st->so_left = SIM_SO_TRIES;
	return SW_OK;
}

uint16_t cmd_verify(sim_card *c, const capdu *a, int *changed)
{
	sim_state *s = c->st;
	if (a->p1 != 0x00)
		return SW_BAD_P1P2;
	if (a->p2 == PIN_USER) {
		if (!s->initialized)
			return SW_REF_NOT_FOUND;
		if (a->lc == 0) { /* status query: never costs a try */
			if (s->user_left == 0)
				return SW_BLOCKED;
			if (s->transport)
				return SW_REF_UNUSABLE;
			return c->user_ok ? SW_OK : SW_TRIES(s->user_left);
		}
		if (s->user_left == 0)
			return SW_BLOCKED;
		if (s->transport)
			return SW_REF_UNUSABLE;
		/* pico-hsm: every VERIFY ends both sessions first, and a PIN of
		 * any length is counted (its check_pin). */
		int pico = s->profile->verify_pico_sessions;
		if (pico)
			c->user_ok = c->so_ok = 0;
		if (!pico && (a->lc < PIN_MIN || a->lc > PIN_MAX))
			return SW_WRONG_DATA;
		if (!user_pin_matches(s, a->data, a->lc))
			return user_wrong(c, changed);
		user_right(c, changed);
		return SW_OK;
	}
	if (a->p2 == PIN_SO) {
		if (!s->initialized)
			return SW_REF_NOT_FOUND;
		int pico = s->profile->verify_pico_sessions;
		if (a->lc == 0) {
			if (s->so_left == 0)
				return SW_BLOCKED;
			if (pico && c->so_ok)
				return SW_OK; /* pico-hsm reports its open SO session */
			return SW_TRIES(s->so_left);
		}
		if (pico)
			c->user_ok = c->so_ok = 0;
		if (a->lc != 8)
			return SW_WRONG_DATA;
		uint16_t sw = so_check(c, a->data, changed);
		if (sw == SW_OK)
			c->so_ok = 1;
		return sw;
	}
	/* 85 / 86 (PIN pad, biometrics) and anything else do not exist here. */
	return SW_REF_NOT_FOUND;
}

uint16_t cmd_change_reference(sim_card *c, const capdu *a, int *changed)
{
	sim_state *s = c->st;
	if (a->p1 != 0x00)
		return SW_BAD_P1P2;
	if (a->p2 == PIN_USER) {
		if (!s->initialized)
			return SW_REF_NOT_FOUND;
		if (s->user_left == 0)
			return SW_BLOCKED;
		size_t old = s->user_pin_len;
		if (a->lc < old + PIN_MIN || a->lc > old + PIN_MAX)
			return SW_WRONG_DATA;
		if (!user_pin_matches(s, a->data, old))
			return user_wrong(c, changed);
		s->user_pin_len = a->lc - old;
		memcpy(s->user_pin, a->data + old, s->user_pin_len);
		s->user_left = s->user_max;
		s->transport = 0;
		c->user_ok = 1;
		*changed = 1;
		return SW_OK;
	}
	if (a->p2 == PIN_SO) {
		if (!s->initialized)
			return SW_REF_NOT_FOUND;
		if (a->lc != 16)
			return SW_WRONG_DATA;
		uint16_t sw = so_check(c, a->data, changed);
		if (sw != SW_OK)
			return sw;
		memcpy(s->so_pin, a->data + 8, 8);
		*changed = 1;
		return SW_OK;
	}
	return SW_REF_NOT_FOUND;
}

uint16_t cmd_reset_retry_counter(sim_card *c, const capdu *a, int *changed)
{
	sim_state *s = c->st;
	if (a->p2 != PIN_USER)
		return SW_REF_NOT_FOUND;
	if (a->p1 != 0x00 && a->p1 != 0x01)
		return SW_WRONG_P1P2;
	if (!s->initialized)
		return SW_REF_NOT_FOUND;
	if (!(s->options & OPT_RRC))
		return SW_NOT_ALLOWED;
	if (a->p1 == 0x01 ? a->lc != 8 : (a->lc < 8 + PIN_MIN || a->lc > 8 + PIN_MAX))
		return SW_WRONG_DATA;
	uint16_t sw = so_check(c, a->data, changed);
	if (sw != SW_OK)
		return sw;
	if (a->p1 == 0x00) {
		s->user_pin_len = a->lc - 8;
		memcpy(s->user_pin, a->data + 8, s->user_pin_len);
		s->transport = 0;
	}
	s->user_left = s->user_max;
	*changed = 1;
	return SW_OK;
}
