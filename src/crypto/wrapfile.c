#include "crypto/wrapfile.h"

#include "util/tlv.h"

static int bad(hv_err *err, const char *what)
{
	return hv_fail(err, HV_EUSAGE,
		       "wrapped-key file is not in sc-hsm-tool's format: %s", what);
}

int wrapfile_parse(const uint8_t *data, size_t len, wrapfile *out, hv_err *err)
{
	*out = (wrapfile){ 0 };
	size_t off = 0;
	tlv seq, t;
	if (!data || tlv_next(data, len, &off, &seq) != 0)
		return bad(err, "the outer SEQUENCE is truncated or its length is wrong");
	if (seq.tag != 0x30 || !seq.constructed)
		return bad(err, "it does not start with a SEQUENCE");
	if (off != len)
		return bad(err, "bytes follow the SEQUENCE (the file was altered)");
	size_t in = 0;
	if (tlv_next(seq.val, seq.len, &in, &t) != 0 || t.tag != 0x04 || t.constructed)
		return bad(err, "the first element is not an OCTET STRING holding the key blob");
	if (t.len == 0)
		return bad(err, "the key blob is empty");
	out->blob = t.val;
	out->blob_len = t.len;
	for (int i = 0; i < 2 && in < seq.len; i++) {
		if (tlv_next(seq.val, seq.len, &in, &t) != 0)
			return bad(err, i == 0 ? "the key description is truncated"
					       : "the certificate is truncated");
		if (i == 0) {
			out->prkd = t.raw;
			out->prkd_len = t.raw_len;
		} else {
			out->cert = t.raw;
			out->cert_len = t.raw_len;
		}
	}
	if (in != seq.len)
		return bad(err, "more than three elements in the SEQUENCE");
	return 0;
}

static int one_tlv(const uint8_t *p, size_t len)
{
	size_t off = 0;
	tlv t;
	return tlv_next(p, len, &off, &t) == 0 && off == len;
}

int wrapfile_build(const uint8_t *blob, size_t blob_len,
		   const uint8_t *prkd, size_t prkd_len,
		   const uint8_t *cert, size_t cert_len,
		   bytebuf *out, hv_err *err)
{
	if (!blob || blob_len == 0)
		return hv_fail(err, HV_EINTERNAL, "no key blob to write");
	if (cert && !prkd)
		return hv_fail(err, HV_EUSAGE,
			       "a wrapped-key file with a certificate needs the key description "
			       "too (sc-hsm-tool reads the elements by position)");
	if ((prkd && !one_tlv(prkd, prkd_len)) || (cert && !one_tlv(cert, cert_len)))
		return hv_fail(err, HV_EUSAGE,
			       "key description or certificate is not one well-formed TLV");
	uint8_t h[8];
	size_t hl = tlv_header(h, 0x04, blob_len);
	size_t body = hl + blob_len + (prkd ? prkd_len : 0) + (cert ? cert_len : 0);
	uint8_t o[8];
	buf_put(out, o, tlv_header(o, 0x30, body));
	buf_put(out, h, hl);
	buf_put(out, blob, blob_len);
	if (prkd)
		buf_put(out, prkd, prkd_len);
	if (cert)
		buf_put(out, cert, cert_len);
	if (out->failed)
		return hv_fail(err, HV_ENOMEM, "out of memory building a wrapped-key file");
	return 0;
}
