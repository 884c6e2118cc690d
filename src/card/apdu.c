#include "card/apdu.h"

#include <stdlib.h>
#include <string.h>

#include "util/secbuf.h"

int apdu_encode(const apdu *a, bytebuf *out, hv_err *err)
{
	if (a->lc > 65535 || a->ne > APDU_NE_MAX)
		return hv_fail(err, HV_EINTERNAL,
			       "APDU %02X %02X: %zu data bytes / Ne %zu exceed extended length",
			       a->cla, a->ins, a->lc, a->ne);
	if (a->lc > 0 && !a->data)
		return hv_fail(err, HV_EINTERNAL, "APDU %02X %02X: data missing",
			       a->cla, a->ins);
	int ext = a->extended || a->lc > 255 || a->ne > 256;
	uint8_t hdr[4] = { a->cla, a->ins, a->p1, a->p2 };
	buf_put(out, hdr, 4);
	if (a->lc > 0) {
		if (ext) {
			buf_put_u8(out, 0);
			buf_put_u16be(out, (uint16_t)a->lc);
		} else {
			buf_put_u8(out, (uint8_t)a->lc);
		}
		buf_put(out, a->data, a->lc);
	}
	if (a->ne > 0) {
		if (ext) {
			/* Case 2E carries the 00 marker itself; case 4E
			 * already had it before Lc. */
			if (a->lc == 0)
				buf_put_u8(out, 0);
			buf_put_u16be(out, a->ne == APDU_NE_MAX ? 0 : (uint16_t)a->ne);
		} else {
			buf_put_u8(out, a->ne == 256 ? 0 : (uint8_t)a->ne);
		}
	}
	if (out->failed)
		return hv_fail(err, HV_ENOMEM, "out of memory building an APDU");
	return HV_OK;
}

void apdu_resp_free(apdu_resp *r)
{
	buf_free(&r->data);
	r->sw = 0;
}

int apdu_parse_response(const uint8_t *raw, size_t len, apdu_resp *r,
			hv_err *err)
{
	if (len < 2)
		return hv_fail(err, HV_ECARD,
			       "the card sent a %zu-byte response without a status word: "
			       "check the reader and the card", len);
	buf_put(&r->data, raw, len - 2);
	if (r->data.failed)
		return hv_fail(err, HV_ENOMEM, "out of memory reading a card response");
	r->sw = (uint16_t)(raw[len - 2] << 8 | raw[len - 1]);
	return HV_OK;
}

/* One raw exchange into a heap response buffer that is wiped afterwards. */
static int exchange(card_transport *t, const bytebuf *cmd, apdu_resp *r,
		    hv_err *err)
{
	uint8_t *resp = malloc(APDU_MAX_RESP);
	if (!resp)
		return hv_fail(err, HV_ENOMEM, "out of memory for a card response");
	size_t rlen = APDU_MAX_RESP;
	int rc = t->transmit(t, cmd->data, cmd->len, resp, &rlen, err);
	t->count++;
	if (rc == HV_OK) {
		if (rlen > APDU_MAX_RESP)
			rc = hv_fail(err, HV_EINTERNAL, "transport overran its response buffer");
		else
			rc = apdu_parse_response(resp, rlen, r, err);
	}
	secure_wipe(resp, APDU_MAX_RESP);
	free(resp);
	return rc;
}

int apdu_transmit(card_transport *t, const apdu *a, apdu_resp *r, hv_err *err)
{
	buf_free(&r->data);
	r->sw = 0;
	bytebuf cmd = { 0 };
	int rc = apdu_encode(a, &cmd, err);
	if (rc == HV_OK)
		rc = exchange(t, &cmd, r, err);
	if (rc == HV_OK && (r->sw & 0xFF00) == 0x6C00 && a->ne > 0) {
		/* Wrong Le: the card names the right one; ask once more. */
		apdu again = *a;
		again.ne = (r->sw & 0xFF) ? (r->sw & 0xFF) : 256;
		buf_free(&cmd);
		buf_free(&r->data);
		rc = apdu_encode(&again, &cmd, err);
		if (rc == HV_OK)
			rc = exchange(t, &cmd, r, err);
	}
	buf_free(&cmd);
	/* 61xx: more data waits; a bound keeps a broken card from looping
	 * forever (65536 bytes need at most 256 rounds of 256). */
	for (int rounds = 0; rc == HV_OK && (r->sw & 0xFF00) == 0x6100; rounds++) {
		if (rounds > 300)
			return hv_fail(err, HV_ECARD,
				       "the card in reader %s keeps answering 61xx: "
				       "remove and reinsert it", t->reader ? t->reader : "?");
		apdu gr = { .cla = 0x00, .ins = 0xC0, .p1 = 0, .p2 = 0,
			    .ne = (r->sw & 0xFF) ? (r->sw & 0xFF) : 256 };
		bytebuf c2 = { 0 };
		rc = apdu_encode(&gr, &c2, err);
		if (rc == HV_OK)
			rc = exchange(t, &c2, r, err); /* appends to r->data */
		buf_free(&c2);
	}
	return rc;
}

int apdu_transmit_chained(card_transport *t, const apdu *a, size_t chunk,
			  apdu_resp *r, hv_err *err)
{
	if (chunk == 0 || chunk > 65535)
		return hv_fail(err, HV_EINTERNAL, "chaining with a chunk of %zu bytes", chunk);
	if (a->lc <= chunk)
		return apdu_transmit(t, a, r, err);
	size_t off = 0;
	while (off < a->lc) {
		size_t n = a->lc - off < chunk ? a->lc - off : chunk;
		int last = off + n == a->lc;
		apdu piece = *a;
		piece.data = a->data + off;
		piece.lc = n;
		if (!last) {
			piece.cla = a->cla | 0x10;
			piece.ne = 0;
		}
		int rc = apdu_transmit(t, &piece, r, err);
		if (rc != HV_OK)
			return rc;
		if (!last && r->sw != SW_OK)
			return HV_OK;
		off += n;
	}
	return HV_OK;
}
