/* DKEK share files as sc-hsm-tool writes them (smartcard-hsm.md 8.1):
 * "Salted__" || salt(8) || AES-256-CBC(share(32) || 16 x 0x10), key and IV
 * from kdf_bytes_to_key_md5 with the password. Also a check value that
 * hsmvault records per share in the manifest. */
#ifndef HV_CRYPTO_DKEK_SHARE_H
#define HV_CRYPTO_DKEK_SHARE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define DKEK_SHARE_FILE_LEN 64
#define DKEK_SHARE_LEN 32
/* Fixed in sc-hsm-tool; other values only make files the tool cannot read
 * (useful for fast tests). */
#define DKEK_SHARE_ITERATIONS 10000000u
#define DKEK_SHARE_CHECK_HEX_LEN 16

/* Writes the 64-byte file for share. salt8 NULL = 8 fresh random bytes.
 * An empty password is refused (HV_EUSAGE). */
int dkek_share_encrypt(const uint8_t share[DKEK_SHARE_LEN],
		       const uint8_t *pw, size_t pw_len, const uint8_t *salt8,
		       uint64_t iterations, uint8_t file[DKEK_SHARE_FILE_LEN],
		       hv_err *err);

/* Decrypts like the tool: at least 64 bytes (bytes after the 64th are
 * ignored, as the tool does), the "Salted__" magic (else HV_EUSAGE), and
 * all 16 padding bytes must be 0x10 (else HV_ESECRET "wrong password").
 * The padding catches a wrong password and damage to the salt and the last
 * two cipher blocks, but NOT damage to bytes 16..31 (the first cipher
 * block): that yields a wrong share undetected; only the check value or
 * the final KCV catches it. share must point into a secbuf. */
int dkek_share_decrypt(const uint8_t *file, size_t len,
		       const uint8_t *pw, size_t pw_len, uint64_t iterations,
		       uint8_t share[DKEK_SHARE_LEN], hv_err *err);

/* The share's own KCV (first 8 bytes of SHA-256(share), the KCV of a
 * one-share DKEK) as 16 uppercase hex digits: the manifest's per-share
 * "check". Safe to store (a 256-bit secret cannot be searched for); a
 * wrong password slips past it with probability 2^-64, not 1/256. */
void dkek_share_check_value(const uint8_t share[DKEK_SHARE_LEN],
			    char hex_out[DKEK_SHARE_CHECK_HEX_LEN + 1]);

/* dkek_share_decrypt, then the share's check value is compared with
 * expected_check_hex (case-insensitive) when it is not NULL: a mismatch is
 * HV_ESECRET naming the causes (wrong password, another or damaged share
 * file). *checked = 1 when a check value was compared, 0 when expected is
 * NULL, so the caller can say that a wrong password or damaged file can
 * then only be noticed when the card's KCV is compared. The error message
 * does not name the file: prefix it with hv_err_prefix(err, "%s", path). */
int dkek_share_decrypt_checked(const uint8_t *file, size_t len,
			       const uint8_t *pw, size_t pw_len,
			       uint64_t iterations, const char *expected_check_hex,
			       uint8_t share[DKEK_SHARE_LEN], int *checked,
			       hv_err *err);

#endif
