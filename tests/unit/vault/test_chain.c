/* The vault skeleton and the manifest's hash chain: init, append, load,
 * 1,000 versions, and every kind of break named precisely. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "testutil.h"
#include "tvault.h"
#include "vault/manifest.h"
#include "vault/vault.h"

/* The storage under test: a folder or a stick image (tvault.h). */
struct fx {
	tvault *t;
	vfs *v; /* t->v, refreshed by the edit helpers below */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->t = tv_new();
	f->v = f->t->v;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	tv_free(f->t);
	free(f);
	return 0;
}

/* Edits from outside the code under test; on a stick the remove, rename
 * and symlink helpers reopen the vfs. */
static char *f_read(struct fx *f, const char *rel, size_t *n) { return tv_read(f->t, rel, n); }
static void f_write(struct fx *f, const char *rel, const void *d, size_t n)
{
	tv_write(f->t, rel, d, n);
}
static void f_remove(struct fx *f, const char *rel)
{
	tv_remove(f->t, rel);
	f->v = f->t->v;
}
static void f_rename(struct fx *f, const char *from, const char *to)
{
	tv_rename(f->t, from, to);
	f->v = f->t->v;
}
static void f_symlink(struct fx *f, const char *target, const char *rel)
{
	tv_symlink(f->t, target, rel);
	f->v = f->t->v;
}
static int f_mode(struct fx *f, const char *rel)
{
	int m = tv_mode(f->t, rel);
	f->v = f->t->v;
	return m;
}

/* An initialized vault with versions 1..n ("change 2", ...). */
static void make_versions(struct fx *f, unsigned n)
{
	hv_err err;
	assert_int_equal(vault_init(f->v, NULL, &err), HV_OK);
	for (unsigned i = 2; i <= n; i++) {
		manifest *m;
		assert_int_equal(manifest_load_current(f->v, &m, &err), HV_OK);
		char change[32];
		snprintf(change, sizeof(change), "change %u", i);
		unsigned long w = 0;
		assert_int_equal(manifest_append_at(f->v, m, change, 1700000000 + i, &w, &err),
				 HV_OK);
		assert_int_equal(w, i);
		manifest_free(m);
	}
}

static void file_hash(struct fx *f, const char *rel, char out[65])
{
	size_t n;
	char *d = f_read(f, rel, &n);
	assert_non_null(d);
	manifest_sha256_hex(d, n, out);
	free(d);
}

static void init_layout(void **state)
{
	struct fx *f = *state;
	hv_err err;
	assert_int_equal(vault_check(f->v, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "not an hsmvault vault"));
	assert_int_equal(vault_init(f->v, "# my recovery text\n", &err), HV_OK);
	assert_int_equal(vault_check(f->v, &err), HV_OK);

	char *marker = f_read(f, "HSMVAULT", NULL);
	assert_non_null(marker);
	assert_int_equal(strncmp(marker, "hsmvault-vault/2\n", 17), 0);
	free(marker);
	char *rec = f_read(f, "RECOVERY.md", NULL);
	assert_string_equal(rec, "# my recovery text\n");
	free(rec);
	int mode = f_mode(f, "shares");
	assert_true(mode != -1 && S_ISDIR(mode));
	mode = f_mode(f, "keys");
	assert_true(mode != -1 && S_ISDIR(mode));
	mode = f_mode(f, "manifest/000001.yaml");
	assert_true(mode != -1 && S_ISREG(mode));
	assert_int_equal(mode & 0777, 0600);

	manifest *m;
	assert_int_equal(manifest_load_current(f->v, &m, &err), HV_OK);
	assert_int_equal(m->version, 1);
	assert_string_equal(m->change, "vault created");
	assert_null(m->previous);
	assert_string_equal(m->tool_version, HSMVAULT_VERSION);
	assert_int_equal(m->share_n + m->card_n + m->key_n, 0);
	manifest_free(m);

	/* a second init changes nothing */
	assert_int_equal(vault_init(f->v, NULL, &err), HV_ESAFETY);
	assert_non_null(strstr(err.msg, "already holds a vault"));

	/* a marker of another format */
	f_write(f, "HSMVAULT", "hsmvault-vault/9\n", 17);
	assert_int_equal(vault_check(f->v, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "hsmvault-vault/9"));
}

static void init_refuses_busy_folder(void **state)
{
	struct fx *f = *state;
	hv_err err;
	f_write(f, "notes.txt", "mine", 4);
	assert_int_equal(vault_init(f->v, NULL, &err), HV_ESAFETY);
	assert_non_null(strstr(err.msg, "is not empty (it holds notes.txt)"));
	assert_int_equal(f_mode(f, "manifest"), -1);
	f_remove(f, "notes.txt");
	/* a fresh ext4 root has lost+found (a stick's has it already) */
	tv_mkdir(f->t, "lost+found");
	assert_true(S_ISDIR(f_mode(f, "lost+found")));
	assert_int_equal(vault_init(f->v, NULL, &err), HV_OK);
}

static void init_resumes_after_crash(void **state)
{
	struct fx *f = *state;
	hv_err err;
	/* an init that stopped after version 1, before RECOVERY.md and marker */
	assert_int_equal(vfs_mkdir(f->v, "manifest", &err), HV_OK);
	manifest *m = manifest_new();
	assert_int_equal(manifest_append_at(f->v, m, "vault created", 1700000000, NULL, &err),
			 HV_OK);
	manifest_free(m);
	char h1[65];
	size_t n;
	char *d = f_read(f, "manifest/000001.yaml", &n);
	manifest_sha256_hex(d, n, h1);
	free(d);
	assert_int_equal(vault_check(f->v, &err), HV_EUSAGE);
	assert_int_equal(vault_init(f->v, NULL, &err), HV_OK);
	assert_int_equal(vault_check(f->v, &err), HV_OK);
	char cur[65];
	assert_int_equal(manifest_load_current_hash(f->v, &m, cur, &err), HV_OK);
	assert_int_equal(m->version, 1);
	assert_string_equal(cur, h1); /* kept, not rewritten */
	manifest_free(m);
}

static void init_renders_recovery(void **state)
{
	struct fx *f = *state;
	hv_err err;
	assert_int_equal(vault_init(f->v, NULL, &err), HV_OK);
	char *rec = f_read(f, "RECOVERY.md", NULL);
	assert_non_null(strstr(rec, "# Restoring this vault by hand"));
	assert_non_null(strstr(rec, "not known yet"));
	assert_null(strstr(rec, "@KCV@"));
	assert_null(strstr(rec, "@SHARES@"));
	/* a fresh vault lists only what it holds: no policy, shares or keys yet */
	assert_non_null(strstr(rec, "| `HSMVAULT` |"));
	assert_null(strstr(rec, "| `policy.yaml` |"));
	assert_null(strstr(rec, "| `shares/*.pbe` |"));
	assert_null(strstr(rec, "| `keys/<KCV>/<key-id>.wrap` |"));
	free(rec);
	char *out;
	assert_int_equal(vault_render_recovery_from("a @KCV@ b @TYPO@", NULL, &out, &err),
			 HV_EINTERNAL);
	assert_non_null(strstr(err.msg, "@TYPO@"));
	assert_int_equal(vault_render_recovery_from("mail x@example.org @ @@ ok", NULL, &out, &err),
			 HV_OK);
	assert_string_equal(out, "mail x@example.org @ @@ ok");
	free(out);
}

static void recovery_for_split_share(void **state)
{
	(void)state;
	manifest *m = manifest_new();
	m->version = 9;
	manifest_set(&m->time, "2026-11-28T04:07:09Z");
	manifest_set(&m->change, "re-keyed");
	m->share_count = 2;
	manifest_set(&m->dkek_kcv, "AB1D4DC2B92D42A2");
	char *alice = "alice";
	char *three[] = { "bob", "carol", "dave" };
	const char *h = "0000000000000000000000000000000000000000000000000000000000000000";
	/* listed out of order: the page gives them in import order */
	manifest_share s2 = { 2, "shares/share-nm.pbe", (char *)h, NULL, "n-of-m", { three, 3 }, 2 };
	manifest_share s1 = { 1, "shares/dkek-share-1.pbe", (char *)h, NULL, "password",
			      { &alice, 1 }, 1 };
	assert_non_null(manifest_add_share(m, &s2));
	assert_non_null(manifest_add_share(m, &s1));
	manifest_key k1 = { "01", "new", 3, "RSA 2048", "00", NULL, "AB1D4DC2B92D42A2",
			    "keys/AB1D4DC2B92D42A2/01.wrap", (char *)h, NULL, "2026-11-28T04:07:09Z" };
	manifest_key k0 = { "02", NULL, 4, "EC P-384", "00", NULL, "DBFFED54BA9E1D5B",
			    "keys/DBFFED54BA9E1D5B/02.wrap", (char *)h, NULL, "2026-11-28T04:07:09Z" };
	assert_non_null(manifest_add_key(m, &k1));
	assert_non_null(manifest_add_key(m, &k0));
	char *out;
	hv_err err;
	assert_int_equal(vault_render_recovery(m, &out, &err), HV_OK);
	assert_non_null(strstr(out, "| `shares/*.pbe` |"));
	assert_non_null(strstr(out, "| `keys/<KCV>/<key-id>.wrap` |"));
	assert_null(strstr(out, "| `policy.yaml` |")); /* no policy named in m */
	const char *want[] = {
		"sc-hsm-tool --import-dkek-share shares/dkek-share-1.pbe    # share 1\n"
		"sc-hsm-tool --import-dkek-share shares/share-nm.pbe --pwd-shares-total 2    # share 2",
		"share 2: `shares/share-nm.pbe`, scheme n-of-m, any 2 of: bob, carol, dave",
		"--unwrap-key keys/AB1D4DC2B92D42A2/01.wrap --key-reference 3    # new, RSA 2048",
		"# wrapped under another DKEK (KCV DBFFED54BA9E1D5B): needs that DKEK's shares\n"
		"# sc-hsm-tool --unwrap-key keys/DBFFED54BA9E1D5B/02.wrap --key-reference 4    "
		"# (no label), EC P-384",
		"sc-hsm-tool --initialize --dkek-shares 2\n",
		"manifest version\n9 (2026-11-28T04:07:09Z: \"re-keyed\")",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(out, want[i]))
			fail_msg("RECOVERY.md lacks:\n%s\n---\n%s", want[i], out);
	free(out);
	manifest_free(m);
}

static void append_and_load(void **state)
{
	struct fx *f = *state;
	hv_err err;
	make_versions(f, 4);
	char h3[65], h4[65];
	file_hash(f, "manifest/000003.yaml", h3);
	file_hash(f, "manifest/000004.yaml", h4);
	size_t n1;
	char *v1 = f_read(f, "manifest/000001.yaml", &n1);

	manifest *m;
	char cur[65];
	assert_int_equal(manifest_load_current_hash(f->v, &m, cur, &err), HV_OK);
	assert_int_equal(m->version, 4);
	assert_string_equal(m->previous, h3);
	assert_string_equal(m->change, "change 4");
	assert_string_equal(m->time, "2023-11-14T22:13:24Z");
	assert_string_equal(cur, h4);

	/* a version naming a file that is not in the vault is refused */
	char *alice = "alice";
	manifest_share s = { 1, "shares/s1.pbe",
			     "0000000000000000000000000000000000000000000000000000000000000000",
			     NULL, "password", { &alice, 1 }, 1 };
	m->share_count = 1;
	assert_non_null(manifest_add_share(m, &s));
	assert_int_equal(manifest_append(f->v, m, "adds a share", &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "shares/s1.pbe is missing"));
	assert_false(tv_exists(f->t, "manifest/000005.yaml"));
	/* with the file present but a different hash, still refused */
	assert_int_equal(vfs_write_atomic(f->v, "shares/s1.pbe", "share", 5, &err), HV_OK);
	assert_int_equal(manifest_append(f->v, m, "adds a share", &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "shares/s1.pbe: sha256 does not match"));
	/* with the right hash, written */
	manifest_sha256_hex("share", 5, m->shares[0].sha256);
	assert_int_equal(manifest_append(f->v, m, "adds a share", &err), HV_OK);
	manifest_free(m);
	assert_int_equal(manifest_load_current(f->v, &m, &err), HV_OK);
	assert_int_equal(m->version, 5);
	assert_int_equal(m->share_n, 1);
	assert_string_equal(m->previous, h4);
	manifest_free(m);

	/* older versions are never rewritten */
	size_t n1b;
	char *v1b = f_read(f, "manifest/000001.yaml", &n1b);
	assert_int_equal(n1, n1b);
	assert_memory_equal(v1, v1b, n1);
	free(v1);
	free(v1b);

	/* a change made on an older version is refused */
	assert_int_equal(manifest_load_current(f->v, &m, &err), HV_OK);
	m->version = 4;
	assert_int_equal(manifest_append(f->v, m, "stale", &err), HV_ESAFETY);
	assert_non_null(strstr(err.msg, "made from version 4, but the vault's current version is 5"));
	assert_false(tv_exists(f->t, "manifest/000006.yaml"));
	manifest_free(m);

	/* a one-line change only */
	assert_int_equal(manifest_load_current(f->v, &m, &err), HV_OK);
	assert_int_equal(manifest_append(f->v, m, "two\nlines", &err), HV_EINTERNAL);
	manifest_free(m);
}

struct counter {
	unsigned long visits;
	unsigned long last;
};

static int count_visit(const manifest *m, const char *sha, void *p)
{
	struct counter *c = p;
	assert_int_equal(strlen(sha), 64);
	assert_int_equal(m->version, c->last + 1);
	c->last = m->version;
	c->visits++;
	return HV_OK;
}

/* On tmpfs when there is one: 2,000 fsyncs on a busy disk measure the
 * disk, not the chain. */
static int setup_shm(void **state)
{
	struct stat st;
	const char *old = getenv("TMPDIR");
	char *saved = old ? strdup(old) : NULL;
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
		setenv("TMPDIR", "/dev/shm", 1);
	int rc = setup(state);
	if (saved) {
		setenv("TMPDIR", saved, 1);
		free(saved);
	} else {
		unsetenv("TMPDIR");
	}
	return rc;
}

static void thousand_versions(void **state)
{
	struct fx *f = *state;
	hv_err err;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(vault_init(f->v, NULL, &err), HV_OK);
	manifest *m = manifest_new();
	for (int i = 2; i <= 1000; i++) {
		char change[32];
		snprintf(change, sizeof(change), "version %d", i);
		m->version = (unsigned long)i - 1; /* built on the current version */
		assert_int_equal(manifest_append_at(f->v, m, change, 1700000000 + i, NULL, &err),
				 HV_OK);
	}
	manifest_free(m);
	clock_gettime(CLOCK_MONOTONIC, &b);
	print_message("%s: writing 1000 versions took %.3f s\n", tv_backend_name(),
		      (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(manifest_load_current(f->v, &m, &err), HV_OK);
	clock_gettime(CLOCK_MONOTONIC, &b);
	print_message("%s: loading 1000 versions with the chain checked took %.3f s\n",
		      tv_backend_name(), (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	assert_int_equal(m->version, 1000);
	assert_string_equal(m->change, "version 1000");
	manifest_free(m);
	struct counter c = { 0, 0 };
	assert_int_equal(manifest_walk(f->v, count_visit, &c, &err), HV_OK);
	assert_int_equal(c.visits, 1000);
}

/* Loads and expects HV_EINTEGRITY with needle; the walk visits exactly
 * `before` versions first. */
static void expect_break(struct fx *f, const char *needle, unsigned long before)
{
	hv_err err;
	manifest *m = NULL;
	hv_err_clear(&err);
	int rc = manifest_load_current(f->v, &m, &err);
	if (rc != HV_EINTEGRITY || !strstr(err.msg, needle))
		fail_msg("expected a break naming \"%s\", got rc %d: %s", needle, rc, err.msg);
	assert_null(m);
	assert_non_null(strstr(err.msg, "restore it from another stick"));
	struct counter c = { 0, 0 };
	assert_int_equal(manifest_walk(f->v, count_visit, &c, &err), HV_EINTEGRITY);
	assert_int_equal(c.visits, before);
}

static void break_edited_middle(void **state)
{
	struct fx *f = *state;
	make_versions(f, 6);
	const char *p = "manifest/000003.yaml";
	size_t n;
	char *d = f_read(f, p, &n);
	char *c = strstr(d, "change 3");
	assert_non_null(c);
	c[7] = '9'; /* still a valid manifest: only the chain shows the edit */
	f_write(f, p, d, n);
	free(d);
	expect_break(f, "manifest/000004.yaml: previous hash does not match manifest/000003.yaml", 3);
}

static void break_deleted(void **state)
{
	struct fx *f = *state;
	make_versions(f, 6);
	f_remove(f, "manifest/000004.yaml");
	expect_break(f, "manifest/000004.yaml is missing (versions jump from manifest/000003.yaml "
		     "to manifest/000005.yaml)", 3);
}

static void break_deleted_first(void **state)
{
	struct fx *f = *state;
	make_versions(f, 3);
	f_remove(f, "manifest/000001.yaml");
	expect_break(f, "manifest/000001.yaml is missing: the chain must start at version 1", 0);
}

static void break_renamed(void **state)
{
	struct fx *f = *state;
	make_versions(f, 6);
	/* the last version moved up a number: a gap and a wrong number */
	f_rename(f, "manifest/000006.yaml", "manifest/000008.yaml");
	expect_break(f, "manifest/000006.yaml is missing (versions jump from manifest/000005.yaml "
		     "to manifest/000008.yaml)", 5);
	/* moved to fill the gap exactly: the number inside gives it away */
	f_rename(f, "manifest/000008.yaml", "manifest/000006.yaml");
	f_remove(f, "manifest/000005.yaml");
	f_rename(f, "manifest/000006.yaml", "manifest/000005.yaml");
	expect_break(f, "manifest/000005.yaml says it is version 6", 4);
	/* a name that is no version at all */
	f_rename(f, "manifest/000005.yaml", "manifest/5.yaml");
	hv_err err;
	manifest *m;
	assert_int_equal(manifest_load_current(f->v, &m, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "manifest/5.yaml is not a manifest version"));
}

static void break_swapped(void **state)
{
	struct fx *f = *state;
	make_versions(f, 6);
	f_rename(f, "manifest/000003.yaml", "manifest/swap");
	f_rename(f, "manifest/000004.yaml", "manifest/000003.yaml");
	f_rename(f, "manifest/swap", "manifest/000004.yaml");
	expect_break(f, "manifest/000003.yaml says it is version 4: versions were renamed or "
		     "swapped", 2);
}

static void break_bad_yaml_named(void **state)
{
	struct fx *f = *state;
	make_versions(f, 3);
	f_write(f, "manifest/000002.yaml", "format: [\n", 10);
	expect_break(f, "manifest/000002.yaml:2:1: not valid YAML", 1);
}

static void leftover_temp_ignored(void **state)
{
	struct fx *f = *state;
	hv_err err;
	make_versions(f, 2);
	/* what a crash between create and rename leaves behind */
	f_write(f, "manifest/.000003.yaml.4242.tmp", "partial", 7);
	manifest *m;
	assert_int_equal(manifest_load_current(f->v, &m, &err), HV_OK);
	assert_int_equal(m->version, 2);
	assert_int_equal(manifest_append(f->v, m, "after a crash", &err), HV_OK);
	manifest_free(m);
	assert_int_equal(manifest_load_current(f->v, &m, &err), HV_OK);
	assert_int_equal(m->version, 3);
	manifest_free(m);
}

static void symlinked_version_refused(void **state)
{
	struct fx *f = *state;
	make_versions(f, 3);
	/* a link to an identical copy: the bytes would verify, the link must not */
	size_t n;
	char *d = f_read(f, "manifest/000002.yaml", &n);
	f_write(f, "copy.yaml", d, n);
	free(d);
	f_remove(f, "manifest/000002.yaml");
	f_symlink(f, "../copy.yaml", "manifest/000002.yaml");
	expect_break(f, f->t->stick ? "'manifest/000002.yaml' is not a regular file (symbolic "
				      "links are not followed)"
				    : "manifest/000002.yaml is a symbolic link", 1);
}

static void no_manifest(void **state)
{
	struct fx *f = *state;
	hv_err err;
	manifest *m;
	assert_int_equal(manifest_load_current(f->v, &m, &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "holds no version"));
}

static void open_specs(void **state)
{
	struct fx *f = *state;
	hv_err err;
	vfs *v;
	const char *dir = f->t->spec;
	assert_int_equal(vault_open(dir, 0, &v, &err), HV_OK);
	vfs_close(v);
	tu_write(tu_path(dir, "image.img"), "LUKS", 4);
	assert_int_equal(vault_open(tu_path(dir, "image.img"), 0, &v, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "holds no LUKS2 header"));
	assert_int_equal(vault_open(tu_path(dir, "nope"), 0, &v, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "no vault at"));
	assert_int_equal(vault_open(tu_path(dir, "new"), 1, &v, &err), HV_OK);
	assert_int_equal(vault_init(v, NULL, &err), HV_OK);
	vfs_close(v);
	assert_int_equal(vault_open_existing(tu_path(dir, "new"), &v, &err), HV_OK);
	vfs_close(v);
	assert_int_equal(vault_open_existing(dir, &v, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "no HSMVAULT marker"));
}

/* The stick's counterpart of open_specs: vault_open_existing on the image
 * file, the passphrase through a descriptor as a command gets it. */
static void open_specs_stick(void **state)
{
	struct fx *f = *state;
	hv_err err;
	vfs *v = NULL;
	assert_int_equal(tv_open_existing(f->t, &v, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "no HSMVAULT marker"));
	assert_null(v);
	tv_resume(f->t);
	f->v = f->t->v;
	assert_int_equal(vault_init(f->v, NULL, &err), HV_OK);
	assert_int_equal(tv_open_existing(f->t, &v, &err), HV_OK);
	manifest *m;
	assert_int_equal(manifest_load_current(v, &m, &err), HV_OK);
	assert_int_equal(m->version, 1);
	manifest_free(m);
	vfs_close(v);
	tv_resume(f->t);
	f->v = f->t->v;
}

int main(void)
{
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
	/* Both backends: everything but the folder's own vault_open specs. */
	const struct CMUnitTest tests[] = {
		T(init_layout),
		T(init_refuses_busy_folder),
		T(init_resumes_after_crash),
		T(init_renders_recovery),
		cmocka_unit_test(recovery_for_split_share),
		T(append_and_load),
		cmocka_unit_test_setup_teardown(thousand_versions, setup_shm, teardown),
		T(break_edited_middle),
		T(break_deleted),
		T(break_deleted_first),
		T(break_renamed),
		T(break_swapped),
		T(break_bad_yaml_named),
		T(leftover_temp_ignored),
		T(symlinked_version_refused),
		T(no_manifest),
		T(open_specs),
	};
	size_t n = sizeof(tests) / sizeof(tests[0]);
	struct CMUnitTest on_stick[sizeof(tests) / sizeof(tests[0])];
	memcpy(on_stick, tests, sizeof(tests));
	/* open_specs gives folder paths to vault_open */
	on_stick[n - 1] = (struct CMUnitTest)T(open_specs_stick);
	char name[32];
	snprintf(name, sizeof(name), "chain (%s)", tv_backend_name());
	return _cmocka_run_group_tests(name, tv_backend_is_stick() ? on_stick : tests, n, NULL,
				       NULL);
}
