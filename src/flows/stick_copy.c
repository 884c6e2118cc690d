/* Copying a whole vault into empty storage (stick_copy.h). */
#include "flows/stick_copy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/compare.h"
#include "vault/journal.h"
#include "vault/limits.h"
#include "vault/vault.h"
#include "vfs/vfs_walk.h"

/* No file of a vault is larger than its largest manifest version. */
#define COPY_MAX_BYTES VAULT_LIMIT_MANIFEST_BYTES
#define COPY_MAX_DEPTH 8

struct tree {
	char **files;   /* relative paths of regular files */
	size_t n, cap_files;
	char **dirs;    /* relative paths of folders, parents first */
	size_t nd, cap_dirs;
};

static void tree_free(struct tree *t)
{
	vfs_names_free(t->files, t->n);
	vfs_names_free(t->dirs, t->nd);
	memset(t, 0, sizeof(*t));
}

static int push(char ***arr, size_t *n, size_t *cap, const char *s, hv_err *err)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		char **grown = realloc(*arr, nc * sizeof(*grown));
		if (!grown)
			return hv_fail(err, HV_ENOMEM, "out of memory listing the vault");
		*arr = grown;
		*cap = nc;
	}
	if (!((*arr)[*n] = strdup(s)))
		return hv_fail(err, HV_ENOMEM, "out of memory listing the vault");
	(*n)++;
	return HV_OK;
}

/* Every file and folder of the tree; a leftover of an interrupted atomic
 * write is no data. Anything that is not a folder is read as a file later,
 * which refuses links and special files. */
static int add_to_tree(void *ctx, const char *path, int is_dir, hv_err *err)
{
	struct tree *t = ctx;
	const char *base = strrchr(path, '/');
	if (vfs_is_temp_name(base ? base + 1 : path))
		return HV_OK;
	return is_dir ? push(&t->dirs, &t->nd, &t->cap_dirs, path, err)
		      : push(&t->files, &t->n, &t->cap_files, path, err);
}

static int walk_tree(vfs *v, struct tree *t, hv_err *err)
{
	return vfs_walk(v, COPY_MAX_DEPTH, add_to_tree, t, err);
}

int stick_copy_file(vfs *from, vfs *to, const char *path, size_t max, uint64_t *bytes,
		    hv_err *err)
{
	uint8_t *data;
	size_t len;
	int rc = vfs_read(from, path, max, &data, &len, err);
	if (rc != HV_OK)
		return hv_err_prefix(err, "copying %s", path);
	rc = vfs_write_atomic(to, path, data, len, err);
	free(data);
	if (rc == HV_OK && bytes)
		*bytes += len;
	return rc;
}

/* Write order: 0 data files, 1 manifest versions, 2 journal entries,
 * 3 RECOVERY.md, 4 the marker. Within a rank, the listing's order (sorted
 * bytewise, so versions ascend). */
static int rank(const char *path)
{
	if (!strcmp(path, VAULT_MARKER))
		return 4;
	if (!strcmp(path, VAULT_RECOVERY))
		return 3;
	if (!strncmp(path, JOURNAL_DIR "/", strlen(JOURNAL_DIR) + 1))
		return 2;
	if (!strncmp(path, MANIFEST_DIR "/", strlen(MANIFEST_DIR) + 1))
		return 1;
	return 0;
}

/* Each file read back from to equals from's bytes. */
static int compare_back(vfs *from, vfs *to, const struct tree *t, hv_err *err)
{
	int rc = HV_OK;
	for (size_t i = 0; i < t->n && rc == HV_OK; i++) {
		uint8_t *a = NULL, *b = NULL;
		size_t la = 0, lb = 0;
		if ((rc = vfs_read(from, t->files[i], COPY_MAX_BYTES, &a, &la, err)) == HV_OK &&
		    (rc = vfs_read(to, t->files[i], COPY_MAX_BYTES, &b, &lb, err)) == HV_OK &&
		    (la != lb || memcmp(a, b, la)))
			rc = hv_fail(err, HV_EIO, "%s reads back from %s differently than it was "
				     "written: the copy is not good; use another stick", t->files[i],
				     to->where);
		free(a);
		free(b);
	}
	return rc;
}

int stick_copy_vault(vfs *from, vfs *to, stick_copy_result *res, hv_err *err)
{
	memset(res, 0, sizeof(*res));
	vault_chain src;
	int rc = vault_check(from, err);
	if (rc == HV_OK)
		rc = vault_chain_load(from, &src, err);
	if (rc != HV_OK)
		return hv_err_prefix(err, "%s cannot be copied", from->where);
	struct tree t = { 0 };
	rc = walk_tree(from, &t, err);
	/* the target must be empty: refuse before writing anything */
	struct tree there = { 0 };
	if (rc == HV_OK)
		rc = walk_tree(to, &there, err);
	if (rc == HV_OK && (there.n || there.nd))
		rc = hv_fail(err, HV_ESAFETY, "%s is not empty (it holds %.200s): a copy is made "
			     "into a freshly prepared stick or an empty folder; nothing was written",
			     to->where, there.n ? there.files[0] : there.dirs[0]);
	tree_free(&there);
	for (size_t i = 0; i < t.nd && rc == HV_OK; i++)
		rc = vfs_mkdir(to, t.dirs[i], err);
	for (int r = 0; r <= 4 && rc == HV_OK; r++)
		for (size_t i = 0; i < t.n && rc == HV_OK; i++)
			if (rank(t.files[i]) == r && (rc = stick_copy_file(from, to, t.files[i],
						COPY_MAX_BYTES, &res->bytes, err)) == HV_OK)
				res->files++;
	if (rc == HV_OK)
		rc = vfs_sync(to, err);
	if (rc == HV_OK)
		rc = compare_back(from, to, &t, err);
	vault_chain dst;
	if (rc == HV_OK && (rc = vault_chain_load(to, &dst, err)) == HV_OK) {
		if (dst.n != src.n || strcmp(dst.heads[dst.n - 1].sha256, src.heads[src.n - 1].sha256))
			rc = hv_fail(err, HV_EINTEGRITY, "the copy in %s does not load with the "
				     "chain head of %s: the copy is not good", to->where, from->where);
		vault_chain_free(&dst);
	}
	if (rc == HV_OK) {
		res->version = src.n;
		memcpy(res->head_sha256, src.heads[src.n - 1].sha256, sizeof(res->head_sha256));
	}
	tree_free(&t);
	vault_chain_free(&src);
	return rc;
}
