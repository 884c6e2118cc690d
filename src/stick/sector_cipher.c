#include "stick/sector_cipher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "util/secbuf.h"

enum iv_kind { IV_PLAIN, IV_PLAIN64, IV_ESSIV };

struct sector_cipher {
	EVP_CIPHER_CTX *enc, *dec;
	EVP_CIPHER_CTX *essiv; /* AES-ECB under hash(volume key); IV_ESSIV only */
	enum iv_kind iv;
	unsigned ss;
	uint64_t iv_offset;
};

/* The mode split into chaining mode and IV generator: "cbc-essiv:sha256"
 * gives "cbc", IV_ESSIV and "sha256". 0 when not understood. */
static int parse_mode(const char *mode, char *chain, size_t cap, enum iv_kind *iv,
		      const char **hash)
{
	const char *dash = strchr(mode, '-');
	if (!dash || (size_t)(dash - mode) >= cap)
		return 0;
	memcpy(chain, mode, (size_t)(dash - mode));
	chain[dash - mode] = '\0';
	const char *gen = dash + 1;
	*hash = NULL;
	if (!strcmp(gen, "plain64"))
		*iv = IV_PLAIN64;
	else if (!strcmp(gen, "plain"))
		*iv = IV_PLAIN;
	else if (!strncmp(gen, "essiv:", 6) && gen[6]) {
		*iv = IV_ESSIV;
		*hash = gen + 6;
	} else
		return 0;
	return 1;
}

/* The OpenSSL cipher for chain + key size, NULL when there is none. */
static const EVP_CIPHER *bulk_cipher(const char *chain, size_t key_bytes)
{
	if (!strcmp(chain, "xts"))
		return key_bytes == 32 ? EVP_aes_128_xts() : key_bytes == 64 ? EVP_aes_256_xts() : NULL;
	if (!strcmp(chain, "cbc"))
		return key_bytes == 16 ? EVP_aes_128_cbc() : key_bytes == 24 ? EVP_aes_192_cbc()
		       : key_bytes == 32 ? EVP_aes_256_cbc() : NULL;
	return NULL;
}

static const EVP_CIPHER *essiv_cipher(const EVP_MD *md)
{
	int n = md ? EVP_MD_get_size(md) : 0;
	return n == 16 ? EVP_aes_128_ecb() : n == 24 ? EVP_aes_192_ecb()
	       : n == 32 ? EVP_aes_256_ecb() : NULL;
}

int sector_cipher_supported(const char *cipher, const char *mode, size_t key_bytes,
			    char *why, size_t cap)
{
	char chain[16];
	enum iv_kind iv;
	const char *hash;
	if (strcmp(cipher, "aes")) {
		snprintf(why, cap, "%s is not a cipher the userspace backend has (it has aes)", cipher);
		return 0;
	}
	if (!parse_mode(mode, chain, sizeof(chain), &iv, &hash) ||
	    (strcmp(chain, "xts") && strcmp(chain, "cbc"))) {
		snprintf(why, cap, "mode %s is not one the userspace backend has (it has xts-plain64 "
			 "and cbc-essiv:sha256)", mode);
		return 0;
	}
	if (iv == IV_ESSIV && !strcmp(chain, "xts")) {
		snprintf(why, cap, "mode %s (XTS with ESSIV) is not one the userspace backend has",
			 mode);
		return 0;
	}
	if (iv == IV_ESSIV && !essiv_cipher(EVP_get_digestbyname(hash))) {
		snprintf(why, cap, "essiv with %s is not one the userspace backend has (sha256 is)",
			 hash);
		return 0;
	}
	if (!bulk_cipher(chain, key_bytes)) {
		snprintf(why, cap, "aes-%s with a %zu-bit key is not one the userspace backend has "
			 "(%s)", mode, key_bytes * 8,
			 !strcmp(chain, "xts") ? "XTS takes 256 or 512 bits" : "CBC takes 128, 192 or 256 bits");
		return 0;
	}
	if (why && cap)
		why[0] = '\0';
	return 1;
}

void sector_cipher_free(sector_cipher *c)
{
	if (!c)
		return;
	EVP_CIPHER_CTX_free(c->enc); /* cleans the key schedules */
	EVP_CIPHER_CTX_free(c->dec);
	EVP_CIPHER_CTX_free(c->essiv);
	free(c);
}

static int init_essiv(sector_cipher *c, const char *hash, const uint8_t *key, size_t key_bytes)
{
	const EVP_MD *md = EVP_get_digestbyname(hash);
	const EVP_CIPHER *ecb = essiv_cipher(md);
	uint8_t salt[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	c->essiv = EVP_CIPHER_CTX_new();
	int ok = ecb && c->essiv && EVP_Digest(key, key_bytes, salt, &n, md, NULL) == 1 &&
		 EVP_CipherInit_ex(c->essiv, ecb, NULL, salt, NULL, 1) == 1 &&
		 EVP_CIPHER_CTX_set_padding(c->essiv, 0) == 1;
	secure_wipe(salt, sizeof(salt));
	return ok ? 0 : -1;
}

int sector_cipher_new(const char *cipher, const char *mode, const uint8_t *key,
		      size_t key_bytes, unsigned sector_size, uint64_t iv_offset,
		      sector_cipher **out, hv_err *err)
{
	char why[200];
	if (!sector_cipher_supported(cipher, mode, key_bytes, why, sizeof(why)))
		return hv_fail(err, HV_EUSAGE, "%s", why);
	if (sector_size != 512 && sector_size != 4096)
		return hv_fail(err, HV_EINTEGRITY,
			       "encryption sector size %u is not 512 or 4096", sector_size);
	char chain[16];
	const char *hash;
	sector_cipher *c = calloc(1, sizeof(*c));
	if (!c)
		return hv_fail(err, HV_ENOMEM, "out of memory for the encryption layer");
	parse_mode(mode, chain, sizeof(chain), &c->iv, &hash);
	c->ss = sector_size;
	c->iv_offset = iv_offset;
	const EVP_CIPHER *bulk = bulk_cipher(chain, key_bytes);
	c->enc = EVP_CIPHER_CTX_new();
	c->dec = EVP_CIPHER_CTX_new();
	if (!c->enc || !c->dec) {
		sector_cipher_free(c);
		return hv_fail(err, HV_ENOMEM, "out of memory for the encryption layer");
	}
	if (EVP_CipherInit_ex(c->enc, bulk, NULL, key, NULL, 1) != 1 ||
	    EVP_CipherInit_ex(c->dec, bulk, NULL, key, NULL, 0) != 1 ||
	    EVP_CIPHER_CTX_set_padding(c->enc, 0) != 1 ||
	    EVP_CIPHER_CTX_set_padding(c->dec, 0) != 1) {
		sector_cipher_free(c);
		return hv_fail(err, HV_EINTEGRITY, "OpenSSL refused the volume key for aes-%s%s",
			       mode, !strcmp(chain, "xts") ? " (equal halves?)" : "");
	}
	if (c->iv == IV_ESSIV && init_essiv(c, hash, key, key_bytes)) {
		sector_cipher_free(c);
		return hv_fail(err, HV_EINTERNAL, "cannot set up the ESSIV IV generator (%s)", hash);
	}
	*out = c;
	return HV_OK;
}

int sector_cipher_crypt(sector_cipher *c, uint64_t sector_index, uint8_t *data, int encrypt)
{
	uint64_t n = c->iv_offset + sector_index * (c->ss / 512);
	uint8_t iv[16] = { 0 };
	int bytes = c->iv == IV_PLAIN ? 4 : 8;
	for (int i = 0; i < bytes; i++)
		iv[i] = (uint8_t)(n >> (8 * i));
	int outl = 0;
	if (c->iv == IV_ESSIV &&
	    (EVP_CipherUpdate(c->essiv, iv, &outl, iv, 16) != 1 || outl != 16))
		return -1;
	EVP_CIPHER_CTX *x = encrypt ? c->enc : c->dec;
	if (EVP_CipherInit_ex(x, NULL, NULL, NULL, iv, -1) != 1 ||
	    EVP_CipherUpdate(x, data, &outl, data, (int)c->ss) != 1 || outl != (int)c->ss)
		return -1;
	return 0;
}
