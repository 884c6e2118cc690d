#include "sample_build.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/fileio.h"
#include "util/hex.h"
#include "vault/journal.h"
#include "vault/manifest.h"
#include "vault/vault.h"
#include "vfs/vfs_dir.h"

const char *const sample_files[] = {
	"HSMVAULT", "RECOVERY.md", "policy.yaml",
	"manifest/000001.yaml", "manifest/000002.yaml", "manifest/000003.yaml",
	"shares/dkek-share-1.pbe", "shares/dkek-share-2.pbe",
	"keys/" SAMPLE_KCV "/" SAMPLE_KEY_ID ".wrap",
	"journal/000001.yaml",
};
const size_t sample_file_count = sizeof(sample_files) / sizeof(sample_files[0]);

static const char sample_policy[] =
	"format: hsmvault-policy/1\n"
	"name: ca-root\n"
	"cards:\n"
	"  count: 2\n"
	"dkek:\n"
	"  shares:\n"
	"    - holder: alice\n"
	"    - holder: bob\n"
	"pin:\n"
	"  retry_counter: 3\n"
	"  so_pin: holders\n"
	"keys:\n"
	"  backup: all\n"
	"verify:\n"
	"  max_age_days: 90\n";

static time_t at(int y, int mo, int d, int h, int mi)
{
	struct tm tm = { 0 };
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return timegm(&tm);
}

/* Copies a fixture into the vault; its sha256 goes to hash. */
static int put_fixture(vfs *v, const char *data_dir, const char *name, const char *dst,
		       char hash[65], hv_err *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	uint8_t *d;
	size_t n;
	int rc = file_read(path, 1 << 20, &d, &n, err);
	if (rc)
		return rc;
	manifest_sha256_hex(d, n, hash);
	rc = vfs_write_atomic(v, dst, d, n, err);
	free(d);
	return rc;
}

/* The DER SubjectPublicKeyInfo of the fixture key, as hex. */
static int public_key_hex(const char *data_dir, char **hex, char sha[65], hv_err *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/pub-before.pem", data_dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return hv_fail(err, HV_EIO, "cannot open %s", path);
	EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (!k)
		return hv_fail(err, HV_EUSAGE, "%s holds no public key", path);
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);
	EVP_PKEY_free(k);
	if (n <= 0)
		return hv_fail(err, HV_EINTERNAL, "cannot encode the public key");
	*hex = malloc(2 * (size_t)n + 1);
	hex_encode(der, (size_t)n, *hex, 0);
	manifest_sha256_hex(der, (size_t)n, sha);
	OPENSSL_free(der);
	return HV_OK;
}

static int build(vfs *v, const char *data_dir, hv_err *err)
{
	int rc;
	/* Version 1 at a fixed time; vault_init then keeps it. */
	const char *dirs[] = { "manifest", "shares", "keys" };
	for (int i = 0; i < 3; i++)
		if ((rc = vfs_mkdir(v, dirs[i], err)))
			return rc;
	manifest *m = manifest_new();
	rc = manifest_append_at(v, m, "vault created", at(2026, 1, 5, 9, 0), NULL, err);
	manifest_free(m);
	if (rc || (rc = vault_init(v, NULL, err)))
		return rc;

	/* Version 2: the card set. Data files first, then the manifest. */
	char h_pol[65], h_s1[65], h_s2[65];
	manifest_sha256_hex(sample_policy, strlen(sample_policy), h_pol);
	if ((rc = vfs_write_atomic(v, VAULT_POLICY, sample_policy, strlen(sample_policy), err)) ||
	    (rc = put_fixture(v, data_dir, "dkek-share-1.pbe", "shares/dkek-share-1.pbe", h_s1,
			      err)) ||
	    (rc = put_fixture(v, data_dir, "dkek-share-2.pbe", "shares/dkek-share-2.pbe", h_s2,
			      err)))
		return rc;
	if ((rc = manifest_load_current(v, &m, err)))
		return rc;
	manifest_set(&m->policy_name, "ca-root");
	manifest_set(&m->policy_sha256, h_pol);
	m->share_count = 2;
	manifest_set(&m->dkek_kcv, SAMPLE_KCV);
	char *alice = "alice", *bob = "bob";
	manifest_share s1 = { 1, "shares/dkek-share-1.pbe", h_s1, SAMPLE_SHARE1_CHECK, "password",
			      { &alice, 1 }, 1 };
	manifest_share s2 = { 2, "shares/dkek-share-2.pbe", h_s2, SAMPLE_SHARE2_CHECK, "password",
			      { &bob, 1 }, 1 };
	manifest_add_share(m, &s1);
	manifest_add_share(m, &s2);
	/* Illustrative device keys: a real card id hashes the card's own
	 * device public key. */
	char id1[96], id2[96];
	manifest_card_identity("ESPICOHSMTR", (const uint8_t *)"sample device key 1", 19, id1,
			       sizeof(id1));
	manifest_card_identity("DECC0100002", (const uint8_t *)"sample device key 2", 19, id2,
			       sizeof(id2));
	manifest_card c1 = { .id = id1, .serial = "ESPICOHSMTR", .role = "primary",
			     .firmware = "5.0", .kcv = SAMPLE_KCV };
	manifest_card c2 = { .id = id2, .serial = "DECC0100002", .role = "backup",
			     .firmware = "3.5", .kcv = SAMPLE_KCV };
	manifest_add_card(m, &c1);
	manifest_add_card(m, &c2);
	rc = manifest_append_at(v, m, "card set created: 2 shares, 2 cards, KCV " SAMPLE_KCV,
				at(2026, 1, 5, 9, 30), NULL, err);
	manifest_free(m);
	if (rc)
		return rc;

	/* Version 3: a key backed up from the primary card, then verified. */
	char h_key[65];
	const char *keyfile = "keys/" SAMPLE_KCV "/" SAMPLE_KEY_ID ".wrap";
	if ((rc = vfs_mkdir(v, "keys/" SAMPLE_KCV, err)) ||
	    (rc = put_fixture(v, data_dir, "wrapped.bin", keyfile, h_key, err)))
		return rc;
	char *pub = NULL, pub_sha[65];
	if ((rc = public_key_hex(data_dir, &pub, pub_sha, err)))
		return rc;
	if ((rc = manifest_load_current(v, &m, err))) {
		free(pub);
		return rc;
	}
	char t3[21];
	time_t when = at(2026, 1, 5, 10, 0);
	struct tm tm;
	gmtime_r(&when, &tm);
	strftime(t3, sizeof(t3), "%Y-%m-%dT%H:%M:%SZ", &tm);
	manifest_key k = { SAMPLE_KEY_ID, "myfirst_keypair", 1, "EC P-256", pub, pub_sha,
			   SAMPLE_KCV, (char *)keyfile, h_key, id1, t3 };
	manifest_add_key(m, &k);
	free(pub);
	manifest_strlist_add(&m->cards[0].keys, SAMPLE_KEY_ID);
	rc = manifest_append_at(v, m, "backup of card ESPICOHSMTR: 1 key", when, NULL, err);
	manifest_free(m);
	if (rc)
		return rc;

	/* Then a quick verification of both cards: a journal entry naming
	 * version 3, not a manifest version. */
	char h3[65];
	if ((rc = manifest_load_current_hash(v, &m, h3, err)))
		return rc;
	manifest_free(m);
	journal_entry j = { .manifest_version = 3, .kind = "quick", .result = "ok" };
	memcpy(j.manifest_sha256, h3, sizeof(h3));
	journal_card jc1 = { id1, "ok", NULL }, jc2 = { id2, "ok", NULL };
	if (journal_add_card(&j, &jc1) || journal_add_card(&j, &jc2))
		return hv_fail(err, HV_ENOMEM, "out of memory");
	rc = journal_append(v, &j, at(2026, 1, 12, 3, 0), NULL, err);
	for (size_t i = 0; i < j.card_n; i++) {
		free(j.cards[i].id);
		free(j.cards[i].result);
		free(j.cards[i].detail);
	}
	free(j.cards);
	if (rc)
		return rc;

	if ((rc = manifest_load_current(v, &m, err)))
		return rc;
	rc = vault_write_recovery(v, m, err);
	manifest_free(m);
	return rc;
}

int sample_build_vfs(vfs *v, const char *data_dir, hv_err *err)
{
	return build(v, data_dir, err);
}

int sample_build(const char *dir, const char *data_dir, hv_err *err)
{
	vfs *v;
	int rc = vfs_dir_open(dir, 1, &v, err);
	if (rc)
		return rc;
	rc = build(v, data_dir, err);
	vfs_close(v);
	return rc;
}
