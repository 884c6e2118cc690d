#include "card/schsm.h"

#include <string.h>

#include "card/schsm_priv.h"
#include "util/tlv.h"

/* Appends tag, length, value into a secbuf that has room (checked by the
 * caller's sizing). */
static void put_tlv(secbuf *b, uint8_t tag, const uint8_t *v, size_t len)
{
	b->data[b->len++] = tag;
	b->data[b->len++] = (uint8_t)len;
	memcpy(b->data + b->len, v, len);
	b->len += len;
}

int schsm_build_init_data(const schsm_init_params *p, secbuf **out,
			  hv_err *err)
{
	*out = NULL;
	if (!p->user_pin || p->user_pin->len < SCHSM_PIN_MIN ||
	    p->user_pin->len > SCHSM_PIN_MAX)
		return hv_fail(err, HV_EUSAGE, "the user PIN must be 6 to 16 characters");
	if (!p->so_pin || p->so_pin->len != SCHSM_SO_PIN_LEN)
		return hv_fail(err, HV_EUSAGE,
			       "the SO-PIN must be 8 bytes (16 hex digits)");
	if (p->retry_counter < 1 || p->retry_counter > 10)
		return hv_fail(err, HV_EUSAGE,
			       "the PIN retry counter must be 1 to 10, got %u", p->retry_counter);
	if (p->dkek_shares < -1 || p->dkek_shares > 255)
		return hv_fail(err, HV_EUSAGE,
			       "the DKEK share count must be 0 to 255, got %d", p->dkek_shares);
	if (p->pka_total && (p->pka_required < 1 || p->pka_required > p->pka_total))
		return hv_fail(err, HV_EUSAGE,
			       "public key authentication needs 1 <= required <= total");
	secbuf *b = secbuf_new(4 + 2 + SCHSM_PIN_MAX + 10 + 3 + 3 + 4);
	if (!b)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	uint8_t opt[2] = { (uint8_t)(p->options >> 8), (uint8_t)p->options };
	put_tlv(b, 0x80, opt, 2);
	put_tlv(b, 0x81, p->user_pin->data, p->user_pin->len);
	put_tlv(b, 0x82, p->so_pin->data, p->so_pin->len);
	put_tlv(b, 0x91, &p->retry_counter, 1);
	if (p->dkek_shares >= 0) {
		uint8_t n = (uint8_t)p->dkek_shares;
		put_tlv(b, 0x92, &n, 1);
	}
	if (p->pka_total) {
		uint8_t nm[2] = { p->pka_total, p->pka_required };
		put_tlv(b, 0x93, nm, 2);
	}
	*out = b;
	return HV_OK;
}

int schsm_initialize(schsm_card *c, const schsm_init_params *p, int force,
		     hv_err *err)
{
	secbuf *data = NULL;
	int rc = schsm_build_init_data(p, &data, err);
	if (rc != HV_OK)
		return rc;
	/* Re-initialization presents the SO-PIN (tag 82): the same last-try
	 * rule as a VERIFY applies. A never-initialized card (6A 88) has no
	 * SO-PIN to lose. */
	schsm_pin_info so;
	rc = schsm_pin_status(c, SCHSM_PIN_SO, &so, err);
	if (rc == HV_OK && so.state != SCHSM_PIN_NOT_SET)
		rc = schsm_pin_check_safe(c, &so, "SO-PIN", force, err);
	if (rc != HV_OK) {
		secbuf_free(data);
		return rc;
	}
	apdu a = { .cla = 0x80, .ins = 0x50, .p1 = 0x00, .p2 = 0x00,
		   .data = data->data, .lc = data->len };
	apdu_resp r = { 0 };
	rc = schsm_xfer(c, &a, &r, err);
	secbuf_free(data);
	if (rc == HV_OK && r.sw != SW_OK) {
		uint16_t sw = r.sw;
		/* OpenSC reads the "not allowed" class as a wrong SO-PIN. */
		char name[160];
		if (sw == 0x6900 || sw == 0x6985 || sw == 0x6986 || sw == 0x6982)
			rc = hv_fail(err, HV_ESECRET,
				     "initializing card %s: the card refused the SO-PIN (SW %04X): "
				     "give the SO-PIN the card was initialized with",
				     schsm_card_name(c, name, sizeof(name)), sw);
		else
			rc = schsm_sw_fail(c, SCHSM_OP_INITIALIZE, sw, "initializing", err);
	}
	apdu_resp_free(&r);
	if (rc != HV_OK)
		return rc;
	/* pico-hsm leaves PIN sessions open after INITIALIZE, the real card
	 * does not: a new SELECT gives both the same, logged-out state. */
	return schsm_select(c, err);
}
