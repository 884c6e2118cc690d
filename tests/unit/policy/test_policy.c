/* Policy parser: every example in policies/ parses to the values it
 * states, and every broken policy is refused at the exact line:column
 * with a message that says what is wrong. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "policy/policy.h"

#define HEAD "format: hsmvault-policy/1\nname: t\n"
#define CARDS "cards: {count: 2}\n"
/* Lines 1..6 of a valid policy; the share list continues from line 7. */
#define UPTO_SHARES HEAD CARDS "dkek:\n  shares:\n    - holder: alice\n"

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* Policies are not secret, so a scratch folder is fine for file tests. */
static void make_temp_dir(char *dir, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, size, "%s/hv-policy-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
}

/* ---- the examples ------------------------------------------------------ */

typedef struct expected_share {
	const char *holders[6];
	unsigned threshold;
	const char *file;
} expected_share;

typedef struct expected_policy {
	const char *file;
	const char *name;
	const char *description;
	unsigned cards;
	const char *labels[4];
	size_t n_shares;
	expected_share shares[4];
	unsigned retry_counter;
	enum policy_so_pin so_pin;
	unsigned max_age_days;
	enum policy_unattested unattested;
} expected_policy;

static const expected_policy examples[] = {
	{ "classic.yaml", "classic", "Two cards, two DKEK shares, one holder per share",
	  2, { "primary", "backup" }, 2,
	  { { { "alice" }, 0, "dkek-share-1.pbe" },
	    { { "bob" }, 0, "dkek-share-2.pbe" } },
	  3, SO_PIN_HOLDERS, 90, UNATTESTED_REFUSE },
	{ "split-share.yaml", "ca-root", "Offline root CA: two cards, share 2 split 2-of-3",
	  2, { NULL }, 2,
	  { { { "alice" }, 0, "dkek-share-1.pbe" },
	    { { "bob", "carol", "dave" }, 2, "dkek-share-2.pbe" } },
	  3, SO_PIN_VAULT, 30, UNATTESTED_REFUSE },
	{ "three-cards.yaml", "signing-service",
	  "Three cards on two sites for the code-signing service",
	  3, { "online", "safe-site-a", "safe-site-b" }, 3,
	  { { { "Erin Smith" }, 0, "dkek-share-1.pbe" },
	    { { "frank" }, 0, "share-frank.pbe" },
	    { { "grace", "heidi", "ivan", "judy", "mallory" }, 3, "dkek-share-3.pbe" } },
	  5, SO_PIN_HOLDERS, 180, UNATTESTED_REFUSE },
};
#define N_EXAMPLES (sizeof(examples) / sizeof(examples[0]))

static void check_example_values(const expected_policy *e, const policy *p)
{
	assert_string_equal(p->name, e->name);
	assert_string_equal(p->description, e->description);
	assert_int_equal(p->card_count, e->cards);
	size_t n_labels = 0;
	while (n_labels < 4 && e->labels[n_labels])
		n_labels++;
	assert_int_equal(p->n_card_labels, n_labels);
	for (size_t i = 0; i < n_labels; i++)
		assert_string_equal(p->card_labels[i], e->labels[i]);
	assert_int_equal(p->n_shares, e->n_shares);
	for (size_t s = 0; s < e->n_shares; s++) {
		const expected_share *es = &e->shares[s];
		size_t n = 0;
		while (n < 6 && es->holders[n])
			n++;
		assert_int_equal(p->shares[s].n_holders, n);
		for (size_t h = 0; h < n; h++)
			assert_string_equal(p->shares[s].holders[h], es->holders[h]);
		assert_int_equal(p->shares[s].threshold, es->threshold);
		assert_string_equal(p->shares[s].file, es->file);
	}
	assert_int_equal(p->retry_counter, e->retry_counter);
	assert_int_equal(p->so_pin, e->so_pin);
	assert_int_equal(p->keys_backup, KEYS_BACKUP_ALL);
	assert_int_equal(p->max_age_days, e->max_age_days);
	assert_int_equal(p->unattested, e->unattested);
}

/* What holds for every valid policy, whatever example it comes from. */
static void check_invariants(const policy *p)
{
	assert_true(p->name[0] != '\0');
	assert_in_range(p->card_count, 1, POLICY_MAX_CARDS);
	assert_true(p->n_card_labels == 0 || p->n_card_labels == p->card_count);
	assert_in_range(p->n_shares, 1, POLICY_MAX_SHARES);
	for (size_t s = 0; s < p->n_shares; s++) {
		const policy_share *sh = &p->shares[s];
		if (sh->threshold == 0) {
			assert_int_equal(sh->n_holders, 1);
		} else {
			assert_in_range(sh->n_holders, POLICY_MIN_SPLIT_HOLDERS,
					POLICY_MAX_HOLDERS);
			assert_in_range(sh->threshold, 2, sh->n_holders);
		}
		size_t fl = strlen(sh->file);
		assert_true(fl > 4 && strcmp(sh->file + fl - 4, ".pbe") == 0);
		assert_null(strchr(sh->file, '/'));
	}
	assert_in_range(p->retry_counter, 1, 10);
	assert_in_range(p->max_age_days, 1, 3650);
}

static void test_every_example_parses(void **state)
{
	(void)state;
	const char *dir = getenv("HV_POLICIES_DIR");
	assert_non_null(dir); /* set by meson: the policies/ folder */
	DIR *d = opendir(dir);
	assert_non_null(d);
	bool seen[N_EXAMPLES] = { false };
	size_t parsed = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		if (nl < 6 || strcmp(de->d_name + nl - 5, ".yaml") != 0)
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		policy p;
		hv_err err = { 0 };
		int rc = policy_load(path, &p, &err);
		if (rc != HV_OK)
			print_error("%s: %s\n", de->d_name, err.msg);
		assert_int_equal(rc, HV_OK);
		check_invariants(&p);

		size_t len;
		char *bytes = read_all(path, &len);
		uint8_t md[32];
		unsigned md_len = 0;
		assert_true(EVP_Digest(bytes, len, md, &md_len, EVP_sha256(), NULL));
		assert_memory_equal(p.sha256, md, 32);
		free(bytes);

		for (size_t i = 0; i < N_EXAMPLES; i++) {
			if (strcmp(examples[i].file, de->d_name) == 0) {
				check_example_values(&examples[i], &p);
				seen[i] = true;
			}
		}
		parsed++;
	}
	closedir(d);
	for (size_t i = 0; i < N_EXAMPLES; i++) {
		if (!seen[i])
			print_error("example %s is missing from %s\n", examples[i].file, dir);
		assert_true(seen[i]);
	}
	assert_true(parsed >= N_EXAMPLES);
}

/* ---- broken policies ----------------------------------------------------- */

typedef struct bad_case {
	const char *what;
	const char *text;
	size_t len;  /* 0: strlen(text) */
	unsigned line, column;
	const char *fragment;
} bad_case;

static void expect_error(const char *what, int rc, const hv_err *err,
			 const char *file, unsigned line, unsigned column,
			 const char *fragment)
{
	char prefix[512];
	snprintf(prefix, sizeof(prefix), "%s:%u:%u: ", file, line, column);
	if (rc != HV_EUSAGE || strncmp(err->msg, prefix, strlen(prefix)) != 0 ||
	    !strstr(err->msg, fragment))
		print_error("case '%s': rc %d, message \"%s\"; wanted %s...%s\n",
			    what, rc, err->msg, prefix, fragment);
	assert_int_equal(rc, HV_EUSAGE);
	assert_int_equal(err->code, HV_EUSAGE);
	assert_true(strncmp(err->msg, prefix, strlen(prefix)) == 0);
	assert_non_null(strstr(err->msg, fragment));
}

static const bad_case bad_cases[] = {
	{ "unknown top-level key", HEAD "colour: red\n", 0, 3, 1,
	  "unknown key 'colour': the top-level keys are" },
	{ "unknown nested key", HEAD "cards:\n  count: 2\n  colour: 3\n", 0, 5, 3,
	  "unknown key 'colour' in cards" },
	{ "unknown key in a share", UPTO_SHARES "    - holder: bob\n      hodler: x\n",
	  0, 8, 7, "unknown key 'hodler' in share 2" },
	{ "string for count", HEAD "cards:\n  count: two\n", 0, 4, 10,
	  "cards.count must be a whole number from 1 to 16, found 'two'" },
	{ "quoted count", HEAD "cards:\n  count: \"2\"\n", 0, 4, 10,
	  "without quotes" },
	{ "count with leading zero", HEAD "cards:\n  count: 02\n", 0, 4, 10,
	  "leading zero" },
	{ "negative count", HEAD "cards:\n  count: -1\n", 0, 4, 10,
	  "cards.count -1 is out of range" },
	{ "huge count", HEAD "cards:\n  count: 99999999999999999999\n", 0, 4, 10,
	  "out of range" },
	{ "list for count", HEAD "cards:\n  count: [2]\n", 0, 4, 10,
	  "cards.count must be a whole number from 1 to 16, not a list" },
	{ "mapping for name", "format: hsmvault-policy/1\nname: {a: 1}\n", 0, 2, 7,
	  "name must be text, not a mapping" },
	{ "name with a space", "format: hsmvault-policy/1\nname: ca root\n", 0, 2, 7,
	  "name 'ca root' is not valid" },
	{ "name too long", "format: hsmvault-policy/1\nname: "
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 0, 2, 7,
	  "is not valid" },
	{ "name without value", "format: hsmvault-policy/1\nname:\n" CARDS, 0, 2, 6,
	  "name has no value" },
	{ "scalar for cards", HEAD "cards: 2\n", 0, 3, 8,
	  "cards must be a mapping of keys" },
	{ "count 0", HEAD "cards: {count: 0}\n", 0, 3, 16,
	  "cards.count 0 is out of range: it must be from 1 to 16" },
	{ "count 17", HEAD "cards: {count: 17}\n", 0, 3, 16,
	  "cards.count 17 is out of range: it must be from 1 to 16" },
	{ "count missing", HEAD "cards:\n  labels: [a]\n", 0, 4, 3,
	  "cards.count is missing" },
	{ "unattested not known", HEAD "cards:\n  count: 2\n  unattested: yes\n", 0, 5, 15,
	  "cards.unattested 'yes' is not known: use 'refuse'" },
	{ "unattested as a boolean-looking word", HEAD "cards: {count: 1, unattested: true}\n",
	  0, 3, 31, "cards.unattested 'true' is not known" },
	{ "unattested in the wrong case", HEAD "cards:\n  count: 2\n  unattested: Accept\n",
	  0, 5, 15, "cards.unattested 'Accept' is not known" },
	{ "unattested without value", HEAD "cards:\n  count: 2\n  unattested:\n", 0, 5, 14,
	  "cards.unattested has no value" },
	{ "unattested as a list", HEAD "cards:\n  count: 2\n  unattested: [accept]\n",
	  0, 5, 15, "cards.unattested must be text, not a list" },
	{ "unattested twice", HEAD "cards:\n  count: 2\n  unattested: accept\n"
	  "  unattested: refuse\n", 0, 6, 3, "duplicate key 'unattested' (first at 5:3)" },
	{ "unattested at the top level", UPTO_SHARES "unattested: accept\n", 0, 7, 1,
	  "unknown key 'unattested': the top-level keys are" },
	{ "unknown key in cards lists unattested", HEAD "cards:\n  count: 2\n  unatested: accept\n",
	  0, 5, 3, "the keys allowed here are count, labels, unattested" },
	{ "labels not one per card", HEAD "cards:\n  count: 2\n  labels: [a, b, c]\n",
	  0, 5, 11, "cards.labels names 3 cards but cards.count is 2" },
	{ "duplicate label", HEAD "cards:\n  count: 2\n  labels: [a, A]\n", 0, 5, 15,
	  "card label 'A' is used twice (also at 5:12)" },
	{ "threshold > holders",
	  UPTO_SHARES "    - holders: [bob, carol, dave]\n      threshold: 4\n", 0, 8, 18,
	  "threshold 4 is more than the 3 holders of share 2: lower the threshold "
	  "or add holders" },
	{ "threshold 1",
	  UPTO_SHARES "    - holders: [bob, carol, dave]\n      threshold: 1\n", 0, 8, 18,
	  "threshold 1 of share 2 would let any one holder alone open the share" },
	{ "threshold 0",
	  UPTO_SHARES "    - holders: [bob, carol, dave]\n      threshold: 0\n", 0, 8, 18,
	  "threshold 0 of share 2 would let nobody open the share" },
	{ "threshold as text",
	  UPTO_SHARES "    - holders: [bob, carol, dave]\n      threshold: two\n", 0, 8, 18,
	  "threshold must be a whole number from 2 to 16, found 'two'" },
	{ "2 holders with threshold 2",
	  UPTO_SHARES "    - holders: [bob, carol]\n      threshold: 2\n", 0, 7, 16,
	  "needs at least 3" },
	{ "holders without threshold", UPTO_SHARES "    - holders: [bob, carol, dave]\n",
	  0, 7, 7, "share 2 splits its password among 3 holders but has no threshold" },
	{ "threshold with one holder", UPTO_SHARES "    - holder: bob\n      threshold: 2\n",
	  0, 8, 7, "threshold applies only to a split share" },
	{ "holder and holders",
	  UPTO_SHARES "    - holder: bob\n      holders: [carol, dave, erin]\n"
	  "      threshold: 2\n", 0, 8, 7, "share 2 has both holder: and holders:" },
	{ "share naming nobody", UPTO_SHARES "    - file: x.pbe\n", 0, 7, 7,
	  "share 2 names nobody" },
	{ "share as plain text", UPTO_SHARES "    - bob\n", 0, 7, 7,
	  "share 2 must be a mapping" },
	{ "holders as text", UPTO_SHARES "    - holders: bob\n      threshold: 2\n",
	  0, 7, 16, "holders of share 2 must be a list of names" },
	{ "empty holders", UPTO_SHARES "    - holders: []\n      threshold: 2\n",
	  0, 7, 16, "share 2 has an empty holders list" },
	{ "bad holder name", UPTO_SHARES "    - holder: bob/evil\n", 0, 7, 15,
	  "holder 'bob/evil' is not a valid name" },
	{ "no shares", HEAD CARDS "dkek:\n  shares: []\n", 0, 5, 11,
	  "dkek.shares is empty" },
	{ "shares missing", HEAD CARDS "dkek: {}\n", 0, 4, 7,
	  "dkek.shares is missing" },
	{ "17 shares", HEAD CARDS "dkek:\n  shares:\n"
	  "    - {holder: h1}\n    - {holder: h2}\n    - {holder: h3}\n"
	  "    - {holder: h4}\n    - {holder: h5}\n    - {holder: h6}\n"
	  "    - {holder: h7}\n    - {holder: h8}\n    - {holder: h9}\n"
	  "    - {holder: h10}\n    - {holder: h11}\n    - {holder: h12}\n"
	  "    - {holder: h13}\n    - {holder: h14}\n    - {holder: h15}\n"
	  "    - {holder: h16}\n    - {holder: h17}\n", 0, 22, 7,
	  "more than 16 shares" },
	{ "17 holders in a share", UPTO_SHARES "    - holders: [a, b, c, d, e, f, g, h, "
	  "i, j, k, l, m, n, o, p, q]\n      threshold: 2\n", 0, 7, 65,
	  "more than 16 holders" },
	{ "duplicate holder inside a share",
	  UPTO_SHARES "    - holders: [bob, carol, bob]\n      threshold: 2\n", 0, 7, 29,
	  "holder 'bob' appears twice in share 2 (also at 7:17)" },
	{ "same holder in two shares", UPTO_SHARES "    - holder: alice\n", 0, 7, 15,
	  "holder 'alice' already keeps share 1 (at 6:15): one person with two "
	  "shares can rebuild more of the DKEK alone" },
	{ "same holder in two shares, other case",
	  UPTO_SHARES "    - holders: [bob, ALICE, carol]\n      threshold: 2\n", 0, 7, 22,
	  "holder 'ALICE' already keeps share 1" },
	{ "share file with a folder", UPTO_SHARES "    - holder: bob\n      file: ../x.pbe\n",
	  0, 8, 13, "is not a plain file name ending in .pbe" },
	{ "share file not .pbe", UPTO_SHARES "    - holder: bob\n      file: share2\n",
	  0, 8, 13, "is not a plain file name ending in .pbe" },
	{ "share file used twice",
	  UPTO_SHARES "    - holder: bob\n      file: dkek-share-1.pbe\n", 0, 8, 13,
	  "file dkek-share-1.pbe of share 2 is already the file of share 1" },
	{ "default share file taken",
	  HEAD CARDS "dkek:\n  shares:\n    - holder: alice\n      file: dkek-share-2.pbe\n"
	  "    - holder: bob\n", 0, 8, 7,
	  "share 2's default file dkek-share-2.pbe is already the file of share 1" },
	{ "retry counter 11", UPTO_SHARES "pin:\n  retry_counter: 11\n", 0, 8, 18,
	  "pin.retry_counter 11 is out of range: it must be from 1 to 10" },
	{ "unknown so_pin", UPTO_SHARES "pin:\n  so_pin: card\n", 0, 8, 11,
	  "pin.so_pin 'card' is not known" },
	{ "unknown key in pin", UPTO_SHARES "pin:\n  user_pin: 123456\n", 0, 8, 3,
	  "unknown key 'user_pin' in pin" },
	{ "pin without value", UPTO_SHARES "pin:\nkeys: {backup: all}\n", 0, 7, 5,
	  "pin has no value" },
	{ "unknown backup", UPTO_SHARES "keys:\n  backup: some\n", 0, 8, 11,
	  "keys.backup 'some' is not known" },
	{ "max age 0", UPTO_SHARES "verify: {max_age_days: 0}\n", 0, 7, 24,
	  "verify.max_age_days 0 is out of range" },
	{ "max age 3651", UPTO_SHARES "verify: {max_age_days: 3651}\n", 0, 7, 24,
	  "verify.max_age_days 3651 is out of range" },
	{ "description with line breaks", HEAD "description: |\n  one\n  two\n", 0, 3, 14,
	  "write it as one paragraph" },
	{ "duplicate mapping key", HEAD "name: u\n", 0, 3, 1,
	  "duplicate key 'name' (first at 2:1)" },
	{ "duplicate key with a control character",
	  HEAD "\"a\\x01\": 1\n\"a\\x01\": 2\n", 0, 4, 1,
	  "duplicate key 'a?' (first at 3:1)" },
	{ "over-long unknown key is cut short", HEAD
	  "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk: 1\n",
	  0, 3, 1, "unknown key 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...':" },
	{ "duplicate nested key", HEAD "cards:\n  count: 2\n  count: 3\n", 0, 5, 3,
	  "duplicate key 'count' (first at 4:3)" },
	{ "anchor", HEAD "description: &d text\n", 0, 3, 14,
	  "anchor &d: anchors and aliases are not allowed" },
	{ "alias", HEAD "description: *d\n", 0, 3, 14,
	  "alias *d: anchors and aliases are not allowed" },
	{ "anchor on a mapping", HEAD "cards: &c {count: 2}\n", 0, 3, 8,
	  "anchor &c" },
	{ "python tag", HEAD "description: !!python/object:os.system x\n", 0, 3, 14,
	  "tag tag:yaml.org,2002:python/object:os.system: YAML tags are not allowed" },
	{ "local tag on a mapping", HEAD "cards: !foo {count: 2}\n", 0, 3, 8,
	  "tag !foo" },
	{ "two documents", UPTO_SHARES "---\n" UPTO_SHARES, 0, 7, 1,
	  "a second YAML document starts here" },
	{ "two documents after an end marker", UPTO_SHARES "...\n---\nx: 1\n", 0, 8, 1,
	  "a second YAML document" },
	{ "empty file", "", 0, 1, 1, "the file holds no policy" },
	{ "only comments", "# a policy\n\n# to be written\n", 0, 1, 1,
	  "the file holds no policy" },
	{ "not YAML at all: prose", "Dear operator,\nplease keep this safe.\n", 0, 1, 1,
	  "a policy must be a mapping of keys" },
	{ "not YAML at all: broken flow", "{\"format\": [1, 2\n", 0, 2, 1,
	  "not valid YAML" },
	{ "not YAML at all: bad indentation", "format: x\n  name: y\n", 0, 2, 7,
	  "not valid YAML: mapping values are not allowed" },
	{ "root is a list", "- format: hsmvault-policy/1\n", 0, 1, 1,
	  "this file holds a list" },
	{ "binary garbage: ELF header", "\x7f" "ELF\x02\x01\x01", 7, 1, 1,
	  "character U+007F is not allowed" },
	{ "binary garbage: NUL byte", HEAD "desc\0ription: x\n",
	  sizeof(HEAD "desc\0ription: x\n") - 1, 3, 5,
	  "character U+0000 is not allowed" },
	{ "binary garbage: invalid UTF-8", HEAD "description: caf\xe9\n", 0, 3, 17,
	  "byte 0xE9 is not UTF-8 text" },
	{ "UTF-16 file", "\xff\xfe" "f\0o\0", 6, 1, 1, "byte 0xFF is not UTF-8" },
	{ "deep nesting", NULL, 0, 1, 9, "nested deeper than 8 levels" },
	{ "a key that is a list", HEAD "? [a, b]\n: c\n", 0, 3, 3,
	  "a key must be a name, not a list" },
	{ "missing format", "name: t\n" CARDS "dkek: {shares: [{holder: a}]}\n", 0, 1, 1,
	  "the format line is missing" },
	{ "wrong format version", "format: hsmvault-policy/2\nname: t\n", 0, 1, 9,
	  "format hsmvault-policy/2 is a version this hsmvault does not know" },
	{ "not a policy format", "format: ansible\nname: t\n", 0, 1, 9,
	  "format 'ansible' is not an hsmvault policy" },
	{ "format checked before other keys",
	  "name: t\nfoo: 1\nformat: hsmvault-policy/9\n", 0, 3, 9,
	  "format hsmvault-policy/9 is a version" },
	{ "name missing", "format: hsmvault-policy/1\n" CARDS, 0, 1, 1,
	  "name is missing" },
	{ "cards missing", HEAD "dkek: {shares: [{holder: a}]}\n", 0, 1, 1,
	  "cards is missing" },
	{ "dkek missing", HEAD CARDS, 0, 1, 1, "dkek is missing" },
	{ "CRLF line endings keep positions", "format: hsmvault-policy/1\r\nname: t\r\n"
	  "cards:\r\n  count: 0\r\n", 0, 4, 10, "cards.count 0 is out of range" },
};
#define N_BAD (sizeof(bad_cases) / sizeof(bad_cases[0]))

static void test_broken_policies(void **state)
{
	(void)state;
	char deep[1001];
	memset(deep, '[', 1000);
	deep[1000] = '\0';
	for (size_t i = 0; i < N_BAD; i++) {
		const bad_case *b = &bad_cases[i];
		const char *text = b->text ? b->text : deep;
		size_t len = b->len ? b->len : strlen(text);
		policy p;
		memset(&p, 0xA5, sizeof(p));
		hv_err err = { 0 };
		int rc = policy_parse("bad.yaml", (const uint8_t *)text, len, &p, &err);
		expect_error(b->what, rc, &err, "bad.yaml", b->line, b->column,
			     b->fragment);
		/* A failed parse leaves nothing half-filled behind. */
		assert_int_equal(p.n_shares, 0);
		assert_int_equal(p.name[0], '\0');
	}
}

/* A policy padded with comments to exactly the size limit is fine; one
 * byte more, or a 100 KiB file, is refused before parsing. */
static void test_size_limit(void **state)
{
	(void)state;
	const char *body = UPTO_SHARES;
	size_t blen = strlen(body);
	size_t big = 100 * 1024;
	char *text = malloc(big);
	assert_non_null(text);
	memcpy(text, body, blen);
	memset(text + blen, ' ', big - blen);
	text[blen] = '#';
	text[POLICY_MAX_BYTES - 1] = '\n';

	policy p;
	hv_err err = { 0 };
	assert_int_equal(policy_parse("max.yaml", (uint8_t *)text, POLICY_MAX_BYTES,
				      &p, &err), HV_OK);
	assert_int_equal(p.n_shares, 1);

	int rc = policy_parse("over.yaml", (uint8_t *)text, POLICY_MAX_BYTES + 1, &p, &err);
	expect_error("one byte over", rc, &err, "over.yaml", 1, 1,
		     "the file is 65537 bytes, more than the 65536");
	rc = policy_parse("big.yaml", (uint8_t *)text, big, &p, &err);
	expect_error("100 KiB", rc, &err, "big.yaml", 1, 1,
		     "the file is 102400 bytes, more than the 65536");

	/* The same through policy_load, from a real file. */
	char dir[256];
	make_temp_dir(dir, sizeof(dir));
	char path[512];
	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, big, f), big);
	assert_int_equal(fclose(f), 0);
	rc = policy_load(path, &p, &err);
	expect_error("100 KiB file", rc, &err, path, 1, 1,
		     "the file is 102400 bytes, more than the 65536");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	free(text);
}

static void test_load_follows_link_refuses_missing(void **state)
{
	(void)state;
	char dir[256];
	make_temp_dir(dir, sizeof(dir));
	char real[512], link[512], missing[512];
	snprintf(real, sizeof(real), "%s/real.yaml", dir);
	snprintf(link, sizeof(link), "%s/link.yaml", dir);
	snprintf(missing, sizeof(missing), "%s/missing.yaml", dir);
	FILE *f = fopen(real, "wb");
	assert_non_null(f);
	fputs(UPTO_SHARES, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(symlink("real.yaml", link), 0);

	policy p;
	hv_err err = { 0 };
	assert_int_equal(policy_load(real, &p, &err), HV_OK);
	assert_string_equal(p.shares[0].holders[0], "alice");

	/* named by the operator, not inside a vault: a link is followed */
	assert_int_equal(policy_load(link, &p, &err), HV_OK);
	assert_string_equal(p.shares[0].holders[0], "alice");
	assert_int_equal(policy_load(missing, &p, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "missing.yaml does not exist"));
	assert_int_equal(policy_load(dir, &p, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "is a folder, not a policy file"));

	assert_int_equal(unlink(link), 0);
	assert_int_equal(unlink(real), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- valid variations ---------------------------------------------------- */

static void test_defaults_and_styles(void **state)
{
	(void)state;
	/* Minimal: only the required keys; flow style; quoted text. */
	const char *text = "\xef\xbb\xbf" /* a UTF-8 BOM is fine */
		"format: \"hsmvault-policy/1\"\n"
		"name: 'ca.root_2-b'\n"
		"cards: {count: 1}\n"
		"dkek: {shares: [{holder: \"Ann Lee\"}]}\n";
	policy p;
	hv_err err = { 0 };
	int rc = policy_parse("min.yaml", (const uint8_t *)text, strlen(text), &p, &err);
	if (rc != HV_OK)
		print_error("%s\n", err.msg);
	assert_int_equal(rc, HV_OK);
	assert_string_equal(p.name, "ca.root_2-b");
	assert_string_equal(p.description, "");
	assert_int_equal(p.card_count, 1);
	assert_int_equal(p.n_card_labels, 0);
	assert_int_equal(p.n_shares, 1);
	assert_string_equal(p.shares[0].holders[0], "Ann Lee");
	assert_int_equal(p.shares[0].threshold, 0);
	assert_string_equal(p.shares[0].file, "dkek-share-1.pbe");
	assert_int_equal(p.shares[0].line, 4);
	assert_int_equal(p.shares[0].column, 17);
	assert_int_equal(p.retry_counter, 3);
	assert_int_equal(p.so_pin, SO_PIN_HOLDERS);
	assert_int_equal(p.keys_backup, KEYS_BACKUP_ALL);
	assert_int_equal(p.max_age_days, 90);
	assert_int_equal(p.unattested, UNATTESTED_REFUSE);

	/* The limits themselves: 16 cards, 16 shares, 16 holders, T = n,
	 * a 64-byte name, empty sections take defaults. */
	char big[8192];
	int n = snprintf(big, sizeof(big), "format: hsmvault-policy/1\n"
		"name: %s\ncards: {count: 16}\npin: {}\nkeys: {}\nverify: {}\n"
		"dkek:\n  shares:\n    - holders: [", "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn");
	for (int h = 1; h <= 16; h++)
		n += snprintf(big + n, sizeof(big) - (size_t)n, "%sp%d", h > 1 ? ", " : "", h);
	n += snprintf(big + n, sizeof(big) - (size_t)n, "]\n      threshold: 16\n");
	for (int s = 2; s <= 16; s++)
		n += snprintf(big + n, sizeof(big) - (size_t)n,
			      "    - holder: s%d\n      file: s%d.pbe\n", s, s);
	rc = policy_parse("limits.yaml", (const uint8_t *)big, (size_t)n, &p, &err);
	if (rc != HV_OK)
		print_error("%s\n", err.msg);
	assert_int_equal(rc, HV_OK);
	assert_int_equal(strlen(p.name), 64);
	assert_int_equal(p.card_count, 16);
	assert_int_equal(p.n_shares, 16);
	assert_int_equal(p.shares[0].n_holders, 16);
	assert_int_equal(p.shares[0].threshold, 16);
	assert_string_equal(p.shares[0].holders[15], "p16");
	assert_string_equal(p.shares[0].file, "dkek-share-1.pbe");
	assert_string_equal(p.shares[15].holders[0], "s16");
	assert_string_equal(p.shares[15].file, "s16.pbe");
	assert_int_equal(p.shares[15].line, 39);
	assert_int_equal(p.retry_counter, 3);
	assert_int_equal(p.max_age_days, 90);

	/* A folded description loses its final line break. */
	const char *folded = HEAD "description: >\n  one\n  two\n" CARDS
		"dkek: {shares: [{holder: a}]}\n";
	rc = policy_parse("folded.yaml", (const uint8_t *)folded, strlen(folded), &p, &err);
	assert_int_equal(rc, HV_OK);
	assert_string_equal(p.description, "one two");
}

/* cards.unattested: both words, in any style, and the default. */
static void test_unattested(void **state)
{
	(void)state;
	static const struct { const char *cards; enum policy_unattested want; } cases[] = {
		{ "cards: {count: 1}\n", UNATTESTED_REFUSE },
		{ "cards: {count: 1, unattested: accept}\n", UNATTESTED_ACCEPT },
		{ "cards: {count: 1, unattested: refuse}\n", UNATTESTED_REFUSE },
		{ "cards:\n  unattested: \"accept\"\n  count: 1\n", UNATTESTED_ACCEPT },
		{ "cards:\n  count: 1\n  unattested: 'refuse'\n", UNATTESTED_REFUSE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		int n = snprintf(text, sizeof(text), HEAD "%sdkek: {shares: [{holder: a}]}\n",
				 cases[i].cards);
		policy p;
		memset(&p, 0xA5, sizeof(p));
		hv_err err = { 0 };
		int rc = policy_parse("u.yaml", (const uint8_t *)text, (size_t)n, &p, &err);
		if (rc != HV_OK)
			print_error("case %zu: %s\n", i, err.msg);
		assert_int_equal(rc, HV_OK);
		assert_int_equal(p.unattested, cases[i].want);
		assert_int_equal(p.card_count, 1);
	}
}

static void test_sha256_is_of_the_bytes(void **state)
{
	(void)state;
	const char *a = UPTO_SHARES;
	const char *b = UPTO_SHARES "# same policy, one more comment\n";
	policy pa, pb;
	hv_err err = { 0 };
	assert_int_equal(policy_parse("a", (const uint8_t *)a, strlen(a), &pa, &err), HV_OK);
	assert_int_equal(policy_parse("b", (const uint8_t *)b, strlen(b), &pb, &err), HV_OK);
	assert_memory_not_equal(pa.sha256, pb.sha256, 32);
	uint8_t md[32];
	unsigned md_len = 0;
	assert_true(EVP_Digest(a, strlen(a), md, &md_len, EVP_sha256(), NULL));
	assert_memory_equal(pa.sha256, md, 32);
}

static void test_describe(void **state)
{
	(void)state;
	const char *text = HEAD "description: Root CA\n"
		"cards: {count: 2, labels: [primary, backup]}\n"
		"dkek:\n  shares:\n    - holder: alice\n"
		"    - holders: [bob, carol, dave]\n      threshold: 2\n"
		"pin: {retry_counter: 1, so_pin: vault}\nverify: {max_age_days: 1}\n";
	policy p;
	hv_err err = { 0 };
	assert_int_equal(policy_parse("d", (const uint8_t *)text, strlen(text), &p, &err), HV_OK);
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	assert_non_null(f);
	assert_int_equal(policy_describe(&p, f), HV_OK);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "Policy t (Root CA): a set of 2 cards (primary and backup)"));
	assert_non_null(strstr(out, "share 1 (dkek-share-1.pbe) is kept by alice"));
	assert_non_null(strstr(out, "share 2 (dkek-share-2.pbe) has its password split "
				    "2-of-3 among bob, carol and dave"));
	assert_non_null(strstr(out, "locks after 1 wrong try;"));
	assert_non_null(strstr(out, "inside the vault's LUKS volume"));
	assert_non_null(strstr(out, "every 1 day."));
	assert_non_null(strstr(out, "A card that cannot prove it is genuine (no device "
				    "certificate chain to a trusted root, such as a pico-hsm) is "
				    "refused (set cards.unattested: accept to accept it); a card "
				    "whose chain fails to verify is always refused."));
	assert_int_equal(out[outlen - 1], '\n');
	assert_null(memchr(out, '\n', outlen - 1)); /* one paragraph */
	free(out);

	/* With unattested: accept the paragraph says so instead. */
	const char *acc = HEAD "cards: {count: 1, unattested: accept}\n"
		"dkek: {shares: [{holder: a}]}\n";
	assert_int_equal(policy_parse("a", (const uint8_t *)acc, strlen(acc), &p, &err), HV_OK);
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	assert_int_equal(policy_describe(&p, f), HV_OK);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "(no device certificate chain to a trusted root, such as "
				    "a pico-hsm) is accepted; a card whose chain fails to verify "
				    "is always refused."));
	assert_null(strstr(out, "set cards.unattested"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_example_parses),
		cmocka_unit_test(test_broken_policies),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_load_follows_link_refuses_missing),
		cmocka_unit_test(test_defaults_and_styles),
		cmocka_unit_test(test_unattested),
		cmocka_unit_test(test_sha256_is_of_the_bytes),
		cmocka_unit_test(test_describe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
