/* BER-TLV as the SmartCard-HSM uses it: tags of one to three bytes
 * (0x30, 0x5F29, 0x7F49), definite lengths of up to four bytes. Parsing
 * never reads past the buffer; every length is checked against what is left. */
#ifndef HV_UTIL_TLV_H
#define HV_UTIL_TLV_H

#include <stddef.h>
#include <stdint.h>

typedef struct tlv {
	uint32_t tag;        /* tag bytes as a big-endian number: 0x7F49 */
	int constructed;     /* bit 0x20 of the first tag byte */
	const uint8_t *val;  /* value, inside the parsed buffer */
	size_t len;          /* value length */
	const uint8_t *raw;  /* the whole TLV, tag to end of value */
	size_t raw_len;
} tlv;

/* Parses the TLV at buf[*off]; advances *off past it. 0, or -1 when the
 * encoding is malformed or runs past len. */
int tlv_next(const uint8_t *buf, size_t len, size_t *off, tlv *out);

/* First TLV with this tag among the concatenated TLVs in buf (not
 * recursive). 0 found, -1 absent or malformed. */
int tlv_find(const uint8_t *buf, size_t len, uint32_t tag, tlv *out);

/* Encodes tag and length into out (at least 8 bytes); returns its size. */
size_t tlv_header(uint8_t *out, uint32_t tag, size_t len);

#endif
