#include "crypto/dkek.h"

#include <string.h>

#include <openssl/sha.h>

#include "util/secbuf.h"

void dkek_combine(const uint8_t (*shares)[DKEK_LEN], size_t n, uint8_t dkek[DKEK_LEN])
{
	memset(dkek, 0, DKEK_LEN);
	for (size_t i = 0; i < n; i++)
		dkek_add_share(dkek, shares[i]);
}

void dkek_add_share(uint8_t dkek[DKEK_LEN], const uint8_t share[DKEK_LEN])
{
	for (size_t i = 0; i < DKEK_LEN; i++)
		dkek[i] ^= share[i];
}

void dkek_kcv(const uint8_t dkek[DKEK_LEN], uint8_t kcv[DKEK_KCV_LEN])
{
	uint8_t h[SHA256_DIGEST_LENGTH];
	SHA256(dkek, DKEK_LEN, h);
	memcpy(kcv, h, DKEK_KCV_LEN);
	secure_wipe(h, sizeof h);
}

/* KENC and KMAC differ only in the 32-bit counter appended to the DKEK. */
static void derive(const uint8_t dkek[DKEK_LEN], uint8_t counter, uint8_t out[32])
{
	uint8_t in[DKEK_LEN + 4];
	memcpy(in, dkek, DKEK_LEN);
	in[DKEK_LEN] = 0;
	in[DKEK_LEN + 1] = 0;
	in[DKEK_LEN + 2] = 0;
	in[DKEK_LEN + 3] = counter;
	SHA256(in, sizeof in, out);
	secure_wipe(in, sizeof in);
}

void dkek_kenc(const uint8_t dkek[DKEK_LEN], uint8_t kenc[32])
{
	derive(dkek, 1, kenc);
}

void dkek_kmac(const uint8_t dkek[DKEK_LEN], uint8_t kmac[32])
{
	derive(dkek, 2, kmac);
}
