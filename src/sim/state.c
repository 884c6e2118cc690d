#include "sim/state.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "crypto/prkd.h"
#include "sim/cvc.h"
#include "sim/devid.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/hex.h"
#include "util/secbuf.h"

#define STATE_FILE_MAX (64u << 20)
/* pico-hsm's label for its device key's description (cmd_initialize.c). */
#define PICO_DEVICE_KEY_LABEL "ESPICOHSMTR"

void sim_key_clear(sim_key *k)
{
	EVP_PKEY_free(k->pkey);
	secure_wipe(k, sizeof(*k));
}

void sim_state_free(sim_state *s)
{
	EVP_PKEY_free(s->devkey);
	for (size_t i = 0; i < s->n_efs; i++)
		free(s->efs[i].data);
	for (int i = 0; i < 256; i++)
		sim_key_clear(&s->keys[i]);
	secure_wipe(s, sizeof(*s));
}

sim_ef *sim_ef_find(sim_state *s, uint16_t fid)
{
	for (size_t i = 0; i < s->n_efs; i++)
		if (s->efs[i].fid == fid)
			return &s->efs[i];
	return NULL;
}

int sim_ef_put(sim_state *s, uint16_t fid, const uint8_t *data, size_t len)
{
	if (len > SIM_MAX_EF_SIZE)
		return -1;
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return -1;
	if (len)
		memcpy(copy, data, len);
	sim_ef *e = sim_ef_find(s, fid);
	if (!e) {
		if (s->n_efs == SIM_MAX_EF) {
			free(copy);
			return -1;
		}
		/* Keep the table sorted by FID so ENUMERATE is deterministic. */
		size_t i = s->n_efs;
		while (i > 0 && s->efs[i - 1].fid > fid) {
			s->efs[i] = s->efs[i - 1];
			i--;
		}
		e = &s->efs[i];
		e->fid = fid;
		e->data = NULL;
		s->n_efs++;
	}
	free(e->data);
	e->data = copy;
	e->len = len;
	return 0;
}

void sim_ef_delete(sim_state *s, uint16_t fid)
{
	for (size_t i = 0; i < s->n_efs; i++) {
		if (s->efs[i].fid != fid)
			continue;
		free(s->efs[i].data);
		memmove(&s->efs[i], &s->efs[i + 1], (s->n_efs - i - 1) * sizeof(sim_ef));
		s->n_efs--;
		return;
	}
}

void sim_state_device_chr(const sim_state *s, char chr[17])
{
	snprintf(chr, 17, "%s%s", s->serial, s->profile->chr_sequence);
}

int sim_state_make_self_signed_identity(sim_state *s)
{
	/* The key comes from the board's OTP key: made once, then the same. */
	EVP_PKEY *key = s->devkey;
	if (key)
		EVP_PKEY_up_ref(key);
	else
		key = sim_devid_new_key(s->profile);
	if (!key)
		return -1;
	char chr[17];
	sim_state_device_chr(s, chr);
	bytebuf cert = { 0 }, req = { 0 }, prkd = { 0 };
	prkd_info info = { .kind = PRKD_EC, .id_len = 20, .key_ref = -1, .key_bits = 256 };
	snprintf(info.label, sizeof(info.label), "%s", PICO_DEVICE_KEY_LABEL);
	hv_err err;
	int rc = -1;
	if (sim_devid_self_signed(key, chr, &cert) == 0 &&
	    cvc_key_request(key, CVC_OID_ECDSA_SHA256, sizeof(CVC_OID_ECDSA_SHA256),
			    (const uint8_t *)chr, strlen(chr), (const uint8_t *)chr, strlen(chr),
			    key, chr, &req) == 0 &&
	    prkd_encode(&info, &prkd, &err) == 0 && !cert.failed && !req.failed && !prkd.failed &&
	    sim_ef_put(s, 0x2F02, cert.data, cert.len) == 0 &&
	    sim_ef_put(s, 0xCE00, req.data, req.len) == 0 &&
	    sim_ef_put(s, 0xC400, prkd.data, prkd.len) == 0) {
		EVP_PKEY_free(s->devkey);
		s->devkey = key;
		key = NULL;
		s->devaut = SIM_DEVAUT_SELF_SIGNED;
		rc = 0;
	}
	EVP_PKEY_free(key);
	buf_free(&cert);
	buf_free(&req);
	buf_free(&prkd);
	return rc;
}

int sim_state_blank(sim_state *s, const sim_profile *p, const char *serial, int forge, hv_err *err)
{
	memset(s, 0, sizeof(*s));
	s->profile = p;
	if (!serial)
		serial = p->default_serial;
	if (!sim_profile_serial_ok(p, serial))
		return hv_fail(err, HV_EUSAGE, "serial '%s' is not 3 to 11 letters or digits, or has another family's form: "
			       "choose another --serial (%s cards: %s...)", serial, p->name, p->serial_prefix);
	snprintf(s->serial, sizeof(s->serial), "%s", serial);
	s->so_left = SIM_SO_TRIES;
	if (p->devaut == SIM_DEVAUT_SELF_SIGNED_AT_INIT) {
		if (forge)
			return hv_fail(err, HV_EUSAGE, "--forge-devaut needs a card with a factory chain: %s cards have none "
				       "before INITIALIZE", p->name);
		/* pico-hsm: 2F02 (and C400) exist but hold nothing until INITIALIZE. */
		if (sim_ef_put(s, 0x2F02, NULL, 0) || sim_ef_put(s, 0xC400, NULL, 0))
			return hv_fail(err, HV_ENOMEM, "out of memory creating the card");
		s->devaut = SIM_DEVAUT_NONE;
		return 0;
	}
	s->devkey = sim_devid_new_key(p);
	if (!s->devkey)
		return hv_fail(err, HV_EINTERNAL, "generating the device key failed");
	char chr[17];
	sim_state_device_chr(s, chr);
	bytebuf certs = { 0 };
	if (sim_devid_factory_chain(p, s->devkey, chr, &certs) || certs.failed ||
	    (forge && sim_devid_forge(certs.data, certs.len)) ||
	    sim_ef_put(s, 0x2F02, certs.data, certs.len)) {
		buf_free(&certs);
		sim_state_free(s);
		return hv_fail(err, HV_EINTERNAL, "building the device certificates failed");
	}
	buf_free(&certs);
	s->devaut = forge ? SIM_DEVAUT_FORGED : SIM_DEVAUT_GENUINE;
	return 0;
}

static const char *const DEVAUT_WORDS[] = { "none", "factory", "forged", "self-signed", "legacy" };

static void put_str(bytebuf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static void put_hex(bytebuf *b, const uint8_t *d, size_t n)
{
	if (n == 0) {
		put_str(b, "-");
		return;
	}
	char pair[3];
	for (size_t i = 0; i < n; i++) {
		hex_encode(d + i, 1, pair, 1);
		buf_put(b, pair, 2);
	}
}

static void put_printf(bytebuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put_printf(bytebuf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* An RSA key unwrapped from CardContact's plain form (n, e, d: RSA above
 * 2048 bits) has no primes, so no PKCS#1 DER: it is written as
 * RSAND:<n hex>:<e hex>:<d hex>. */
#define RSAND_PREFIX "RSAND:"

static int put_bn_hex(bytebuf *b, EVP_PKEY *k, const char *name)
{
	BIGNUM *bn = NULL;
	if (!EVP_PKEY_get_bn_param(k, name, &bn))
		return -1;
	int len = BN_num_bytes(bn);
	uint8_t *tmp = OPENSSL_malloc(len > 0 ? (size_t)len : 1);
	int rc = -1;
	if (tmp && BN_bn2bin(bn, tmp) == len) {
		if (len == 0)
			put_str(b, "00");
		else
			put_hex(b, tmp, (size_t)len);
		rc = 0;
	}
	if (tmp)
		OPENSSL_clear_free(tmp, len > 0 ? (size_t)len : 1);
	BN_clear_free(bn);
	return rc;
}

static int put_pkey(bytebuf *b, EVP_PKEY *k)
{
	uint8_t *der = NULL;
	int n = i2d_PrivateKey(k, &der);
	if (n <= 0) {
		if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA)
			return -1;
		put_str(b, RSAND_PREFIX);
		int rc = put_bn_hex(b, k, OSSL_PKEY_PARAM_RSA_N);
		put_str(b, ":");
		rc |= put_bn_hex(b, k, OSSL_PKEY_PARAM_RSA_E);
		put_str(b, ":");
		rc |= put_bn_hex(b, k, OSSL_PKEY_PARAM_RSA_D);
		return rc;
	}
	put_hex(b, der, (size_t)n);
	OPENSSL_clear_free(der, (size_t)n);
	return 0;
}

int sim_state_save(const sim_state *s, const char *path, hv_err *err)
{
	bytebuf b = { 0 };
	int bad = 0;
	put_printf(&b, "hsmvault-sim-state %d\nprofile %s\nserial ", SIM_STATE_VERSION, s->profile->name);
	put_str(&b, s->serial);
	put_printf(&b, "\ndevaut %s\ndevkey ", DEVAUT_WORDS[s->devaut]);
	if (s->devkey)
		bad |= put_pkey(&b, s->devkey);
	else
		put_str(&b, "-");
	put_printf(&b, "\noptions %04X\ninitialized %d\ntransport %d\nuserpin ",
		   s->options, s->initialized, s->transport);
	put_hex(&b, s->user_pin, s->user_pin_len);
	put_printf(&b, " %u %u\nsopin ", s->user_max, s->user_left);
	put_hex(&b, s->so_pin, s->initialized ? 8 : 0);
	put_printf(&b, " %u\n", s->so_left);
	if (s->dkek_configured) {
		put_printf(&b, "dkek %u %u ", s->dkek_total, s->dkek_outstanding);
		put_hex(&b, s->dkek, 32);
		put_str(&b, "\n");
	} else {
		put_str(&b, "dkek none\n");
	}
	for (size_t i = 0; i < s->n_efs; i++) {
		put_printf(&b, "ef %04X ", s->efs[i].fid);
		put_hex(&b, s->efs[i].data, s->efs[i].len);
		put_str(&b, "\n");
	}
	for (int r = 1; r < 256; r++) {
		const sim_key *k = &s->keys[r];
		if (!k->used)
			continue;
		const char *t = k->type == SIM_KEY_EC ? "ec" : k->type == SIM_KEY_RSA ? "rsa" : "aes";
		char head[64];
		snprintf(head, sizeof(head), "key %d %s %u ", r, t, k->domain);
		put_str(&b, head);
		put_hex(&b, k->allowed, k->allowed_len);
		put_str(&b, " ");
		if (k->type == SIM_KEY_AES)
			put_hex(&b, k->aes, k->aes_len);
		else
			bad |= put_pkey(&b, k->pkey);
		put_str(&b, "\n");
	}
	put_str(&b, "end\n");
	int rc;
	if (bad || b.failed)
		rc = hv_fail(err, HV_ENOMEM, "encoding the card state failed");
	else
		rc = file_write_atomic(path, b.data, b.len, err);
	buf_free(&b);
	return rc;
}

/* Parsing: a line is split into space-separated words in place. */
#define MAX_WORDS 8

static int split(char *line, char **w)
{
	int n = 0;
	char *save = NULL;
	for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (n == MAX_WORDS)
			return -1;
		w[n++] = t;
	}
	return n;
}

/* Hex word ("-" = empty) into a fresh buffer. */
static int word_bytes(const char *w, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (strcmp(w, "-") == 0)
		return 0;
	size_t n = strlen(w);
	if (n % 2)
		return -1;
	uint8_t *d = malloc(n / 2 + 1);
	if (!d)
		return -1;
	long got = hex_decode(w, d, n / 2);
	if (got < 0) {
		free(d);
		return -1;
	}
	*out = d;
	*len = (size_t)got;
	return 0;
}

static int word_fixed(const char *w, uint8_t *out, size_t cap, size_t *len)
{
	uint8_t *d;
	size_t n;
	if (word_bytes(w, &d, &n) || n > cap) {
		free(d);
		return -1;
	}
	if (n)
		memcpy(out, d, n);
	secure_wipe(d, n);
	free(d);
	*len = n;
	return 0;
}

static int word_uint(const char *w, unsigned max, unsigned *v)
{
	char *end;
	unsigned long x = strtoul(w, &end, 10);
	if (*w == 0 || *end || x > max)
		return -1;
	*v = (unsigned)x;
	return 0;
}

static BIGNUM *hex_bn(const char *w, size_t len)
{
	char tmp[2100];
	if (len == 0 || len >= sizeof(tmp))
		return NULL;
	memcpy(tmp, w, len);
	tmp[len] = 0;
	BIGNUM *bn = NULL;
	if (!BN_hex2bn(&bn, tmp) || strlen(tmp) != len) {
		BN_free(bn);
		bn = NULL;
	}
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return bn;
}

/* RSAND:<n>:<e>:<d> (see put_pkey). */
static EVP_PKEY *word_rsand(const char *w)
{
	const char *n = w + strlen(RSAND_PREFIX), *e = strchr(n, ':');
	const char *d = e ? strchr(e + 1, ':') : NULL;
	if (!e || !d)
		return NULL;
	BIGNUM *bn = hex_bn(n, (size_t)(e - n)), *be = hex_bn(e + 1, (size_t)(d - e - 1)),
	       *bd = hex_bn(d + 1, strlen(d + 1));
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *k = NULL;
	if (bn && be && bd && bld &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, bd) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) != NULL &&
	    EVP_PKEY_fromdata_init(ctx) == 1)
		EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	BN_clear_free(bd);
	return k;
}

static EVP_PKEY *word_pkey(const char *w)
{
	if (strncmp(w, RSAND_PREFIX, strlen(RSAND_PREFIX)) == 0)
		return word_rsand(w);
	uint8_t *d;
	size_t n;
	if (word_bytes(w, &d, &n) || n == 0) {
		free(d);
		return NULL;
	}
	const uint8_t *p = d;
	EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, (long)n);
	secure_wipe(d, n);
	free(d);
	return k;
}

static int parse_line(sim_state *s, int version, char **w, int n, int *ended)
{
	unsigned a, b, c;
	size_t len;
	const char *k = w[0];
	if (version >= 2 && strcmp(k, "profile") == 0 && n == 2) {
		s->profile = sim_profile_find(w[1]);
		if (!s->profile)
			return -1;
	} else if (version >= 2 && strcmp(k, "devaut") == 0 && n == 2) {
		size_t i = 0;
		while (i < sizeof(DEVAUT_WORDS) / sizeof(DEVAUT_WORDS[0]) && strcmp(w[1], DEVAUT_WORDS[i]) != 0)
			i++;
		if (i == sizeof(DEVAUT_WORDS) / sizeof(DEVAUT_WORDS[0]))
			return -1;
		s->devaut = (int)i;
	} else if (version >= 2 && strcmp(k, "devkey") == 0 && n == 2 && strcmp(w[1], "-") == 0) {
		EVP_PKEY_free(s->devkey);
		s->devkey = NULL;
	} else if (strcmp(k, "serial") == 0 && n == 2 && strlen(w[1]) < sizeof(s->serial)) {
		snprintf(s->serial, sizeof(s->serial), "%s", w[1]);
	} else if (strcmp(k, "devkey") == 0 && n == 2) {
		EVP_PKEY_free(s->devkey);
		s->devkey = word_pkey(w[1]);
		if (!s->devkey)
			return -1;
	} else if (strcmp(k, "options") == 0 && n == 2) {
		uint8_t o[2];
		if (word_fixed(w[1], o, 2, &len) || len != 2)
			return -1;
		s->options = (uint16_t)(o[0] << 8 | o[1]);
	} else if (strcmp(k, "initialized") == 0 && n == 2) {
		if (word_uint(w[1], 1, &a))
			return -1;
		s->initialized = (int)a;
	} else if (strcmp(k, "transport") == 0 && n == 2) {
		if (word_uint(w[1], 1, &a))
			return -1;
		s->transport = (int)a;
	} else if (strcmp(k, "userpin") == 0 && n == 4) {
		if (word_fixed(w[1], s->user_pin, 16, &s->user_pin_len) ||
		    word_uint(w[2], 255, &a) || word_uint(w[3], a, &b))
			return -1;
		s->user_max = (uint8_t)a;
		s->user_left = (uint8_t)b;
	} else if (strcmp(k, "sopin") == 0 && n == 3) {
		if (word_fixed(w[1], s->so_pin, 8, &len) || (len != 0 && len != 8) ||
		    word_uint(w[2], SIM_SO_TRIES, &a))
			return -1;
		s->so_left = (uint8_t)a;
	} else if (strcmp(k, "dkek") == 0 && n == 2 && strcmp(w[1], "none") == 0) {
		s->dkek_configured = 0;
	} else if (strcmp(k, "dkek") == 0 && n == 4) {
		if (word_uint(w[1], 255, &a) || word_uint(w[2], a, &b) ||
		    word_fixed(w[3], s->dkek, 32, &len) || len != 32)
			return -1;
		s->dkek_configured = 1;
		s->dkek_total = (uint8_t)a;
		s->dkek_outstanding = (uint8_t)b;
	} else if (strcmp(k, "ef") == 0 && n == 3) {
		uint8_t f[2], *d;
		if (word_fixed(w[1], f, 2, &len) || len != 2 || word_bytes(w[2], &d, &len))
			return -1;
		int rc = sim_ef_put(s, (uint16_t)(f[0] << 8 | f[1]), d, len);
		free(d);
		if (rc)
			return -1;
	} else if (strcmp(k, "key") == 0 && n == 6) {
		if (word_uint(w[1], 255, &a) || a == 0 || word_uint(w[3], 255, &c))
			return -1;
		sim_key *key = &s->keys[a];
		sim_key_clear(key);
		if (word_fixed(w[4], key->allowed, sizeof(key->allowed), &key->allowed_len))
			return -1;
		key->domain = (uint8_t)c;
		if (strcmp(w[2], "aes") == 0) {
			key->type = SIM_KEY_AES;
			if (word_fixed(w[5], key->aes, 32, &key->aes_len) ||
			    (key->aes_len != 16 && key->aes_len != 24 && key->aes_len != 32))
				return -1;
		} else {
			key->type = strcmp(w[2], "ec") == 0 ? SIM_KEY_EC : strcmp(w[2], "rsa") == 0 ? SIM_KEY_RSA : 0;
			key->pkey = word_pkey(w[5]);
			if (!key->type || !key->pkey)
				return -1;
		}
		key->used = 1;
	} else if (strcmp(k, "end") == 0 && n == 1) {
		*ended = 1;
	} else {
		return -1;
	}
	return 0;
}

int sim_state_load(sim_state *s, const char *path, hv_err *err)
{
	memset(s, 0, sizeof(*s));
	uint8_t *data;
	size_t len;
	if (file_read(path, STATE_FILE_MAX, &data, &len, err))
		return hv_err_prefix(err, "reading the card state");
	char *text = malloc(len + 1);
	if (!text) {
		free(data);
		return hv_fail(err, HV_ENOMEM, "out of memory reading %s", path);
	}
	memcpy(text, data, len);
	text[len] = 0;
	secure_wipe(data, len);
	free(data);

	int rc = 0, lineno = 0, ended = 0, version = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line && !ended; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		char *w[MAX_WORDS];
		int n = split(line, w);
		if (lineno == 1) {
			if (n != 2 || strcmp(w[0], "hsmvault-sim-state") != 0 ||
			    (strcmp(w[1], "1") != 0 && strcmp(w[1], "2") != 0)) {
				rc = hv_fail(err, HV_EUSAGE, "%s is not a version 1 or 2 hsmvault-sim state file: use --blank for a new card", path);
				break;
			}
			version = w[1][0] - '0';
			if (version == 1) { /* before profiles: a SmartCard-HSM */
				s->profile = sim_profile_get(SIM_PROFILE_SMARTCARD_HSM);
				s->devaut = SIM_DEVAUT_LEGACY;
			}
			continue;
		}
		if (n <= 0 || parse_line(s, version, w, n, &ended)) {
			rc = hv_fail(err, HV_EUSAGE, "%s line %d is malformed: repair or delete the state file", path, lineno);
			break;
		}
	}
	if (rc == 0 && (!ended || !s->profile || !sim_ef_find(s, 0x2F02) || s->serial[0] == 0 ||
			(!s->devkey) != (s->devaut == SIM_DEVAUT_NONE)))
		rc = hv_fail(err, HV_EUSAGE, "%s is incomplete (no end line, profile, device key, 2F02 or serial): use --blank for a new card", path);
	secure_wipe(text, len);
	free(text);
	if (rc)
		sim_state_free(s);
	return rc;
}
