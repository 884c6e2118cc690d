/* hv-card-prep: puts a simulated card into a known state for shell tests,
 * through the card layer (no OpenSC involved, so the 'card' suite does not
 * depend on OpenSC's view of the simulator). Test helper only: it uses the
 * fixed test PINs of tests/data/sc-hsm-tool/README.md.
 *
 *   hv-card-prep READER init SHARES       SHARES = -1 (no DKEK), 0, 1...
 *   hv-card-prep READER import-share HEX  a 32-byte share in hex
 *   hv-card-prep READER genkey ec|rsa LABEL ID-HEX   prints the key ref
 *   hv-card-prep READER wrong-pin         presents a wrong PIN once
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/obj_mac.h>

#include "card/pcsc.h"
#include "card/schsm.h"
#include "crypto/prkd.h"
#include "util/hex.h"
#include "util/secbuf.h"

static const char USER_PIN[] = "648219";
static const char SO_PIN_HEX[] = "3537363231383830";

static int die(const hv_err *err, const char *what)
{
	fprintf(stderr, "hv-card-prep: %s: %s\n", what, err->msg);
	return 1;
}

static int verify(schsm_card *c, hv_err *err)
{
	secbuf *p = secbuf_dup(USER_PIN, strlen(USER_PIN));
	int rc = schsm_verify_pin(c, p, 0, err);
	secbuf_free(p);
	return rc;
}

static int do_init(schsm_card *c, int shares, hv_err *err)
{
	uint8_t so[8];
	hex_decode(SO_PIN_HEX, so, sizeof(so));
	secbuf *up = secbuf_dup(USER_PIN, strlen(USER_PIN));
	secbuf *sp = secbuf_dup(so, sizeof(so));
	schsm_init_params p = {
		.options = 0x0001,
		.user_pin = up,
		.so_pin = sp,
		.retry_counter = 3,
		.dkek_shares = shares,
	};
	int rc = schsm_initialize(c, &p, 0, err);
	secbuf_free(up);
	secbuf_free(sp);
	return rc;
}

static int do_import(schsm_card *c, const char *hex, hv_err *err)
{
	secbuf *s = secbuf_new(32);
	if (!s || hex_decode(hex, s->data, 32) != 32) {
		secbuf_free(s);
		return hv_fail(err, HV_EUSAGE, "share must be 64 hex digits");
	}
	s->len = 32;
	int rc = schsm_import_dkek_share(c, s, NULL, err);
	secbuf_free(s);
	return rc;
}

static int do_genkey(schsm_card *c, const char *kind, const char *label, const char *idhex,
		     hv_err *err)
{
	int rc = verify(c, err);
	if (rc != HV_OK)
		return rc;
	uint8_t ref = 0;
	rc = schsm_free_key_ref(c, &ref, err);
	if (rc != HV_OK)
		return rc;
	schsm_keygen g = { .key_domain = -1 };
	prkd_info info;
	memset(&info, 0, sizeof(info));
	if (!strcmp(kind, "ec")) {
		g.alg = SCHSM_KEY_EC;
		g.curve_nid = NID_X9_62_prime256v1;
		info.kind = PRKD_EC;
		info.key_bits = 256;
	} else if (!strcmp(kind, "rsa")) {
		g.alg = SCHSM_KEY_RSA;
		g.rsa_bits = 2048;
		info.kind = PRKD_RSA;
		info.key_bits = 2048;
	} else {
		return hv_fail(err, HV_EUSAGE, "key kind must be ec or rsa");
	}
	long idlen = hex_decode(idhex, info.id, sizeof(info.id));
	if (idlen <= 0)
		return hv_fail(err, HV_EUSAGE, "bad key id hex");
	info.id_len = (size_t)idlen;
	snprintf(info.label, sizeof(info.label), "%s", label);
	info.key_ref = ref;
	rc = schsm_generate_key(c, ref, &g, NULL, err);
	if (rc != HV_OK)
		return rc;
	bytebuf b = { 0 };
	rc = prkd_encode(&info, &b, err);
	if (rc == HV_OK)
		rc = schsm_write_ef(c, (uint16_t)(0xC400 | ref), b.data, b.len, err);
	buf_free(&b);
	if (rc == HV_OK)
		printf("%u\n", ref);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: hv-card-prep READER init N | import-share HEX | "
				"genkey ec|rsa LABEL ID | wrong-pin\n");
		return 2;
	}
	hv_err err;
	hv_err_clear(&err);
	pcsc_ctx *ctx = NULL;
	pcsc_card *pc = NULL;
	schsm_card c;
	if (pcsc_open(&ctx, &err) != HV_OK)
		return die(&err, "pcsc_open");
	if (pcsc_connect(ctx, argv[1], &pc, &err) != HV_OK)
		return die(&err, "connect");
	if (schsm_open(&c, pcsc_transport(pc), &err) != HV_OK)
		return die(&err, "select");
	int rc;
	if (!strcmp(argv[2], "init") && argc == 4) {
		rc = do_init(&c, atoi(argv[3]), &err);
	} else if (!strcmp(argv[2], "import-share") && argc == 4) {
		rc = do_import(&c, argv[3], &err);
	} else if (!strcmp(argv[2], "genkey") && argc == 6) {
		rc = do_genkey(&c, argv[3], argv[4], argv[5], &err);
	} else if (!strcmp(argv[2], "wrong-pin") && argc == 3) {
		secbuf *p = secbuf_dup("000000", 6);
		rc = schsm_verify_pin(&c, p, 0, &err);
		secbuf_free(p);
		rc = rc == HV_ESECRET ? HV_OK : (rc == HV_OK ? hv_fail(&err, HV_EINTERNAL, "wrong PIN accepted") : rc);
	} else {
		fprintf(stderr, "hv-card-prep: bad command\n");
		return 2;
	}
	if (rc != HV_OK)
		return die(&err, argv[2]);
	pcsc_disconnect(pc);
	pcsc_close(ctx);
	return 0;
}
