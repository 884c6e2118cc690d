/* The committed sample vault (vault/sample): it loads with its chain and
 * file hashes verified, holds the fixture values, is exactly what the
 * code writes today, and every kind of tampering with it is named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sample_build.h"
#include "testutil.h"
#include "tvault.h"
#include "policy/policy.h"
#include "util/hex.h"
#include "vault/manifest.h"
#include "vault/vault.h"
#include "vfs/vfs_dir.h"

#define SAMPLE_FILES sample_file_count

static manifest *load(const char *dir, hv_err *err, int *rc)
{
	vfs *v;
	manifest *m = NULL;
	*rc = vault_open_existing(dir, &v, err);
	if (*rc)
		return NULL;
	*rc = manifest_load_current(v, &m, err);
	vfs_close(v);
	return m;
}

/* A copy of the committed sample on the backend under test. */
static tvault *sample_copy(void)
{
	tvault *t = tv_new();
	tv_copy_in(t, tu_env("VAULT_SAMPLE_DIR"), sample_files, SAMPLE_FILES);
	return t;
}

/* Opens t as a command would (vault_open_existing) and loads it. */
static manifest *load_tv(tvault *t, hv_err *err, int *rc)
{
	vfs *v;
	manifest *m = NULL;
	*rc = tv_open_existing(t, &v, err);
	if (*rc == HV_OK) {
		*rc = manifest_load_current(v, &m, err);
		vfs_close(v);
	}
	tv_resume(t);
	return m;
}

/* The sample as the backend under test holds it: the committed folder
 * itself, or a fresh stick holding a copy of its files. */
static manifest *load_sample(hv_err *err, int *rc)
{
	if (!tv_backend_is_stick())
		return load(tu_env("VAULT_SAMPLE_DIR"), err, rc);
	tvault *t = sample_copy();
	manifest *m = load_tv(t, err, rc);
	tv_free(t);
	return m;
}

/* sha256(share)[0:8] in upper hex: the KCV of the share alone. */
static void share_check(const char *plain_hex, char out[17])
{
	uint8_t share[32];
	assert_int_equal(hex_decode(plain_hex, share, sizeof(share)), 32);
	char h[65];
	manifest_sha256_hex(share, 32, h);
	for (int i = 0; i < 16; i++)
		out[i] = (h[i] >= 'a') ? (char)(h[i] - 32) : h[i];
	out[16] = '\0';
}

static void sample_loads(void **state)
{
	(void)state;
	hv_err err;
	int rc;
	manifest *m = load_sample(&err, &rc);
	if (rc)
		fail_msg("sample vault on the %s: %s", tv_backend_name(), err.msg);
	assert_int_equal(m->version, 3);
	assert_string_equal(m->dkek_kcv, SAMPLE_KCV);
	assert_string_equal(m->policy_name, "ca-root");
	assert_int_equal(m->share_count, 2);
	assert_int_equal(m->share_n, 2);
	/* the check values follow from the fixture's known share plaintexts */
	char c[17];
	share_check("ef20b17736ac1e33c6286081b274d9c8a7042eed9cf05a6adf0b171d8b0adea5", c);
	assert_string_equal(m->shares[0].check, c);
	assert_string_equal(c, SAMPLE_SHARE1_CHECK);
	share_check("5fda8a85eefcd1d90a0cfbdd58f1930c3b8f5345fa7983375859d4f2bf16e0bd", c);
	assert_string_equal(m->shares[1].check, c);
	assert_string_equal(m->shares[0].holders.items[0], "alice");
	assert_int_equal(m->key_n, 1);
	assert_string_equal(m->keys[0].id, SAMPLE_KEY_ID);
	assert_string_equal(m->keys[0].label, "myfirst_keypair");
	assert_int_equal(m->keys[0].key_ref, 1);
	assert_string_equal(m->keys[0].file, "keys/" SAMPLE_KCV "/" SAMPLE_KEY_ID ".wrap");
	/* P-256 SubjectPublicKeyInfo: 91 bytes, starts 3059 3013 */
	assert_int_equal(strlen(m->keys[0].public_key), 182);
	assert_int_equal(strncmp(m->keys[0].public_key, "30593013", 8), 0);
	assert_int_equal(m->card_n, 2);
	assert_string_equal(m->cards[0].keys.items[0], SAMPLE_KEY_ID);
	assert_string_equal(m->keys[0].source_card, m->cards[0].id);
	/* format 2: the verification is a journal entry, not in the manifest */
	assert_int_equal(m->verification_n, 0);
	manifest_free(m);
}

/* The sample's policy is one the policy layer accepts, and the hash the
 * manifest records is that of its bytes. */
static void sample_policy_parses(void **state)
{
	(void)state;
	policy p;
	hv_err err;
	int rc;
	manifest *m;
	if (!tv_backend_is_stick()) {
		const char *path = tu_path(tu_env("VAULT_SAMPLE_DIR"), "policy.yaml");
		if (policy_load(path, &p, &err) != HV_OK)
			fail_msg("sample policy.yaml: %s", err.msg);
		m = load(tu_env("VAULT_SAMPLE_DIR"), &err, &rc);
	} else {
		/* the bytes as the stick gives them back */
		tvault *t = sample_copy();
		size_t n;
		char *text = tv_read(t, "policy.yaml", &n);
		assert_non_null(text);
		if (policy_parse("policy.yaml on the stick", (const uint8_t *)text, n, &p, &err))
			fail_msg("sample policy.yaml on the stick: %s", err.msg);
		free(text);
		m = load_tv(t, &err, &rc);
		tv_free(t);
	}
	assert_string_equal(p.name, "ca-root");
	assert_int_equal(p.n_shares, 2);
	assert_int_equal(p.card_count, 2);
	assert_int_equal(rc, HV_OK);
	char hex[65];
	hex_encode(p.sha256, 32, hex, 0);
	assert_string_equal(m->policy_sha256, hex);
	assert_string_equal(m->policy_name, p.name);
	manifest_free(m);
}

static void sample_manifest_doc_matches(void **state)
{
	(void)state;
	size_t a, b;
	char *doc = tu_read(tu_path(tu_env("VAULT_DOCS_DIR"), "sample-manifest.yaml"), &a);
	char *cur = tu_read(tu_path(tu_env("VAULT_SAMPLE_DIR"), "manifest/000003.yaml"), &b);
	assert_non_null(doc);
	assert_non_null(cur);
	if (a != b || memcmp(doc, cur, a) != 0)
		fail_msg("vault/sample-manifest.yaml differs from vault/sample/manifest/000003.yaml: "
			 "copy it over");
	free(doc);
	free(cur);
}

/* Every key the manifest has is described in manifest-schema.md. */
static void schema_doc_covers_fields(void **state)
{
	(void)state;
	char *schema = tu_read(tu_path(tu_env("VAULT_DOCS_DIR"), "manifest-schema.md"), NULL);
	char *yaml = tu_read(tu_path(tu_env("VAULT_SAMPLE_DIR"), "manifest/000003.yaml"), NULL);
	assert_non_null(schema);
	assert_non_null(yaml);
	int keys = 0;
	for (char *line = strtok(yaml, "\n"); line; line = strtok(NULL, "\n")) {
		while (*line == ' ' || *line == '-')
			line++;
		char *colon = strchr(line, ':');
		if (!colon || line[0] == '"')
			continue;
		char name[80];
		snprintf(name, sizeof(name), "`%.*s`", (int)(colon - line), line);
		if (!strstr(schema, name))
			fail_msg("manifest-schema.md does not describe %s", name);
		keys++;
	}
	assert_true(keys > 40);
	free(schema);
	free(yaml);
}

static void sample_is_what_the_code_writes(void **state)
{
	(void)state;
	hv_err err;
	if (tv_backend_is_stick()) {
		/* built on a stick: the same bytes as in the committed folder */
		tvault *t = tv_new();
		if (sample_build_vfs(t->v, tu_env("SCHSM_DATA_DIR"), &err) != HV_OK)
			fail_msg("building the sample on a stick: %s", err.msg);
		for (size_t i = 0; i < SAMPLE_FILES; i++) {
			size_t a, b;
			char *want = tu_read(tu_path(tu_env("VAULT_SAMPLE_DIR"), sample_files[i]), &a);
			char *got = tv_read(t, sample_files[i], &b);
			if (!want || !got || a != b || memcmp(want, got, a) != 0)
				fail_msg("%s built on a stick differs from vault/sample/%s",
					 sample_files[i], sample_files[i]);
			free(want);
			free(got);
		}
		int rc;
		manifest *m = load_tv(t, &err, &rc);
		if (rc)
			fail_msg("the sample built on a stick does not load: %s", err.msg);
		assert_int_equal(m->version, 3);
		manifest_free(m);
		tv_free(t);
		return;
	}
	char *tmp = tu_mkdtemp();
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/sample", tmp);
	if (sample_build(dir, tu_env("SCHSM_DATA_DIR"), &err) != HV_OK)
		fail_msg("building the sample: %s", err.msg);
	for (size_t i = 0; i < SAMPLE_FILES; i++) {
		size_t a, b;
		char *want = tu_read(tu_path(tu_env("VAULT_SAMPLE_DIR"), sample_files[i]), &a);
		char *got = tu_read(tu_path(dir, sample_files[i]), &b);
		if (!want || !got || a != b || memcmp(want, got, a) != 0)
			fail_msg("vault/sample/%s differs from what this build writes: regenerate the "
				 "sample (see tests/unit/vault/make_sample.c)", sample_files[i]);
		free(want);
		free(got);
	}
	tu_rmrf(tmp);
	free(tmp);
}

static void sample_recovery_page(void **state)
{
	(void)state;
	char *rec = tu_read(tu_path(tu_env("VAULT_SAMPLE_DIR"), "RECOVERY.md"), NULL);
	assert_non_null(rec);
	const char *want[] = {
		"cryptsetup open --readonly /dev/sdX hsmvault",
		"mount -o ro /dev/mapper/hsmvault /mnt/hsmvault",
		"sc-hsm-tool --initialize --dkek-shares 2",
		"sc-hsm-tool --import-dkek-share shares/dkek-share-1.pbe",
		"sc-hsm-tool --import-dkek-share shares/dkek-share-2.pbe",
		"sc-hsm-tool --unwrap-key keys/" SAMPLE_KCV "/" SAMPLE_KEY_ID ".wrap --key-reference 1",
		"    " SAMPLE_KCV "\n",
		"ID 10 must be typed\nas `a`",
		"share 1: `shares/dkek-share-1.pbe`, scheme password, holder: alice",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(rec, want[i]))
			fail_msg("RECOVERY.md lacks \"%s\"", want[i]);
	assert_null(strchr(rec, '@'));
	free(rec);
}

/* A private copy of the sample to damage (folder-only tests). */
static char *copy_sample(char **tmp)
{
	*tmp = tu_mkdtemp();
	char *dir = malloc(4200);
	snprintf(dir, 4200, "%s/v", *tmp);
	tu_copy_tree(tu_env("VAULT_SAMPLE_DIR"), dir);
	return dir;
}

static void expect_load_fails(const char *dir, int code, const char *needle)
{
	hv_err err;
	hv_err_clear(&err);
	int rc;
	manifest *m = load(dir, &err, &rc);
	if (rc != code || !strstr(err.msg, needle))
		fail_msg("expected code %d naming \"%s\", got %d: %s", code, needle, rc, err.msg);
	assert_null(m);
}

static void expect_tv_fails(tvault *t, int code, const char *needle)
{
	hv_err err;
	hv_err_clear(&err);
	int rc;
	manifest *m = load_tv(t, &err, &rc);
	if (rc != code || !strstr(err.msg, needle))
		fail_msg("%s: expected code %d naming \"%s\", got %d: %s", tv_backend_name(), code,
			 needle, rc, err.msg);
	assert_null(m);
}

static void flip_byte(tvault *t, const char *rel, size_t at)
{
	size_t n;
	char *d = tv_read(t, rel, &n);
	assert_non_null(d);
	assert_true(at < n);
	d[at] ^= 1;
	tv_write(t, rel, d, n);
	free(d);
}

#define KEYFILE "keys/" SAMPLE_KCV "/" SAMPLE_KEY_ID ".wrap"

static void tampered_files_named(void **state)
{
	(void)state;
	tvault *t = sample_copy();
	int rc;
	hv_err err;
	manifest *m = load_tv(t, &err, &rc);
	if (rc)
		fail_msg("the undamaged copy does not load: %s", err.msg);
	manifest_free(m);
	flip_byte(t, "shares/dkek-share-2.pbe", 40);
	expect_tv_fails(t, HV_EINTEGRITY, "shares/dkek-share-2.pbe: sha256 does not match the "
			"one manifest/000003.yaml records");
	flip_byte(t, "shares/dkek-share-2.pbe", 40);
	flip_byte(t, KEYFILE, 100);
	expect_tv_fails(t, HV_EINTEGRITY, KEYFILE ": sha256 does not match");
	tv_remove(t, KEYFILE);
	expect_tv_fails(t, HV_EINTEGRITY, KEYFILE " is missing but manifest/000003.yaml names it");
	tv_free(t);

	t = sample_copy();
	flip_byte(t, "policy.yaml", 10);
	expect_tv_fails(t, HV_EINTEGRITY, "policy.yaml: sha256 does not match");
	tv_free(t);
}

/* Links inside the vault, on either backend (a stick gets its links
 * through libext2fs): each stands for an identical copy, so only the
 * link itself can be refused. */
static void symlinks_in_vault_refused(void **state)
{
	(void)state;
	int stick = tv_backend_is_stick();
	tvault *t = sample_copy();
	size_t n;
	char *d = tv_read(t, "shares/dkek-share-1.pbe", &n);
	tv_write(t, "share-copy", d, n);
	free(d);
	tv_remove(t, "shares/dkek-share-1.pbe");
	tv_symlink(t, "../share-copy", "shares/dkek-share-1.pbe");
	expect_tv_fails(t, HV_EINTEGRITY, stick ? "'shares/dkek-share-1.pbe' is not a regular file"
					       : "shares/dkek-share-1.pbe is a symbolic link");
	tv_free(t);

	t = sample_copy();
	tv_rename(t, "keys/" SAMPLE_KCV, "keys/elsewhere");
	tv_symlink(t, "elsewhere", "keys/" SAMPLE_KCV);
	expect_tv_fails(t, HV_EINTEGRITY, stick ? "'" SAMPLE_KCV "' in '" KEYFILE "' is not a folder"
					       : "keys/" SAMPLE_KCV " is a symbolic link");
	tv_free(t);

	t = sample_copy();
	tv_rename(t, "manifest", "elsewhere");
	tv_symlink(t, "elsewhere", "manifest");
	expect_tv_fails(t, HV_EINTEGRITY,
			stick ? "'manifest' in 'manifest' is not a folder" : "manifest is a symbolic link");
	tv_free(t);
}

static void symlinks_in_sample_refused(void **state)
{
	(void)state;
	char *tmp, *dir = copy_sample(&tmp);
	/* a share replaced by a link to an identical copy */
	char copy[4200];
	snprintf(copy, sizeof(copy), "%s/share-copy", tmp);
	size_t n;
	char *d = tu_read(tu_path(dir, "shares/dkek-share-1.pbe"), &n);
	tu_write(copy, d, n);
	free(d);
	assert_int_equal(unlink(tu_path(dir, "shares/dkek-share-1.pbe")), 0);
	assert_int_equal(symlink(copy, tu_path(dir, "shares/dkek-share-1.pbe")), 0);
	expect_load_fails(dir, HV_EINTEGRITY, "shares/dkek-share-1.pbe is a symbolic link");
	tu_rmrf(tmp);
	free(tmp);
	free(dir);

	/* the keys/<KCV> folder replaced by a link to an identical copy */
	dir = copy_sample(&tmp);
	char kdir[4200], moved[4200];
	snprintf(kdir, sizeof(kdir), "%s/keys/" SAMPLE_KCV, dir);
	snprintf(moved, sizeof(moved), "%s/elsewhere", tmp);
	assert_int_equal(rename(kdir, moved), 0);
	assert_int_equal(symlink(moved, kdir), 0);
	expect_load_fails(dir, HV_EINTEGRITY, "keys/" SAMPLE_KCV " is a symbolic link");
	tu_rmrf(tmp);
	free(tmp);
	free(dir);

	/* the manifest folder itself */
	dir = copy_sample(&tmp);
	snprintf(kdir, sizeof(kdir), "%s/manifest", dir);
	snprintf(moved, sizeof(moved), "%s/elsewhere", tmp);
	assert_int_equal(rename(kdir, moved), 0);
	assert_int_equal(symlink(moved, kdir), 0);
	expect_load_fails(dir, HV_EINTEGRITY, "manifest is a symbolic link");
	tu_rmrf(tmp);
	free(tmp);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest folder[] = {
		cmocka_unit_test(sample_loads),
		cmocka_unit_test(sample_policy_parses),
		cmocka_unit_test(sample_manifest_doc_matches),
		cmocka_unit_test(schema_doc_covers_fields),
		cmocka_unit_test(sample_is_what_the_code_writes),
		cmocka_unit_test(sample_recovery_page),
		cmocka_unit_test(tampered_files_named),
		cmocka_unit_test(symlinks_in_sample_refused),
		cmocka_unit_test(symlinks_in_vault_refused),
	};
	/* The documents' own checks read the committed folder only. */
	const struct CMUnitTest stick[] = {
		cmocka_unit_test(sample_loads),
		cmocka_unit_test(sample_policy_parses),
		cmocka_unit_test(sample_is_what_the_code_writes),
		cmocka_unit_test(tampered_files_named),
		cmocka_unit_test(symlinks_in_vault_refused),
	};
	if (tv_backend_is_stick())
		return cmocka_run_group_tests_name("sample (stick)", stick, NULL, NULL);
	return cmocka_run_group_tests_name("sample (folder)", folder, NULL, NULL);
}
