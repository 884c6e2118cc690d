/* hsmvault card status: what every reader holds, read without any PIN.
 * Each card is read in one PC/SC transaction (select, identity, PIN and
 * SO-PIN status queries that consume no try, DKEK status, key inventory)
 * and all output is printed after every card was read, so a slow card does
 * not leave half a table on the screen. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/objects.h>

#include "card/pcsc.h"
#include "card/schsm.h"
#include "cli/cli.h"
#include "cli/flow_args.h"
#include "flows/attest.h"
#include "util/hex.h"
#include "util/json.h"

typedef struct card_report {
	const char *reader;
	int present;            /* a card is in the reader */
	int code;               /* HV_OK, or why the card could not be read */
	char error[HV_ERR_MSG_MAX];
	schsm_fcp fcp;
	schsm_identity id;
	schsm_device_info dev;
	schsm_dkek_info dkek;
	schsm_key_list keys;
	card_attest att;        /* att.checked: the device chain was judged */
} card_report;

static void status_usage(FILE *f)
{
	fprintf(f,
		"usage: hsmvault card status [--reader NAME] [--trust-dir DIR]... [--json]\n"
		"\n"
		"Shows every card reader and the SmartCard-HSM in it: serial number,\n"
		"firmware, user PIN and SO-PIN tries left, DKEK state (shares and key\n"
		"check value) and every key (reference, ID, label, algorithm, whether a\n"
		"certificate is stored and whether the key can be wrapped for backup).\n"
		"No PIN is asked and no PIN try is used. A pico-hsm that was never\n"
		"initialized has no device certificate, hence no serial, yet: it shows as\n"
		"blank until enroll or restore initializes it.\n"
		"\n"
		"Each card's device authentication is shown: 'genuine' with its chain\n"
		"(device certificate <- issuer <- trusted root), 'not attested' (nothing\n"
		"to check: pico-hsm's self-signed device certificate, or none yet) or\n"
		"'FAILED' (a chain that does not verify to a trusted root), with the\n"
		"reason. Trusted roots: CardContact's, those installed with hsmvault,\n"
		"and every --trust-dir.\n"
		"\n"
		"  --reader NAME  only this reader (its full PC/SC name)\n"
		"  --trust-dir DIR  also trust the root certificates (*.cvc) in DIR;\n"
		"                 repeatable\n"
		"  --json         machine-readable output\n"
		"  -h, --help     this text\n"
		"\n"
		"Exit status: 0 all cards read; 4 a reader or card could not be read\n"
		"(the others are still shown); 2 bad arguments.\n");
}

static void card_usage(FILE *f)
{
	fprintf(f, "usage: hsmvault card status [--reader NAME] [--trust-dir DIR]... [--json]\n"
		   "\n"
		   "  status   readers, cards, PIN tries, DKEK state and keys\n"
		   "\n"
		   "'hsmvault card status --help' describes the options.\n");
}

/* Reads one card; failures are recorded in r, never fatal for the run. */
static void read_card(pcsc_ctx *ctx, const devaut_anchors *anchors, card_report *r)
{
	hv_err err;
	hv_err_clear(&err);
	pcsc_card *pc = NULL;
	int began = 0;
	schsm_card c;

	r->code = pcsc_connect(ctx, r->reader, &pc, &err);
	if (r->code != HV_OK)
		goto out;
	r->code = pcsc_begin(pc, &err);
	if (r->code != HV_OK)
		goto out;
	began = 1;
	r->code = schsm_open(&c, pcsc_transport(pc), &err);
	if (r->code != HV_OK)
		goto out;
	r->fcp = c.fcp;
	/* The chain first: even a card whose identity cannot be read gets a
	 * verdict on what its EF 2F02 holds. */
	r->code = attest_card(&c, anchors, &r->att, &err);
	if (r->code != HV_OK)
		goto out;
	r->code = schsm_card_identity(&c, &r->id, &err);
	if (r->code != HV_OK)
		goto out;
	r->code = schsm_device_status(&c, &r->dev, &err);
	if (r->code != HV_OK)
		goto out;
	if (r->dev.state == SCHSM_DEV_UNINITIALIZED)
		goto out; /* nothing more to read on a blank card */
	r->code = schsm_dkek_status(&c, &r->dkek, &err);
	if (r->code != HV_OK)
		goto out;
	r->code = schsm_list_keys(&c, &r->keys, &err);
out:
	if (r->code != HV_OK)
		snprintf(r->error, sizeof(r->error), "%s", err.msg);
	if (began) {
		hv_err end_err;
		hv_err_clear(&end_err);
		pcsc_end(pc, 0, &end_err);
	}
	pcsc_disconnect(pc);
}

static const char *pin_state_name(const schsm_pin_info *p)
{
	switch (p->state) {
	case SCHSM_PIN_OK:
		return "verified";
	case SCHSM_PIN_TRIES:
		return "ok";
	case SCHSM_PIN_BLOCKED:
		return "blocked";
	case SCHSM_PIN_TRANSPORT:
		return "transport";
	case SCHSM_PIN_NOT_SET:
		return "not-set";
	default:
		return "unknown";
	}
}

/* "3 tries left", "BLOCKED", ... for the table. */
static void pin_text(const schsm_pin_info *p, char *out, size_t n)
{
	switch (p->state) {
	case SCHSM_PIN_TRIES:
		snprintf(out, n, "%d %s left", p->tries, p->tries == 1 ? "try" : "tries");
		break;
	case SCHSM_PIN_OK:
		snprintf(out, n, "verified");
		break;
	case SCHSM_PIN_BLOCKED:
		snprintf(out, n, "BLOCKED");
		break;
	case SCHSM_PIN_TRANSPORT:
		snprintf(out, n, "transport PIN (change it first)");
		break;
	case SCHSM_PIN_NOT_SET:
		snprintf(out, n, "not set");
		break;
	default:
		snprintf(out, n, "unknown (SW %04X)", p->sw);
		break;
	}
}

static const char *dev_state_name(int state)
{
	switch (state) {
	case SCHSM_DEV_UNINITIALIZED:
		return "uninitialized";
	case SCHSM_DEV_TRANSPORT_PIN:
		return "transport-pin";
	default:
		return "initialized";
	}
}

static const char *alg_name(int alg)
{
	switch (alg) {
	case SCHSM_KEY_RSA:
		return "RSA";
	case SCHSM_KEY_EC:
		return "EC";
	case SCHSM_KEY_AES:
		return "AES";
	default:
		return "unknown";
	}
}

/* "EC P-256", "RSA 2048", "AES 256", "EC 256" when the curve is unknown. */
static void key_alg_text(const schsm_key *k, char *out, size_t n)
{
	if (k->alg == SCHSM_KEY_EC && k->curve_nid) {
		const char *cn = EC_curve_nid2nist(k->curve_nid);
		if (!cn)
			cn = OBJ_nid2sn(k->curve_nid);
		snprintf(out, n, "EC %s", cn);
	} else if (k->bits) {
		snprintf(out, n, "%s %u", alg_name(k->alg), k->bits);
	} else {
		snprintf(out, n, "%s", alg_name(k->alg));
	}
}

static const char *curve_text(const schsm_key *k)
{
	if (k->alg != SCHSM_KEY_EC || !k->curve_nid)
		return NULL;
	const char *cn = EC_curve_nid2nist(k->curve_nid);
	return cn ? cn : OBJ_nid2sn(k->curve_nid);
}

static const char *cert_text(const schsm_key *k)
{
	if (k->has_cert)
		return "X.509";
	if (k->has_cv_request)
		return "CV request";
	return "none";
}

/* ---- human output ---- */

static void print_keys_table(const schsm_key_list *l)
{
	if (l->n == 0) {
		printf("  keys: none\n");
		return;
	}
	printf("  keys:\n");
	printf("    %-4s %-20s %-24s %-12s %-11s %s\n", "REF", "ID", "LABEL", "ALGORITHM",
	       "CERTIFICATE", "EXPORTABLE");
	for (size_t i = 0; i < l->n; i++) {
		const schsm_key *k = &l->keys[i];
		char id[2 * sizeof(k->id) + 1];
		char alg[48];
		hex_encode(k->id, k->id_len, id, 0);
		key_alg_text(k, alg, sizeof(alg));
		const char *label = k->device_key ? "(device key)" : k->label;
		printf("    %-4u %-20s %-24s %-12s %-11s %s\n", k->ref, k->id_len ? id : "-",
		       label[0] ? label : "-", alg, cert_text(k), k->exportable ? "yes" : "no");
	}
}

/* genuine / not attested / FAILED, each with what it rests on. */
static void print_attestation(const card_attest *a)
{
	char chain[96];
	switch (a->r.status) {
	case DEVAUT_GENUINE:
		attest_chain(a, chain, sizeof(chain));
		printf("  genuine:   yes, device certificate %s\n", chain);
		break;
	case DEVAUT_NOT_ATTESTED:
		printf("  genuine:   not attested: %s\n", a->r.reason);
		break;
	default:
		printf("  genuine:   FAILED: %s\n", a->r.reason);
		break;
	}
}

static void json_attestation(json_out *j, const card_attest *a)
{
	json_obj_begin(j, "attestation");
	json_str(j, "status", devaut_status_name(a->r.status));
	json_str(j, "device", a->r.device_chr[0] ? a->r.device_chr : NULL);
	json_str(j, "issuer", a->r.issuer_chr[0] ? a->r.issuer_chr : NULL);
	json_str(j, "root", a->r.root_chr[0] ? a->r.root_chr : NULL);
	json_arr_begin(j, "chain");
	if (a->r.status == DEVAUT_GENUINE) {
		json_str(j, NULL, a->r.device_chr);
		if (a->r.issuer_chr[0] && strcmp(a->r.issuer_chr, a->r.root_chr) &&
		    strcmp(a->r.device_chr, a->r.root_chr))
			json_str(j, NULL, a->r.issuer_chr);
		if (strcmp(a->r.device_chr, a->r.root_chr))
			json_str(j, NULL, a->r.root_chr);
	}
	json_arr_end(j);
	json_str(j, "reason", a->r.status == DEVAUT_GENUINE ? NULL : a->r.reason);
	json_obj_end(j);
}

static void print_human(const card_report *r, size_t n)
{
	if (n == 0) {
		printf("no card readers found\n");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const card_report *c = &r[i];
		if (i)
			printf("\n");
		printf("reader %s\n", c->reader);
		if (!c->present) {
			printf("  no card\n");
			continue;
		}
		if (c->id.serial[0])
			printf("  serial:    %s\n", c->id.serial);
		else if (c->id.no_identity)
			printf("  serial:    none yet\n");
		if (c->fcp.has_85)
			printf("  firmware:  %u.%u\n", c->fcp.fw_major, c->fcp.fw_minor);
		if (c->att.checked)
			print_attestation(&c->att);
		if (c->id.serial[0] || c->id.no_identity) {
			char user[64], so[64];
			pin_text(&c->dev.user, user, sizeof(user));
			pin_text(&c->dev.so, so, sizeof(so));
			if (c->id.no_identity)
				printf("  state:     blank (pico-hsm: no device identity until "
				       "initialized)\n");
			else
				printf("  state:     %s\n", dev_state_name(c->dev.state));
			printf("  user PIN:  %s\n", user);
			printf("  SO-PIN:    %s\n", so);
		}
		if (c->code != HV_OK) {
			printf("  error:     %s\n", c->error);
			continue;
		}
		if (c->dev.state == SCHSM_DEV_UNINITIALIZED) {
			printf("  (blank card: initialize it before use)\n");
			continue;
		}
		if (!c->dkek.configured) {
			printf("  DKEK:      none (keys on this card cannot be backed up)\n");
		} else {
			char kcv[17];
			hex_encode(c->dkek.kcv, sizeof(c->dkek.kcv), kcv, 1);
			printf("  DKEK:      %d share%s, %d outstanding, KCV %s\n",
			       c->dkek.shares_total, c->dkek.shares_total == 1 ? "" : "s",
			       c->dkek.shares_missing, c->dkek.kcv_known ? kcv : "unknown");
		}
		print_keys_table(&c->keys);
	}
}

/* ---- JSON output ---- */

static void json_pin(json_out *j, const char *key, const schsm_pin_info *p)
{
	json_obj_begin(j, key);
	json_str(j, "state", pin_state_name(p));
	if (p->state == SCHSM_PIN_TRIES)
		json_int(j, "tries_left", p->tries);
	else if (p->state == SCHSM_PIN_BLOCKED)
		json_int(j, "tries_left", 0);
	else
		json_null(j, "tries_left");
	json_obj_end(j);
}

static void json_key(json_out *j, const schsm_key *k)
{
	char id[2 * sizeof(k->id) + 1];
	hex_encode(k->id, k->id_len, id, 0);
	json_obj_begin(j, NULL);
	json_int(j, "ref", k->ref);
	json_bool(j, "device_key", k->device_key);
	json_str(j, "id", k->id_len ? id : NULL);
	json_str(j, "label", k->has_prkd ? k->label : NULL);
	json_str(j, "algorithm", alg_name(k->alg));
	if (k->bits)
		json_int(j, "bits", k->bits);
	else
		json_null(j, "bits");
	json_str(j, "curve", curve_text(k));
	json_bool(j, "certificate", k->has_cert);
	json_bool(j, "cv_request", k->has_cv_request);
	json_bool(j, "exportable", k->exportable);
	json_obj_end(j);
}

static void print_json(const card_report *r, size_t n)
{
	json_out j;
	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_arr_begin(&j, "readers");
	for (size_t i = 0; i < n; i++) {
		const card_report *c = &r[i];
		json_obj_begin(&j, NULL);
		json_str(&j, "reader", c->reader);
		json_bool(&j, "card_present", c->present);
		if (!c->present) {
			json_null(&j, "card");
			json_obj_end(&j);
			continue;
		}
		json_obj_begin(&j, "card");
		json_str(&j, "error", c->code == HV_OK ? NULL : c->error);
		json_str(&j, "serial", c->id.serial[0] ? c->id.serial : NULL);
		json_str(&j, "card_id", c->id.id[0] ? c->id.id : NULL);
		if (c->att.checked)
			json_attestation(&j, &c->att);
		else
			json_null(&j, "attestation");
		if (c->fcp.has_85) {
			char fw[16];
			snprintf(fw, sizeof(fw), "%u.%u", c->fcp.fw_major, c->fcp.fw_minor);
			json_str(&j, "firmware", fw);
		} else {
			json_null(&j, "firmware");
		}
		/* a blank pico-hsm has no device certificate before INITIALIZE */
		json_bool(&j, "device_identity", c->id.serial[0] != '\0');
		if (c->id.serial[0] || c->id.no_identity) {
			json_str(&j, "state", dev_state_name(c->dev.state));
			json_pin(&j, "user_pin", &c->dev.user);
			json_pin(&j, "so_pin", &c->dev.so);
		}
		int initialized = c->id.serial[0] && !c->id.no_identity &&
				  c->dev.state != SCHSM_DEV_UNINITIALIZED;
		if (initialized && c->code == HV_OK) {
			json_obj_begin(&j, "dkek");
			json_bool(&j, "configured", c->dkek.configured);
			if (c->dkek.configured) {
				char kcv[17];
				hex_encode(c->dkek.kcv, sizeof(c->dkek.kcv), kcv, 1);
				json_int(&j, "shares_total", c->dkek.shares_total);
				json_int(&j, "shares_outstanding", c->dkek.shares_missing);
				json_str(&j, "kcv", c->dkek.kcv_known ? kcv : "unknown");
			}
			json_obj_end(&j);
			json_arr_begin(&j, "keys");
			for (size_t k = 0; k < c->keys.n; k++)
				json_key(&j, &c->keys.keys[k]);
			json_arr_end(&j);
		}
		json_obj_end(&j);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_finish(&j);
}

static int card_status(int argc, char **argv, hv_err *err)
{
	static const struct option opts[] = {
		{ "reader", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "trust-dir", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *only = NULL;
	int json = 0, o;
	const char *trust_dirs[16];
	size_t n_trust = 0;
	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'r':
			only = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 't':
			if (n_trust == sizeof(trust_dirs) / sizeof(trust_dirs[0]))
				return hv_fail(err, HV_EUSAGE, "too many --trust-dir options (at "
					       "most %zu)", sizeof(trust_dirs) / sizeof(trust_dirs[0]));
			trust_dirs[n_trust++] = optarg;
			break;
		case 'h':
			status_usage(stdout);
			return HV_OK;
		default:
			return hv_fail(err, HV_EUSAGE,
				       "unknown or incomplete option '%s': see 'hsmvault card status --help'",
				       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return hv_fail(err, HV_EUSAGE, "unexpected argument '%s': see 'hsmvault card status --help'",
			       argv[optind]);

	devaut_anchors anchors;
	int rc = flow_args_load_anchors(&anchors, trust_dirs, n_trust, err);
	if (rc != HV_OK)
		return rc;
	pcsc_ctx *ctx = NULL;
	rc = pcsc_open(&ctx, err);
	if (rc != HV_OK) {
		devaut_anchors_free(&anchors);
		return rc;
	}
	pcsc_reader *readers = NULL;
	size_t nr = 0;
	rc = pcsc_list_readers(ctx, &readers, &nr, err);
	if (rc != HV_OK) {
		pcsc_close(ctx);
		devaut_anchors_free(&anchors);
		return rc;
	}
	card_report *rep = calloc(nr ? nr : 1, sizeof(*rep));
	if (!rep) {
		pcsc_readers_free(readers, nr);
		pcsc_close(ctx);
		devaut_anchors_free(&anchors);
		return hv_fail(err, HV_ENOMEM, "out of memory");
	}
	size_t n = 0;
	for (size_t i = 0; i < nr; i++) {
		if (only && strcmp(only, readers[i].name) != 0)
			continue;
		card_report *r = &rep[n++];
		r->reader = readers[i].name;
		r->present = readers[i].card_present;
		if (r->present)
			read_card(ctx, &anchors, r);
	}
	if (only && n == 0) {
		rc = hv_fail(err, HV_EUSAGE,
			     "no reader named '%s': run 'hsmvault card status' to list the readers", only);
	} else {
		if (json)
			print_json(rep, n);
		else
			print_human(rep, n);
		fflush(stdout);
		for (size_t i = 0; i < n; i++) {
			if (rep[i].present && rep[i].code != HV_OK) {
				rc = hv_fail(err, HV_ECARD, "the card in reader '%s' could not be read: %s",
					     rep[i].reader, rep[i].error);
				break;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		schsm_key_list_free(&rep[i].keys);
		attest_clear(&rep[i].att);
	}
	devaut_anchors_free(&anchors);
	free(rep);
	pcsc_readers_free(readers, nr);
	pcsc_close(ctx);
	return rc;
}

int cmd_card(int argc, char **argv, hv_err *err)
{
	if (argc < 2) {
		card_usage(stderr);
		return HV_EUSAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		card_usage(stdout);
		return HV_OK;
	}
	if (!strcmp(argv[1], "status"))
		return card_status(argc - 1, argv + 1, err);
	return hv_fail(err, HV_EUSAGE, "unknown card command '%s': run 'hsmvault card --help'",
		       argv[1]);
}
