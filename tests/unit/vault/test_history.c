/* The vault's history over its life: format-1 vaults written before the
 * journal open, check and migrate without losing a record; the journal's
 * chain and its ties to the manifest; the chain checked by hashes (and
 * in full with --full); the limits shared by writer and reader, up to
 * the limit and one past it. Folder vaults: the stick backend gives the
 * same answers through the same vfs (vault_chain_stick). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>

#include "testutil.h"
#include "vault/history.h"
#include "vault/journal.h"
#include "vault/manifest.h"
#include "vault/manifest_check.h"
#include "vault/vault.h"
#include "vfs/vfs_dir.h"

/* A copy of fixture `name` in a fresh temporary folder; *top to remove. */
static char *fixture_copy(const char *name, char **top)
{
	*top = tu_mkdtemp();
	char *dst = strdup(tu_path(*top, name));
	tu_copy_tree(tu_path(tu_env("VAULT_FIXTURES_DIR"), name), dst);
	return dst;
}

static vfs *open_dir(const char *dir)
{
	vfs *v;
	hv_err err;
	if (vfs_dir_open(dir, 0, &v, &err) != HV_OK)
		fail_msg("%s", err.msg);
	return v;
}

static void sha_of(const char *path, char out[65])
{
	size_t n;
	char *d = tu_read(path, &n);
	assert_non_null(d);
	manifest_sha256_hex(d, n, out);
	free(d);
}

static void load_ok(vfs *v, int full, vault_history *h)
{
	hv_err err;
	if (vault_history_load(v, full, 1, h, &err) != HV_OK)
		fail_msg("loading the history (full %d): %s", full, err.msg);
}

/* Both fixtures as today's HEAD wrote them: they open, check (by hashes
 * and in full) and keep every record. */
static void format1_fixtures_open(void **state)
{
	(void)state;
	const char *names[] = { "sample-v1", "verified-v1" };
	for (int i = 0; i < 2; i++) {
		char *top, *dir = fixture_copy(names[i], &top);
		vfs *v = open_dir(dir);
		hv_err err;
		assert_int_equal(vault_check(v, &err), HV_OK);
		assert_int_equal(vault_format(v, &err), 1);
		for (int full = 0; full < 2; full++) {
			vault_history h;
			load_ok(v, full, &h);
			assert_int_equal(h.entries, 0);
			assert_null(h.last_entry);
			assert_int_equal(h.versions, i ? 7 : 3);
			assert_int_equal(h.n_events, h.versions);
			assert_int_equal(h.current->key_n, 1);
			for (size_t k = 0; k < h.n_events; k++)
				assert_int_equal(h.events[k].kind, k >= 3 ? VAULT_EV_OLD_VERIFY
									  : VAULT_EV_VERSION);
			/* staleness from the format-1 verifications list */
			assert_string_equal(h.last_verified, i ? "2026-02-23T03:00:00Z"
							       : "2026-01-05T10:00:00Z");
			if (i)
				assert_int_equal(h.current->verification_n, 1 + 4 * 2);
			vault_history_free(&h);
		}
		manifest *m;
		assert_int_equal(manifest_load_current(v, &m, &err), HV_OK);
		manifest_free(m);
		vfs_close(v);
		tu_rmrf(top);
		free(top);
		free(dir);
	}
}

static void add_entry(vfs *v, time_t when, const char *result, hv_err *err, int *rc)
{
	manifest *m;
	char sha[65];
	*rc = manifest_load_current_hash(v, &m, sha, err);
	if (*rc != HV_OK)
		return;
	journal_entry e = { .manifest_version = m->version };
	snprintf(e.kind, sizeof(e.kind), "quick");
	snprintf(e.result, sizeof(e.result), "%s", result);
	e.differences = strcmp(result, "ok") ? 1 : 0;
	memcpy(e.manifest_sha256, sha, sizeof(sha));
	for (size_t i = 0; i < m->card_n; i++) {
		journal_card c = { .id = m->cards[i].id, .result = (char *)result,
				   .detail = strcmp(result, "ok") ? "card differs: \"quoted\" \\ x"
								 : NULL };
		assert_int_equal(journal_add_card(&e, &c), HV_OK);
	}
	manifest_free(m);
	*rc = journal_append(v, &e, when, NULL, err);
	for (size_t i = 0; i < e.card_n; i++) {
		free(e.cards[i].id);
		free(e.cards[i].result);
		free(e.cards[i].detail);
	}
	free(e.cards);
}

/* The first journal entry migrates a format-1 vault: marker 2, every
 * manifest version byte for byte as it was, old verifications still
 * shown as such, new ones in the journal, interleaved by time. */
static void format1_migrates(void **state)
{
	(void)state;
	char *top, *dir = fixture_copy("verified-v1", &top);
	char before[7][65];
	for (int i = 0; i < 7; i++) {
		char rel[32];
		manifest_version_path((unsigned long)i + 1, rel, sizeof(rel));
		sha_of(tu_path(dir, rel), before[i]);
	}
	vfs *v = open_dir(dir);
	hv_err err;
	int rc;
	add_entry(v, 1772000000 /* 2026-02-25 */, "ok", &err, &rc);
	if (rc != HV_OK)
		fail_msg("%s", err.msg);
	add_entry(v, 1772600000, "mismatch", &err, &rc);
	if (rc != HV_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(vault_format(v, &err), 2);
	for (int i = 0; i < 7; i++) {
		char rel[32], now[65];
		manifest_version_path((unsigned long)i + 1, rel, sizeof(rel));
		sha_of(tu_path(dir, rel), now);
		assert_string_equal(now, before[i]);
	}
	assert_false(tu_read(tu_path(dir, "manifest/000008.yaml"), NULL) != NULL);
	vault_history h;
	load_ok(v, 0, &h);
	assert_int_equal(h.versions, 7);
	assert_int_equal(h.entries, 2);
	assert_int_equal(h.n_events, 9);
	assert_int_equal(h.events[6].kind, VAULT_EV_OLD_VERIFY);
	assert_int_equal(h.events[7].kind, VAULT_EV_JOURNAL);
	assert_int_equal(h.events[8].kind, VAULT_EV_JOURNAL);
	assert_string_equal(h.last_entry->result, "mismatch");
	assert_string_equal(h.last_entry->cards[0].detail, "card differs: \"quoted\" \\ x");
	assert_string_equal(h.last_verified, h.last_entry->time);
	assert_int_equal(h.last_entry->manifest_version, 7);
	vault_history_free(&h);
	vfs_close(v);
	tu_rmrf(top);
	free(top);
	free(dir);
}

static void expect_break(vfs *v, const char *needle)
{
	vault_history h;
	hv_err err;
	int rc = vault_history_load(v, 0, 1, &h, &err);
	vault_history_free(&h);
	if (rc != HV_EINTEGRITY || !strstr(err.msg, needle))
		fail_msg("expected a break naming \"%s\", got %d: %s", needle, rc, err.msg);
}

/* The journal is a chain of its own, tied to the manifest's. */
static void journal_chain(void **state)
{
	(void)state;
	char *top, *dir = fixture_copy("sample-v1", &top);
	vfs *v = open_dir(dir);
	hv_err err;
	int rc;
	for (int i = 0; i < 3; i++) {
		add_entry(v, 1770000000 + i * 86400, "ok", &err, &rc);
		assert_int_equal(rc, HV_OK);
	}
	/* an entry changed */
	char *p2 = strdup(tu_path(dir, "journal/000002.yaml"));
	size_t n;
	char *d = tu_read(p2, &n);
	char *saved = malloc(n);
	memcpy(saved, d, n);
	char *q = strstr(d, "\"quick\"");
	memcpy(q, "\"deep\" ", 7);
	tu_write(p2, d, n);
	expect_break(v, "journal/000003.yaml: previous hash does not match journal/000002.yaml");
	tu_write(p2, saved, n);
	/* a gap */
	char *p3 = strdup(tu_path(dir, "journal/000003.yaml"));
	char *p4 = strdup(tu_path(dir, "journal/000004.yaml"));
	assert_int_equal(rename(p3, p4), 0);
	expect_break(v, "journal/000003.yaml is missing");
	assert_int_equal(rename(p4, p3), 0);
	/* an entry naming another manifest (hash) */
	char *d1 = tu_read(tu_path(dir, "journal/000001.yaml"), &n);
	char *m = strstr(d1, "manifest_sha256: \"");
	m[18] = m[18] == 'a' ? 'b' : 'a';
	tu_write(tu_path(dir, "journal/000001.yaml"), d1, n);
	expect_break(v, "journal/000001.yaml names manifest version 3, which is not in this vault's "
		     "chain");
	/* strict reading */
	static const char *bad[] = {
		"format: \"hsmvault-journal/1\"\nentry: 1\nbogus: 1\n",
		"format: &a \"hsmvault-journal/1\"\n",
		"format: \"hsmvault-journal/9\"\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		journal_entry *e;
		assert_int_equal(journal_parse((const uint8_t *)bad[i], strlen(bad[i]), "j", &e,
					       &err), HV_EINTEGRITY);
		assert_null(e);
	}
	free(d1);
	free(d);
	free(saved);
	free(p2);
	free(p3);
	free(p4);
	vfs_close(v);
	tu_rmrf(top);
	free(top);
	free(dir);
}

/* Versions before the current one are checked by hash and link: a middle
 * version whose head is right but whose body is not a manifest passes the
 * default check (its bytes are what the next version says) and is found by
 * --full. */
static void chain_by_hashes(void **state)
{
	(void)state;
	char *top = tu_mkdtemp();
	char *dir = strdup(tu_path(top, "v"));
	vfs *v;
	hv_err err;
	assert_int_equal(vfs_dir_open(dir, 1, &v, &err), HV_OK);
	assert_int_equal(vault_init(v, "# r\n", &err), HV_OK);
	/* 150 versions load, by hashes and in full */
	manifest *m;
	for (int i = 0; i < 149; i++) {
		assert_int_equal(manifest_load_current(v, &m, &err), HV_OK);
		char label[16];
		snprintf(label, sizeof(label), "n%d", i);
		manifest_set(&m->dkek_kcv, i % 2 ? "DBFFED54BA9E1D5B" : "0011223344556677");
		assert_int_equal(manifest_append_at(v, m, label, 1767600000 + i, NULL, &err), HV_OK);
		manifest_free(m);
	}
	vault_history h;
	load_ok(v, 0, &h);
	assert_int_equal(h.versions, 150);
	vault_history_free(&h);
	load_ok(v, 1, &h);
	assert_int_equal(h.versions, 150);
	vault_history_free(&h);

	/* version 151: right head, a body that is no manifest */
	char sha150[65], path[64];
	manifest_version_path(150, path, sizeof(path));
	sha_of(tu_path(dir, path), sha150);
	char body[600];
	int bl = snprintf(body, sizeof(body),
			  "format: \"hsmvault-manifest/1\"\nversion: 151\nprevious: \"%s\"\n"
			  "time: \"2026-03-01T00:00:00Z\"\ntool_version: \"x\"\nchange: \"odd\"\n"
			  "not: [a manifest\n", sha150);
	tu_write(tu_path(dir, "manifest/000151.yaml"), body, (size_t)bl);
	char sha151[65];
	manifest_sha256_hex(body, (size_t)bl, sha151);
	/* version 152, valid, links to it */
	assert_int_equal(manifest_read_version(v, 150, &m, NULL, &err), HV_OK);
	m->version = 152;
	manifest_set(&m->previous, sha151);
	manifest_set(&m->change, "after the odd one");
	char *text;
	size_t len;
	assert_int_equal(manifest_emit(m, &text, &len, &err), HV_OK);
	tu_write(tu_path(dir, "manifest/000152.yaml"), text, len);
	free(text);
	manifest_free(m);
	load_ok(v, 0, &h);
	assert_int_equal(h.versions, 152);
	assert_string_equal(h.events[150].text, "odd");
	vault_history_free(&h);
	assert_int_equal(vault_history_load(v, 1, 1, &h, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "manifest/000151.yaml"));
	vault_history_free(&h);
	vfs_close(v);
	tu_rmrf(top);
	free(top);
	free(dir);
}

/* A vault grown to the limit of keys is written and read back; one key
 * more is refused before anything is written, saying what to do. The key
 * files are left out (131,072 files would make this a file system test):
 * the writer's refusal comes before its file checks, and the version at
 * the limit is emitted by the writer's own code and read back through the
 * chain without them. */
static void grows_to_the_limit(void **state)
{
	(void)state;
	char *top = tu_mkdtemp();
	char *dir = strdup(tu_path(top, "v"));
	vfs *v;
	hv_err err;
	assert_int_equal(vfs_dir_open(dir, 1, &v, &err), HV_OK);
	assert_int_equal(vault_init(v, "# r\n", &err), HV_OK);
	manifest *m;
	char sha1[65];
	assert_int_equal(manifest_load_current_hash(v, &m, sha1, &err), HV_OK);
	manifest_set(&m->dkek_kcv, "DBFFED54BA9E1D5B");
	char sha[65];
	manifest_sha256_hex("k", 1, sha);
	for (size_t i = 0; i <= VAULT_LIMIT_KEYS; i++) {
		char id[16], file[64];
		snprintf(id, sizeof(id), "%08zx", i);
		snprintf(file, sizeof(file), "keys/DBFFED54BA9E1D5B/%s.wrap", id);
		manifest_key k = { .id = id, .key_ref = 1, .algorithm = "EC P-256",
				   .public_key_sha256 = sha, .kcv = "DBFFED54BA9E1D5B",
				   .file = file, .sha256 = sha, .time = "2026-01-05T10:00:00Z" };
		assert_non_null(manifest_add_key(m, &k));
	}
	/* one past the limit: refused, nothing written */
	assert_int_equal(manifest_append(v, m, "too many", &err), HV_ESAFETY);
	assert_non_null(strstr(err.msg, "131073 keys, more than the 131072"));
	assert_non_null(strstr(err.msg, "second vault"));
	assert_null(tu_read(tu_path(dir, "manifest/000002.yaml"), NULL));
	/* at the limit: what the writer emits, the reader reads back */
	m->key_n--;
	manifest_key *last = &m->keys[m->key_n];
	free(last->id);
	free(last->algorithm);
	free(last->public_key_sha256);
	free(last->kcv);
	free(last->file);
	free(last->sha256);
	free(last->time);
	m->version = 2;
	manifest_set(&m->previous, sha1);
	manifest_set(&m->change, "as many keys as a vault holds");
	char *text;
	size_t len;
	if (manifest_emit(m, &text, &len, &err) != HV_OK)
		fail_msg("%s", err.msg);
	assert_true(len <= MANIFEST_MAX_BYTES);
	manifest_free(m);
	tu_write(tu_path(dir, "manifest/000002.yaml"), text, len);
	free(text);
	vault_history h;
	if (vault_history_load(v, 0, 0, &h, &err) != HV_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(h.current->key_n, VAULT_LIMIT_KEYS);
	vault_history_free(&h);
	vfs_close(v);
	tu_rmrf(top);
	free(top);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format1_fixtures_open),
		cmocka_unit_test(format1_migrates),
		cmocka_unit_test(journal_chain),
		cmocka_unit_test(chain_by_hashes),
		cmocka_unit_test(grows_to_the_limit),
	};
	return cmocka_run_group_tests_name("history", tests, NULL, NULL);
}
