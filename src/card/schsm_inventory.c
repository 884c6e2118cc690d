#include "card/schsm.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>

#include "card/schsm_priv.h"
#include "util/tlv.h"

void schsm_key_list_free(schsm_key_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++) {
		buf_free(&list->keys[i].prkd);
		buf_free(&list->keys[i].ce);
		EVP_PKEY_free(list->keys[i].pub);
	}
	free(list->keys);
	list->keys = NULL;
	list->n = 0;
}

/* Keeps only the first TLV of a file (sc-hsm-tool drops trailing bytes
 * too); a file that is no TLV at all is kept whole. */
static void keep_first_tlv(const bytebuf *file, bytebuf *out)
{
	size_t off = 0;
	tlv t;
	if (tlv_next(file->data, file->len, &off, &t) == 0)
		buf_put(out, t.raw, t.raw_len);
	else
		buf_put(out, file->data, file->len);
}

static void fill_from_pub(schsm_key *k)
{
	if (!k->pub)
		return;
	int id = EVP_PKEY_get_base_id(k->pub);
	if (id == EVP_PKEY_EC) {
		if (k->alg == SCHSM_KEY_UNKNOWN)
			k->alg = SCHSM_KEY_EC;
		char name[64];
		size_t nl = 0;
		if (EVP_PKEY_get_utf8_string_param(k->pub, OSSL_PKEY_PARAM_GROUP_NAME,
						   name, sizeof(name), &nl))
			k->curve_nid = OBJ_sn2nid(name);
		if (k->curve_nid == NID_undef)
			k->curve_nid = OBJ_ln2nid(name);
	} else if (id == EVP_PKEY_RSA) {
		if (k->alg == SCHSM_KEY_UNKNOWN)
			k->alg = SCHSM_KEY_RSA;
	}
	if (k->bits == 0 && EVP_PKEY_get_bits(k->pub) > 0)
		k->bits = (unsigned)EVP_PKEY_get_bits(k->pub);
}

static int load_key(schsm_card *c, schsm_key *k, int read_prkd, int read_ce,
		    hv_err *err)
{
	bytebuf file = { 0 };
	int exists = 0, rc = HV_OK;
	if (read_prkd) {
		rc = schsm_read_ef(c, (uint16_t)(SCHSM_PREFIX_PRKD << 8 | k->ref), &file,
				   &exists, err);
		if (rc != HV_OK)
			goto out;
		if (exists && file.len > 0) {
			k->has_prkd = 1;
			keep_first_tlv(&file, &k->prkd);
			hv_err ignore = { 0 };
			/* A malformed PRKD must not hide the key: the
			 * inventory still lists it, without label. */
			if (schsm_parse_prkd(k->prkd.data, k->prkd.len, k, &ignore) != HV_OK) {
				k->alg = SCHSM_KEY_UNKNOWN;
				k->label[0] = '\0';
				k->id_len = 0;
				k->bits = 0;
			}
		}
		buf_free(&file);
	}
	if (read_ce) {
		rc = schsm_read_ef(c, (uint16_t)(SCHSM_PREFIX_CERT << 8 | k->ref), &file,
				   &exists, err);
		if (rc != HV_OK)
			goto out;
		if (exists && file.len > 0) {
			keep_first_tlv(&file, &k->ce);
			uint8_t first = k->ce.data[0];
			k->has_cert = first == 0x30;
			k->has_cv_request = first == 0x67 || first == 0x7F;
			hv_err ignore = { 0 };
			int x509 = 0;
			if (schsm_parse_public_key(k->ce.data, k->ce.len, &k->pub, &x509,
						   &ignore) != HV_OK)
				k->pub = NULL;
		}
	}
	fill_from_pub(k);
	if (k->prkd.failed || k->ce.failed)
		rc = hv_fail(err, HV_ENOMEM, "out of memory");
out:
	buf_free(&file);
	return rc;
}

int schsm_list_keys(schsm_card *c, schsm_key_list *list, hv_err *err)
{
	list->keys = NULL;
	list->n = 0;
	uint16_t *fids;
	size_t n;
	int rc = schsm_enumerate(c, &fids, &n, err);
	if (rc != HV_OK)
		return rc;
	uint8_t key[256] = { 0 }, prkd[256] = { 0 }, ce[256] = { 0 };
	int any_ce = 0, any_prkd = 0;
	size_t count = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t pre = (uint8_t)(fids[i] >> 8), id = (uint8_t)fids[i];
		if (pre == SCHSM_PREFIX_KEY && !key[id]) {
			key[id] = 1;
			count++;
		} else if (pre == SCHSM_PREFIX_PRKD) {
			prkd[id] = 1;
			any_prkd = 1;
		} else if (pre == SCHSM_PREFIX_CERT) {
			ce[id] = 1;
			any_ce = 1;
		}
	}
	free(fids);
	if (count == 0)
		return HV_OK;
	list->keys = calloc(count, sizeof(*list->keys));
	if (!list->keys)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	for (int r = 0; r < 256; r++) {
		if (!key[r])
			continue;
		schsm_key *k = &list->keys[list->n++];
		k->ref = (uint8_t)r;
		k->device_key = r == 0;
		k->exportable = r != 0;
		if (r == 0)
			continue; /* the device key: nothing of ours to read */
		/* The real card lists every EF, pico C4 but never CE: a file
		 * the listing proves absent is not read. */
		rc = load_key(c, k, !any_prkd || prkd[r], !any_ce || ce[r], err);
		if (rc != HV_OK) {
			schsm_key_list_free(list);
			return hv_err_prefix(err, "reading key %d", r);
		}
	}
	return HV_OK;
}
