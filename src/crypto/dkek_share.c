#include "crypto/dkek_share.h"
#include "crypto/dkek.h"

#include <strings.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "crypto/kdf.h"
#include "util/hex.h"
#include "util/secbuf.h"

static const uint8_t magic[8] = { 'S', 'a', 'l', 't', 'e', 'd', '_', '_' };
#define BODY_LEN 48 /* share + one full padding block */
#define PAD 0x10

/* AES-256-CBC without OpenSSL's padding logic: the caller checks the
 * padding itself (all 16 bytes, not only what EVP would look at). */
static int cbc(int enc, const uint8_t *key, const uint8_t *iv, const uint8_t *in,
	       uint8_t *out)
{
	int ok = 0, l1 = 0, l2 = 0;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (c && EVP_CipherInit_ex(c, EVP_aes_256_cbc(), NULL, key, iv, enc) == 1 &&
	    EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
	    EVP_CipherUpdate(c, out, &l1, in, BODY_LEN) == 1 &&
	    EVP_CipherFinal_ex(c, out + l1, &l2) == 1 && l1 + l2 == BODY_LEN)
		ok = 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

int dkek_share_encrypt(const uint8_t share[DKEK_SHARE_LEN],
		       const uint8_t *pw, size_t pw_len, const uint8_t *salt8,
		       uint64_t iterations, uint8_t file[DKEK_SHARE_FILE_LEN],
		       hv_err *err)
{
	if (!pw || pw_len == 0)
		return hv_fail(err, HV_EUSAGE, "a DKEK share needs a non-empty password");
	uint8_t salt[8];
	if (salt8)
		memcpy(salt, salt8, 8);
	else if (RAND_bytes(salt, sizeof salt) != 1)
		return hv_fail(err, HV_EINTERNAL, "the random number generator failed");
	/* key(32) iv(16) plaintext(48) */
	secbuf *s = secbuf_new(KDF_KEY_LEN + KDF_IV_LEN + BODY_LEN);
	if (!s)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	uint8_t *key = s->data, *iv = key + KDF_KEY_LEN, *pt = iv + KDF_IV_LEN;
	kdf_bytes_to_key_md5(pw, pw_len, salt, iterations, key, iv);
	memcpy(pt, share, DKEK_SHARE_LEN);
	memset(pt + DKEK_SHARE_LEN, PAD, BODY_LEN - DKEK_SHARE_LEN);
	memcpy(file, magic, 8);
	memcpy(file + 8, salt, 8);
	int r = cbc(1, key, iv, pt, file + 16);
	secbuf_free(s);
	if (r != 0) {
		secure_wipe(file, DKEK_SHARE_FILE_LEN);
		return hv_fail(err, HV_EINTERNAL, "AES-256-CBC failed in OpenSSL");
	}
	return 0;
}

int dkek_share_decrypt(const uint8_t *file, size_t len,
		       const uint8_t *pw, size_t pw_len, uint64_t iterations,
		       uint8_t share[DKEK_SHARE_LEN], hv_err *err)
{
	if (!file || len < DKEK_SHARE_FILE_LEN)
		return hv_fail(err, HV_EUSAGE,
			       "DKEK share file is %zu bytes; sc-hsm-tool share files have 64: "
			       "the file is truncated or not a share file", file ? len : 0);
	if (memcmp(file, magic, sizeof magic) != 0)
		return hv_fail(err, HV_EUSAGE,
			       "DKEK share file does not start with \"Salted__\": not a "
			       "sc-hsm-tool share file");
	secbuf *s = secbuf_new(KDF_KEY_LEN + KDF_IV_LEN + BODY_LEN);
	if (!s)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	uint8_t *key = s->data, *iv = key + KDF_KEY_LEN, *pt = iv + KDF_IV_LEN;
	kdf_bytes_to_key_md5(pw, pw_len, file + 8, iterations, key, iv);
	int rc = 0;
	if (cbc(0, key, iv, file + 16, pt) != 0) {
		rc = hv_fail(err, HV_EINTERNAL, "AES-256-CBC failed in OpenSSL");
	} else {
		uint8_t bad = 0;
		for (size_t i = DKEK_SHARE_LEN; i < BODY_LEN; i++)
			bad |= pt[i] ^ PAD;
		if (bad)
			rc = hv_fail(err, HV_ESECRET,
				     "wrong password for the DKEK share file (or the file "
				     "is damaged): its padding check failed");
		else
			memcpy(share, pt, DKEK_SHARE_LEN);
	}
	secbuf_free(s);
	return rc;
}

void dkek_share_check_value(const uint8_t share[DKEK_SHARE_LEN],
			    char hex_out[DKEK_SHARE_CHECK_HEX_LEN + 1])
{
	/* The KCV this share would give as a one-share DKEK: a card (or
	 * sc-hsm-tool on a one-share card) can confirm it independently. */
	uint8_t kcv[DKEK_KCV_LEN];
	dkek_kcv(share, kcv);
	hex_encode(kcv, sizeof kcv, hex_out, 1);
}

int dkek_share_decrypt_checked(const uint8_t *file, size_t len,
			       const uint8_t *pw, size_t pw_len,
			       uint64_t iterations, const char *expected_check_hex,
			       uint8_t share[DKEK_SHARE_LEN], int *checked,
			       hv_err *err)
{
	if (checked)
		*checked = 0;
	if (expected_check_hex && strlen(expected_check_hex) != DKEK_SHARE_CHECK_HEX_LEN)
		return hv_fail(err, HV_EUSAGE,
			       "recorded share check value '%s' is not 16 hex digits: "
			       "the manifest is damaged", expected_check_hex);
	int rc = dkek_share_decrypt(file, len, pw, pw_len, iterations, share, err);
	if (rc != 0 || !expected_check_hex)
		return rc;
	char got[DKEK_SHARE_CHECK_HEX_LEN + 1];
	dkek_share_check_value(share, got);
	if (checked)
		*checked = 1;
	if (strcasecmp(got, expected_check_hex) != 0) {
		secure_wipe(share, DKEK_SHARE_LEN);
		return hv_fail(err, HV_ESECRET,
			       "the decrypted DKEK share does not match the check value "
			       "recorded for it: wrong password, another share's file, or "
			       "a damaged file");
	}
	return 0;
}
