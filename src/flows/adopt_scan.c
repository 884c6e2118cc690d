#include "flows/adopt_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/dkek_share.h"
#include "vault/manifest.h"
#include "vault/vault.h"
#include "vfs/vfs_walk.h"

/* Paths that are hsmvault's own once a vault exists (an earlier adopt that
 * was stopped half way leaves some of them). */
static int own_path(const char *path)
{
	static const char *const names[] = { VAULT_MARKER, VAULT_RECOVERY, VAULT_POLICY,
					     "SO-PIN" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(path, names[i]))
			return 1;
	/* ".NAME.PID.tmp": a write hsmvault did not finish (the next write
	 * into that folder removes it) */
	const char *base = strrchr(path, '/');
	if (vfs_is_temp_name(base ? base + 1 : path))
		return 1;
	return !strncmp(path, MANIFEST_DIR "/", strlen(MANIFEST_DIR) + 1) ||
	       !strncmp(path, "journal/", 8);
}

static adopt_file *add(adopt_scan *s, const char *path, hv_err *err)
{
	if (s->n == ADOPT_MAX_FILES) {
		hv_fail(err, HV_EUSAGE, "more than %d files: this is not a backup stick as "
			"sc-hsm-tool's procedure makes it; adopt a folder holding only the backup",
			ADOPT_MAX_FILES);
		return NULL;
	}
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 32;
		adopt_file *nf = realloc(s->f, nc * sizeof(*nf));
		if (!nf) {
			hv_fail(err, HV_ENOMEM, "out of memory");
			return NULL;
		}
		s->f = nf;
		s->cap = nc;
	}
	adopt_file *f = &s->f[s->n];
	memset(f, 0, sizeof(*f));
	f->dup_of = -1;
	if (!(f->path = strdup(path))) {
		hv_fail(err, HV_ENOMEM, "out of memory");
		return NULL;
	}
	s->n++;
	return f;
}

/* What the bytes are. A share file is exactly what the tool writes (64
 * bytes, "Salted__" magic); its password decides later whether it is one. */
static void classify(adopt_file *f)
{
	if (f->len == DKEK_SHARE_FILE_LEN && !memcmp(f->data, "Salted__", 8)) {
		f->kind = ADOPT_SHARE;
		return;
	}
	hv_err e;
	hv_err_clear(&e);
	if (wrapfile_parse(f->data, f->len, &f->wf, &e) == HV_OK &&
	    keyblob_parse_header(f->wf.blob, f->wf.blob_len, &f->blob, &e) == HV_OK) {
		f->kind = ADOPT_WRAP;
		f->has_prkd = f->wf.prkd && prkd_parse(f->wf.prkd, f->wf.prkd_len, &f->prkd,
							&e) == HV_OK;
		return;
	}
	f->kind = ADOPT_OTHER;
	snprintf(f->note, sizeof(f->note), "not a share or wrap file");
}

struct scan_walk {
	vfs *v;
	adopt_scan *s;
};

/* One name of the tree: a file is read and classified; a folder only
 * holds names (vfs_walk goes into it). */
static int visit(void *ctx, const char *path, int is_dir, hv_err *err)
{
	struct scan_walk *w = ctx;
	adopt_scan *s = w->s;
	if (is_dir)
		return HV_OK;
	hv_err rerr;
	hv_err_clear(&rerr);
	uint8_t *data = NULL;
	size_t len = 0;
	int r = vfs_read(w->v, path, ADOPT_MAX_READ, &data, &len, &rerr);
	if (r == HV_ENOMEM)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	adopt_file *f = add(s, path, err);
	if (!f) {
		free(data);
		return err ? err->code : HV_ENOMEM;
	}
	if (r != HV_OK) {
		/* listed unread: a link, a device, a file over the limit */
		f->kind = own_path(path) ? ADOPT_OWN : ADOPT_OTHER;
		snprintf(f->note, sizeof(f->note), "not read: %.180s", rerr.msg);
		return HV_OK;
	}
	f->data = data;
	f->len = len;
	manifest_sha256_hex(data, len, f->sha256);
	if (own_path(path))
		f->kind = ADOPT_OWN;
	else
		classify(f);
	return HV_OK;
}

int adopt_scan_tree(vfs *v, adopt_scan *s, hv_err *err)
{
	memset(s, 0, sizeof(*s));
	struct scan_walk w = { v, s };
	int rc = vfs_walk(v, ADOPT_MAX_DEPTH, visit, &w, err);
	if (rc != HV_OK) {
		adopt_scan_free(s);
		return rc;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (s->f[i].kind != ADOPT_SHARE && s->f[i].kind != ADOPT_WRAP)
			continue;
		for (size_t k = 0; k < i && s->f[i].dup_of < 0; k++)
			if (s->f[k].kind == s->f[i].kind && s->f[k].dup_of < 0 &&
			    !strcmp(s->f[k].sha256, s->f[i].sha256))
				s->f[i].dup_of = (int)k;
	}
	return HV_OK;
}

void adopt_scan_free(adopt_scan *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->f[i].path);
		free(s->f[i].data);
	}
	free(s->f);
	memset(s, 0, sizeof(*s));
}

const adopt_file *adopt_scan_find(const adopt_scan *s, const char *path)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->f[i].path, path))
			return &s->f[i];
	return NULL;
}

void adopt_blob_text(const adopt_file *f, char *out, size_t n)
{
	/* The blob header gives RSA sizes; EC and AES sizes come from the
	 * key description when the file has one. */
	unsigned bits = f->has_prkd ? f->prkd.key_bits : 0;
	switch (f->blob.type) {
	case KEYBLOB_AES:
		snprintf(out, n, "AES %u", f->blob.key_size * 8);
		break;
	case KEYBLOB_EC:
		if (bits)
			snprintf(out, n, "EC %u", bits);
		else
			snprintf(out, n, "EC");
		break;
	case KEYBLOB_RSA:
	case KEYBLOB_RSA_CRT:
		snprintf(out, n, "RSA %u", f->blob.key_size ? f->blob.key_size : bits);
		break;
	default:
		snprintf(out, n, "key type %d", f->blob.type);
	}
}
