/* The manifest's hash chain: every version file names the sha256 of the
 * exact bytes of the version before it, so an edit, a removal, a rename
 * or a swap of any version but the last is found by walking from 1 up. */
#include "vault/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/manifest_check.h"

#define RESTORE_HINT "the vault was edited or damaged; restore it from another stick"

/* 0 for a leftover temporary file (".name.pid.tmp" of an interrupted
 * write), which is never data; 1 with *n for "NNNNNN.yaml"; -1 otherwise. */
static int version_of(const char *name, unsigned long *n)
{
	size_t len = strlen(name);
	if (name[0] == '.' && len > 4 && !strcmp(name + len - 4, ".tmp"))
		return 0;
	if (len != 11 || strcmp(name + 6, ".yaml") != 0)
		return -1;
	unsigned long v = 0;
	for (int i = 0; i < 6; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(name[i] - '0');
	}
	*n = v;
	return 1;
}

/* The version numbers present, ascending (the listing is sorted and the
 * names have a fixed width). */
static int list_versions(vfs *v, unsigned long **nums, size_t *count, hv_err *err)
{
	char **names;
	size_t n;
	*nums = NULL;
	*count = 0;
	int rc = vfs_list(v, MANIFEST_DIR, &names, &n, err);
	if (rc != HV_OK)
		return rc;
	unsigned long *out = malloc((n ? n : 1) * sizeof(*out));
	if (!out) {
		vfs_names_free(names, n);
		return hv_fail(err, HV_ENOMEM, "out of memory listing " MANIFEST_DIR);
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned long num;
		int r = version_of(names[i], &num);
		if (r == 0)
			continue;
		if (r < 0) {
			rc = hv_fail(err, HV_EINTEGRITY,
				     MANIFEST_DIR "/%.200s is not a manifest version (NNNNNN.yaml): "
				     RESTORE_HINT, names[i]);
			break;
		}
		out[k++] = num;
	}
	vfs_names_free(names, n);
	if (rc != HV_OK) {
		free(out);
		return rc;
	}
	*nums = out;
	*count = k;
	return HV_OK;
}

/* Adds what to do to an integrity error raised below (a link, a
 * malformed file): the operator needs the same advice for every break. */
static int with_hint(hv_err *err, int rc)
{
	if (err && rc == HV_EINTEGRITY && !strstr(err->msg, RESTORE_HINT)) {
		char m[HV_ERR_MSG_MAX];
		memcpy(m, err->msg, sizeof(m));
		hv_fail(err, rc, "%.400s: " RESTORE_HINT, m);
	}
	return rc;
}

static int read_version(vfs *v, unsigned long n, uint8_t **data, size_t *len, hv_err *err)
{
	char path[64];
	manifest_version_path(n, path, sizeof(path));
	return vfs_read(v, path, MANIFEST_MAX_BYTES, data, len, err);
}

/* The walk itself; with last, the highest version is kept (not freed) and
 * its hash copied to last_hash. */
static int walk(vfs *v, manifest_visit_fn fn, void *ctx, manifest **last, char last_hash[65],
		hv_err *err)
{
	unsigned long *nums;
	size_t count;
	int rc = list_versions(v, &nums, &count, err);
	if (rc != HV_OK)
		return rc;
	if (count == 0) {
		free(nums);
		return hv_fail(err, HV_EINTEGRITY,
			       MANIFEST_DIR "/ holds no version: this vault was never initialized, "
			       "or its manifest was removed; restore it from another stick");
	}
	char prev_hash[65] = "";
	manifest *keep = NULL;
	for (size_t i = 0; i < count && rc == HV_OK; i++) {
		unsigned long want = (unsigned long)i + 1;
		char path[64], prev_path[64];
		manifest_version_path(want, path, sizeof(path));
		manifest_version_path(want - 1, prev_path, sizeof(prev_path));
		if (nums[i] != want) {
			if (nums[i] == 0)
				rc = hv_fail(err, HV_EINTEGRITY, MANIFEST_DIR "/000000.yaml is not a "
					     "version: versions start at 1: " RESTORE_HINT);
			else if (want == 1)
				rc = hv_fail(err, HV_EINTEGRITY, "%s is missing: the chain must start at "
					     "version 1: " RESTORE_HINT, path);
			else
				rc = hv_fail(err, HV_EINTEGRITY, "%s is missing (versions jump from %s "
					     "to " MANIFEST_DIR "/%06lu.yaml): " RESTORE_HINT,
					     path, prev_path, nums[i]);
			break;
		}
		uint8_t *data;
		size_t len;
		if ((rc = read_version(v, want, &data, &len, err)) != HV_OK) {
			with_hint(err, rc);
			break;
		}
		char hash[65];
		manifest_sha256_hex(data, len, hash);
		manifest *m;
		rc = manifest_parse(data, len, path, &m, err);
		free(data);
		if (rc != HV_OK) {
			with_hint(err, rc);
			break;
		}
		if (m->version != want) {
			rc = hv_fail(err, HV_EINTEGRITY, "%s says it is version %lu: versions were "
				     "renamed or swapped; " RESTORE_HINT, path, m->version);
		} else if (want > 1 && strcmp(m->previous, prev_hash) != 0) {
			rc = hv_fail(err, HV_EINTEGRITY, "%s: previous hash does not match %s: "
				     RESTORE_HINT, path, prev_path);
		} else if (fn) {
			rc = fn(m, hash, ctx);
		}
		memcpy(prev_hash, hash, sizeof(hash));
		if (rc == HV_OK && last && i + 1 == count) {
			keep = m;
			memcpy(last_hash, hash, 65);
		} else {
			manifest_free(m);
		}
	}
	free(nums);
	if (last)
		*last = keep;
	return rc;
}

int manifest_walk(vfs *v, manifest_visit_fn fn, void *ctx, hv_err *err)
{
	return walk(v, fn, ctx, NULL, NULL, err);
}

/* Checks one file the manifest names against its recorded sha256. */
static int check_file(vfs *v, const manifest *m, const char *file, const char *want,
		      size_t max, hv_err *err)
{
	char mpath[64];
	manifest_version_path(m->version, mpath, sizeof(mpath));
	int r = vfs_exists(v, file, err);
	if (r < 0)
		return with_hint(err, err ? err->code : HV_EIO);
	if (r == 0)
		return hv_fail(err, HV_EINTEGRITY, "%s is missing but %s names it: " RESTORE_HINT,
			       file, mpath);
	uint8_t *data;
	size_t len;
	int rc = vfs_read(v, file, max, &data, &len, err);
	if (rc != HV_OK)
		return with_hint(err, rc);
	char got[65];
	manifest_sha256_hex(data, len, got);
	free(data);
	if (strcmp(got, want) != 0)
		return hv_fail(err, HV_EINTEGRITY, "%s: sha256 does not match the one %s records: "
			       RESTORE_HINT, file, mpath);
	return HV_OK;
}

int manifest_check_files(vfs *v, const manifest *m, hv_err *err)
{
	int rc;
	if (m->policy_sha256 &&
	    (rc = check_file(v, m, "policy.yaml", m->policy_sha256, MANIFEST_POLICY_MAX_BYTES,
			     err)) != HV_OK)
		return rc;
	for (size_t i = 0; i < m->share_n; i++)
		if ((rc = check_file(v, m, m->shares[i].file, m->shares[i].sha256,
				     MANIFEST_SHARE_MAX_BYTES, err)) != HV_OK)
			return rc;
	for (size_t i = 0; i < m->key_n; i++)
		if ((rc = check_file(v, m, m->keys[i].file, m->keys[i].sha256,
				     MANIFEST_KEYFILE_MAX_BYTES, err)) != HV_OK)
			return rc;
	return HV_OK;
}

int manifest_load_current_hash(vfs *v, manifest **out, char hash[65], hv_err *err)
{
	*out = NULL;
	manifest *m = NULL;
	char h[65];
	int rc = walk(v, NULL, NULL, &m, h, err);
	if (rc == HV_OK)
		rc = manifest_check_files(v, m, err);
	if (rc != HV_OK) {
		manifest_free(m);
		return rc;
	}
	if (hash)
		memcpy(hash, h, sizeof(h));
	*out = m;
	return HV_OK;
}

int manifest_load_current(vfs *v, manifest **out, hv_err *err)
{
	return manifest_load_current_hash(v, out, NULL, err);
}

int manifest_append_at(vfs *v, const manifest *next, const char *change, time_t when,
		       unsigned long *written, hv_err *err)
{
	unsigned long *nums;
	size_t count;
	int rc = list_versions(v, &nums, &count, err);
	if (rc != HV_OK)
		return rc;
	unsigned long top = count ? nums[count - 1] : 0;
	free(nums);
	if (top >= MANIFEST_MAX_VERSION)
		return hv_fail(err, HV_EUSAGE, "the vault has %lu manifest versions, the most "
			       "the format allows", top);

	/* next must be built on the current version (a clone of what
	 * manifest_load_current returned): a change made on an older one
	 * would silently drop whatever was recorded since. */
	if (next->version != top)
		return hv_fail(err, HV_ESAFETY, "the new manifest was made from version %lu, but "
			       "the vault's current version is %lu: load the current version and "
			       "make the change again; nothing was written", next->version, top);

	char prev_hash[65] = "";
	if (top > 0) {
		uint8_t *data;
		size_t len;
		if ((rc = read_version(v, top, &data, &len, err)) != HV_OK)
			return rc;
		manifest_sha256_hex(data, len, prev_hash);
		char path[64];
		manifest_version_path(top, path, sizeof(path));
		manifest *cur;
		rc = manifest_parse(data, len, path, &cur, err);
		free(data);
		if (rc != HV_OK)
			return rc;
		unsigned long said = cur->version;
		manifest_free(cur);
		if (said != top)
			return hv_fail(err, HV_EINTEGRITY, "%s says it is version %lu: "
				       RESTORE_HINT, path, said);
	}

	manifest *m;
	if ((rc = manifest_clone(next, &m, err)) != HV_OK)
		return rc;
	char t[21];
	manifest_format_time(when, t);
	m->version = top + 1;
	if (manifest_set(&m->previous, top ? prev_hash : NULL) ||
	    manifest_set(&m->time, t) || manifest_set(&m->tool_version, HSMVAULT_VERSION) ||
	    manifest_set(&m->change, change)) {
		manifest_free(m);
		return hv_fail(err, HV_ENOMEM, "out of memory writing the manifest");
	}
	/* Data files first, manifest second: refuse a version naming a file
	 * that is not (yet) in the vault with the recorded hash. */
	if ((rc = manifest_check_files(v, m, err)) != HV_OK) {
		manifest_free(m);
		return hv_err_prefix(err, "not writing manifest version %lu", top + 1);
	}
	char *text;
	size_t len;
	rc = manifest_emit(m, &text, &len, err);
	manifest_free(m);
	if (rc != HV_OK)
		return rc;

	char path[64];
	manifest_version_path(top + 1, path, sizeof(path));
	if (top == 0 && (rc = vfs_mkdir(v, MANIFEST_DIR, err)) != HV_OK)
		goto out;
	int ex = vfs_exists(v, path, err);
	if (ex != 0) {
		rc = ex < 0 ? (err ? err->code : HV_EIO)
			    : hv_fail(err, HV_EINTEGRITY, "%s already exists: manifest versions are "
				      "never rewritten (is another hsmvault writing this vault?)", path);
		goto out;
	}
	if ((rc = vfs_write_atomic(v, path, text, len, err)) != HV_OK)
		goto out;
	if (written)
		*written = top + 1;
out:
	free(text);
	return rc;
}

int manifest_append(vfs *v, const manifest *next, const char *change, hv_err *err)
{
	return manifest_append_at(v, next, change, time(NULL), NULL, err);
}
