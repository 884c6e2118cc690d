#include "card/schsm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "card/schsm_priv.h"
#include "util/hex.h"
#include "util/tlv.h"

/* A read that returns less than this is taken as the whole rest of the
 * file: cards that cut long answers (pico-hsm: ~2 KB) cut far above it,
 * and it saves a round trip for every small EF (PRKD, CV request). */
#define READ_WHOLE_BELOW 1024

int schsm_enumerate(schsm_card *c, uint16_t **fids, size_t *n, hv_err *err)
{
	*fids = NULL;
	*n = 0;
	apdu a = { .cla = 0x80, .ins = 0x58, .p1 = 0x00, .p2 = 0x00,
		   .ne = SCHSM_NE_ALL };
	apdu_resp r = { 0 };
	hv_err e1 = { 0 };
	int rc = schsm_xfer(c, &a, &r, &e1);
	if ((rc != HV_OK && !schsm_card_removed(c)) || (rc == HV_OK && r.sw == 0x6700)) {
		/* Some readers refuse extended length: ask short, as OpenSC. */
		a.ne = 256;
		rc = schsm_xfer(c, &a, &r, err);
		/* and send short commands from now on (OpenSC: 248) */
		if (rc == HV_OK && r.sw == SW_OK && c->max_send > 248)
			c->max_send = 248;
	} else if (rc != HV_OK && err) {
		*err = e1;
	}
	if (rc == HV_OK && r.sw != SW_OK && r.sw != 0x6282)
		rc = schsm_sw_fail(c, SCHSM_OP_ENUMERATE, r.sw, "listing the card's objects", err);
	if (rc == HV_OK) {
		size_t cnt = r.data.len / 2; /* an odd last byte is no FID */
		uint16_t *list = calloc(cnt ? cnt : 1, sizeof(*list));
		if (!list) {
			rc = hv_fail(err, HV_ENOMEM, "out of memory");
		} else {
			size_t k = 0;
			for (size_t i = 0; i < cnt; i++) {
				uint16_t f = (uint16_t)(r.data.data[2 * i] << 8 | r.data.data[2 * i + 1]);
				if (f != 0x0000) /* pico's dummy entry */
					list[k++] = f;
			}
			*fids = list;
			*n = k;
		}
	}
	apdu_resp_free(&r);
	return rc;
}

int schsm_read_ef(schsm_card *c, uint16_t fid, bytebuf *out, int *exists,
		  hv_err *err)
{
	if (exists)
		*exists = 1;
	size_t off = 0;
	char what[48];
	snprintf(what, sizeof(what), "reading file %04X", fid);
	for (;;) {
		uint8_t off_obj[4] = { 0x54, 0x02, (uint8_t)(off >> 8), (uint8_t)off };
		apdu a = { .cla = 0x00, .ins = 0xB1, .p1 = (uint8_t)(fid >> 8),
			   .p2 = (uint8_t)fid, .data = off_obj, .lc = 4,
			   .ne = SCHSM_NE_ALL };
		apdu_resp r = { 0 };
		int rc = schsm_xfer(c, &a, &r, err);
		if (rc != HV_OK) {
			apdu_resp_free(&r);
			return rc;
		}
		if (r.sw == 0x6A82 && off == 0 && exists) {
			*exists = 0;
			apdu_resp_free(&r);
			return HV_OK;
		}
		if (r.sw != SW_OK && r.sw != 0x6282) {
			rc = schsm_sw_fail(c, SCHSM_OP_READ, r.sw, what, err);
			apdu_resp_free(&r);
			return rc;
		}
		buf_put(out, r.data.data, r.data.len);
		size_t got = r.data.len;
		uint16_t sw = r.sw;
		apdu_resp_free(&r);
		if (out->failed)
			return hv_fail(err, HV_ENOMEM, "out of memory reading file %04X", fid);
		off += got;
		if (sw == 0x6282 || got < READ_WHOLE_BELOW)
			return HV_OK;
		if (off > 0xFFFF)
			return hv_fail(err, HV_ECARD,
				       "file %04X is longer than 65535 bytes: not a SmartCard-HSM file",
				       fid);
	}
}

static int update_chunk(schsm_card *c, uint16_t fid, size_t off,
			const uint8_t *data, size_t len, hv_err *err)
{
	bytebuf cmd = { 0 };
	uint8_t off_obj[4] = { 0x54, 0x02, (uint8_t)(off >> 8), (uint8_t)off };
	buf_put(&cmd, off_obj, 4);
	buf_put_tlv(&cmd, 0x53, data, len);
	if (cmd.failed) {
		buf_free(&cmd);
		return hv_fail(err, HV_ENOMEM, "out of memory");
	}
	apdu a = { .cla = 0x00, .ins = 0xD7, .p1 = (uint8_t)(fid >> 8),
		   .p2 = (uint8_t)fid, .data = cmd.data, .lc = cmd.len };
	apdu_resp r = { 0 };
	int rc = schsm_xfer(c, &a, &r, err);
	if (rc == HV_OK && r.sw != SW_OK) {
		char what[48];
		snprintf(what, sizeof(what), "writing file %04X", fid);
		rc = schsm_sw_fail(c, SCHSM_OP_WRITE, r.sw, what, err);
	}
	apdu_resp_free(&r);
	buf_free(&cmd);
	return rc;
}

int schsm_write_ef(schsm_card *c, uint16_t fid, const uint8_t *data,
		   size_t len, hv_err *err)
{
	if (len > 0xFFFF)
		return hv_fail(err, HV_EUSAGE,
			       "%zu bytes do not fit in a card file (at most 65535)", len);
	size_t chunk = c->max_send > 8 + 16 ? c->max_send - 8 : 16;
	if (len == 0)
		return update_chunk(c, fid, 0, NULL, 0, err);
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		int rc = update_chunk(c, fid, off, data + off, n, err);
		if (rc != HV_OK)
			return rc;
	}
	return HV_OK;
}

int schsm_delete_file(schsm_card *c, uint16_t fid, int *existed, hv_err *err)
{
	if (existed)
		*existed = 1;
	uint8_t f[2] = { (uint8_t)(fid >> 8), (uint8_t)fid };
	apdu a = { .cla = 0x00, .ins = 0xE4, .p1 = 0x02, .p2 = 0x00, .data = f, .lc = 2 };
	apdu_resp r = { 0 };
	int rc = schsm_xfer(c, &a, &r, err);
	if (rc == HV_OK && r.sw == 0x6A82 && existed) {
		*existed = 0;
	} else if (rc == HV_OK && r.sw != SW_OK) {
		char what[48];
		snprintf(what, sizeof(what), "deleting file %04X", fid);
		rc = schsm_sw_fail(c, SCHSM_OP_DELETE, r.sw, what, err);
	}
	apdu_resp_free(&r);
	return rc;
}

int schsm_replace_ef(schsm_card *c, uint16_t fid, const uint8_t *data,
		     size_t len, hv_err *err)
{
	/* Overwrite semantics differ between implementations (5.6): delete
	 * and re-create, as OpenSC does, gives the same result everywhere. */
	int existed;
	int rc = schsm_delete_file(c, fid, &existed, err);
	if (rc == HV_OK)
		rc = schsm_write_ef(c, fid, data, len, err);
	return rc;
}

int schsm_parse_devaut(const uint8_t *ef, size_t len, schsm_identity *id,
		       hv_err *err)
{
	memset(id, 0, sizeof(*id));
	size_t off = 0;
	tlv cert, body, chr;
	if (tlv_next(ef, len, &off, &cert) != 0 || cert.tag != 0x7F21 ||
	    tlv_find(cert.val, cert.len, 0x7F4E, &body) != 0 ||
	    tlv_find(body.val, body.len, 0x5F20, &chr) != 0)
		return hv_fail(err, HV_ECARD,
			       "the device certificate (file 2F02) is not a CV certificate: "
			       "this card cannot be identified");
	if (chr.len < 6 || chr.len >= sizeof(id->chr))
		return hv_fail(err, HV_ECARD,
			       "the device certificate's holder name has %zu characters: "
			       "this card cannot be identified", chr.len);
	for (size_t i = 0; i < chr.len; i++)
		if (chr.val[i] < 0x20 || chr.val[i] > 0x7E)
			return hv_fail(err, HV_ECARD,
				       "the device certificate's holder name is not printable: "
				       "this card cannot be identified");
	memcpy(id->chr, chr.val, chr.len);
	memcpy(id->serial, chr.val, chr.len - 5);
	SHA256(cert.raw, cert.raw_len, id->devcert_sha256);
	char h[17];
	hex_encode(id->devcert_sha256, 8, h, 0);
	snprintf(id->id, sizeof(id->id), "%s-%s", id->serial, h);
	return HV_OK;
}

int schsm_card_identity(schsm_card *c, schsm_identity *id, hv_err *err)
{
	bytebuf ef = { 0 };
	int exists;
	memset(id, 0, sizeof(*id));
	c->serial[0] = '\0';
	int rc = schsm_read_ef(c, SCHSM_EF_DEVAUT, &ef, &exists, err);
	if (rc == HV_OK && (!exists || ef.len == 0)) {
		/* pico-hsm answers READ BINARY of its empty 2F02 with no data
		 * (or 6A 82) until the first INITIALIZE creates the device key
		 * and certificate: blank, not broken. Only a card that never
		 * was initialized may lack its identity. */
		schsm_device_info dev;
		rc = schsm_device_status(c, &dev, err);
		if (rc == HV_OK && dev.state == SCHSM_DEV_UNINITIALIZED)
			id->no_identity = 1;
		else if (rc == HV_OK)
			rc = hv_fail(err, HV_ECARD,
				     "the card in reader %s is initialized but has no device "
				     "certificate (file 2F02 %s): it cannot be identified",
				     c->t->reader ? c->t->reader : "?", exists ? "is empty" : "is absent");
	} else if (rc == HV_OK) {
		rc = schsm_parse_devaut(ef.data, ef.len, id, err);
		if (rc == HV_OK)
			snprintf(c->serial, sizeof(c->serial), "%s", id->serial);
	}
	buf_free(&ef);
	return rc;
}
