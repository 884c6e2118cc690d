/* The manifest's YAML: deterministic emission, exact round trips, and a
 * parser that refuses hostile or malformed input with file:line:column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vault/manifest.h"
#include "vault/manifest_check.h"

static const char minimal[] =
	"format: \"hsmvault-manifest/1\"\n"
	"version: 1\n"
	"time: \"2026-01-05T09:00:00Z\"\n"
	"tool_version: \"0.1.0\"\n"
	"change: \"vault created\"\n"
	"policy:\n"
	"  name: null\n"
	"  sha256: null\n"
	"dkek:\n"
	"  share_count: 0\n"
	"  kcv: null\n"
	"  shares: []\n"
	"cards: []\n"
	"keys: []\n"
	"verifications: []\n";

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static manifest *full_manifest(void)
{
	manifest *m = manifest_new();
	m->version = 7;
	manifest_set(&m->previous, H64);
	manifest_set(&m->time, "2026-11-28T04:07:09Z");
	manifest_set(&m->tool_version, "0.1.0");
	manifest_set(&m->change, "backup: \"quoted\" & unicode \xc3\xa9 # not a comment");
	manifest_set(&m->policy_name, "ca-root");
	manifest_set(&m->policy_sha256, H64);
	m->share_count = 2;
	manifest_set(&m->dkek_kcv, "DBFFED54BA9E1D5B");
	char *alice = "alice";
	char *hs[] = { "bob", "null", "12" };
	manifest_share s1 = { 1, "shares/dkek-share-1.pbe", H64, "4B04E61C71416A1A", "password",
			      { &alice, 1 }, 1 };
	manifest_share s2 = { 2, "shares/share-nm.pbe", H64, NULL, "n-of-m", { hs, 3 }, 2 };
	assert_non_null(manifest_add_share(m, &s1));
	assert_non_null(manifest_add_share(m, &s2));
	char *keys[] = { "983b725d0c2b612baf11dd142dee092071cafbe5" };
	manifest_card c = { .id = "ESPICOHSMTR-0011223344556677", .serial = "ESPICOHSMTR",
			    .role = "primary", .firmware = "5.0", .kcv = "DBFFED54BA9E1D5B",
			    .keys = { keys, 1 }, .last_verified = "2026-11-28T04:00:00Z" };
	manifest_card c2 = { .id = "yes", .serial = "1e5", .role = "backup" };
	assert_non_null(manifest_add_card(m, &c));
	assert_non_null(manifest_add_card(m, &c2));
	manifest_key k = { keys[0], "myfirst_keypair", 1, "EC P-256", "3059301306", NULL,
			   "DBFFED54BA9E1D5B",
			   "keys/DBFFED54BA9E1D5B/983b725d0c2b612baf11dd142dee092071cafbe5.wrap",
			   H64, c.id, "2026-11-28T04:01:00Z" };
	assert_non_null(manifest_add_key(m, &k));
	manifest_verification x = { "2026-11-28T04:05:00Z", c.id, "deep", "ok", NULL };
	assert_non_null(manifest_add_verification(m, &x));
	return m;
}

static void emit_minimal_exact(void **state)
{
	(void)state;
	manifest *m = manifest_new();
	m->version = 1;
	manifest_set(&m->time, "2026-01-05T09:00:00Z");
	manifest_set(&m->tool_version, "0.1.0");
	manifest_set(&m->change, "vault created");
	char *t;
	size_t n;
	hv_err err;
	assert_int_equal(manifest_emit(m, &t, &n, &err), HV_OK);
	assert_string_equal(t, minimal);
	assert_int_equal(n, strlen(minimal));
	free(t);
	manifest_free(m);
}

static void roundtrip_is_byte_identical(void **state)
{
	(void)state;
	manifest *m = full_manifest();
	char *a, *b;
	size_t an, bn;
	hv_err err;
	assert_int_equal(manifest_emit(m, &a, &an, &err), HV_OK);
	/* same data, same bytes */
	assert_int_equal(manifest_emit(m, &b, &bn, &err), HV_OK);
	assert_int_equal(an, bn);
	assert_memory_equal(a, b, an);
	free(b);

	manifest *p;
	assert_int_equal(manifest_parse((uint8_t *)a, an, "x.yaml", &p, &err), HV_OK);
	assert_int_equal(p->version, 7);
	assert_string_equal(p->change, m->change);
	assert_int_equal(p->share_n, 2);
	assert_null(p->shares[1].check);
	assert_int_equal(p->shares[1].holders.count, 3);
	/* strings that look like null or numbers stay strings */
	assert_string_equal(p->shares[1].holders.items[1], "null");
	assert_string_equal(p->shares[1].holders.items[2], "12");
	assert_string_equal(p->cards[1].id, "yes");
	assert_string_equal(p->cards[1].serial, "1e5");
	assert_null(p->cards[1].firmware);
	assert_string_equal(p->keys[0].public_key, "3059301306");
	assert_null(p->keys[0].public_key_sha256);
	assert_int_equal(p->keys[0].key_ref, 1);
	assert_string_equal(p->verifications[0].kind, "deep");
	assert_non_null(manifest_find_card(p, "ESPICOHSMTR-0011223344556677"));
	assert_non_null(manifest_find_key(p, "DBFFED54BA9E1D5B",
					  "983b725d0c2b612baf11dd142dee092071cafbe5"));
	assert_null(manifest_find_key(p, "0000000000000000",
				      "983b725d0c2b612baf11dd142dee092071cafbe5"));
	assert_int_equal(manifest_emit(p, &b, &bn, &err), HV_OK);
	assert_int_equal(an, bn);
	assert_memory_equal(a, b, an);
	free(a);
	free(b);

	manifest *c;
	assert_int_equal(manifest_clone(p, &c, &err), HV_OK);
	assert_int_equal(manifest_emit(c, &b, &bn, &err), HV_OK);
	assert_int_equal(bn, an);
	free(b);
	manifest_free(c);
	manifest_free(p);
	manifest_free(m);
}

/* Replaces the first occurrence of from in minimal by to. */
static char *variant(const char *from, const char *to)
{
	const char *at = strstr(minimal, from);
	assert_non_null(at);
	size_t n = strlen(minimal) - strlen(from) + strlen(to);
	char *s = malloc(n + 1);
	size_t pre = (size_t)(at - minimal);
	memcpy(s, minimal, pre);
	strcpy(s + pre, to);
	strcat(s, at + strlen(from));
	return s;
}

static void expect_refused_text(const char *text, size_t len, const char *needle)
{
	manifest *m = NULL;
	hv_err err;
	hv_err_clear(&err);
	int rc = manifest_parse((const uint8_t *)text, len, "manifest/000001.yaml", &m, &err);
	if (rc != HV_EINTEGRITY || !strstr(err.msg, needle))
		fail_msg("expected refusal containing \"%s\", got rc %d: %s", needle, rc, err.msg);
	assert_null(m);
	assert_non_null(strstr(err.msg, "manifest/000001.yaml"));
}

static void expect_refused(const char *from, const char *to, const char *needle)
{
	char *t = variant(from, to);
	expect_refused_text(t, strlen(t), needle);
	free(t);
}

static void minimal_parses(void **state)
{
	(void)state;
	manifest *m;
	hv_err err;
	assert_int_equal(manifest_parse((const uint8_t *)minimal, strlen(minimal), "m", &m, &err),
			 HV_OK);
	assert_int_equal(m->version, 1);
	assert_null(m->previous);
	assert_null(m->dkek_kcv);
	manifest_free(m);
	/* optional keys may be left out; null spellings are accepted */
	char *t = variant("verifications: []\n", "");
	assert_int_equal(manifest_parse((uint8_t *)t, strlen(t), "m", &m, &err), HV_OK);
	manifest_free(m);
	free(t);
	t = variant("  kcv: null\n", "  kcv: ~\n");
	assert_int_equal(manifest_parse((uint8_t *)t, strlen(t), "m", &m, &err), HV_OK);
	manifest_free(m);
	free(t);
}

static void hostile_yaml_refused(void **state)
{
	(void)state;
	expect_refused("change: \"vault created\"", "change: &a \"vault created\"", "anchors");
	expect_refused("change: \"vault created\"", "change: *a", "aliases");
	expect_refused("cards: []", "cards: &c []\nx: *c", "anchors");
	expect_refused("version: 1", "version: !!int 1", "tags");
	expect_refused("policy:\n", "policy: !custom\n", "tags");
	/* billion laughs, refused at the first anchor */
	expect_refused("cards: []",
		       "cards: &a [\"lol\",\"lol\",\"lol\"]\nkeys2: &b [*a,*a,*a]\nk3: [*b,*b,*b]",
		       "anchors");
	expect_refused("cards: []", "cards: [[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]", "nested too deeply");
	expect_refused("change: \"vault created\"", "change: \"a\\0b\"", "NUL");
	expect_refused("keys: []", "keys: []\n---\nformat: x", "second one");
	expect_refused("keys: []", "keys: [", "not valid YAML");
	expect_refused_text("", 0, "empty");
	expect_refused_text("\xff\xfe garbage", 10, "not valid YAML");

	/* too many nodes within the size limit (vault/limits.h) */
	size_t n = VAULT_LIMIT_MANIFEST_NODES + 10;
	char *big = malloc(2 * n + 64);
	strcpy(big, "cards: [");
	size_t off = strlen(big);
	for (size_t i = 0; i < n; i++) {
		big[off++] = '1';
		big[off++] = ',';
	}
	strcpy(big + off, "1]\n");
	expect_refused_text(big, strlen(big), "too many entries");
	free(big);

	/* over the size limit */
	size_t huge = MANIFEST_MAX_BYTES + 1;
	char *h = malloc(huge);
	memset(h, ' ', huge);
	memcpy(h, minimal, strlen(minimal));
	manifest *m;
	hv_err err;
	assert_int_equal(manifest_parse((uint8_t *)h, huge, "manifest/000001.yaml", &m, &err),
			 HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "more than a manifest may have"));
	free(h);
}

static void wrong_types_refused(void **state)
{
	(void)state;
	expect_refused("version: 1", "version: \"1\"", "version must be a whole number");
	expect_refused("version: 1", "version: abc", "version must be a whole number");
	expect_refused("version: 1", "version: -1", "version must be a whole number");
	expect_refused("version: 1", "version: 1.0", "version must be a whole number");
	expect_refused("version: 1", "version: 99999999999", "version must be a whole number");
	expect_refused("version: 1", "version: [1]", "version must be a whole number");
	expect_refused("version: 1", "version: 0", "version 0 is outside");
	expect_refused("change: \"vault created\"", "change: null", "change must be a string, not null");
	expect_refused("change: \"vault created\"", "change: [a, b]", "change must be a string");
	expect_refused("change: \"vault created\"", "change: {a: b}", "change must be a string");
	expect_refused("cards: []", "cards: {}", "cards must be a list");
	expect_refused("cards: []", "cards: \"none\"", "cards must be a list");
	expect_refused("dkek:\n  share_count: 0\n  kcv: null\n  shares: []",
		       "dkek: []", "dkek must be a mapping");
	expect_refused("  share_count: 0", "  share_count: many", "dkek.share_count must be");
	expect_refused("shares: []", "shares: [\"x\"]", "a dkek share must be a mapping");
	expect_refused("keys: []", "keys: [{id: x}]", "a key lacks the key");
	expect_refused("verifications: []", "verifications: 5", "verifications must be a list");
	expect_refused("format: \"hsmvault-manifest/1\"", "format: \"hsmvault-manifest/2\"",
		       "format must be");
	expect_refused("keys: []", "keys: []\nextra: 1", "unknown key \"extra\"");
	expect_refused("keys: []", "keys: []\nkeys: []", "appears twice");
	expect_refused("time: \"2026-01-05T09:00:00Z\"\n", "", "lacks the key \"time\"");
	expect_refused("version: 1\n", "version: 1\nprevious: \"" H64 "\"\n", "version 1 has no previous");
	expect_refused("version: 1\n", "version: 2\n", "previous must be the sha256");
	expect_refused("2026-01-05T09:00:00Z", "2026-13-05T09:00:00Z", "time must be a UTC time");
	expect_refused("2026-01-05T09:00:00Z", "yesterday", "time must be a UTC time");
	expect_refused("change: \"vault created\"", "change: \"two\\nlines\"", "change must be one");
	/* the error names the line and column */
	expect_refused("cards: []", "cards: {}", "manifest/000001.yaml:13:8:");
}

static void semantic_checks(void **state)
{
	(void)state;
	hv_err err;
	manifest *m = full_manifest();
	char *t;
	size_t n;
	assert_int_equal(manifest_validate(m, "m", &err), HV_OK);

	manifest_set(&m->keys[0].file, "keys/DBFFED54BA9E1D5B/../../etc/passwd");
	assert_int_equal(manifest_validate(m, "m", &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "keys[0].file must be keys/DBFFED54BA9E1D5B/983b"));
	/* the emitter refuses what the parser would */
	assert_int_equal(manifest_emit(m, &t, &n, &err), HV_EINTERNAL);
	manifest_free(m);

	m = full_manifest();
	manifest_set(&m->shares[0].file, "shares/../policy.yaml");
	assert_int_equal(manifest_validate(m, "m", &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "dkek.shares[0].file"));
	manifest_free(m);

	m = full_manifest();
	manifest_set(&m->dkek_kcv, "dbffed54ba9e1d5b");
	assert_int_equal(manifest_validate(m, "m", &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "dkek.kcv"));
	manifest_free(m);

	m = full_manifest();
	m->shares[1].threshold = 4;
	assert_int_equal(manifest_validate(m, "m", &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "threshold 4, 3 holders"));
	manifest_free(m);

	m = full_manifest();
	m->shares[1].index = 1;
	assert_int_equal(manifest_validate(m, "m", &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "appears twice"));
	manifest_free(m);

	m = full_manifest();
	manifest_set(&m->keys[0].public_key, NULL);
	assert_int_equal(manifest_validate(m, "m", &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "needs public_key"));
	manifest_free(m);

	m = full_manifest();
	m->keys[0].key_ref = 0;
	assert_int_equal(manifest_validate(m, "m", &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "key_ref is 0"));
	manifest_free(m);

	m = full_manifest();
	manifest_set(&m->cards[1].id, m->cards[0].id);
	assert_int_equal(manifest_validate(m, "m", &err), HV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "cards[1].id"));
	manifest_free(m);

	m = full_manifest();
	manifest_set(&m->change, "bad \xff utf-8");
	assert_int_equal(manifest_emit(m, &t, &n, &err), HV_EUSAGE);
	manifest_free(m);
}

/* Deterministic mutations of a valid manifest: every result is either a
 * manifest that round-trips or a refusal; never a crash (the ASan build
 * watches memory). */
static void mutations_never_crash(void **state)
{
	(void)state;
	manifest *m = full_manifest();
	char *seed;
	size_t n;
	hv_err err;
	assert_int_equal(manifest_emit(m, &seed, &n, &err), HV_OK);
	manifest_free(m);
	static const char specials[] = "&*!|>[]{}:-#'\"\\\n\t ,?%@`~0";
	uint32_t x = 12345;
	int accepted = 0, refused = 0;
	char *buf = malloc(2 * n + 16);
	for (int it = 0; it < 4000; it++) {
		memcpy(buf, seed, n);
		size_t len = n;
		int edits = 1 + (int)((x = x * 1103515245u + 12345u) >> 16) % 3;
		for (int e = 0; e < edits; e++) {
			x = x * 1103515245u + 12345u;
			size_t at = (x >> 8) % len;
			switch ((x >> 4) % 4) {
			case 0: buf[at] = (char)(x >> 24); break;
			case 1: buf[at] = specials[(x >> 20) % (sizeof(specials) - 1)]; break;
			case 2: { /* delete up to 8 bytes */
				size_t k = 1 + (x >> 28) % 8;
				if (at + k > len)
					k = len - at;
				memmove(buf + at, buf + at + k, len - at - k);
				len -= k;
				break;
			}
			default: { /* duplicate up to 16 bytes */
				size_t k = 1 + (x >> 27) % 16;
				if (at + k > len)
					k = len - at;
				memmove(buf + at + k, buf + at, len - at);
				len += k;
				break;
			}
			}
			if (len == 0)
				break;
		}
		manifest *p = NULL;
		int rc = manifest_parse((uint8_t *)buf, len, "fuzz.yaml", &p, &err);
		if (rc == HV_OK) {
			char *again;
			size_t an;
			assert_int_equal(manifest_emit(p, &again, &an, &err), HV_OK);
			manifest *q;
			assert_int_equal(manifest_parse((uint8_t *)again, an, "again", &q, &err), HV_OK);
			manifest_free(q);
			free(again);
			manifest_free(p);
			accepted++;
		} else {
			assert_int_equal(rc, HV_EINTEGRITY);
			assert_null(p);
			assert_true(strlen(err.msg) > 0);
			refused++;
		}
	}
	print_message("mutations: %d accepted, %d refused\n", accepted, refused);
	assert_true(refused > 1000);
	free(buf);
	free(seed);
}

static void helpers(void **state)
{
	(void)state;
	char p[64], id[96], h[65];
	manifest_version_path(7, p, sizeof(p));
	assert_string_equal(p, "manifest/000007.yaml");
	manifest_version_path(999999, p, sizeof(p));
	assert_string_equal(p, "manifest/999999.yaml");
	manifest_sha256_hex("abc", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	manifest_card_identity("DECC0100001", (const uint8_t *)"abc", 3, id, sizeof(id));
	assert_string_equal(id, "DECC0100001-ba7816bf8f01cfea");
	char t[21];
	manifest_format_time(0, t);
	assert_string_equal(t, "1970-01-01T00:00:00Z");
	assert_true(manifest_is_time(t));
	assert_true(manifest_is_kcv("DBFFED54BA9E1D5B"));
	assert_false(manifest_is_kcv("DBFFED54BA9E1D5"));
	assert_false(manifest_is_kcv("dbffed54ba9e1d5b"));
	assert_true(manifest_is_key_id("00"));
	assert_false(manifest_is_key_id("0"));
	assert_false(manifest_is_key_id("0G"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(emit_minimal_exact),
		cmocka_unit_test(roundtrip_is_byte_identical),
		cmocka_unit_test(minimal_parses),
		cmocka_unit_test(hostile_yaml_refused),
		cmocka_unit_test(wrong_types_refused),
		cmocka_unit_test(semantic_checks),
		cmocka_unit_test(mutations_never_crash),
		cmocka_unit_test(helpers),
	};
	return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
