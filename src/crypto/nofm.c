#include "crypto/nofm.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/rand.h>

#include "util/secbuf.h"

#define TOP_BIT (UINT64_C(1) << 63)
#define TOP_TWO (UINT64_C(3) << 62)

typedef unsigned __int128 u128;

static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t p)
{
	return (uint64_t)((u128)a * b % p);
}

static uint64_t addmod(uint64_t a, uint64_t b, uint64_t p)
{
	return (uint64_t)(((u128)a + b) % p);
}

static uint64_t submod(uint64_t a, uint64_t b, uint64_t p)
{
	return a >= b ? a - b : (uint64_t)((u128)a + p - b);
}

/* a^(p-2): the inverse, p being prime. */
static uint64_t invmod(uint64_t a, uint64_t p)
{
	uint64_t r = 1, e = p - 2;
	while (e) {
		if (e & 1)
			r = mulmod(r, a, p);
		a = mulmod(a, a, p);
		e >>= 1;
	}
	return r;
}

static uint64_t be64(const uint8_t b[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static void put_be64(uint8_t b[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		b[i] = (uint8_t)v;
		v >>= 8;
	}
}

static int random_u64(uint64_t *v)
{
	uint8_t b[8];
	if (RAND_bytes(b, sizeof b) != 1)
		return -1;
	*v = be64(b);
	secure_wipe(b, sizeof b);
	return 0;
}

int nofm_new_password(uint8_t pw[NOFM_SECRET_LEN], hv_err *err)
{
	/* sc-hsm-tool rebuilds the password as a minimal big-endian number:
	 * a leading 00 byte would be lost and the share could not be imported
	 * by hand. Drawing again costs 1/128 of the first byte's values. */
	do {
		if (RAND_bytes(pw, NOFM_SECRET_LEN) != 1)
			return hv_fail(err, HV_EINTERNAL, "the random number generator failed");
		pw[0] &= 0x7F;
	} while (pw[0] == 0);
	return 0;
}

static int check_counts(unsigned threshold, unsigned total, hv_err *err)
{
	if (threshold < 2 || threshold > total || total > NOFM_MAX_SHARES)
		return hv_fail(err, HV_EUSAGE,
			       "a %u-of-%u password split is impossible: need 2 <= threshold "
			       "<= holders <= %d", threshold, total, NOFM_MAX_SHARES);
	return 0;
}

/* What both splits refuse; *s is the secret as a number (the caller wipes it). */
static int check_split(const uint8_t secret[NOFM_SECRET_LEN], unsigned threshold,
		       unsigned total, uint64_t *s, hv_err *err)
{
	int rc = check_counts(threshold, total, err);
	if (rc)
		return rc;
	*s = be64(secret);
	if (*s & TOP_BIT) {
		secure_wipe(s, sizeof *s);
		return hv_fail(err, HV_EUSAGE,
			       "the password to split must be below 2^63 (first byte < 80)");
	}
	return 0;
}

int nofm_split_with(const uint8_t secret[NOFM_SECRET_LEN], uint64_t prime,
		    const uint64_t *coeffs, unsigned threshold, unsigned total,
		    nofm_share *shares, hv_err *err)
{
	uint64_t s;
	int rc = check_split(secret, threshold, total, &s, err);
	if (rc)
		return rc;
	if ((prime & TOP_BIT) == 0 || s >= prime)
		return hv_fail(err, HV_EINTERNAL, "the prime must be 64 bits and above the secret");
	for (unsigned i = 0; i + 1 < threshold; i++)
		if (coeffs[i] >= prime)
			return hv_fail(err, HV_EINTERNAL, "a coefficient is not below the prime");
	for (unsigned x = 1; x <= total; x++) {
		/* Horner: f(x) = s + x(a1 + x(a2 + ...)) */
		uint64_t y = 0;
		for (unsigned i = threshold - 1; i >= 1; i--)
			y = addmod(mulmod(y, x, prime), coeffs[i - 1], prime);
		y = addmod(mulmod(y, x, prime), s, prime);
		shares[x - 1].id = x;
		shares[x - 1].value = y;
	}
	secure_wipe(&s, sizeof s);
	return 0;
}

int nofm_split(const uint8_t secret[NOFM_SECRET_LEN], unsigned threshold,
	       unsigned total, uint64_t *prime, nofm_share *shares, hv_err *err)
{
	uint64_t s;
	int rc = check_split(secret, threshold, total, &s, err);
	if (rc)
		return rc;
	BIGNUM *bp = BN_new();
	uint64_t p = 0;
	if (!bp)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	/* OpenSSL sets the top two bits itself; check rather than trust. */
	do {
		uint8_t b[8];
		if (BN_generate_prime_ex(bp, 64, 1, NULL, NULL, NULL) != 1 ||
		    BN_num_bytes(bp) != 8 || BN_bn2binpad(bp, b, 8) != 8) {
			BN_free(bp);
			return hv_fail(err, HV_EINTERNAL, "generating a 64-bit safe prime failed");
		}
		p = be64(b);
	} while ((p & TOP_TWO) != TOP_TWO || p <= s);
	BN_free(bp);

	uint64_t coeffs[NOFM_MAX_SHARES];
	for (unsigned i = 0; i + 1 < threshold; i++) {
		do {
			if (random_u64(&coeffs[i]) != 0) {
				secure_wipe(coeffs, sizeof coeffs);
				return hv_fail(err, HV_EINTERNAL,
					       "the random number generator failed");
			}
		} while (coeffs[i] >= p);
	}
	rc = nofm_split_with(secret, p, coeffs, threshold, total, shares, err);
	secure_wipe(coeffs, sizeof coeffs);
	secure_wipe(&s, sizeof s);
	if (rc == 0)
		*prime = p;
	return rc;
}

static int is_prime(uint64_t p)
{
	uint8_t b[8];
	put_be64(b, p);
	BIGNUM *bp = BN_bin2bn(b, 8, NULL);
	BN_CTX *ctx = BN_CTX_new();
	int r = bp && ctx ? BN_check_prime(bp, ctx, NULL) : -1;
	BN_free(bp);
	BN_CTX_free(ctx);
	return r;
}

int nofm_combine(uint64_t prime, const nofm_share *shares, size_t k,
		 uint8_t secret[NOFM_SECRET_LEN], hv_err *err)
{
	if (k < 2)
		return hv_fail(err, HV_EUSAGE,
			       "%zu password share(s) given; at least 2 are needed", k);
	if ((prime & TOP_BIT) == 0)
		return hv_fail(err, HV_EUSAGE,
			       "the prime has fewer than 64 bits: check how it was typed "
			       "(sc-hsm-tool prints 8 bytes, e.g. dc:7f:0c:87:a6:bc:be:3b)");
	int pr = is_prime(prime);
	if (pr < 0)
		return hv_fail(err, HV_ENOMEM, "out of memory testing the prime");
	if (pr == 0)
		return hv_fail(err, HV_EUSAGE,
			       "the number typed as the prime is not prime: check it "
			       "against the paper copy");
	for (size_t i = 0; i < k; i++) {
		if (shares[i].id == 0 || shares[i].id >= prime)
			return hv_fail(err, HV_EUSAGE,
				       "share ID %u is invalid: IDs start at 1", shares[i].id);
		if (shares[i].value >= prime)
			return hv_fail(err, HV_EUSAGE,
				       "the value of share %u is not below the prime: check "
				       "how it was typed", shares[i].id);
		for (size_t j = 0; j < i; j++)
			if (shares[j].id == shares[i].id)
				return hv_fail(err, HV_EUSAGE,
					       "share ID %u was given twice: each holder's "
					       "share must be different", shares[i].id);
	}
	/* s = sum_i y_i * prod_{j != i} x_j / (x_j - x_i) */
	uint64_t s = 0;
	for (size_t i = 0; i < k; i++) {
		uint64_t num = 1, den = 1;
		for (size_t j = 0; j < k; j++) {
			if (j == i)
				continue;
			num = mulmod(num, shares[j].id, prime);
			den = mulmod(den, submod(shares[j].id, shares[i].id, prime), prime);
		}
		uint64_t term = mulmod(shares[i].value, mulmod(num, invmod(den, prime), prime), prime);
		s = addmod(s, term, prime);
	}
	if (s & TOP_BIT) {
		secure_wipe(&s, sizeof s);
		return hv_fail(err, HV_ESECRET,
			       "the password shares do not fit together (the result cannot "
			       "be a sc-hsm-tool password): a share was mistyped or belongs "
			       "to another share file");
	}
	put_be64(secret, s);
	secure_wipe(&s, sizeof s);
	return 0;
}

int nofm_parse_id(const char *text, unsigned *id, hv_err *err)
{
	unsigned long v = 0;
	size_t n = 0;
	const char *p = text;
	while (*p == ' ' || *p == '\t')
		p++;
	for (; *p >= '0' && *p <= '9'; p++, n++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > NOFM_MAX_SHARES)
			break;
	}
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	if (n > 0 && *p == '\0' && v >= 1 && v <= NOFM_MAX_SHARES) {
		*id = (unsigned)v;
		return 0;
	}
	if (strpbrk(text, "abcdefABCDEF"))
		return hv_fail(err, HV_EUSAGE,
			       "share ID '%s' is not a decimal number: type the ID exactly as "
			       "sc-hsm-tool printed it (in decimal, e.g. 10; only sc-hsm-tool "
			       "itself wants ID 10 typed as 'a')", text);
	return hv_fail(err, HV_EUSAGE,
		       "share ID '%s' is not a number from 1 to %d", text, NOFM_MAX_SHARES);
}

int nofm_parse_hex(const char *text, const char *what, uint64_t *value, hv_err *err)
{
	uint64_t v = 0;
	int digits = 0, any = 0;
	for (const char *p = text; *p; p++) {
		char c = *p;
		int d;
		if (c == ':' || c == ' ' || c == '\t' || c == '-' || c == '\n')
			continue;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return hv_fail(err, HV_EUSAGE,
				       "%s contains '%c', which is not a hex digit: type it as "
				       "printed, e.g. dc:7f:0c:87:a6:bc:be:3b", what, c);
		any = 1;
		if (digits == 0 && d == 0)
			continue; /* leading zeros do not count */
		if (++digits > 16)
			return hv_fail(err, HV_EUSAGE,
				       "%s has more than 16 hex digits (8 bytes)", what);
		v = v << 4 | (uint64_t)d;
	}
	if (!any)
		return hv_fail(err, HV_EUSAGE, "%s is empty", what);
	*value = v;
	return 0;
}

void nofm_format_hex(uint64_t value, char out[NOFM_HEX_MAX])
{
	static const char hx[] = "0123456789abcdef";
	uint8_t b[8];
	put_be64(b, value);
	int i = 0;
	while (i < 7 && b[i] == 0)
		i++;
	size_t o = 0;
	for (; i < 8; i++) {
		if (o)
			out[o++] = ':';
		out[o++] = hx[b[i] >> 4];
		out[o++] = hx[b[i] & 15];
	}
	out[o] = '\0';
}
