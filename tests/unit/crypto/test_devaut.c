/* The device-authentication chain check (crypto/devaut.h, crypto/cvc.h)
 * on the public vectors of tests/vectors/devaut (see its README): real
 * Nitrokey HSM 2 and SmartCard-HSM chains to CardContact's production
 * root, pico-hsm's self-signed EF 2F02 captures and its own PKI chain,
 * and every single-byte tampering of the signed parts. */
#include "crypto_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/obj_mac.h>
#include <openssl/sha.h>

#include "crypto/cvc.h"
#include "crypto/devaut.h"
#include "util/tlv.h"

/* --------------------------------------------------------------- helpers */

/* A file of tests/vectors/devaut (HV_DEVAUT_VECTORS, set by meson). */
static uint8_t *vec(const char *name, size_t *len)
{
	const char *dir = getenv("HV_DEVAUT_VECTORS");
	assert_non_null(dir);
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open vector %s: %s", path, strerror(errno));
	uint8_t *b = malloc(8192);
	assert_non_null(b);
	*len = fread(b, 1, 8192, f);
	fclose(f);
	assert_true(*len > 0 && *len < 8192);
	return b;
}

/* Two files, one after the other (a certificate chain as EF 2F02 holds it). */
static uint8_t *vec_cat(const char *a, const char *b, size_t *len)
{
	size_t la, lb;
	uint8_t *x = vec(a, &la), *y = vec(b, &lb);
	uint8_t *out = malloc(la + lb);
	assert_non_null(out);
	memcpy(out, x, la);
	memcpy(out + la, y, lb);
	free(x);
	free(y);
	*len = la + lb;
	return out;
}

/* An anchor set of the named vector files (NULL-terminated). */
static void anchors_of(devaut_anchors *a, ...)
{
	devaut_anchors_init(a);
	va_list ap;
	va_start(ap, a);
	const char *name;
	while ((name = va_arg(ap, const char *)) != NULL) {
		size_t len;
		uint8_t *der = vec(name, &len);
		hv_err err = { 0 };
		if (devaut_anchors_add(a, der, len, name, &err))
			fail_msg("anchor %s refused: %s", name, err.msg);
		free(der);
	}
	va_end(ap);
}

static devaut_result check(const devaut_anchors *a, const uint8_t *ef, size_t len)
{
	devaut_result r;
	hv_err err = { 0 };
	int rc = devaut_check(a, ef, len, &r, &err);
	if (rc)
		fail_msg("devaut_check returned %d: %s", rc, err.msg);
	return r;
}

static void assert_status(const devaut_result *r, int want)
{
	if (r->status != want)
		fail_msg("status %s, want %s (reason: %s)", devaut_status_name(r->status),
			 devaut_status_name(want), r->reason);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" does not mention \"%s\"", hay, needle);
}

/* The production anchors: the built-in root (and the installed folder,
 * when this machine has one). */
static void production(devaut_anchors *a)
{
	hv_err err = { 0 };
	devaut_anchors_init(a);
	if (devaut_anchors_add_default(a, &err))
		fail_msg("default anchors: %s", err.msg);
	assert_true(a->n >= 1);
}

/* ---------------------------------------------------------- genuine chains */

struct genuine_case {
	const char *file;
	const char *device, *serial, *issuer, *root;
	const char *device_valid, *issuer_valid;
	size_t device_len; /* bytes of the device 7F21 at the start */
};

static const struct genuine_case nitrokey = {
	"nitrokey-DENK0404144.2f02.bin", "DENK040414400000", "DENK0404144", "DEDINK0400001",
	"DESRCACC100001", "2026-05-28..2031-05-27", "2024-10-30..2032-10-29", 232,
};
static const struct genuine_case openkex = {
	"openkex-DECM010444800000.2f02.bin", "DECM010444800000", "DECM0104448", "DEDICM0100002",
	"DESRCACC100001", "2016-03-31..2024-01-27", "2016-01-28..2024-01-27", 232,
};

static void expect_genuine(const devaut_anchors *a, const struct genuine_case *g)
{
	size_t len;
	uint8_t *ef = vec(g->file, &len);
	devaut_result r = check(a, ef, len);
	assert_status(&r, DEVAUT_GENUINE);
	assert_string_equal(r.device_chr, g->device);
	assert_string_equal(r.serial, g->serial);
	assert_string_equal(r.issuer_chr, g->issuer);
	assert_string_equal(r.root_chr, g->root);
	assert_string_equal(r.device_valid, g->device_valid);
	assert_string_equal(r.issuer_valid, g->issuer_valid);
	assert_string_equal(r.root_valid, "2012-11-09..2032-11-08");
	assert_string_equal(r.reason, "");
	assert_int_equal(r.has_devcert, 1);
	uint8_t h[32];
	SHA256(ef, g->device_len, h);
	assert_memory_equal(r.devcert_sha256, h, 32);
	free(ef);
}

static void test_genuine_builtin_root(void **state)
{
	(void)state;
	devaut_anchors a;
	production(&a);
	expect_genuine(&a, &nitrokey);
	/* expired in 2024: dates are recorded, not enforced */
	expect_genuine(&a, &openkex);
	devaut_anchors_free(&a);
}

/* The folder that is installed as trust-anchors/ gives the same verdicts. */
static void test_genuine_anchor_folder(void **state)
{
	(void)state;
	const char *dir = getenv("HV_ANCHOR_DIR");
	assert_non_null(dir);
	devaut_anchors a;
	devaut_anchors_init(&a);
	hv_err err = { 0 };
	if (devaut_anchors_add_dir(&a, dir, 0, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(a.n, 1);
	expect_genuine(&a, &nitrokey);
	expect_genuine(&a, &openkex);
	devaut_anchors_free(&a);
}

static void test_test_root_only_fails(void **state)
{
	(void)state;
	devaut_anchors a;
	anchors_of(&a, "UTSRCACC100001.cvc", NULL);
	const struct genuine_case *cases[] = { &nitrokey, &openkex };
	for (size_t i = 0; i < 2; i++) {
		size_t len;
		uint8_t *ef = vec(cases[i]->file, &len);
		devaut_result r = check(&a, ef, len);
		assert_status(&r, DEVAUT_FAILED);
		assert_contains(r.reason, "DESRCACC100001");
		assert_contains(r.reason, "not a trusted anchor");
		assert_string_equal(r.device_chr, cases[i]->device);
		assert_string_equal(r.root_chr, "");
		free(ef);
	}
	devaut_anchors_free(&a);
}

/* A root the card carries itself is never trusted, even a byte-identical
 * copy of the real one, unless the operator's anchor set holds it. */
static void test_root_from_card_not_trusted(void **state)
{
	(void)state;
	size_t l1, l2;
	uint8_t *chain = vec(nitrokey.file, &l1), *root = vec("DESRCACC100001.cvc", &l2);
	uint8_t *ef = malloc(l1 + l2);
	assert_non_null(ef);
	memcpy(ef, chain, l1);
	memcpy(ef + l1, root, l2);
	devaut_anchors a;
	anchors_of(&a, "UTSRCACC100001.cvc", NULL);
	devaut_result r = check(&a, ef, l1 + l2);
	assert_status(&r, DEVAUT_FAILED);
	assert_contains(r.reason, "self-signed certificate from the card");
	devaut_anchors_free(&a);
	production(&a);
	r = check(&a, ef, l1 + l2);
	assert_status(&r, DEVAUT_GENUINE);
	devaut_anchors_free(&a);
	free(chain);
	free(root);
	free(ef);
}

/* ------------------------------------------------------------- tampering */

/* Flips every byte of the 7F4E body and of the 5F37 signature of every
 * certificate in ef (the device's and its issuer's), tag and length bytes
 * included, with each mask; every copy must be FAILED. Returns the number
 * of copies checked. */
static size_t flip_signed_parts(const devaut_anchors *a, const uint8_t *ef, size_t len,
				const char *label)
{
	static const uint8_t masks[] = { 0x01, 0x80, 0xFF };
	uint8_t *bad = malloc(len);
	assert_non_null(bad);
	size_t off = 0, ncert = 0, checked = 0;
	tlv cert;
	while (off < len && tlv_next(ef, len, &off, &cert) == 0) {
		assert_int_equal(cert.tag, 0x7F21);
		size_t in = 0;
		tlv part;
		while (in < cert.len && tlv_next(cert.val, cert.len, &in, &part) == 0) {
			size_t start = (size_t)(part.raw - ef);
			for (size_t i = start; i < start + part.raw_len; i++) {
				for (size_t m = 0; m < sizeof masks; m++) {
					memcpy(bad, ef, len);
					bad[i] ^= masks[m];
					devaut_result r = check(a, bad, len);
					if (r.status != DEVAUT_FAILED)
						fail_msg("%s: certificate %zu, %X part, byte %zu ^ %02X: %s "
							 "(%s)", label, ncert, part.tag, i, masks[m],
							 devaut_status_name(r.status), r.reason);
					checked++;
				}
			}
		}
		ncert++;
	}
	assert_int_equal(off, len);
	assert_int_equal(ncert, 2);
	free(bad);
	return checked;
}

/* Every byte of the whole EF, flipped once: never GENUINE. */
static void flip_everything(const devaut_anchors *a, const uint8_t *ef, size_t len,
			    const char *label)
{
	uint8_t *bad = malloc(len);
	assert_non_null(bad);
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, ef, len);
		bad[i] ^= 0x01;
		devaut_result r = check(a, bad, len);
		if (r.status != DEVAUT_FAILED)
			fail_msg("%s: byte %zu ^ 01: %s (%s)", label, i,
				 devaut_status_name(r.status), r.reason);
	}
	free(bad);
}

static void test_every_flip_fails(void **state)
{
	(void)state;
	devaut_anchors a;
	production(&a);
	const struct genuine_case *cases[] = { &nitrokey, &openkex };
	for (size_t i = 0; i < 2; i++) {
		size_t len;
		uint8_t *ef = vec(cases[i]->file, &len);
		/* untouched, it passes: the flips below are what fails */
		devaut_result r = check(&a, ef, len);
		assert_status(&r, DEVAUT_GENUINE);
		size_t n = flip_signed_parts(&a, ef, len, cases[i]->file);
		assert_true(n > 3 * 400); /* two bodies and two signatures */
		flip_everything(&a, ef, len, cases[i]->file);
		free(ef);
	}
	devaut_anchors_free(&a);
}

/* Every prefix of a genuine EF is a FAILED verdict, never a crash. */
static void test_truncations_fail(void **state)
{
	(void)state;
	devaut_anchors a;
	production(&a);
	size_t len;
	uint8_t *ef = vec(nitrokey.file, &len);
	for (size_t l = 1; l < len; l++) {
		uint8_t *cut = malloc(l); /* exact size: ASan sees any over-read */
		assert_non_null(cut);
		memcpy(cut, ef, l);
		devaut_result r = check(&a, cut, l);
		if (r.status != DEVAUT_FAILED)
			fail_msg("%zu of %zu bytes: %s (%s)", l, len, devaut_status_name(r.status),
				 r.reason);
		/* a whole device certificate still names the card */
		assert_string_equal(r.device_chr, l >= nitrokey.device_len ? nitrokey.device : "");
		assert_int_equal(r.has_devcert, l >= nitrokey.device_len);
		free(cut);
	}
	free(ef);
	devaut_anchors_free(&a);
}

/* A device point moved off its curve is refused as such. */
static void test_point_off_curve(void **state)
{
	(void)state;
	devaut_anchors a;
	production(&a);
	size_t len;
	uint8_t *ef = vec(nitrokey.file, &len);
	/* 86 41 04 x y: the device's public point */
	static const uint8_t q_hdr[3] = { 0x86, 0x41, 0x04 };
	uint8_t *q = memmem(ef, nitrokey.device_len, q_hdr, 3);
	assert_non_null(q);
	q[3 + 40] ^= 0x01; /* a byte of y */
	devaut_result r = check(&a, ef, len);
	assert_status(&r, DEVAUT_FAILED);
	assert_contains(r.reason, "not on curve");
	assert_contains(r.reason, "DENK040414400000");
	free(ef);
	devaut_anchors_free(&a);
}

/* Trailing padding after the certificates is tolerated; data after the
 * padding, or an EF that starts with padding, is not. */
static void test_padding(void **state)
{
	(void)state;
	devaut_anchors a;
	production(&a);
	size_t len;
	uint8_t *ef = vec(nitrokey.file, &len);
	uint8_t *big = calloc(1, len + 32);
	assert_non_null(big);
	memcpy(big, ef, len);
	devaut_result r = check(&a, big, len + 32);
	assert_status(&r, DEVAUT_GENUINE);
	big[len + 20] = 0x42;
	r = check(&a, big, len + 32);
	assert_status(&r, DEVAUT_FAILED);
	memset(big, 0xFF, 32);
	r = check(&a, big, 32);
	assert_status(&r, DEVAUT_FAILED);
	assert_contains(r.reason, "padding");
	free(big);
	free(ef);
	devaut_anchors_free(&a);
}

/* -------------------------------------------------------------- pico-hsm */

static void expect_self_signed(const devaut_anchors *a, const char *file, const char *chr,
			       size_t devcert_offset)
{
	size_t len;
	uint8_t *ef = vec(file, &len);
	devaut_result r = check(a, ef, len);
	assert_status(&r, DEVAUT_NOT_ATTESTED);
	assert_string_equal(r.device_chr, chr);
	assert_contains(r.reason, chr);
	assert_contains(r.reason, "self-signed");
	assert_string_equal(r.root_chr, "");
	assert_int_equal(r.has_devcert, 1);
	/* the hash is the device 7F21's, wherever it sits */
	size_t off = devcert_offset;
	tlv t;
	assert_int_equal(tlv_next(ef, len, &off, &t), 0);
	assert_int_equal(t.tag, 0x7F21);
	uint8_t h[32];
	SHA256(t.raw, t.raw_len, h);
	assert_memory_equal(r.devcert_sha256, h, 32);

	/* a broken self-signature is not "not attested" but FAILED */
	uint8_t *bad = malloc(len);
	assert_non_null(bad);
	memcpy(bad, ef, len);
	bad[t.raw - ef + t.raw_len - 3] ^= 0x01;
	r = check(a, bad, len);
	assert_status(&r, DEVAUT_FAILED);
	free(bad);
	free(ef);
}

static void test_pico_self_signed(void **state)
{
	(void)state;
	devaut_anchors a;
	production(&a);
	/* v1: the buggy firmware's 67 request (493+4 bytes), then the certificate */
	expect_self_signed(&a, "pico-hsm/pico-ESP2202E14A-v1.2f02.bin", "ESP2202E14A00001", 497);
	/* its request must verify too: inner self-signature, outer by the device key */
	size_t vl;
	uint8_t *v1 = vec("pico-hsm/pico-ESP2202E14A-v1.2f02.bin", &vl);
	static const size_t req_sig_bytes[] = { 440, 376, 353, 425 };
	for (size_t i = 0; i < sizeof req_sig_bytes / sizeof req_sig_bytes[0]; i++) {
		v1[req_sig_bytes[i]] ^= 0x01;
		devaut_result q = check(&a, v1, vl);
		assert_status(&q, DEVAUT_FAILED);
		assert_contains(q.reason, "request (67)");
		v1[req_sig_bytes[i]] ^= 0x01;
	}
	free(v1);
	expect_self_signed(&a, "pico-hsm/pico-ESP2202E14A-v2.2f02.bin", "ESP2202E14A00001", 0);
	expect_self_signed(&a, "pico-hsm/pico-ESP41D722E2.2f02.bin", "ESP41D722E200001", 0);
	size_t len;
	uint8_t *ef = vec("pico-hsm/pico-ESP41D722E2.2f02.bin", &len);
	devaut_result r = check(&a, ef, len);
	assert_string_equal(r.serial, "ESP41D722E2");
	free(ef);

	r = check(&a, NULL, 0);
	assert_status(&r, DEVAUT_NOT_ATTESTED);
	assert_int_equal(r.has_devcert, 0);
	assert_string_equal(r.device_chr, "");
	assert_contains(r.reason, "empty");
	uint8_t zero[32] = { 0 };
	assert_memory_equal(r.devcert_sha256, zero, 32);
	devaut_anchors_free(&a);
}

/* An operator may pin one pico-hsm's self-signed certificate as an anchor:
 * then exactly that certificate is genuine. */
static void test_pico_pinned(void **state)
{
	(void)state;
	devaut_anchors a;
	anchors_of(&a, "pico-hsm/pico-ESP41D722E2.2f02.bin", NULL);
	size_t len;
	uint8_t *ef = vec("pico-hsm/pico-ESP41D722E2.2f02.bin", &len);
	devaut_result r = check(&a, ef, len);
	assert_status(&r, DEVAUT_GENUINE);
	assert_string_equal(r.root_chr, "ESP41D722E200001");
	free(ef);
	ef = vec("pico-hsm/pico-ESP2202E14A-v2.2f02.bin", &len);
	r = check(&a, ef, len);
	assert_status(&r, DEVAUT_NOT_ATTESTED);
	free(ef);
	devaut_anchors_free(&a);
}

/* pico-hsm's PKI: terminal certificate + DV as an EF 2F02, secp256k1
 * parameters inherited from ESPICOHSMCA00002. */
static void test_pico_pki_chain(void **state)
{
	(void)state;
	size_t len;
	uint8_t *ef = vec_cat("pico-hsm/ESPICOHSMTRLRA4C.term.cvc", "pico-hsm/ESPICOHSMDV00002.cvc",
			      &len);
	devaut_anchors a;
	anchors_of(&a, "pico-hsm/ESPICOHSMCA00002.cvc", NULL);
	devaut_result r = check(&a, ef, len);
	assert_status(&r, DEVAUT_GENUINE);
	assert_string_equal(r.device_chr, "ESPICOHSMTRLRA4C");
	assert_string_equal(r.issuer_chr, "ESPICOHSMDV00002");
	assert_string_equal(r.root_chr, "ESPICOHSMCA00002");
	flip_signed_parts(&a, ef, len, "pico PKI chain");
	devaut_anchors_free(&a);

	production(&a);
	r = check(&a, ef, len);
	assert_status(&r, DEVAUT_FAILED);
	assert_contains(r.reason, "ESPICOHSMCA00002");
	devaut_anchors_free(&a);

	/* pico-hsm's other CA (secp256r1) is not the issuer either */
	anchors_of(&a, "pico-hsm/ESPICOHSMCA00001.cvc", "DESRCACC100001.cvc", NULL);
	r = check(&a, ef, len);
	assert_status(&r, DEVAUT_FAILED);
	devaut_anchors_free(&a);
	free(ef);
}

/* --------------------------------------------------------------- anchors */

static void test_builtin_root_is_the_file(void **state)
{
	(void)state;
	const char *dir = getenv("HV_ANCHOR_DIR");
	assert_non_null(dir);
	char path[4096];
	snprintf(path, sizeof path, "%s/DESRCACC100001.cvc", dir);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	uint8_t b[1024];
	size_t n = fread(b, 1, sizeof b, f);
	fclose(f);
	assert_int_equal(n, DEVAUT_BUILTIN_ROOT_LEN);
	assert_memory_equal(b, devaut_builtin_root, DEVAUT_BUILTIN_ROOT_LEN);
	/* and the vector it was copied from */
	size_t vl;
	uint8_t *v = vec("DESRCACC100001.cvc", &vl);
	assert_int_equal(vl, DEVAUT_BUILTIN_ROOT_LEN);
	assert_memory_equal(v, devaut_builtin_root, vl);
	free(v);
}

struct tmpdir {
	char path[256];
};

static void tmpdir_make(struct tmpdir *t)
{
	const char *base = getenv("TMPDIR");
	snprintf(t->path, sizeof t->path, "%s/hv-devaut-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(t->path));
}

static void tmpdir_put(struct tmpdir *t, const char *name, const uint8_t *data, size_t len)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", t->path, name);
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void tmpdir_remove(struct tmpdir *t)
{
	DIR *d = opendir(t->path);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(t->path);
}

static int add_dir(devaut_anchors *a, const char *dir, hv_err *err)
{
	devaut_anchors_init(a);
	hv_err_clear(err);
	return devaut_anchors_add_dir(a, dir, 0, err);
}

static void test_anchor_folder(void **state)
{
	(void)state;
	struct tmpdir t;
	tmpdir_make(&t);
	devaut_anchors a;
	hv_err err;
	size_t rl, tl, dl;
	uint8_t *root = vec("DESRCACC100001.cvc", &rl), *test = vec("UTSRCACC100001.cvc", &tl);
	uint8_t *dica = vec("DEDINK0400001.cvc", &dl);

	/* two roots, a duplicate, and files that are not *.cvc */
	tmpdir_put(&t, "DESRCACC100001.cvc", root, rl);
	tmpdir_put(&t, "copy.cvc", root, rl);
	tmpdir_put(&t, "UTSRCACC100001.cvc", test, tl);
	tmpdir_put(&t, "README", (const uint8_t *)"x", 1);
	tmpdir_put(&t, "DEDINK0400001.cvc.disabled", dica, dl);
	assert_int_equal(add_dir(&a, t.path, &err), 0);
	assert_int_equal(a.n, 2);
	devaut_anchors_free(&a);

	/* an issuer certificate is not a root */
	tmpdir_put(&t, "DEDINK0400001.cvc", dica, dl);
	assert_int_equal(add_dir(&a, t.path, &err), HV_EUSAGE);
	assert_contains(err.msg, "DEDINK0400001.cvc");
	assert_contains(err.msg, "not self-signed");
	devaut_anchors_free(&a);
	char p[512];
	snprintf(p, sizeof p, "%s/DEDINK0400001.cvc", t.path);
	assert_int_equal(unlink(p), 0);

	/* a root with one byte of its key changed */
	uint8_t *bad = malloc(rl);
	assert_non_null(bad);
	memcpy(bad, root, rl);
	static const uint8_t q_hdr[3] = { 0x86, 0x41, 0x04 };
	uint8_t *q = memmem(bad, rl, q_hdr, 3);
	assert_non_null(q);
	q[10] ^= 0x01;
	tmpdir_put(&t, "DESRCACC100001.cvc", bad, rl);
	assert_int_equal(add_dir(&a, t.path, &err), HV_EUSAGE);
	assert_contains(err.msg, "DESRCACC100001.cvc");
	assert_contains(err.msg, "refused");
	devaut_anchors_free(&a);
	/* ... or of its signed dates */
	memcpy(bad, root, rl);
	static const uint8_t ced_hdr[3] = { 0x5F, 0x25, 0x06 };
	uint8_t *ced = memmem(bad, rl, ced_hdr, 3);
	assert_non_null(ced);
	ced[4] ^= 0x01;
	tmpdir_put(&t, "DESRCACC100001.cvc", bad, rl);
	assert_int_equal(add_dir(&a, t.path, &err), HV_EUSAGE);
	assert_contains(err.msg, "does not verify");
	devaut_anchors_free(&a);
	tmpdir_put(&t, "DESRCACC100001.cvc", root, rl);

	/* a link in the folder is not followed */
	char target[512];
	snprintf(target, sizeof target, "%s/copy.cvc", t.path);
	snprintf(p, sizeof p, "%s/link.cvc", t.path);
	assert_int_equal(symlink(target, p), 0);
	assert_int_equal(add_dir(&a, t.path, &err), HV_EUSAGE);
	assert_contains(err.msg, "link.cvc");
	devaut_anchors_free(&a);
	assert_int_equal(unlink(p), 0);

	/* a truncated file */
	tmpdir_put(&t, "short.cvc", root, 100);
	assert_int_equal(add_dir(&a, t.path, &err), HV_EUSAGE);
	assert_contains(err.msg, "short.cvc");
	assert_contains(err.msg, "not a CV certificate");
	devaut_anchors_free(&a);

	tmpdir_remove(&t);

	/* a missing folder */
	assert_int_equal(add_dir(&a, t.path, &err), HV_EUSAGE);
	assert_contains(err.msg, t.path);
	assert_contains(err.msg, "does not exist");
	devaut_anchors_free(&a);
	devaut_anchors_init(&a);
	assert_int_equal(devaut_anchors_add_dir(&a, t.path, 1, &err), 0);
	assert_int_equal(a.n, 0);
	devaut_anchors_free(&a);
	free(bad);
	free(root);
	free(test);
	free(dica);
}

/* Explicit domain parameters are accepted only when they are a named
 * curve's; two different roots under one name are refused. */
static void test_anchor_curve_and_name(void **state)
{
	(void)state;
	size_t rl;
	uint8_t *root = vec("DESRCACC100001.cvc", &rl);
	devaut_anchors a;
	devaut_anchors_init(&a);
	hv_err err = { 0 };
	uint8_t *bad = malloc(rl);
	assert_non_null(bad);
	memcpy(bad, root, rl);
	static const uint8_t b_hdr[2] = { 0x83, 0x20 };
	uint8_t *b = memmem(bad, rl, b_hdr, 2);
	assert_non_null(b);
	b[2 + 31] ^= 0x01; /* coefficient b */
	assert_int_equal(devaut_anchors_add(&a, bad, rl, "odd-curve", &err), HV_EUSAGE);
	assert_contains(err.msg, "known named curve");
	assert_int_equal(a.n, 0);

	/* the same root twice is kept once; another root is added */
	size_t tl;
	uint8_t *test = vec("UTSRCACC100001.cvc", &tl);
	assert_int_equal(devaut_anchors_add(&a, root, rl, "prod", &err), 0);
	assert_int_equal(devaut_anchors_add(&a, root, rl, "prod again", &err), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(devaut_anchors_add(&a, test, tl, "test", &err), 0);
	assert_int_equal(a.n, 2);
	/* the pico-hsm board ESP2202E14A made two self-signed certificates
	 * named ESP2202E14A00001 (v1 at offset 497, v2): one name, two keys */
	size_t l1, l2;
	uint8_t *v1 = vec("pico-hsm/pico-ESP2202E14A-v1.2f02.bin", &l1);
	uint8_t *v2 = vec("pico-hsm/pico-ESP2202E14A-v2.2f02.bin", &l2);
	assert_int_equal(devaut_anchors_add(&a, v2, l2, "v2", &err), 0);
	assert_int_equal(devaut_anchors_add(&a, v1 + 497, l1 - 497, "v1", &err), HV_EUSAGE);
	assert_contains(err.msg, "another, different root named ESP2202E14A00001");
	assert_int_equal(a.n, 3);
	free(v1);
	free(v2);
	devaut_anchors_free(&a);
	free(bad);
	free(root);
	free(test);
}

/* ----------------------------------------------------------- cvc parsing */

static void test_parse_fields(void **state)
{
	(void)state;
	size_t len;
	uint8_t *der = vec("DESRCACC100001.cvc", &len);
	cvcert c;
	hv_err err = { 0 };
	assert_int_equal(cvcert_parse(der, len, &c, &err), 0);
	assert_string_equal(c.car, "DESRCACC100001");
	assert_string_equal(c.chr, "DESRCACC100001");
	assert_int_equal(c.cpi, 0);
	assert_string_equal(cvcert_role(&c), "root");
	assert_string_equal(c.effective, "2012-11-09");
	assert_string_equal(c.expiry, "2032-11-08");
	assert_int_equal(c.sig.len, 64);
	/* 7F21 82 01B4 | 7F4E ... | 5F37 40 r||s */
	assert_ptr_equal(c.body.p, der + 5);
	assert_int_equal(c.body.len, len - 5 - 67);
	int nid;
	assert_int_equal(cvcert_curve(&c, &nid, &err), 0);
	assert_int_equal(nid, NID_brainpoolP256r1);
	const EVP_MD *md;
	assert_int_equal(cvcert_ecdsa_md(&c, &md), 1);
	assert_ptr_equal(md, EVP_sha256());
	/* trailing byte, wrong outer tag */
	assert_int_equal(cvcert_parse(der, len - 1, &c, &err), HV_EUSAGE);
	der[0] = 0x7E;
	assert_int_equal(cvcert_parse(der, len, &c, &err), HV_EUSAGE);
	free(der);

	der = vec("DEDINK0400001.cvc", &len);
	assert_int_equal(cvcert_parse(der, len, &c, &err), 0);
	assert_string_equal(cvcert_role(&c), "issuer");
	assert_int_equal(c.has_extensions, 1);
	assert_int_equal(cvcert_curve(&c, &nid, &err), 0);
	assert_int_equal(nid, 0); /* inherits the root's */
	free(der);

	der = vec("pico-hsm/ESPICOHSMCA00002.cvc", &len);
	assert_int_equal(cvcert_parse(der, len, &c, &err), 0);
	assert_int_equal(cvcert_curve(&c, &nid, &err), 0);
	assert_int_equal(nid, NID_secp256k1);
	free(der);
	der = vec("pico-hsm/ESPICOHSMCA00001.cvc", &len);
	assert_int_equal(cvcert_parse(der, len, &c, &err), 0);
	assert_int_equal(cvcert_curve(&c, &nid, &err), 0);
	assert_int_equal(nid, NID_X9_62_prime256v1);
	free(der);
}

/* EF CE01 of the same Nitrokey: a key-generation request whose outer
 * signature is the device key's (key attestation), verified with the
 * device key on the curve it inherits. */
static void test_key_attestation_request(void **state)
{
	(void)state;
	size_t len, el;
	uint8_t *req = vec("nitrokey-DENK0404144.ce01-keyattest.bin", &len);
	uint8_t *ef = vec(nitrokey.file, &el);
	cvcert_request r;
	hv_err err = { 0 };
	assert_int_equal(cvcert_parse_request(req, len, &r, &err), 0);
	assert_string_equal(r.inner.chr, "DENK040414400001");
	assert_string_equal(r.inner.car, "UTCA00001");
	assert_string_equal(r.outer_car, "DENK040414400000");

	cvcert dev;
	assert_int_equal(cvcert_parse(ef, nitrokey.device_len, &dev, &err), 0);
	EVP_PKEY *key = NULL;
	assert_int_equal(cvcert_public_key(&dev, NID_brainpoolP256r1, &key, &err), 0);
	assert_int_equal(cvcert_verify(&dev, key, r.outer_signed.p, r.outer_signed.len,
				       r.outer_sig.p, r.outer_sig.len, &err), 0);
	uint8_t *bad = malloc(len);
	assert_non_null(bad);
	memcpy(bad, req, len);
	bad[len - 5] ^= 0x01;
	assert_int_equal(cvcert_parse_request(bad, len, &r, &err), 0);
	assert_int_equal(cvcert_verify(&dev, key, r.outer_signed.p, r.outer_signed.len,
				       r.outer_sig.p, r.outer_sig.len, &err), HV_EINTEGRITY);
	/* the inner self-signature, with its own explicit parameters */
	int nid;
	EVP_PKEY *ikey = NULL;
	assert_int_equal(cvcert_curve(&r.inner, &nid, &err), 0);
	assert_true(nid != 0);
	assert_int_equal(cvcert_public_key(&r.inner, nid, &ikey, &err), 0);
	assert_int_equal(cvcert_verify(&r.inner, ikey, r.inner.body.p, r.inner.body.len,
				       r.inner.sig.p, r.inner.sig.len, &err), 0);
	EVP_PKEY_free(ikey);
	EVP_PKEY_free(key);
	free(bad);
	free(req);
	free(ef);
}

static void test_status_names(void **state)
{
	(void)state;
	for (int s = DEVAUT_GENUINE; s <= DEVAUT_FAILED; s++)
		assert_int_equal(devaut_status_from_name(devaut_status_name(s)), s);
	assert_string_equal(devaut_status_name(DEVAUT_NOT_ATTESTED), "not-attested");
	assert_int_equal(devaut_status_from_name("GENUINE"), 0);
	assert_int_equal(devaut_status_from_name(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_genuine_builtin_root),
		cmocka_unit_test(test_genuine_anchor_folder),
		cmocka_unit_test(test_test_root_only_fails),
		cmocka_unit_test(test_root_from_card_not_trusted),
		cmocka_unit_test(test_every_flip_fails),
		cmocka_unit_test(test_truncations_fail),
		cmocka_unit_test(test_point_off_curve),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_pico_self_signed),
		cmocka_unit_test(test_pico_pinned),
		cmocka_unit_test(test_pico_pki_chain),
		cmocka_unit_test(test_builtin_root_is_the_file),
		cmocka_unit_test(test_anchor_folder),
		cmocka_unit_test(test_anchor_curve_and_name),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_key_attestation_request),
		cmocka_unit_test(test_status_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
