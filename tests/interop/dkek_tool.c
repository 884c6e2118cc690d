/* hv-dkek-tool: hsmvault's side of the OpenSC interop tests, built on
 * src/crypto only (no card). Test helper, not installed. Passwords come
 * from files (one password, no trailing newline needed) so they stay out
 * of argv even in tests.
 *
 *   hv-dkek-tool kcv PWFILE SHAREFILE [PWFILE SHAREFILE ...]
 *       decrypts each .pbe share, prints the KCV of their DKEK (16 hex, upper)
 *   hv-dkek-tool write OUTFILE PWFILE SHARE-HEX
 *       writes a share file as sc-hsm-tool does (10,000,000 iterations)
 *   hv-dkek-tool check-wrap WRAPFILE PUBOUT PWFILE SHAREFILE [...]
 *       parses an sc-hsm-tool --wrap-key file, checks the blob under the
 *       DKEK of the shares, unwraps it, prints "label=<label>", "id=<hex>",
 *       "type=<n>" and writes the key's public part to PUBOUT (PEM)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "crypto/dkek.h"
#include "crypto/dkek_share.h"
#include "crypto/keyblob.h"
#include "crypto/prkd.h"
#include "crypto/wrapfile.h"
#include "util/fileio.h"
#include "util/hex.h"
#include "util/secbuf.h"

static int fail(const char *what, const hv_err *err)
{
	fprintf(stderr, "hv-dkek-tool: %s: %s\n", what, err ? err->msg : "");
	return 1;
}

/* Whole file into memory (test files are small). */
static int slurp(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t cap = 4096, n = 0;
	uint8_t *b = malloc(cap);
	size_t r;
	while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			uint8_t *nb = realloc(b, cap *= 2);
			if (!nb) {
				free(b);
				b = NULL;
			}
			b = nb;
		}
	}
	fclose(f);
	if (!b)
		return -1;
	*data = b;
	*len = n;
	return 0;
}

static secbuf *read_password(const char *path)
{
	uint8_t *d = NULL;
	size_t n = 0;
	if (slurp(path, &d, &n) != 0)
		return NULL;
	while (n && (d[n - 1] == '\n' || d[n - 1] == '\r'))
		n--;
	secbuf *pw = secbuf_dup(d, n);
	secure_wipe(d, n);
	free(d);
	return pw;
}

/* DKEK from (pwfile, sharefile) pairs in argv[0..n). */
static int dkek_from_args(char **argv, int n, secbuf *dkek)
{
	hv_err err;
	hv_err_clear(&err);
	secbuf *share = secbuf_new(DKEK_SHARE_LEN);
	if (!share || n < 2 || n % 2)
		return fail("need PWFILE SHAREFILE pairs", NULL);
	memset(dkek->data, 0, DKEK_LEN);
	dkek->len = DKEK_LEN;
	for (int i = 0; i < n; i += 2) {
		secbuf *pw = read_password(argv[i]);
		uint8_t *file = NULL;
		size_t flen = 0;
		if (!pw || slurp(argv[i + 1], &file, &flen) != 0) {
			secbuf_free(pw);
			secbuf_free(share);
			fprintf(stderr, "hv-dkek-tool: cannot read %s or %s\n", argv[i], argv[i + 1]);
			return 1;
		}
		int rc = dkek_share_decrypt(file, flen, pw->data, pw->len, DKEK_SHARE_ITERATIONS,
					    share->data, &err);
		free(file);
		secbuf_free(pw);
		if (rc != HV_OK) {
			secbuf_free(share);
			return fail(argv[i + 1], &err);
		}
		dkek_add_share(dkek->data, share->data);
	}
	secbuf_free(share);
	return 0;
}

static int cmd_kcv(char **argv, int n)
{
	secbuf *dkek = secbuf_new(DKEK_LEN);
	if (!dkek || dkek_from_args(argv, n, dkek) != 0) {
		secbuf_free(dkek);
		return 1;
	}
	uint8_t kcv[DKEK_KCV_LEN];
	char hex[2 * DKEK_KCV_LEN + 1];
	dkek_kcv(dkek->data, kcv);
	hex_encode(kcv, sizeof(kcv), hex, 1);
	printf("%s\n", hex);
	secbuf_free(dkek);
	return 0;
}

static int cmd_write(const char *out, const char *pwfile, const char *share_hex)
{
	hv_err err;
	hv_err_clear(&err);
	secbuf *pw = read_password(pwfile);
	secbuf *share = secbuf_new(DKEK_SHARE_LEN);
	if (!pw || !share || hex_decode(share_hex, share->data, DKEK_SHARE_LEN) != DKEK_SHARE_LEN) {
		secbuf_free(pw);
		secbuf_free(share);
		return fail("need a password file and a 64-digit share", NULL);
	}
	uint8_t file[DKEK_SHARE_FILE_LEN];
	int rc = dkek_share_encrypt(share->data, pw->data, pw->len, NULL, DKEK_SHARE_ITERATIONS, file,
				    &err);
	secbuf_free(pw);
	secbuf_free(share);
	if (rc != HV_OK)
		return fail("encrypt", &err);
	FILE *f = fopen(out, "wb");
	if (!f || fwrite(file, 1, sizeof(file), f) != sizeof(file) || fclose(f) != 0)
		return fail(out, NULL);
	return 0;
}

static int cmd_check_wrap(const char *wrap, const char *pubout, char **argv, int n)
{
	hv_err err;
	hv_err_clear(&err);
	uint8_t *data = NULL;
	size_t len = 0;
	if (slurp(wrap, &data, &len) != 0)
		return fail(wrap, NULL);
	wrapfile wf;
	if (wrapfile_parse(data, len, &wf, &err) != HV_OK)
		return fail("wrapfile_parse", &err);
	if (wf.prkd) {
		prkd_info pi;
		if (prkd_parse(wf.prkd, wf.prkd_len, &pi, &err) != HV_OK)
			return fail("prkd_parse", &err);
		char id[2 * sizeof(pi.id) + 1];
		hex_encode(pi.id, pi.id_len, id, 0);
		printf("label=%s\nid=%s\n", pi.label, id);
	}
	secbuf *dkek = secbuf_new(DKEK_LEN);
	if (!dkek || dkek_from_args(argv, n, dkek) != 0)
		return 1;
	if (keyblob_check(wf.blob, wf.blob_len, dkek->data, &err) != HV_OK)
		return fail("keyblob_check", &err);
	keyblob_info info;
	EVP_PKEY *pkey = NULL;
	if (keyblob_unwrap(wf.blob, wf.blob_len, dkek->data, &info, &pkey, NULL, &err) != HV_OK)
		return fail("keyblob_unwrap", &err);
	secbuf_free(dkek);
	printf("type=%d\n", info.type);
	FILE *f = fopen(pubout, "w");
	if (!f || !PEM_write_PUBKEY(f, pkey) || fclose(f) != 0)
		return fail(pubout, NULL);
	EVP_PKEY_free(pkey);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "kcv"))
		return cmd_kcv(argv + 2, argc - 2);
	if (argc == 5 && !strcmp(argv[1], "write"))
		return cmd_write(argv[2], argv[3], argv[4]);
	if (argc >= 6 && !strcmp(argv[1], "check-wrap"))
		return cmd_check_wrap(argv[2], argv[3], argv + 4, argc - 4);
	fprintf(stderr, "usage: hv-dkek-tool kcv PWFILE SHAREFILE [...] | write OUT PWFILE SHAREHEX |"
			" check-wrap WRAPFILE PUBOUT PWFILE SHAREFILE [...]\n");
	return 2;
}
