#include "card/schsm.h"

#include <string.h>

#include "card/schsm_priv.h"
#include "util/tlv.h"

const uint8_t SCHSM_AID[11] = { 0xE8, 0x2B, 0x06, 0x01, 0x04, 0x01,
				0x81, 0xC3, 0x1F, 0x02, 0x01 };

int schsm_xfer(schsm_card *c, const apdu *a, apdu_resp *r, hv_err *err)
{
	c->last_sw = 0;
	int rc = apdu_transmit(c->t, a, r, err);
	if (rc == HV_OK)
		c->last_sw = r->sw;
	return rc;
}

int schsm_card_removed(const schsm_card *c)
{
	return c && c->t && c->t->removed;
}

int schsm_parse_fcp(const uint8_t *fcp, size_t len, schsm_fcp *out,
		    hv_err *err)
{
	memset(out, 0, sizeof(*out));
	tlv t, t85;
	/* FCP template 62 {...}; tolerate a bare list of TLVs too. */
	const uint8_t *body = fcp;
	size_t blen = len;
	if (tlv_find(fcp, len, 0x62, &t) == 0) {
		body = t.val;
		blen = t.len;
	}
	if (tlv_find(body, blen, 0x85, &t85) != 0 || t85.len < 2)
		return hv_fail(err, HV_ECARD,
			       "the card's SELECT answer has no SmartCard-HSM version (tag 85): "
			       "this is not a SmartCard-HSM");
	const uint8_t *v = t85.val;
	size_t n = t85.len;
	out->has_85 = 1;
	out->fw_major = v[n - 2];
	out->fw_minor = v[n - 1];
	if (n >= 3)
		out->type = v[n - 3];
	if (n >= 5) {
		out->has_options = 1;
		out->options = (uint16_t)(v[n - 5] << 8 | v[n - 4]);
	}
	return HV_OK;
}

static int select_p2(schsm_card *c, uint8_t p2, apdu_resp *r, hv_err *err)
{
	apdu a = { .cla = 0x00, .ins = 0xA4, .p1 = 0x04, .p2 = p2,
		   .data = SCHSM_AID, .lc = sizeof(SCHSM_AID), .ne = 256 };
	return schsm_xfer(c, &a, r, err);
}

int schsm_select(schsm_card *c, hv_err *err)
{
	apdu_resp r = { 0 };
	schsm_fcp fcp;
	hv_err e2 = { 0 };
	c->user_verified = 0;
	int rc = select_p2(c, 0x04, &r, err);
	if (rc != HV_OK)
		goto out;
	if (r.sw == SW_OK && schsm_parse_fcp(r.data.data, r.data.len, &fcp, &e2) == HV_OK) {
		c->fcp = fcp;
		goto out;
	}
	/* Some firmware answers only the FCI form (P2=00). P2=0C is never
	 * used: older cards and pico-hsm reject it. */
	rc = select_p2(c, 0x00, &r, err);
	if (rc != HV_OK)
		goto out;
	if (r.sw != SW_OK) {
		rc = schsm_sw_fail(c, SCHSM_OP_SELECT, r.sw,
				   "selecting the SmartCard-HSM applet", err);
		goto out;
	}
	rc = schsm_parse_fcp(r.data.data, r.data.len, &fcp, err);
	if (rc == HV_OK)
		c->fcp = fcp;
	else
		hv_err_prefix(err, "card in reader %s",
			      c->t->reader ? c->t->reader : "?");
out:
	apdu_resp_free(&r);
	return rc;
}

int schsm_open(schsm_card *c, card_transport *t, hv_err *err)
{
	memset(c, 0, sizeof(*c));
	c->t = t;
	c->max_send = 1223;
	return schsm_select(c, err);
}
