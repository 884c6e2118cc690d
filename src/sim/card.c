#include "sim/card.h"

#include <string.h>

#include <openssl/rand.h>

#include "sim/cmds.h"

/* Largest command chain the card accumulates. */
#define CHAIN_MAX 65535

void sim_card_init(sim_card *c, sim_state *st)
{
	memset(c, 0, sizeof(*c));
	c->st = st;
	c->cur_ef = -1;
}

static void drop_pending(sim_card *c)
{
	buf_free(&c->pending);
	memset(&c->pending, 0, sizeof(c->pending));
	c->pending_off = 0;
}

static void drop_chain(sim_card *c)
{
	buf_free(&c->chain);
	memset(&c->chain, 0, sizeof(c->chain));
	c->chaining = 0;
}

void sim_card_free(sim_card *c)
{
	drop_pending(c);
	drop_chain(c);
}

void sim_card_reset(sim_card *c)
{
	c->selected = 0;
	c->user_ok = 0;
	c->so_ok = 0;
	c->cur_ef = -1;
	drop_pending(c);
	drop_chain(c);
}

sim_key *card_key(sim_card *c, unsigned ref)
{
	if (ref == 0 || ref > 255 || !c->st->keys[ref].used)
		return NULL;
	return &c->st->keys[ref];
}

int key_allows(const sim_key *k, uint8_t algo)
{
	if (k->allowed_len == 0)
		return 1;
	return memchr(k->allowed, algo, k->allowed_len) != NULL;
}

static uint16_t cmd_get_challenge(const capdu *a, bytebuf *out)
{
	if (a->p1 || a->p2)
		return SW_WRONG_P1P2;
	if (a->lc || !a->has_le || a->ne > 1024)
		return SW_WRONG_LENGTH;
	uint8_t rnd[1024];
	if (RAND_bytes(rnd, (int)a->ne) != 1)
		return SW_EXEC_ERROR;
	buf_put(out, rnd, a->ne);
	return SW_OK;
}

static uint16_t dispatch(sim_card *c, const capdu *a, bytebuf *out, int *changed)
{
	/* SELECT works whatever is selected; everything else needs the applet. */
	if (a->ins == 0xA4)
		return cmd_select(c, a, out);
	if (!c->selected)
		return SW_INS_UNKNOWN;
	switch (a->ins) {
	case 0xB0: case 0xB1: return cmd_read_binary(c, a, out);
	case 0xD7: return cmd_update_binary(c, a, changed);
	case 0xE4: return cmd_delete_file(c, a, changed);
	case 0x58: return cmd_enumerate(c, a, out);
	case 0x20: return cmd_verify(c, a, changed);
	case 0x24: return cmd_change_reference(c, a, changed);
	case 0x2C: return cmd_reset_retry_counter(c, a, changed);
	case 0x50: return cmd_initialize(c, a, out, changed);
	case 0x52: return cmd_manage_dkek(c, a, out, changed);
	case 0x46: return cmd_generate_key(c, a, out, changed);
	case 0x68: return cmd_sign(c, a, out);
	case 0x62: return cmd_decipher(c, a, out);
	case 0x72: return cmd_wrap_key(c, a, out);
	case 0x74: return cmd_unwrap_key(c, a, changed);
	case 0x84: return cmd_get_challenge(a, out);
	default: return SW_INS_UNKNOWN;
	}
}

static void put_sw(bytebuf *resp, uint16_t sw)
{
	buf_put_u16be(resp, sw);
}

/* Sends what fits into Ne and keeps the rest for GET RESPONSE. */
static void answer(sim_card *c, const uint8_t *data, size_t len, size_t ne, uint16_t sw, bytebuf *resp)
{
	if (len <= ne) {
		buf_put(resp, data, len);
		put_sw(resp, sw);
		return;
	}
	buf_put(resp, data, ne);
	drop_pending(c);
	buf_put(&c->pending, data + ne, len - ne);
	size_t rest = len - ne;
	put_sw(resp, (uint16_t)(0x6100 | (rest > 255 ? 0 : rest)));
}

static void get_response(sim_card *c, const capdu *a, bytebuf *resp)
{
	if (c->pending.len == 0) {
		put_sw(resp, 0x6985);
		return;
	}
	bytebuf rest = c->pending;
	memset(&c->pending, 0, sizeof(c->pending));
	answer(c, rest.data, rest.len, a->has_le ? a->ne : 0, SW_OK, resp);
	buf_free(&rest);
}

void sim_card_process(sim_card *c, const uint8_t *cmd, size_t len, bytebuf *resp, int *changed)
{
	*changed = 0;
	capdu a;
	if (capdu_parse(cmd, len, &a) != 0) {
		drop_chain(c);
		put_sw(resp, SW_WRONG_LENGTH);
		return;
	}
	if (a.cla == 0xFF || (a.cla & 0x80 && a.cla != 0x80 && a.cla != 0x90)) {
		put_sw(resp, SW_CLA_UNKNOWN);
		return;
	}
	if (a.cla & 0x0C) {
		put_sw(resp, SW_SM_UNSUPPORTED);
		return;
	}
	if (a.ins == 0xC0 && !c->chaining) {
		get_response(c, &a, resp);
		return;
	}
	drop_pending(c);

	/* Command chaining: collect the data of every link; the last link (bit
	 * 10 clear) runs with all of it. A SELECT in between aborts the chain. */
	bytebuf joined = { 0 };
	if (a.cla & 0x10 || c->chaining) {
		if (a.ins == 0xA4) {
			drop_chain(c);
		} else {
			if (c->chaining && (a.ins != c->chain_ins || a.p1 != c->chain_p1 || a.p2 != c->chain_p2)) {
				drop_chain(c);
				put_sw(resp, SW_CHAIN_EXPECTED);
				return;
			}
			if (c->chain.len + a.lc > CHAIN_MAX) {
				drop_chain(c);
				put_sw(resp, SW_WRONG_LENGTH);
				return;
			}
			buf_put(&c->chain, a.data, a.lc);
			if (a.cla & 0x10) {
				c->chaining = 1;
				c->chain_ins = a.ins;
				c->chain_p1 = a.p1;
				c->chain_p2 = a.p2;
				put_sw(resp, SW_OK);
				return;
			}
			joined = c->chain;
			memset(&c->chain, 0, sizeof(c->chain));
			c->chaining = 0;
			a.data = joined.len ? joined.data : NULL;
			a.lc = joined.len;
		}
	}

	bytebuf out = { 0 };
	uint16_t sw = dispatch(c, &a, &out, changed);
	if (out.failed) {
		buf_free(&out);
		memset(&out, 0, sizeof(out));
		sw = SW_EXEC_ERROR;
	}
	/* The handlers speak the real card's status words; a family that
	 * answers "wrong data" otherwise (pico-hsm: 67 00) says so here. */
	if (sw == SW_WRONG_DATA)
		sw = c->st->profile->sw_wrong_data;
	int with_data = sw == SW_OK || (sw & 0xFF00) == 0x6200;
	if (with_data && out.len && a.has_le)
		answer(c, out.data, out.len, a.ne, sw, resp);
	else if (with_data && out.len && c->st->profile->data_without_le_61xx)
		answer(c, out.data, out.len, 0, SW_OK, resp); /* pico: all of it via GET RESPONSE */
	else
		put_sw(resp, sw);
	buf_free(&out);
	buf_free(&joined);
}
