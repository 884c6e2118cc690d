/* The key derivation of sc-hsm-tool's DKEK share files (smartcard-hsm.md
 * 8.1): OpenSSL's EVP_BytesToKey with AES-256-CBC, MD5, an 8-byte salt and
 * (in the tool) 10,000,000 iterations. Same result as OpenSSL, several
 * times faster: the inner loop is a bare MD5 compression. */
#ifndef HV_CRYPTO_KDF_H
#define HV_CRYPTO_KDF_H

#include <stddef.h>
#include <stdint.h>

#define KDF_KEY_LEN 32
#define KDF_IV_LEN 16
#define KDF_SALT_LEN 8

/* D1 = MD5^n(pw || salt), D2 = MD5^n(D1 || pw || salt),
 * D3 = MD5^n(D2 || pw || salt); key = D1 || D2, iv = D3.
 * iterations >= 1 (0 is treated as 1, as OpenSSL does). Intermediate
 * values are wiped; key and iv belong to the caller (use a secbuf). */
void kdf_bytes_to_key_md5(const uint8_t *pw, size_t pw_len,
			  const uint8_t salt[KDF_SALT_LEN], uint64_t iterations,
			  uint8_t key[KDF_KEY_LEN], uint8_t iv[KDF_IV_LEN]);

#endif
