/* sc-hsm-tool's n-of-m password shares (smartcard-hsm.md 8.2): the 8-byte
 * binary password of a DKEK share file is split with Shamir's scheme over
 * a 64-bit safe prime p; each custodian gets (p, id, value). hsmvault
 * creates shares the tool can import and imports shares the tool made.
 *
 * Two faults of the tool are fixed here, compatibly:
 *  - The tool PRINTS share IDs in decimal but READS them as hexadecimal.
 *    IDs 1..9 are the same either way; from 10 on they differ: ID 10 must
 *    be typed into sc-hsm-tool as "a", 16 as "10", 17 as "11". hsmvault
 *    reads IDs in decimal, exactly as printed (nofm_parse_id).
 *  - The tool turns the reconstructed number into its minimal big-endian
 *    bytes, so a password whose first byte is 00 (1 in 128) comes back as
 *    7 bytes and the import fails. nofm_combine always returns 8 bytes. */
#ifndef HV_CRYPTO_NOFM_H
#define HV_CRYPTO_NOFM_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define NOFM_SECRET_LEN 8
#define NOFM_MAX_SHARES 255
/* "xx:" x 8 without the last ':' plus NUL */
#define NOFM_HEX_MAX 24

typedef struct nofm_share {
	unsigned id;     /* x: 1..NOFM_MAX_SHARES */
	uint64_t value;  /* f(x) mod p: secret to its holder */
} nofm_share;

/* 8 random bytes with the top bit cleared (secret < 2^63, as the tool) and
 * a first byte that is never 00, so sc-hsm-tool alone can rebuild it. */
int nofm_new_password(uint8_t pw[NOFM_SECRET_LEN], hv_err *err);

/* Splits secret (big-endian, top bit clear) into shares x = 1..total, any
 * threshold of which rebuild it. Generates a 64-bit safe prime with the
 * top two bits set (BN_generate_prime_ex(64, safe), like the tool) and
 * random coefficients in [0, p). 2 <= threshold <= total <= 255 (the tool
 * itself only creates total >= 3). shares has room for total entries. */
int nofm_split(const uint8_t secret[NOFM_SECRET_LEN], unsigned threshold,
	       unsigned total, uint64_t *prime, nofm_share *shares, hv_err *err);

/* The same with a given prime and threshold-1 coefficients (tests, V5). */
int nofm_split_with(const uint8_t secret[NOFM_SECRET_LEN], uint64_t prime,
		    const uint64_t *coeffs, unsigned threshold, unsigned total,
		    nofm_share *shares, hv_err *err);

/* Lagrange interpolation at 0 mod prime over k >= 2 shares; secret is
 * always 8 bytes, left-padded with zeros. Refused: fewer than 2 shares,
 * a prime that is not 64 bits (top bit clear) or not prime, ID 0, an ID
 * >= p, duplicate IDs, a value >= p (HV_EUSAGE: a typing mistake), and a
 * result >= 2^63, which no share set made by the tool can give
 * (HV_ESECRET: the shares do not belong together or one was mistyped).
 * With fewer shares than the threshold the result is simply wrong: the
 * share file's padding check reports it. */
int nofm_combine(uint64_t prime, const nofm_share *shares, size_t k,
		 uint8_t secret[NOFM_SECRET_LEN], hv_err *err);

/* A share ID as sc-hsm-tool prints it: decimal, 1..255. Hex letters are
 * refused with a message explaining the tool's decimal/hex mix-up. */
int nofm_parse_id(const char *text, unsigned *id, hv_err *err);

/* A prime or share value as printed ("dc:7f:0c:87:a6:bc:be:3b") or typed
 * ("dc7f0c87a6bcbe3b", blanks or ':' between digits allowed): at most 16
 * significant hex digits. what names the field in the error message. */
int nofm_parse_hex(const char *text, const char *what, uint64_t *value, hv_err *err);

/* The tool's screen format: minimal big-endian bytes, lowercase hex,
 * joined by ':' ("00" for zero). */
void nofm_format_hex(uint64_t value, char out[NOFM_HEX_MAX]);

#endif
