/* WRAP KEY and UNWRAP KEY: key export and import under the DKEK
 * (smartcard-hsm.md 7). The blob format itself lives in crypto/keyblob. */
#include <string.h>

#include "crypto/keyblob.h"
#include "sim/cmds.h"
#include "util/secbuf.h"

#define ALGO_WRAP 0x92
#define ALGO_UNWRAP 0x93
#define FID_UNWRAP_STAGING 0x2F10
/* CardContact converts RSA CRT keys above this size to the plain form. */
#define RSA_CRT_MAX_BITS 2048

static int dkek_ready(const sim_state *s)
{
	return s->initialized && s->dkek_configured && s->dkek_outstanding == 0;
}

uint16_t cmd_wrap_key(sim_card *c, const capdu *a, bytebuf *out)
{
	sim_state *s = c->st;
	if (a->p2 != ALGO_WRAP)
		return SW_WRONG_P1P2;
	if (!c->user_ok)
		return SW_SECURITY;
	if (a->p1 == 0)
		return SW_CONDITIONS; /* the device key never leaves the card */
	sim_key *k = card_key(c, a->p1);
	if (!k)
		return SW_NOT_FOUND;
	if (!dkek_ready(s))
		return SW_REF_NOT_FOUND;
	/* A key with an algorithm list is exportable only if the list says so. */
	if (k->allowed_len && !memchr(k->allowed, ALGO_WRAP, k->allowed_len))
		return SW_CONDITIONS;
	hv_err err;
	int rc;
	if (k->type == SIM_KEY_AES) {
		rc = keyblob_wrap_aes(k->aes, k->aes_len, s->dkek, k->allowed, k->allowed_len,
				      NULL, out, &err);
	} else {
		int crt = k->type == SIM_KEY_RSA && EVP_PKEY_get_bits(k->pkey) <= RSA_CRT_MAX_BITS;
		rc = keyblob_wrap_pkey(k->pkey, s->dkek, k->allowed, k->allowed_len, crt,
				       NULL, out, &err);
	}
	return rc ? SW_EXEC_ERROR : SW_OK;
}

uint16_t cmd_unwrap_key(sim_card *c, const capdu *a, int *changed)
{
	sim_state *s = c->st;
	int into_device_key = a->p1 == 0 && s->profile->unwrap_into_device_key;
	if (a->p2 != ALGO_UNWRAP || (a->p1 == 0 && !into_device_key))
		return SW_WRONG_P1P2;
	if (!c->user_ok)
		return SW_SECURITY;
	/* The real card will not overwrite a key (sc-hsm-tool --force deletes
	 * the key first); pico-hsm silently replaces it. */
	if (card_key(c, a->p1) && !s->profile->unwrap_overwrites)
		return SW_EXISTS;
	if (!dkek_ready(s))
		return SW_REF_NOT_FOUND;
	const uint8_t *blob = a->data;
	size_t len = a->lc;
	if (len == 0 && !s->profile->unwrap_staging_ef)
		return s->profile->sw_unwrap_rejected; /* pico-hsm decodes empty data: 64 00 (seen on its emulator) */
	if (len == 0) { /* case 1: the blob was staged in EF 2F10 */
		sim_ef *e = sim_ef_find(s, FID_UNWRAP_STAGING);
		if (!e || e->len == 0)
			return SW_WRONG_DATA;
		blob = e->data;
		len = e->len;
	}
	keyblob_info info;
	EVP_PKEY *pkey = NULL;
	secbuf *aes = NULL;
	hv_err err;
	/* Wrong KCV, MAC or format: the "incorrect parameters" class that
	 * sc-hsm-tool reports as "Wrapped key does not match DKEK". */
	if (keyblob_unwrap(blob, len, s->dkek, &info, &pkey, &aes, &err))
		return s->profile->sw_unwrap_rejected; /* pico-hsm: 64 00 */
	if (into_device_key) {
		/* pico-hsm does not protect reference 0: the device key is
		 * replaced (2F02 stays as it was), C400 describes the new key. */
		secbuf_free(aes);
		if (!pkey)
			return s->profile->sw_unwrap_rejected;
		EVP_PKEY_free(s->devkey);
		s->devkey = pkey;
		card_describe_device_key(c);
		*changed = 1;
		return SW_OK;
	}
	sim_key *k = &s->keys[a->p1];
	sim_key_clear(k);
	if (aes) {
		if (aes->len != 16 && aes->len != 24 && aes->len != 32) {
			secbuf_free(aes);
			EVP_PKEY_free(pkey);
			return SW_WRONG_DATA;
		}
		k->type = SIM_KEY_AES;
		memcpy(k->aes, aes->data, aes->len);
		k->aes_len = aes->len;
		secbuf_free(aes);
		EVP_PKEY_free(pkey);
	} else if (pkey) {
		int id = EVP_PKEY_get_base_id(pkey);
		if (id != EVP_PKEY_EC && id != EVP_PKEY_RSA) {
			EVP_PKEY_free(pkey);
			return SW_WRONG_DATA;
		}
		k->type = id == EVP_PKEY_EC ? SIM_KEY_EC : SIM_KEY_RSA;
		k->pkey = pkey;
	} else {
		return SW_WRONG_DATA;
	}
	size_t n = info.allowed_len < sizeof(k->allowed) ? info.allowed_len : sizeof(k->allowed);
	memcpy(k->allowed, info.allowed, n);
	k->allowed_len = n;
	k->used = 1;
	*changed = 1;
	card_precreate_prkd(c, a->p1);
	return SW_OK;
}
