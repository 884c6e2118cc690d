#include "crypto/prkd.h"

#include <string.h>

#include "util/tlv.h"

/* 1 found, 0 absent, -1 malformed: the children of a constructed value. */
static int find_child(const uint8_t *val, size_t len, uint32_t tag, tlv *out)
{
	size_t off = 0;
	tlv t;
	while (off < len) {
		if (tlv_next(val, len, &off, &t) != 0)
			return -1;
		if (t.tag == tag) {
			*out = t;
			return 1;
		}
	}
	return 0;
}

/* Unsigned reading of a small INTEGER (tolerates encoders that omit the
 * sign byte for values >= 128). */
static int small_uint(const tlv *t, unsigned long max, unsigned long *v)
{
	size_t i = 0;
	while (i + 1 < t->len && t->val[i] == 0)
		i++;
	if (t->len == 0 || t->len - i > 4)
		return -1;
	unsigned long x = 0;
	for (; i < t->len; i++)
		x = x << 8 | t->val[i];
	if (x > max)
		return -1;
	*v = x;
	return 0;
}

static int malformed(hv_err *err, const char *what)
{
	return hv_fail(err, HV_EUSAGE,
		       "key description (PRKD) is malformed: %s; rewrite it from the card "
		       "or the wrapped-key file", what);
}

/* INTEGER in A1/A0 { 30 { ... 02 bits } }: the first INTEGER of the inner
 * SEQUENCE. */
static int bits_in(const tlv *attr, unsigned *bits)
{
	tlv seq, n;
	int r = find_child(attr->val, attr->len, 0x30, &seq);
	if (r <= 0)
		return r;
	r = find_child(seq.val, seq.len, 0x02, &n);
	if (r <= 0)
		return r;
	unsigned long v;
	if (small_uint(&n, 1u << 20, &v) != 0)
		return -1;
	*bits = (unsigned)v;
	return 1;
}

int prkd_parse(const uint8_t *der, size_t len, prkd_info *out, hv_err *err)
{
	memset(out, 0, sizeof *out);
	out->key_ref = -1;
	size_t off = 0;
	tlv top;
	if (!der || tlv_next(der, len, &off, &top) != 0)
		return malformed(err, "not one complete TLV");
	if ((top.tag != PRKD_RSA && top.tag != PRKD_EC && top.tag != PRKD_AES) ||
	    !top.constructed)
		return hv_fail(err, HV_EUSAGE,
			       "key description has tag %02X, not RSA (30), EC (A0) or AES (A8): "
			       "not a SmartCard-HSM key description", (unsigned)top.tag);
	out->kind = (int)top.tag;

	tlv common[2], cls = { 0 }, type = { 0 }, t;
	int ncommon = 0, have_cls = 0, have_type = 0;
	off = 0;
	while (off < top.len) {
		if (tlv_next(top.val, top.len, &off, &t) != 0)
			return malformed(err, "an element runs past its end");
		if (t.tag == 0x30 && ncommon < 2)
			common[ncommon++] = t;
		else if (t.tag == 0xA0 && !have_cls)
			cls = t, have_cls = 1;
		else if (t.tag == 0xA1 && !have_type)
			type = t, have_type = 1;
	}
	if (ncommon < 1)
		return malformed(err, "no common object attributes");

	int r = find_child(common[0].val, common[0].len, 0x0C, &t);
	if (r < 0)
		return malformed(err, "bad label encoding");
	if (r > 0) {
		if (t.len > PRKD_LABEL_MAX)
			return hv_fail(err, HV_EUSAGE,
				       "key label is %zu bytes; hsmvault handles at most %d",
				       t.len, PRKD_LABEL_MAX);
		if (memchr(t.val, 0, t.len))
			return malformed(err, "label contains a NUL byte");
		memcpy(out->label, t.val, t.len);
		out->label[t.len] = '\0';
	}

	if (ncommon == 2) {
		r = find_child(common[1].val, common[1].len, 0x04, &t);
		if (r < 0)
			return malformed(err, "bad key attributes");
		if (r > 0) {
			if (t.len > PRKD_ID_MAX)
				return hv_fail(err, HV_EUSAGE,
					       "key ID is %zu bytes; at most %d are allowed",
					       t.len, PRKD_ID_MAX);
			memcpy(out->id, t.val, t.len);
			out->id_len = t.len;
		}
		r = find_child(common[1].val, common[1].len, 0x02, &t);
		if (r < 0)
			return malformed(err, "bad key attributes");
		if (r > 0) {
			unsigned long v;
			if (small_uint(&t, 0xFFFF, &v) != 0)
				return malformed(err, "key reference out of range");
			out->key_ref = (int)v;
		}
	}

	/* Key size: AES keeps it in the class attributes, RSA/EC in the type
	 * attributes; accept either place for any kind. */
	const tlv *first = out->kind == PRKD_AES ? &cls : &type;
	const tlv *second = out->kind == PRKD_AES ? &type : &cls;
	int have_first = out->kind == PRKD_AES ? have_cls : have_type;
	int have_second = out->kind == PRKD_AES ? have_type : have_cls;
	r = have_first ? bits_in(first, &out->key_bits) : 0;
	if (r == 0 && have_second)
		r = bits_in(second, &out->key_bits);
	if (r < 0)
		return malformed(err, "bad key size");
	return 0;
}

static void put_uint(bytebuf *b, unsigned long v)
{
	uint8_t x[6];
	size_t n = 0;
	uint8_t tmp[5];
	size_t k = 0;
	do {
		tmp[k++] = (uint8_t)v;
		v >>= 8;
	} while (v);
	if (tmp[k - 1] & 0x80)
		x[n++] = 0; /* keep it positive */
	while (k)
		x[n++] = tmp[--k];
	buf_put_tlv(b, 0x02, x, n);
}

int prkd_encode(const prkd_info *in, bytebuf *out, hv_err *err)
{
	static const uint8_t use_rsa[] = { 0x02, 0x74 };
	static const uint8_t use_ec[] = { 0x07, 0x20, 0x80 };
	static const uint8_t use_aes[] = { 0x07, 0xC0, 0x10 };
	static const uint8_t empty_path[] = { 0x30, 0x02, 0x04, 0x00 };
	const uint8_t *use;
	size_t use_len;
	switch (in->kind) {
	case PRKD_RSA: use = use_rsa; use_len = sizeof use_rsa; break;
	case PRKD_EC: use = use_ec; use_len = sizeof use_ec; break;
	case PRKD_AES: use = use_aes; use_len = sizeof use_aes; break;
	default:
		return hv_fail(err, HV_EINTERNAL, "unknown key description kind %d", in->kind);
	}
	size_t label_len = strnlen(in->label, sizeof in->label);
	if (label_len > PRKD_LABEL_MAX || in->id_len > PRKD_ID_MAX || in->key_ref > 0xFFFF)
		return hv_fail(err, HV_EUSAGE,
			       "key label, ID or reference too long for a key description");

	bytebuf obj = { 0 }, key = { 0 }, attr = { 0 }, inner = { 0 }, body = { 0 };
	buf_put_tlv(&obj, 0x0C, in->label, label_len);
	buf_put_tlv(&key, 0x04, in->id, in->id_len);
	buf_put_tlv(&key, 0x03, use, use_len);
	if (in->key_ref >= 0)
		put_uint(&key, (unsigned long)in->key_ref);
	buf_put_tlv(&body, 0x30, obj.data, obj.len);
	buf_put_tlv(&body, 0x30, key.data, key.len);
	if (in->kind == PRKD_AES) {
		put_uint(&inner, in->key_bits);
		buf_put_tlv(&attr, 0x30, inner.data, inner.len);
		buf_put_tlv(&body, 0xA0, attr.data, attr.len);
		attr.len = 0;
		inner.len = 0;
		buf_put(&inner, empty_path, sizeof empty_path);
	} else {
		buf_put(&inner, empty_path, sizeof empty_path);
		put_uint(&inner, in->key_bits);
	}
	buf_put_tlv(&attr, 0x30, inner.data, inner.len);
	buf_put_tlv(&body, 0xA1, attr.data, attr.len);
	int failed = obj.failed || key.failed || attr.failed || inner.failed || body.failed;
	if (!failed)
		buf_put_tlv(out, (uint32_t)in->kind, body.data, body.len);
	buf_free(&obj);
	buf_free(&key);
	buf_free(&attr);
	buf_free(&inner);
	buf_free(&body);
	if (failed || out->failed)
		return hv_fail(err, HV_ENOMEM, "out of memory encoding a key description");
	return 0;
}
