/* Copying a whole vault into empty storage (stick_copy.h). */
#include "flows/stick_copy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/compare.h"
#include "vault/journal.h"
#include "vault/limits.h"
#include "vault/vault.h"

/* No file of a vault is larger than its largest manifest version. */
#define COPY_MAX_BYTES VAULT_LIMIT_MANIFEST_BYTES
#define COPY_MAX_DEPTH 8

struct tree {
	char **files;   /* relative paths of regular files */
	size_t n;
	char **dirs;    /* relative paths of folders, parents first */
	size_t nd;
};

static void tree_free(struct tree *t)
{
	vfs_names_free(t->files, t->n);
	vfs_names_free(t->dirs, t->nd);
	memset(t, 0, sizeof(*t));
}

static int push(char ***arr, size_t *n, const char *s, hv_err *err)
{
	char **grown = realloc(*arr, (*n + 1) * sizeof(*grown));
	char *copy = strdup(s);
	if (grown)
		*arr = grown;
	if (!grown || !copy) {
		free(copy);
		return hv_fail(err, HV_ENOMEM, "out of memory listing the vault");
	}
	(*arr)[(*n)++] = copy;
	return HV_OK;
}

/* A leftover of an interrupted atomic write (".name.pid.tmp") is no data. */
static int is_leftover(const char *name)
{
	size_t len = strlen(name);
	return name[0] == '.' && len > 4 && !strcmp(name + len - 4, ".tmp");
}

/* Lists every file under dir. A name that lists as a folder is one (a
 * regular file does not list); anything else is read as a file later,
 * which refuses links and special files. */
static int walk_tree(vfs *v, const char *dir, int depth, struct tree *t, hv_err *err)
{
	char **names;
	size_t n;
	int rc = vfs_list(v, dir, &names, &n, err);
	if (rc != HV_OK)
		return rc;
	for (size_t i = 0; i < n && rc == HV_OK; i++) {
		if (is_leftover(names[i]) || (!*dir && !strcmp(names[i], "lost+found")))
			continue;
		char path[1024];
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", dir, *dir ? "/" : "", names[i]) >=
		    sizeof(path)) {
			rc = hv_fail(err, HV_EUSAGE, "%s: a path under %s is too long to copy",
				     v->where, dir);
			break;
		}
		char **sub;
		size_t ns;
		hv_err ignored;
		if (vfs_list(v, path, &sub, &ns, &ignored) == HV_OK) {
			vfs_names_free(sub, ns);
			if (depth >= COPY_MAX_DEPTH)
				rc = hv_fail(err, HV_EUSAGE, "%s: folders nested deeper than %d levels "
					     "at %s: no vault has them", v->where, COPY_MAX_DEPTH, path);
			else if ((rc = push(&t->dirs, &t->nd, path, err)) == HV_OK)
				rc = walk_tree(v, path, depth + 1, t, err);
		} else {
			rc = push(&t->files, &t->n, path, err);
		}
	}
	vfs_names_free(names, n);
	return rc;
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
	rc = walk_tree(from, "", 0, &t, err);
	/* the target must be empty: refuse before writing anything */
	struct tree there = { 0 };
	if (rc == HV_OK)
		rc = walk_tree(to, "", 0, &there, err);
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
