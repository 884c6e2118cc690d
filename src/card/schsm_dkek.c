#include "card/schsm.h"

#include <string.h>

#include "card/schsm_priv.h"

int schsm_parse_dkek_status(uint16_t sw, const uint8_t *data, size_t len,
			    schsm_dkek_info *st, hv_err *err)
{
	memset(st, 0, sizeof(*st));
	st->sw = sw;
	/* No DKEK: the real card says 6D 00, a never-initialized pico 6B 00,
	 * an unconfigured key domain 6A 88. */
	if (sw == 0x6D00 || sw == 0x6B00 || sw == 0x6A88)
		return HV_OK;
	if (sw != SW_OK) {
		char scratch[96];
		return hv_fail(err, HV_ECARD, "DKEK status: %s (SW %04X)",
			       schsm_sw_message(SCHSM_OP_DKEK, sw, scratch, sizeof(scratch)), sw);
	}
	if (len < 10)
		return hv_fail(err, HV_ECARD,
			       "DKEK status: the card answered %zu bytes, 10 expected: "
			       "this card does not speak the SmartCard-HSM protocol", len);
	st->shares_total = data[0];
	st->shares_missing = data[1];
	/* pico-hsm without a DKEK answers 00 00 and a zero KCV. */
	if (st->shares_total == 0 && st->shares_missing == 0)
		return HV_OK;
	st->configured = 1;
	if (st->shares_missing == 0) {
		memcpy(st->kcv, data + 2, 8);
		static const uint8_t zero[8];
		/* pico reports zeros until the user PIN is verified: that is
		 * "unknown", never a value to compare. */
		st->kcv_known = memcmp(st->kcv, zero, 8) != 0;
		if (!st->kcv_known)
			memset(st->kcv, 0, 8);
	}
	return HV_OK;
}

int schsm_dkek_status(schsm_card *c, schsm_dkek_info *st, hv_err *err)
{
	apdu a = { .cla = 0x80, .ins = 0x52, .p1 = 0x00, .p2 = 0x00, .ne = 256 };
	apdu_resp r = { 0 };
	int rc = schsm_xfer(c, &a, &r, err);
	if (rc == HV_OK) {
		rc = schsm_parse_dkek_status(r.sw, r.data.data, r.data.len, st, err);
		if (rc != HV_OK && r.sw != SW_OK)
			rc = schsm_sw_fail(c, SCHSM_OP_DKEK, r.sw, "asking for the DKEK status", err);
	}
	apdu_resp_free(&r);
	return rc;
}

int schsm_import_dkek_share(schsm_card *c, const secbuf *share,
			    schsm_dkek_info *after, hv_err *err)
{
	if (!share || share->len != 32)
		return hv_fail(err, HV_EUSAGE, "a DKEK share must be 32 bytes");
	apdu a = { .cla = 0x80, .ins = 0x52, .p1 = 0x00, .p2 = 0x00,
		   .data = share->data, .lc = share->len, .ne = 256 };
	apdu_resp r = { 0 };
	int rc = schsm_xfer(c, &a, &r, err);
	if (rc == HV_OK && r.sw != SW_OK)
		rc = schsm_sw_fail(c, SCHSM_OP_DKEK, r.sw, "importing a DKEK share", err);
	if (rc == HV_OK && after)
		rc = schsm_parse_dkek_status(r.sw, r.data.data, r.data.len, after, err);
	apdu_resp_free(&r);
	return rc;
}

int schsm_get_challenge(schsm_card *c, size_t n, secbuf *out, hv_err *err)
{
	if (n > out->cap - out->len)
		return hv_fail(err, HV_EINTERNAL, "challenge of %zu bytes does not fit", n);
	while (n > 0) {
		size_t k = n > 1024 ? 1024 : n;
		apdu a = { .cla = 0x00, .ins = 0x84, .p1 = 0x00, .p2 = 0x00, .ne = k };
		apdu_resp r = { 0 };
		int rc = schsm_xfer(c, &a, &r, err);
		if (rc == HV_OK && r.sw != SW_OK)
			rc = schsm_sw_fail(c, SCHSM_OP_CHALLENGE, r.sw,
					   "asking the card for random bytes", err);
		if (rc == HV_OK && r.data.len != k)
			rc = hv_fail(err, HV_ECARD,
				     "the card returned %zu random bytes instead of %zu",
				     r.data.len, k);
		if (rc == HV_OK) {
			memcpy(out->data + out->len, r.data.data, k);
			out->len += k;
		}
		apdu_resp_free(&r);
		if (rc != HV_OK)
			return rc;
		n -= k;
	}
	return HV_OK;
}
