#include "crypto/md5.h"

#include <string.h>

#include "util/secbuf.h"

/* RFC 1321 round functions, in forms that need one operation fewer. */
#define F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define G(x, y, z) ((y) ^ ((z) & ((x) ^ (y))))
#define H(x, y, z) ((x) ^ (y) ^ (z))
#define I(x, y, z) ((y) ^ ((x) | ~(z)))
#define ROTL(v, s) (((v) << (s)) | ((v) >> (32 - (s))))
/* The message word and the sine constant come in already added (and a
 * zero message word not at all): the iterated form's padding is constant. */
#define STEP(f, a, b, c, d, mt, s) \
	do { \
		(a) += f((b), (c), (d)) + (mt); \
		(a) = ROTL((a), (s)); \
		(a) += (b); \
	} while (0)

static const uint32_t md5_iv[4] = { 0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u };

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void compress(uint32_t h[4], const uint8_t blk[64])
{
	uint32_t x[16];
	for (int i = 0; i < 16; i++)
		x[i] = le32(blk + 4 * i);
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
	STEP(F, a, b, c, d, x[0] + 0xd76aa478u, 7);
	STEP(F, d, a, b, c, x[1] + 0xe8c7b756u, 12);
	STEP(F, c, d, a, b, x[2] + 0x242070dbu, 17);
	STEP(F, b, c, d, a, x[3] + 0xc1bdceeeu, 22);
	STEP(F, a, b, c, d, x[4] + 0xf57c0fafu, 7);
	STEP(F, d, a, b, c, x[5] + 0x4787c62au, 12);
	STEP(F, c, d, a, b, x[6] + 0xa8304613u, 17);
	STEP(F, b, c, d, a, x[7] + 0xfd469501u, 22);
	STEP(F, a, b, c, d, x[8] + 0x698098d8u, 7);
	STEP(F, d, a, b, c, x[9] + 0x8b44f7afu, 12);
	STEP(F, c, d, a, b, x[10] + 0xffff5bb1u, 17);
	STEP(F, b, c, d, a, x[11] + 0x895cd7beu, 22);
	STEP(F, a, b, c, d, x[12] + 0x6b901122u, 7);
	STEP(F, d, a, b, c, x[13] + 0xfd987193u, 12);
	STEP(F, c, d, a, b, x[14] + 0xa679438eu, 17);
	STEP(F, b, c, d, a, x[15] + 0x49b40821u, 22);
	STEP(G, a, b, c, d, x[1] + 0xf61e2562u, 5);
	STEP(G, d, a, b, c, x[6] + 0xc040b340u, 9);
	STEP(G, c, d, a, b, x[11] + 0x265e5a51u, 14);
	STEP(G, b, c, d, a, x[0] + 0xe9b6c7aau, 20);
	STEP(G, a, b, c, d, x[5] + 0xd62f105du, 5);
	STEP(G, d, a, b, c, x[10] + 0x02441453u, 9);
	STEP(G, c, d, a, b, x[15] + 0xd8a1e681u, 14);
	STEP(G, b, c, d, a, x[4] + 0xe7d3fbc8u, 20);
	STEP(G, a, b, c, d, x[9] + 0x21e1cde6u, 5);
	STEP(G, d, a, b, c, x[14] + 0xc33707d6u, 9);
	STEP(G, c, d, a, b, x[3] + 0xf4d50d87u, 14);
	STEP(G, b, c, d, a, x[8] + 0x455a14edu, 20);
	STEP(G, a, b, c, d, x[13] + 0xa9e3e905u, 5);
	STEP(G, d, a, b, c, x[2] + 0xfcefa3f8u, 9);
	STEP(G, c, d, a, b, x[7] + 0x676f02d9u, 14);
	STEP(G, b, c, d, a, x[12] + 0x8d2a4c8au, 20);
	STEP(H, a, b, c, d, x[5] + 0xfffa3942u, 4);
	STEP(H, d, a, b, c, x[8] + 0x8771f681u, 11);
	STEP(H, c, d, a, b, x[11] + 0x6d9d6122u, 16);
	STEP(H, b, c, d, a, x[14] + 0xfde5380cu, 23);
	STEP(H, a, b, c, d, x[1] + 0xa4beea44u, 4);
	STEP(H, d, a, b, c, x[4] + 0x4bdecfa9u, 11);
	STEP(H, c, d, a, b, x[7] + 0xf6bb4b60u, 16);
	STEP(H, b, c, d, a, x[10] + 0xbebfbc70u, 23);
	STEP(H, a, b, c, d, x[13] + 0x289b7ec6u, 4);
	STEP(H, d, a, b, c, x[0] + 0xeaa127fau, 11);
	STEP(H, c, d, a, b, x[3] + 0xd4ef3085u, 16);
	STEP(H, b, c, d, a, x[6] + 0x04881d05u, 23);
	STEP(H, a, b, c, d, x[9] + 0xd9d4d039u, 4);
	STEP(H, d, a, b, c, x[12] + 0xe6db99e5u, 11);
	STEP(H, c, d, a, b, x[15] + 0x1fa27cf8u, 16);
	STEP(H, b, c, d, a, x[2] + 0xc4ac5665u, 23);
	STEP(I, a, b, c, d, x[0] + 0xf4292244u, 6);
	STEP(I, d, a, b, c, x[7] + 0x432aff97u, 10);
	STEP(I, c, d, a, b, x[14] + 0xab9423a7u, 15);
	STEP(I, b, c, d, a, x[5] + 0xfc93a039u, 21);
	STEP(I, a, b, c, d, x[12] + 0x655b59c3u, 6);
	STEP(I, d, a, b, c, x[3] + 0x8f0ccc92u, 10);
	STEP(I, c, d, a, b, x[10] + 0xffeff47du, 15);
	STEP(I, b, c, d, a, x[1] + 0x85845dd1u, 21);
	STEP(I, a, b, c, d, x[8] + 0x6fa87e4fu, 6);
	STEP(I, d, a, b, c, x[15] + 0xfe2ce6e0u, 10);
	STEP(I, c, d, a, b, x[6] + 0xa3014314u, 15);
	STEP(I, b, c, d, a, x[13] + 0x4e0811a1u, 21);
	STEP(I, a, b, c, d, x[4] + 0xf7537e82u, 6);
	STEP(I, d, a, b, c, x[11] + 0xbd3af235u, 10);
	STEP(I, c, d, a, b, x[2] + 0x2ad7d2bbu, 15);
	STEP(I, b, c, d, a, x[9] + 0xeb86d391u, 21);
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	secure_wipe(x, sizeof x);
}

void md5_init(md5_ctx *c)
{
	memcpy(c->h, md5_iv, sizeof c->h);
	c->total = 0;
	c->fill = 0;
}

void md5_update(md5_ctx *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	c->total += len;
	while (len) {
		size_t n = 64 - c->fill;
		if (n > len)
			n = len;
		memcpy(c->block + c->fill, p, n);
		c->fill += n;
		p += n;
		len -= n;
		if (c->fill == 64) {
			compress(c->h, c->block);
			c->fill = 0;
		}
	}
}

void md5_final(md5_ctx *c, uint8_t out[MD5_LEN])
{
	uint64_t bits = c->total * 8;
	uint8_t pad = 0x80;
	md5_update(c, &pad, 1);
	pad = 0;
	while (c->fill != 56)
		md5_update(c, &pad, 1);
	uint8_t len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (8 * i));
	md5_update(c, len, 8);
	for (int i = 0; i < 4; i++)
		put_le32(out + 4 * i, c->h[i]);
	secure_wipe(c, sizeof *c);
}

/* The message words of MD5(16-byte digest) are the previous state words
 * themselves (both little-endian), then 0x80, zeros, and the bit length
 * 128 in word 14. */
void md5_iterate16(uint8_t digest[MD5_LEN], uint64_t n)
{
	uint32_t x0 = le32(digest), x1 = le32(digest + 4), x2 = le32(digest + 8),
		 x3 = le32(digest + 12);
	while (n--) {
		uint32_t a = md5_iv[0], b = md5_iv[1], c = md5_iv[2], d = md5_iv[3];
		STEP(F, a, b, c, d, x0 + 0xd76aa478u, 7);
		STEP(F, d, a, b, c, x1 + 0xe8c7b756u, 12);
		STEP(F, c, d, a, b, x2 + 0x242070dbu, 17);
		STEP(F, b, c, d, a, x3 + 0xc1bdceeeu, 22);
		STEP(F, a, b, c, d, 0x80u + 0xf57c0fafu, 7);
		STEP(F, d, a, b, c, 0x4787c62au, 12);
		STEP(F, c, d, a, b, 0xa8304613u, 17);
		STEP(F, b, c, d, a, 0xfd469501u, 22);
		STEP(F, a, b, c, d, 0x698098d8u, 7);
		STEP(F, d, a, b, c, 0x8b44f7afu, 12);
		STEP(F, c, d, a, b, 0xffff5bb1u, 17);
		STEP(F, b, c, d, a, 0x895cd7beu, 22);
		STEP(F, a, b, c, d, 0x6b901122u, 7);
		STEP(F, d, a, b, c, 0xfd987193u, 12);
		STEP(F, c, d, a, b, 128u + 0xa679438eu, 17);
		STEP(F, b, c, d, a, 0x49b40821u, 22);
		STEP(G, a, b, c, d, x1 + 0xf61e2562u, 5);
		STEP(G, d, a, b, c, 0xc040b340u, 9);
		STEP(G, c, d, a, b, 0x265e5a51u, 14);
		STEP(G, b, c, d, a, x0 + 0xe9b6c7aau, 20);
		STEP(G, a, b, c, d, 0xd62f105du, 5);
		STEP(G, d, a, b, c, 0x02441453u, 9);
		STEP(G, c, d, a, b, 0xd8a1e681u, 14);
		STEP(G, b, c, d, a, 0x80u + 0xe7d3fbc8u, 20);
		STEP(G, a, b, c, d, 0x21e1cde6u, 5);
		STEP(G, d, a, b, c, 128u + 0xc33707d6u, 9);
		STEP(G, c, d, a, b, x3 + 0xf4d50d87u, 14);
		STEP(G, b, c, d, a, 0x455a14edu, 20);
		STEP(G, a, b, c, d, 0xa9e3e905u, 5);
		STEP(G, d, a, b, c, x2 + 0xfcefa3f8u, 9);
		STEP(G, c, d, a, b, 0x676f02d9u, 14);
		STEP(G, b, c, d, a, 0x8d2a4c8au, 20);
		STEP(H, a, b, c, d, 0xfffa3942u, 4);
		STEP(H, d, a, b, c, 0x8771f681u, 11);
		STEP(H, c, d, a, b, 0x6d9d6122u, 16);
		STEP(H, b, c, d, a, 128u + 0xfde5380cu, 23);
		STEP(H, a, b, c, d, x1 + 0xa4beea44u, 4);
		STEP(H, d, a, b, c, 0x80u + 0x4bdecfa9u, 11);
		STEP(H, c, d, a, b, 0xf6bb4b60u, 16);
		STEP(H, b, c, d, a, 0xbebfbc70u, 23);
		STEP(H, a, b, c, d, 0x289b7ec6u, 4);
		STEP(H, d, a, b, c, x0 + 0xeaa127fau, 11);
		STEP(H, c, d, a, b, x3 + 0xd4ef3085u, 16);
		STEP(H, b, c, d, a, 0x04881d05u, 23);
		STEP(H, a, b, c, d, 0xd9d4d039u, 4);
		STEP(H, d, a, b, c, 0xe6db99e5u, 11);
		STEP(H, c, d, a, b, 0x1fa27cf8u, 16);
		STEP(H, b, c, d, a, x2 + 0xc4ac5665u, 23);
		STEP(I, a, b, c, d, x0 + 0xf4292244u, 6);
		STEP(I, d, a, b, c, 0x432aff97u, 10);
		STEP(I, c, d, a, b, 128u + 0xab9423a7u, 15);
		STEP(I, b, c, d, a, 0xfc93a039u, 21);
		STEP(I, a, b, c, d, 0x655b59c3u, 6);
		STEP(I, d, a, b, c, x3 + 0x8f0ccc92u, 10);
		STEP(I, c, d, a, b, 0xffeff47du, 15);
		STEP(I, b, c, d, a, x1 + 0x85845dd1u, 21);
		STEP(I, a, b, c, d, 0x6fa87e4fu, 6);
		STEP(I, d, a, b, c, 0xfe2ce6e0u, 10);
		STEP(I, c, d, a, b, 0xa3014314u, 15);
		STEP(I, b, c, d, a, 0x4e0811a1u, 21);
		STEP(I, a, b, c, d, 0x80u + 0xf7537e82u, 6);
		STEP(I, d, a, b, c, 0xbd3af235u, 10);
		STEP(I, c, d, a, b, x2 + 0x2ad7d2bbu, 15);
		STEP(I, b, c, d, a, 0xeb86d391u, 21);
		x0 = a + md5_iv[0];
		x1 = b + md5_iv[1];
		x2 = c + md5_iv[2];
		x3 = d + md5_iv[3];
	}
	put_le32(digest, x0);
	put_le32(digest + 4, x1);
	put_le32(digest + 8, x2);
	put_le32(digest + 12, x3);
}
