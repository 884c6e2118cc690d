#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

#include "util/secbuf.h"
#include "util/tlv.h"

static int grow(bytebuf *b, size_t more)
{
	if (b->failed)
		return -1;
	if (more > SIZE_MAX / 2 - b->len) {
		b->failed = 1;
		return -1;
	}
	if (b->len + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->len + more)
		cap *= 2;
	uint8_t *d = malloc(cap);
	if (!d) {
		b->failed = 1;
		return -1;
	}
	if (b->len)
		memcpy(d, b->data, b->len);
	if (b->data) {
		secure_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = d;
	b->cap = cap;
	return 0;
}

void buf_put(bytebuf *b, const void *data, size_t len)
{
	if (len == 0 || grow(b, len) != 0)
		return;
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

void buf_put_u8(bytebuf *b, uint8_t v)
{
	buf_put(b, &v, 1);
}

void buf_put_u16be(bytebuf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	buf_put(b, x, 2);
}

void buf_put_tlv(bytebuf *b, uint32_t tag, const void *val, size_t len)
{
	uint8_t h[8];
	buf_put(b, h, tlv_header(h, tag, len));
	buf_put(b, val, len);
}

void buf_put_lv(bytebuf *b, const void *val, size_t len)
{
	if (len > 0xFFFF) {
		b->failed = 1;
		return;
	}
	buf_put_u16be(b, (uint16_t)len);
	buf_put(b, val, len);
}

void buf_free(bytebuf *b)
{
	if (b->data) {
		secure_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}
