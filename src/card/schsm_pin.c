#include "card/schsm.h"

#include <stdio.h>
#include <string.h>

#include "card/schsm_priv.h"

static void decode_status(uint16_t sw, schsm_pin_info *st)
{
	memset(st, 0, sizeof(*st));
	st->sw = sw;
	if (sw == SW_OK)
		st->state = SCHSM_PIN_OK;
	else if (sw_is_tries(sw) && sw_tries(sw) > 0) {
		st->state = SCHSM_PIN_TRIES;
		st->tries = sw_tries(sw);
	} else if (sw == 0x63C0 || sw == 0x6983)
		st->state = SCHSM_PIN_BLOCKED;
	else if (sw == 0x6984)
		st->state = SCHSM_PIN_TRANSPORT;
	else if (sw == 0x6A88)
		st->state = SCHSM_PIN_NOT_SET;
	else
		st->state = SCHSM_PIN_OTHER;
}

int schsm_pin_status(schsm_card *c, uint8_t ref, schsm_pin_info *st,
		     hv_err *err)
{
	apdu a = { .cla = 0x00, .ins = 0x20, .p1 = 0x00, .p2 = ref };
	apdu_resp r = { 0 };
	int rc = schsm_xfer(c, &a, &r, err);
	if (rc == HV_OK && (r.sw == 0x6D00 || r.sw == 0x6E00)) {
		/* The applet lost its selection (another program, a reset):
		 * select it again and ask once more, as CardContact does. */
		rc = schsm_select(c, err);
		if (rc == HV_OK)
			rc = schsm_xfer(c, &a, &r, err);
	}
	if (rc == HV_OK)
		decode_status(r.sw, st);
	apdu_resp_free(&r);
	return rc;
}

int schsm_pin_check_safe(const schsm_card *c, const schsm_pin_info *st,
			 const char *what, int force, hv_err *err)
{
	char name[160];
	schsm_card_name(c, name, sizeof(name));
	switch (st->state) {
	case SCHSM_PIN_OK:
		return HV_OK;
	case SCHSM_PIN_TRIES:
		if (st->tries == 1 && !force)
			return hv_fail(err, HV_ESAFETY,
				       "only one %s try left on card %s: hsmvault will not risk "
				       "blocking it; make sure of the %s and repeat with the "
				       "explicit last-try override", what, name, what);
		return HV_OK;
	case SCHSM_PIN_BLOCKED:
		return hv_fail(err, HV_ECARD,
			       "the %s of card %s is blocked: %s", what, name,
			       strcmp(what, "PIN") == 0
			       ? "unblock it with the SO-PIN or re-initialize the card"
			       : "the card cannot be re-initialized any more");
	case SCHSM_PIN_TRANSPORT:
		return hv_fail(err, HV_ECARD,
			       "card %s still has its transport PIN: change the PIN first", name);
	case SCHSM_PIN_NOT_SET:
		return hv_fail(err, HV_ECARD,
			       "card %s is not initialized: initialize it first", name);
	default:
		return schsm_sw_fail(c, strcmp(what, "PIN") == 0 ? SCHSM_OP_VERIFY
				     : SCHSM_OP_SO_PIN, st->sw,
				     "asking for the PIN status", err);
	}
}

static int check_len(uint8_t ref, const secbuf *pin, const char *which,
		     hv_err *err)
{
	if (!pin)
		return hv_fail(err, HV_EUSAGE, "no %s given", which);
	if (ref == SCHSM_PIN_SO) {
		if (pin->len != SCHSM_SO_PIN_LEN)
			return hv_fail(err, HV_EUSAGE,
				       "the %s must be 8 bytes (16 hex digits), got %zu bytes",
				       which, pin->len);
	} else if (pin->len < SCHSM_PIN_MIN || pin->len > SCHSM_PIN_MAX) {
		return hv_fail(err, HV_EUSAGE,
			       "the %s must be 6 to 16 characters, got %zu", which, pin->len);
	}
	return HV_OK;
}

/* Sends a PIN-bearing command after the last-try check, and maps the
 * answer. data is wiped by the caller. */
static int present(schsm_card *c, uint8_t ins, uint8_t ref, const secbuf *data,
		   int force, const char *what, hv_err *err)
{
	const char *pin_name = ref == SCHSM_PIN_SO ? "SO-PIN" : "PIN";
	enum schsm_op op = ref == SCHSM_PIN_SO ? SCHSM_OP_SO_PIN : SCHSM_OP_VERIFY;
	schsm_pin_info st;
	int rc = schsm_pin_status(c, ref, &st, err);
	if (rc != HV_OK)
		return rc;
	/* CHANGE is how a transport PIN gets replaced: let it through. */
	if (!(ins == 0x24 && st.state == SCHSM_PIN_TRANSPORT)) {
		rc = schsm_pin_check_safe(c, &st, pin_name, force, err);
		if (rc != HV_OK)
			return rc;
	}
	apdu a = { .cla = 0x00, .ins = ins, .p1 = 0x00, .p2 = ref,
		   .data = data->data, .lc = data->len };
	apdu_resp r = { 0 };
	rc = schsm_xfer(c, &a, &r, err);
	if (rc == HV_OK && r.sw != SW_OK)
		rc = schsm_sw_fail(c, op, r.sw, what, err);
	apdu_resp_free(&r);
	return rc;
}

int schsm_verify_pin(schsm_card *c, const secbuf *pin, int force, hv_err *err)
{
	int rc = check_len(SCHSM_PIN_USER, pin, "PIN", err);
	if (rc != HV_OK)
		return rc;
	c->user_verified = 0;
	rc = present(c, 0x20, SCHSM_PIN_USER, pin, force, "verifying the PIN", err);
	if (rc == HV_OK)
		c->user_verified = 1;
	return rc;
}

int schsm_change_pin(schsm_card *c, uint8_t ref, const secbuf *old_pin,
		     const secbuf *new_pin, int force, hv_err *err)
{
	if (ref != SCHSM_PIN_USER && ref != SCHSM_PIN_SO)
		return hv_fail(err, HV_EINTERNAL, "PIN reference %02X", ref);
	const char *n = ref == SCHSM_PIN_SO ? "SO-PIN" : "PIN";
	char old_name[16], new_name[16];
	snprintf(old_name, sizeof(old_name), "old %s", n);
	snprintf(new_name, sizeof(new_name), "new %s", n);
	int rc = check_len(ref, old_pin, old_name, err);
	if (rc == HV_OK)
		rc = check_len(ref, new_pin, new_name, err);
	if (rc != HV_OK)
		return rc;
	secbuf *data = secbuf_new(old_pin->len + new_pin->len);
	if (!data)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	memcpy(data->data, old_pin->data, old_pin->len);
	memcpy(data->data + old_pin->len, new_pin->data, new_pin->len);
	data->len = old_pin->len + new_pin->len;
	rc = present(c, 0x24, ref, data, force,
		     ref == SCHSM_PIN_SO ? "changing the SO-PIN" : "changing the PIN", err);
	secbuf_free(data);
	return rc;
}

int schsm_device_status(schsm_card *c, schsm_device_info *st, hv_err *err)
{
	memset(st, 0, sizeof(*st));
	int rc = schsm_pin_status(c, SCHSM_PIN_USER, &st->user, err);
	if (rc == HV_OK)
		rc = schsm_pin_status(c, SCHSM_PIN_SO, &st->so, err);
	if (rc != HV_OK)
		return rc;
	if (st->user.state == SCHSM_PIN_NOT_SET || st->user.state == SCHSM_PIN_TRANSPORT) {
		if (st->so.state == SCHSM_PIN_NOT_SET)
			st->state = SCHSM_DEV_UNINITIALIZED;
		else if (st->user.state == SCHSM_PIN_TRANSPORT)
			st->state = SCHSM_DEV_TRANSPORT_PIN;
		else
			st->state = SCHSM_DEV_INITIALIZED;
	} else {
		st->state = SCHSM_DEV_INITIALIZED;
	}
	return HV_OK;
}

int schsm_reset_retry_counter(schsm_card *c, const secbuf *so_pin,
			      const secbuf *new_pin, int force, hv_err *err)
{
	int rc = check_len(SCHSM_PIN_SO, so_pin, "SO-PIN", err);
	if (rc == HV_OK && new_pin)
		rc = check_len(SCHSM_PIN_USER, new_pin, "new PIN", err);
	if (rc != HV_OK)
		return rc;
	schsm_pin_info st;
	rc = schsm_pin_status(c, SCHSM_PIN_SO, &st, err);
	if (rc == HV_OK)
		rc = schsm_pin_check_safe(c, &st, "SO-PIN", force, err);
	if (rc != HV_OK)
		return rc;
	size_t len = so_pin->len + (new_pin ? new_pin->len : 0);
	secbuf *data = secbuf_new(len);
	if (!data)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	memcpy(data->data, so_pin->data, so_pin->len);
	if (new_pin)
		memcpy(data->data + so_pin->len, new_pin->data, new_pin->len);
	data->len = len;
	apdu a = { .cla = 0x00, .ins = 0x2C, .p1 = new_pin ? 0x00 : 0x01,
		   .p2 = SCHSM_PIN_USER, .data = data->data, .lc = data->len };
	apdu_resp r = { 0 };
	rc = schsm_xfer(c, &a, &r, err);
	secbuf_free(data);
	if (rc == HV_OK && r.sw == 0x6986) {
		char name[160];
		rc = hv_fail(err, HV_ECARD,
			     "card %s does not allow resetting the PIN with the SO-PIN "
			     "(it was initialized without that option)",
			     schsm_card_name(c, name, sizeof(name)));
	} else if (rc == HV_OK && r.sw != SW_OK) {
		rc = schsm_sw_fail(c, SCHSM_OP_SO_PIN, r.sw,
				   "resetting the PIN with the SO-PIN", err);
	}
	apdu_resp_free(&r);
	return rc;
}
