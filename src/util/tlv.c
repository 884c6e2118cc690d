#include "util/tlv.h"

int tlv_next(const uint8_t *buf, size_t len, size_t *off, tlv *out)
{
	size_t p = *off;
	if (p >= len)
		return -1;
	size_t start = p;
	uint8_t first = buf[p++];
	uint32_t tag = first;
	if ((first & 0x1F) == 0x1F) {
		/* Multi-byte tag: continuation bytes have bit 8 set; the
		 * card never uses more than three tag bytes. */
		int n = 0;
		do {
			if (p >= len || ++n > 2)
				return -1;
			tag = tag << 8 | buf[p];
		} while (buf[p++] & 0x80);
	}
	if (p >= len)
		return -1;
	size_t l = buf[p++];
	if (l & 0x80) {
		size_t nb = l & 0x7F;
		if (nb == 0 || nb > 4 || nb > len - p)
			return -1; /* indefinite or oversized length */
		l = 0;
		while (nb--)
			l = l << 8 | buf[p++];
	}
	if (l > len - p)
		return -1;
	out->tag = tag;
	out->constructed = (first & 0x20) != 0;
	out->val = buf + p;
	out->len = l;
	out->raw = buf + start;
	out->raw_len = p + l - start;
	*off = p + l;
	return 0;
}

int tlv_find(const uint8_t *buf, size_t len, uint32_t tag, tlv *out)
{
	size_t off = 0;
	tlv t;
	while (off < len) {
		if (tlv_next(buf, len, &off, &t) != 0)
			return -1;
		if (t.tag == tag) {
			*out = t;
			return 0;
		}
	}
	return -1;
}

size_t tlv_header(uint8_t *out, uint32_t tag, size_t len)
{
	size_t n = 0;
	if (tag > 0xFFFF)
		out[n++] = (uint8_t)(tag >> 16);
	if (tag > 0xFF)
		out[n++] = (uint8_t)(tag >> 8);
	out[n++] = (uint8_t)tag;
	if (len < 0x80) {
		out[n++] = (uint8_t)len;
	} else if (len <= 0xFF) {
		out[n++] = 0x81;
		out[n++] = (uint8_t)len;
	} else if (len <= 0xFFFF) {
		out[n++] = 0x82;
		out[n++] = (uint8_t)(len >> 8);
		out[n++] = (uint8_t)len;
	} else if (len <= 0xFFFFFF) {
		out[n++] = 0x83;
		out[n++] = (uint8_t)(len >> 16);
		out[n++] = (uint8_t)(len >> 8);
		out[n++] = (uint8_t)len;
	} else {
		/* four length bytes, the most tlv_next accepts */
		out[n++] = 0x84;
		out[n++] = (uint8_t)(len >> 24);
		out[n++] = (uint8_t)(len >> 16);
		out[n++] = (uint8_t)(len >> 8);
		out[n++] = (uint8_t)len;
	}
	return n;
}
