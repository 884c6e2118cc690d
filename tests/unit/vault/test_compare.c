/* vault/compare.c: the relation of two chains by their version hashes, and
 * the first file two versions disagree on. Pure: no storage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vault/compare.h"

/* A chain of n versions whose hashes are the letters of s ("abc": version
 * 1 hashes to 64 'a's, ...). */
static vault_chain chain(const char *s)
{
	vault_chain c = { 0 };
	c.n = strlen(s);
	c.heads = calloc(c.n ? c.n : 1, sizeof(*c.heads));
	for (size_t i = 0; i < c.n; i++) {
		c.heads[i].version = i + 1;
		memset(c.heads[i].sha256, s[i], 64);
	}
	return c;
}

static vault_comparison cmp(const char *a, const char *b)
{
	vault_chain ca = chain(a), cb = chain(b);
	vault_comparison r;
	vault_chain_compare(&ca, &cb, &r);
	free(ca.heads);
	free(cb.heads);
	return r;
}

static void relations(void **state)
{
	(void)state;
	vault_comparison r = cmp("abc", "abc");
	assert_int_equal(r.relation, VAULT_SAME);
	assert_int_equal(r.common, 3);
	r = cmp("abcde", "abc");
	assert_int_equal(r.relation, VAULT_A_AHEAD);
	assert_int_equal(r.ahead, 2);
	assert_int_equal(r.common, 3);
	r = cmp("ab", "abcd");
	assert_int_equal(r.relation, VAULT_B_AHEAD);
	assert_int_equal(r.ahead, 2);
	/* diverged: the first differing version, whatever the lengths */
	r = cmp("abxy", "abz");
	assert_int_equal(r.relation, VAULT_DIVERGED);
	assert_int_equal(r.diverged_at, 3);
	assert_int_equal(r.common, 2);
	r = cmp("x", "abc");
	assert_int_equal(r.relation, VAULT_DIVERGED);
	assert_int_equal(r.diverged_at, 1);
	/* a longer chain that differs before the shorter one ends is not "ahead" */
	r = cmp("abcd", "axc");
	assert_int_equal(r.relation, VAULT_DIVERGED);
	assert_int_equal(r.diverged_at, 2);
}

static manifest *version(const char *policy_sha, const char *share_sha, const char *key_file)
{
	manifest *m = manifest_new();
	if (policy_sha)
		manifest_set(&m->policy_sha256, policy_sha);
	manifest_share s = { .index = 1, .file = "shares/dkek-share-1.pbe",
			     .sha256 = (char *)share_sha, .scheme = "password", .threshold = 1 };
	manifest_add_share(m, &s);
	if (key_file) {
		manifest_key k = { .id = "01", .key_ref = 1, .algorithm = "EC P-256",
				   .public_key_sha256 = "ab", .kcv = "0011223344556677",
				   .file = (char *)key_file, .sha256 = "cd" };
		manifest_add_key(m, &k);
	}
	return m;
}

static void first_file(void **state)
{
	(void)state;
	char out[200];
	manifest *a = version("p1", "s1", "keys/0011223344556677/01.wrap");
	manifest *b = version("p1", "s1", "keys/0011223344556677/01.wrap");
	vault_first_file_difference(a, b, out, sizeof(out));
	assert_string_equal(out, "");
	manifest_free(b);
	b = version("p1", "s2", "keys/0011223344556677/01.wrap");
	vault_first_file_difference(a, b, out, sizeof(out));
	assert_string_equal(out, "shares/dkek-share-1.pbe");
	manifest_free(b);
	b = version("p2", "s2", NULL);
	vault_first_file_difference(a, b, out, sizeof(out));
	assert_string_equal(out, "policy.yaml");
	manifest_free(b);
	/* a file only the second names is found too */
	b = version("p1", "s1", NULL);
	vault_first_file_difference(b, a, out, sizeof(out));
	assert_string_equal(out, "keys/0011223344556677/01.wrap");
	manifest_free(b);
	manifest_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(relations),
		cmocka_unit_test(first_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
