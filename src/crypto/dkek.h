/* The Device Key Encryption Key: the XOR of its shares, and the values the
 * card derives from it (smartcard-hsm.md 4.1). */
#ifndef HV_CRYPTO_DKEK_H
#define HV_CRYPTO_DKEK_H

#include <stddef.h>
#include <stdint.h>

#define DKEK_LEN 32
#define DKEK_KCV_LEN 8

/* dkek = shares[0] ^ shares[1] ^ ... (32 zero bytes for n = 0). */
void dkek_combine(const uint8_t (*shares)[DKEK_LEN], size_t n, uint8_t dkek[DKEK_LEN]);

/* dkek ^= share: the card's import step. */
void dkek_add_share(uint8_t dkek[DKEK_LEN], const uint8_t share[DKEK_LEN]);

/* KCV = first 8 bytes of SHA-256(dkek). */
void dkek_kcv(const uint8_t dkek[DKEK_LEN], uint8_t kcv[DKEK_KCV_LEN]);

/* KENC = SHA-256(dkek || 00000001), KMAC = SHA-256(dkek || 00000002). */
void dkek_kenc(const uint8_t dkek[DKEK_LEN], uint8_t kenc[32]);
void dkek_kmac(const uint8_t dkek[DKEK_LEN], uint8_t kmac[32]);

#endif
