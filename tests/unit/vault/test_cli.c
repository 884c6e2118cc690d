/* hsmvault log and show, run as the operator runs them: output, --json,
 * and exit statuses on good, broken and tampered vaults. */
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
#include "vault/manifest.h"

struct run {
	int rc;
	char *out, *err;
};

/* The stick that hv() unlocks for the command (its passphrase through a
 * pipe named in HSMVAULT_STICK_PASSPHRASE_FD), or NULL. */
static tvault *stick_for_hv;

static struct run hv(const char *a1, const char *a2, const char *a3, const char *a4,
		     const char *a5, const char *a6)
{
	char *argv[] = { (char *)tu_env("HSMVAULT_BIN"), (char *)a1, (char *)a2, (char *)a3,
			 (char *)a4, (char *)a5, (char *)a6, NULL };
	int fd = -1;
	if (stick_for_hv) {
		tv_suspend(stick_for_hv);
		fd = tv_passphrase_pipe(stick_for_hv);
		char num[16];
		snprintf(num, sizeof(num), "%d", fd);
		setenv("HSMVAULT_STICK_PASSPHRASE_FD", num, 1);
	}
	struct run r;
	r.rc = tu_run(argv, &r.out, &r.err);
	if (fd >= 0) {
		unsetenv("HSMVAULT_STICK_PASSPHRASE_FD");
		close(fd);
	}
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static void expect_has(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("expected \"%s\" in:\n%s", needle, text);
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* A private copy of the sample on the backend under test; hv() opens it. */
static tvault *copy_sample(void)
{
	tvault *t = tv_new();
	tv_copy_in(t, tu_env("VAULT_SAMPLE_DIR"), sample_files, sample_file_count);
	if (t->stick)
		stick_for_hv = t;
	return t;
}

static void drop_sample(tvault *t)
{
	stick_for_hv = NULL;
	tv_free(t);
}

/* The sample as the backend under test holds it: the committed folder, or
 * a stick holding a copy (*t, to drop_sample afterwards). */
static const char *sample_path(tvault **t)
{
	*t = NULL;
	if (!tv_backend_is_stick())
		return tu_env("VAULT_SAMPLE_DIR");
	*t = copy_sample();
	return (*t)->spec;
}

static void log_sample(void **state)
{
	(void)state;
	tvault *t;
	const char *s = sample_path(&t);
	size_t n;
	char *v3 = tu_read(tu_path(tu_env("VAULT_SAMPLE_DIR"), "manifest/000003.yaml"), &n);
	char h3[65];
	manifest_sha256_hex(v3, n, h3);
	free(v3);

	struct run r = hv("log", "--vault", s, NULL, NULL, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(count_lines(r.out), 5); /* heading, 3 versions, 1 journal entry */
	expect_has(r.out, "    J1  2026-01-12T03:00:00Z  ");
	expect_has(r.out, "verify (quick): 2 cards, 0 differences; checked manifest version 3");
	expect_has(r.out, "     1  2026-01-05T09:00:00Z  ");
	expect_has(r.out, "vault created");
	expect_has(r.out, "card set created: 2 shares, 2 cards, KCV DBFFED54BA9E1D5B");
	char line3[200];
	snprintf(line3, sizeof(line3), "     3  2026-01-05T10:00:00Z  %s  backup of card", h3);
	expect_has(r.out, line3);
	assert_string_equal(r.err, "");
	run_free(&r);

	r = hv("log", "--json", "--vault", s, NULL, NULL);
	assert_int_equal(r.rc, 0);
	expect_has(r.out, "\"versions\":[{\"version\":1,");
	expect_has(r.out, "{\"version\":3,\"time\":\"2026-01-05T10:00:00Z\",\"sha256\":\"");
	expect_has(r.out, h3);
	expect_has(r.out, "\"ok\":true}");
	run_free(&r);
	drop_sample(t);
}

static void show_sample(void **state)
{
	(void)state;
	tvault *t;
	const char *s = sample_path(&t);
	char of[4200];
	snprintf(of, sizeof(of), "of %s %s", t ? "stick" : "folder", s);
	struct run r = hv("show", "--vault", s, NULL, NULL, NULL);
	assert_int_equal(r.rc, 0);
	expect_has(r.out, "manifest version 3 ");
	expect_has(r.out, of);
	expect_has(r.out, "(current)");
	expect_has(r.out, "label myfirst_keypair, key reference 1, EC P-256");
	expect_has(r.out, "scheme password, holder: alice");
	expect_has(r.out, "KCV DBFFED54BA9E1D5B");
	run_free(&r);

	r = hv("show", "--vault", s, "--version", "2", NULL);
	assert_int_equal(r.rc, 0);
	expect_has(r.out, "manifest version 2 ");
	expect_has(r.out, of);
	assert_null(strstr(r.out, "(current)"));
	expect_has(r.out, "keys            0");
	run_free(&r);

	r = hv("show", "--vault", s, "--json", NULL, NULL);
	assert_int_equal(r.rc, 0);
	expect_has(r.out, "\"current\":true");
	expect_has(r.out, "\"kcv\":\"DBFFED54BA9E1D5B\"");
	expect_has(r.out, "\"holders\":[\"alice\"]");
	expect_has(r.out, "\"ok\":true}");
	run_free(&r);

	r = hv("show", "--vault", s, "--version", "9", NULL);
	assert_int_equal(r.rc, HV_EUSAGE);
	expect_has(r.err, "there is no version 9");
	run_free(&r);
	r = hv("show", "--vault", s, "--version", "x", NULL);
	assert_int_equal(r.rc, HV_EUSAGE);
	run_free(&r);
	drop_sample(t);
}

static void usage_errors(void **state)
{
	(void)state;
	struct run r = hv("log", NULL, NULL, NULL, NULL, NULL);
	assert_int_equal(r.rc, HV_EUSAGE);
	expect_has(r.err, "--vault");
	run_free(&r);
	r = hv("log", "--vault", "/nonexistent-vault-path", NULL, NULL, NULL);
	assert_int_equal(r.rc, HV_EUSAGE);
	run_free(&r);
	r = hv("log", "--json", "--vault", "/nonexistent-vault-path", NULL, NULL);
	assert_int_equal(r.rc, HV_EUSAGE);
	expect_has(r.out, "\"ok\":false,\"error\":{\"code\":\"usage\",\"message\":\"no vault at");
	run_free(&r);
	r = hv("show", "--json", "--vault", "/nonexistent-vault-path", NULL, NULL);
	assert_int_equal(r.rc, HV_EUSAGE);
	expect_has(r.out, "\"ok\":false");
	run_free(&r);
	r = hv("log", "--bogus", NULL, NULL, NULL, NULL);
	assert_int_equal(r.rc, HV_EUSAGE);
	run_free(&r);
	char *tmp = tu_mkdtemp();
	r = hv("show", "--vault", tmp, NULL, NULL, NULL);
	assert_int_equal(r.rc, HV_EUSAGE);
	expect_has(r.err, "not an hsmvault vault");
	run_free(&r);
	tu_rmrf(tmp);
	free(tmp);
	r = hv("log", "--help", NULL, NULL, NULL, NULL);
	assert_int_equal(r.rc, 0);
	expect_has(r.out, "usage: hsmvault log");
	run_free(&r);
}

static void broken_chain(void **state)
{
	(void)state;
	tvault *t = copy_sample();
	const char *dir = t->spec;
	/* edit version 2 so that it still parses */
	const char *p = "manifest/000002.yaml";
	size_t n;
	char *d = tv_read(t, p, &n);
	char *c = strstr(d, "card set created");
	assert_non_null(c);
	c[0] = 'C';
	tv_write(t, p, d, n);
	free(d);

	struct run r = hv("log", "--vault", dir, NULL, NULL, NULL);
	assert_int_equal(r.rc, HV_EINTEGRITY);
	expect_has(r.out, "vault created");
	expect_has(r.out, "Card set created");
	assert_null(strstr(r.out, "backup of card"));
	expect_has(r.err, "manifest/000003.yaml: previous hash does not match manifest/000002.yaml: "
		   "the vault was edited or damaged; restore it from another stick");
	run_free(&r);

	r = hv("log", "--vault", dir, "--json", NULL, NULL);
	assert_int_equal(r.rc, HV_EINTEGRITY);
	expect_has(r.out, "\"ok\":false,\"error\":{\"code\":\"integrity\",\"message\":"
		   "\"manifest/000003.yaml: previous hash");
	run_free(&r);

	r = hv("show", "--vault", dir, NULL, NULL, NULL);
	assert_int_equal(r.rc, HV_EINTEGRITY);
	expect_has(r.out, "the chain breaks after this version");
	expect_has(r.out, "manifest version 2 of");
	expect_has(r.err, "manifest/000003.yaml: previous hash does not match");
	run_free(&r);

	r = hv("show", "--vault", dir, "--version", "1", NULL);
	assert_int_equal(r.rc, HV_EINTEGRITY);
	expect_has(r.out, "manifest version 1 of");
	run_free(&r);
	drop_sample(t);
}

static void tampered_share(void **state)
{
	(void)state;
	tvault *t = copy_sample();
	const char *dir = t->spec;
	const char *p = "shares/dkek-share-1.pbe";
	size_t n;
	char *d = tv_read(t, p, &n);
	d[20] ^= 0x80;
	tv_write(t, p, d, n);
	free(d);
	struct run r = hv("log", "--vault", dir, NULL, NULL, NULL);
	assert_int_equal(r.rc, HV_EINTEGRITY);
	assert_int_equal(count_lines(r.out), 4);
	expect_has(r.err, "shares/dkek-share-1.pbe: sha256 does not match the one "
		   "manifest/000003.yaml records");
	run_free(&r);
	r = hv("show", "--vault", dir, NULL, NULL, NULL);
	assert_int_equal(r.rc, HV_EINTEGRITY);
	expect_has(r.err, "shares/dkek-share-1.pbe");
	run_free(&r);
	/* an older version names the files as they were; it still shows */
	r = hv("show", "--vault", dir, "--version", "2", NULL);
	assert_int_equal(r.rc, 0);
	run_free(&r);
	drop_sample(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(log_sample),
		cmocka_unit_test(show_sample),
		cmocka_unit_test(usage_errors),
		cmocka_unit_test(broken_chain),
		cmocka_unit_test(tampered_share),
	};
	const struct CMUnitTest on_stick[] = {
		cmocka_unit_test(log_sample),
		cmocka_unit_test(show_sample),
		cmocka_unit_test(broken_chain),
		cmocka_unit_test(tampered_share),
	};
	/* usage_errors names folders and missing paths: nothing of a stick */
	if (tv_backend_is_stick())
		return cmocka_run_group_tests_name("cli (stick)", on_stick, NULL, NULL);
	return cmocka_run_group_tests_name("cli (folder)", tests, NULL, NULL);
}
