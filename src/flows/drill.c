/* hsmvault drill: the whole life of a card set, rehearsed on an image-file
 * stick and simulated cards, so that an operator (or CI) sees every step
 * work before the day it matters. */
#include "flows/drill.h"

#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/objects.h>

#include "crypto/devaut.h"
#include "crypto/prkd.h"
#include "flows/backup.h"
#include "flows/cardset.h"
#include "flows/drill_env.h"
#include "flows/enroll.h"
#include "flows/restore.h"
#include "flows/verify.h"
#include "stick/stick.h"
#include "util/fileio.h"
#include "util/input_file.h"
#include "util/hex.h"
#include "vault/vault.h"

/* %s: the cards.unattested line, for a set with a pico-hsm. */
static const char classic_policy[] =
	"# The drill's policy: two cards, two DKEK shares, one holder each.\n"
	"format: hsmvault-policy/1\n"
	"name: drill\n"
	"description: Two cards, two DKEK shares (alice, bob)\n"
	"cards:\n"
	"  count: 2\n"
	"  labels: [primary, backup]\n"
	"%s"
	"dkek:\n"
	"  shares:\n"
	"    - holder: alice\n"
	"    - holder: bob\n"
	"pin:\n"
	"  retry_counter: 3\n"
	"  so_pin: holders\n"
	"verify:\n"
	"  max_age_days: 90\n";

struct step {
	const char *name;
	double seconds;
	unsigned long apdus;
};

/* The card family in reader i under the drill's --profile. */
static const char *reader_profile(const char *profile, size_t i)
{
	if (!profile)
		return "smartcard-hsm";
	if (!strcmp(profile, "mixed"))
		return i == 0 ? "pico-hsm" : "smartcard-hsm";
	return profile;
}

static int profile_known(const char *profile)
{
	static const char *const known[] = { "smartcard-hsm", "nitrokey-hsm2", "pico-hsm",
					     "mixed" };
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(profile, known[i]))
			return 1;
	return 0;
}

static int with_pico(const char *profile)
{
	for (size_t i = 0; i < DRILL_ROOM_READERS; i++)
		if (!strcmp(reader_profile(profile, i), "pico-hsm"))
			return 1;
	return 0;
}

struct drill {
	const drill_opts *o;
	char work[PATH_MAX];
	char stick[PATH_MAX + 16];
	drill_room *room;
	devaut_anchors anchors;   /* the default ones and the simulator's root */
	flow_secrets *secrets;
	flow_ctx fc;
	secbuf *passphrase;
	vfs *v;
	struct step steps[16];
	size_t n_steps;
	double t0;
	unsigned long apdus0;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void step_begin(struct drill *d, const char *name)
{
	printf("\n[%zu] %s\n", d->n_steps + 1, name);
	fflush(stdout);
	d->steps[d->n_steps].name = name;
	d->t0 = now_s();
	d->apdus0 = d->room ? drill_room_apdus(d->room) : 0;
}

static void step_end(struct drill *d)
{
	struct step *s = &d->steps[d->n_steps++];
	s->seconds = now_s() - d->t0;
	s->apdus = d->room ? drill_room_apdus(d->room) - d->apdus0 : 0;
	printf("    ok (%.1f s)\n", s->seconds);
	fflush(stdout);
}

/* A random secret of `len` characters from `alphabet`, into the table. */
static int put_random(struct drill *d, const char *name, const char *alphabet, size_t len,
		      hv_err *err)
{
	uint8_t raw[32];
	secbuf *v = secbuf_new(len);
	if (!v || len > sizeof(raw)) {
		secbuf_free(v);
		return hv_fail(err, HV_ENOMEM, "out of memory");
	}
	int rc = flow_random(raw, len, err);
	size_t n = strlen(alphabet);
	for (size_t i = 0; rc == HV_OK && i < len; i++)
		v->data[i] = (uint8_t)alphabet[raw[i] % n];
	v->len = len;
	if (rc == HV_OK)
		rc = flow_secrets_put(d->secrets, name, v->data, v->len, err);
	secure_wipe(raw, sizeof(raw));
	secbuf_free(v);
	return rc;
}

static int give_passphrase(void *ctx, const secbuf **out, hv_err *err)
{
	(void)err;
	*out = ((struct drill *)ctx)->passphrase;
	return HV_OK;
}

/* A kept stick image is useless without its passphrase, which the drill
 * drew at random. The drill is a rehearsal: its secrets are test data, so
 * the passphrase goes next to the image (0600) for whoever inspects it. */
static void keep_passphrase(const struct drill *d, FILE *out)
{
	char path[sizeof(d->work) + 32];
	snprintf(path, sizeof(path), "%s/stick.passphrase", d->work);
	hv_err e = { 0 };
	if (file_write_atomic(path, d->passphrase->data, d->passphrase->len, &e) == HV_OK)
		fprintf(out, "stick passphrase (test data) kept in %s: open the image with "
			"'hsmvault log --vault %s/stick.img --passphrase-fd 3 3<%s'\n", path,
			d->work, path);
	else
		fprintf(out, "the stick's passphrase could not be kept: %s\n", e.msg);
}

static int prepare_stick(struct drill *d, hv_err *err)
{
	d->passphrase = secbuf_new(32);
	if (!d->passphrase)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	uint8_t raw[16];
	int rc = flow_random(raw, sizeof(raw), err);
	if (rc != HV_OK)
		return rc;
	hex_encode(raw, sizeof(raw), (char *)d->passphrase->data, 0);
	d->passphrase->len = 32;
	secure_wipe(raw, sizeof(raw));
	snprintf(d->stick, sizeof(d->stick), "%s/stick.img", d->work);
	stick_prepare_opts po = { .size = 64ull << 20, .batch = 1, .confirm_device = d->stick,
				  .insecure_fast_kdf = d->o->fast_kdf };
	if ((rc = stick_prepare(d->stick, &po, give_passphrase, d, &d->v, err)) != HV_OK)
		return rc;
	if ((rc = vault_init(d->v, NULL, err)) == HV_OK)
		rc = vfs_sync(d->v, err);
	if (rc == HV_OK)
		printf("    %s: LUKS2 (aes-xts-plain64, %s) with an ext4 vault\n", d->stick,
		       d->o->fast_kdf ? "cheap test PBKDF" : "argon2id");
	return rc;
}

static int make_keys(struct drill *d, hv_err *err)
{
	flow_ctx fc = d->fc;
	fc.reader = drill_room_reader(d->room, 0);
	cardset cs = { 0 };
	secbuf *pin = NULL;
	int rc = cardset_open(&fc, &cs, err);
	if (rc == HV_OK)
		rc = flow_secret_get(d->secrets, "pin", "PIN", 6, 16, &pin, err);
	if (rc == HV_OK)
		rc = schsm_verify_pin(&cs.cards[0].sc, pin, 0, err);
	struct { const char *label; int alg; int nid; unsigned bits; uint8_t id; } keys[] = {
		{ "drill-ec", SCHSM_KEY_EC, NID_X9_62_prime256v1, 256, 0xd1 },
		{ "drill-rsa", SCHSM_KEY_RSA, 0, 2048, 0xd2 },
	};
	for (size_t i = 0; rc == HV_OK && i < sizeof(keys) / sizeof(keys[0]); i++) {
		schsm_card *c = &cs.cards[0].sc;
		uint8_t ref;
		if ((rc = schsm_free_key_ref(c, &ref, err)) != HV_OK)
			break;
		schsm_keygen g = { .alg = keys[i].alg, .curve_nid = keys[i].nid,
				   .rsa_bits = keys[i].alg == SCHSM_KEY_RSA ? keys[i].bits : 0,
				   .key_domain = -1 };
		if ((rc = schsm_generate_key(c, ref, &g, NULL, err)) != HV_OK)
			break;
		prkd_info pi = { .kind = keys[i].alg == SCHSM_KEY_EC ? PRKD_EC : PRKD_RSA,
				 .id = { keys[i].id }, .id_len = 1, .key_ref = -1,
				 .key_bits = keys[i].bits };
		snprintf(pi.label, sizeof(pi.label), "%s", keys[i].label);
		bytebuf prkd = { 0 };
		rc = prkd_encode(&pi, &prkd, err);
		if (rc == HV_OK)
			rc = schsm_write_ef(c, (uint16_t)(SCHSM_PREFIX_PRKD << 8 | ref), prkd.data,
					    prkd.len, err);
		buf_free(&prkd);
		if (rc == HV_OK)
			printf("    key %02x (%s, %s %u) generated at reference %u\n", keys[i].id,
			       keys[i].label, keys[i].alg == SCHSM_KEY_EC ? "EC P" : "RSA",
			       keys[i].bits, ref);
	}
	secbuf_free(pin);
	cardset_close(&cs);
	return rc;
}

static int wipe_cards(struct drill *d, hv_err *err)
{
	static const char *fresh[] = { "DRILLC01", "DRILLD01" };
	for (size_t i = 0; i < DRILL_ROOM_READERS; i++) {
		int rc = drill_room_pull(d->room, i, err);
		if (rc == HV_OK)
			rc = drill_room_insert(d->room, i, fresh[i], reader_profile(d->o->profile, i),
					       1, err);
		if (rc != HV_OK)
			return rc;
		printf("    reader %zu: the old card is gone; factory-blank %s card %s inserted\n", i,
		       reader_profile(d->o->profile, i), fresh[i]);
	}
	return HV_OK;
}

/* The stick as someone else would find it: closed, then opened again
 * with its passphrase, the chain walked and every file checked. */
static int reopen_stick(struct drill *d, hv_err *err)
{
	vfs_close(d->v);
	d->v = NULL;
	vfs *v;
	int rc = stick_open_vfs(d->stick, d->passphrase, 0, &v, err);
	if (rc != HV_OK)
		return rc;
	manifest *m;
	if ((rc = manifest_load_current(v, &m, err)) == HV_OK) {
		printf("    manifest version %lu, %zu cards, %zu keys, DKEK KCV %s: chain and "
		       "files check\n", m->version, m->card_n, m->key_n, m->dkek_kcv);
		manifest_free(m);
	}
	vfs_close(v);
	return rc;
}

static int find_sim(const drill_opts *o, char *out, size_t n)
{
	if (o->sim_path) {
		snprintf(out, n, "%s", o->sim_path);
		return 0;
	}
	char self[PATH_MAX];
	ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (l <= 0)
		return -1;
	self[l] = '\0';
	char *dir = dirname(self);
	snprintf(out, n, "%s/hsmvault-sim", dir);
	if (access(out, X_OK) == 0)
		return 0;
	snprintf(out, n, "%s/../sim/hsmvault-sim", dir);
	return access(out, X_OK) == 0 ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* The simulator's cards chain to its own test root, which no
 * installation trusts (and must not: anyone can make such a card). The
 * drill trusts it explicitly, for this run only, as an operator names a
 * root with --trust-dir. */
static int trust_sim_root(struct drill *d, const char *sim, hv_err *err)
{
	char dir[PATH_MAX + 8], file[PATH_MAX + 40];
	snprintf(dir, sizeof(dir), "%s/trust", d->work);
	snprintf(file, sizeof(file), "%s/hsmvault-sim-root.cvc", dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return hv_fail(err, HV_EIO, "cannot make %s: %s", dir, strerror(errno));
	int rc = drill_sim_print_root(sim, file, err);
	if (rc == HV_OK)
		rc = devaut_anchors_add_default(&d->anchors, err);
	if (rc == HV_OK)
		rc = devaut_anchors_add_dir(&d->anchors, dir, 0, err);
	if (rc != HV_OK)
		return rc;
	d->fc.anchors = &d->anchors;
	printf("    trusting the simulator's test root for this drill only (%s, from "
	       "hsmvault-sim --print-root): its cards chain to it, no real card does\n", file);
	return HV_OK;
}

static int run(struct drill *d, const policy *p, const uint8_t *ptext, size_t plen,
	       hv_err *err)
{
	int rc;
	char sim[PATH_MAX];
	if (find_sim(d->o, sim, sizeof(sim)) != 0)
		return hv_fail(err, HV_EUSAGE, "the simulator hsmvault-sim was not found next to "
			       "hsmvault: install the Debian package hsmvault-sim (in a source "
			       "tree: ninja -C build), or give --sim PATH");

	step_begin(d, "prepare an image-file stick (LUKS2 + ext4 vault)");
	if ((rc = prepare_stick(d, err)) != HV_OK)
		return rc;
	step_end(d);

	step_begin(d, "start a private pcscd with two virtual readers and two blank cards");
	if ((rc = drill_room_start(d->work, sim, &d->room, err)) != HV_OK ||
	    (rc = drill_room_insert(d->room, 0, "DRILLA01", reader_profile(d->o->profile, 0), 1,
				    err)) != HV_OK ||
	    (rc = drill_room_insert(d->room, 1, "DRILLB01", reader_profile(d->o->profile, 1), 1,
				    err)) != HV_OK)
		return rc;
	printf("    reader 0: %s card DRILLA01; reader 1: %s card DRILLB01\n",
	       reader_profile(d->o->profile, 0), reader_profile(d->o->profile, 1));
	if ((rc = trust_sim_root(d, sim, err)) != HV_OK)
		return rc;
	step_end(d);

	step_begin(d, "enroll: DKEK shares for alice and bob, initialize both cards, check KCV");
	for (size_t i = 0; i < p->n_shares; i++) {
		char name[32];
		snprintf(name, sizeof(name), "share-%zu", i + 1);
		if ((rc = put_random(d, name, "abcdefghijkmnpqrstuvwxyz23456789", 20, err)) != HV_OK)
			return rc;
	}
	if ((rc = put_random(d, "so-pin", "0123456789ABCDEF", 16, err)) != HV_OK ||
	    (rc = put_random(d, "pin", "0123456789", 8, err)) != HV_OK)
		return rc;
	enroll_result er;
	if ((rc = flow_enroll(&d->fc, d->v, p, ptext, plen, &er, err)) != HV_OK)
		return rc;
	step_end(d);

	step_begin(d, "generate keys on the primary card (EC P-256, RSA 2048)");
	if ((rc = make_keys(d, err)) != HV_OK)
		return rc;
	step_end(d);

	step_begin(d, "backup: wrap every key into the vault");
	backup_result br;
	if ((rc = flow_backup(&d->fc, d->v, &br, err)) != HV_OK)
		return rc;
	if (br.wrapped != 2)
		return hv_fail(err, HV_EINTERNAL, "backup wrapped %zu keys, expected 2", br.wrapped);
	step_end(d);

	/* pico-hsm shows its KCV only after the user PIN: the drill gives it
	 * (--check-kcv), as an operator of such a set would. */
	int pico = with_pico(d->o->profile);
	step_begin(d, pico ? "verify: both cards against the vault (with the PIN: pico-hsm's KCV)" :
			     "verify: both cards against the vault");
	verify_opts vo = { .record_result = 1, .check_kcv = pico };
	verify_report rep;
	rc = flow_verify(&d->fc, d->v, &vo, &rep, err);
	verify_report_free(&rep);
	if (rc != HV_OK)
		return rc;
	step_end(d);

	step_begin(d, "disaster: both cards lost; two factory-blank cards arrive");
	if ((rc = wipe_cards(d, err)) != HV_OK)
		return rc;
	step_end(d);

	step_begin(d, "restore: rebuild the set from the vault, prove every key");
	restore_result rr;
	if ((rc = flow_restore(&d->fc, d->v, NULL, &rr, err)) != HV_OK)
		return rc;
	step_end(d);

	step_begin(d, "deep verify: every restored key signs a fresh challenge");
	flow_ctx deep = d->fc;
	deep.deep = 1;
	vo.check_kcv = 0;
	rc = flow_verify(&deep, d->v, &vo, &rep, err);
	verify_report_free(&rep);
	if (rc != HV_OK)
		return rc;
	step_end(d);

	step_begin(d, "reopen the stick with its passphrase and check the whole manifest chain");
	if ((rc = reopen_stick(d, err)) != HV_OK)
		return rc;
	step_end(d);
	return HV_OK;
}

int flow_drill(const drill_opts *o, hv_err *err)
{
	struct drill d;
	memset(&d, 0, sizeof(d));
	d.o = o;
	int made_dir = 0, rc;
	if (o->workdir) {
		if (mkdir(o->workdir, 0700) != 0 && errno != EEXIST)
			return hv_fail(err, HV_EIO, "cannot make %s: %s", o->workdir, strerror(errno));
		if (realpath(o->workdir, d.work) == NULL)
			return hv_fail(err, HV_EIO, "%s: %s", o->workdir, strerror(errno));
		char probe[PATH_MAX + 16];
		snprintf(probe, sizeof(probe), "%s/stick.img", d.work);
		if (access(probe, F_OK) == 0)
			return hv_fail(err, HV_ESAFETY, "%s already holds a drill (stick.img): give an "
				       "empty or new --workdir", o->workdir);
	} else {
		snprintf(d.work, sizeof(d.work), "/tmp/hsmvault-drill.XXXXXX");
		if (!mkdtemp(d.work))
			return hv_fail(err, HV_EIO, "cannot make a work folder in /tmp: %s",
				       strerror(errno));
		made_dir = 1;
	}
	policy p;
	uint8_t *ptext = NULL;
	size_t plen = 0;
	devaut_anchors_init(&d.anchors);
	if (o->profile && !profile_known(o->profile)) {
		rc = hv_fail(err, HV_EUSAGE, "--profile %s is not a card family the simulator "
			     "knows: use smartcard-hsm, nitrokey-hsm2, pico-hsm or mixed", o->profile);
	} else if (o->policy_path) {
		rc = input_file_read(o->policy_path, "policy", POLICY_MAX_BYTES, &ptext, &plen,
				     err);
		if (rc == HV_OK)
			rc = policy_parse(o->policy_path, ptext, plen, &p, err);
		if (rc == HV_OK && p.card_count != DRILL_ROOM_READERS)
			rc = hv_fail(err, HV_EUSAGE, "the drill has %d readers: give a policy for %d "
				     "cards", DRILL_ROOM_READERS, DRILL_ROOM_READERS);
		if (rc == HV_OK)
			for (size_t i = 0; i < p.n_shares; i++)
				if (p.shares[i].threshold)
					rc = hv_fail(err, HV_EUSAGE, "the drill uses password shares "
						     "only: share %zu of %s is split", i + 1,
						     o->policy_path);
	} else {
		/* A pico-hsm cannot prove it is genuine: the drill's own policy
		 * accepts it, and says why in the policy it stores. */
		const char *unattested = with_pico(o->profile) ?
			"  # pico-hsm has a self-signed device certificate only\n"
			"  unattested: accept\n" : "";
		ptext = malloc(sizeof(classic_policy) + strlen(unattested));
		rc = ptext ? HV_OK : hv_fail(err, HV_ENOMEM, "out of memory");
		if (rc == HV_OK) {
			plen = (size_t)sprintf((char *)ptext, classic_policy, unattested);
			rc = policy_parse("built-in drill policy", ptext, plen, &p, err);
		}
	}
	if (rc == HV_OK)
		rc = flow_secrets_memory(&d.secrets, err);
	if (rc == HV_OK) {
		d.fc.secrets = d.secrets;
		d.fc.out = stdout;
		d.fc.batch = 1;
		printf("hsmvault drill in %s: a full rehearsal on a stick image and simulated %s "
		       "cards\n", d.work, o->profile ? o->profile : "smartcard-hsm");
		double start = now_s();
		rc = run(&d, &p, ptext, plen, err);
		if (rc == HV_OK) {
			printf("\n%-74s %8s %6s\n", "step", "seconds", "APDUs");
			for (size_t i = 0; i < d.n_steps; i++)
				printf("%-74s %8.1f %6lu\n", d.steps[i].name, d.steps[i].seconds,
				       d.steps[i].apdus);
			printf("%-74s %8.1f %6lu\n", "total", now_s() - start,
			       d.room ? drill_room_apdus(d.room) : 0);
			printf("\ndrill passed: the set was enrolled, backed up, verified, lost, "
			       "restored and proven.\n");
		}
	}
	vfs_close(d.v);
	drill_room_stop(d.room);
	devaut_anchors_free(&d.anchors);
	flow_secrets_free(d.secrets);
	if ((o->keep || rc != HV_OK) && d.passphrase)
		keep_passphrase(&d, rc == HV_OK ? stdout : stderr);
	secbuf_free(d.passphrase);
	free(ptext);
	if (o->keep || rc != HV_OK)
		fprintf(rc == HV_OK ? stdout : stderr, "work folder kept: %s\n", d.work);
	else if (made_dir)
		nftw(d.work, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
