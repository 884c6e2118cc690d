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

/* One "key: value" line at *p, the value a double-quoted string without
 * escapes (or, with plain, an unquoted run of digits); copied to out.
 * 1 and *p advanced past the line when it is there in that form. */
static int head_line(const char **p, const char *end, const char *key, int plain,
		     char *out, size_t outsz)
{
	size_t kl = strlen(key);
	const char *q = *p;
	if ((size_t)(end - q) < kl + 3 || memcmp(q, key, kl) != 0 || q[kl] != ':' ||
	    q[kl + 1] != ' ')
		return 0;
	q += kl + 2;
	if (!plain && *q++ != '"')
		return 0;
	const char *v = q;
	while (q < end && *q != '\n' && *q != '"' && *q != '\\')
		q++;
	size_t n = (size_t)(q - v);
	if (q >= end || n == 0 || n >= outsz)
		return 0;
	if (!plain && *q++ != '"')
		return 0;
	if (q >= end || *q != '\n')
		return 0;
	if (plain)
		for (size_t i = 0; i < n; i++)
			if (v[i] < '0' || v[i] > '9')
				return 0;
	memcpy(out, v, n);
	out[n] = '\0';
	*p = q + 1;
	return 1;
}

/* The head of a version read from its first lines, as hsmvault writes
 * them (format, version, previous, time, tool_version, change, in this
 * order, values without escapes), without a YAML parse: checking the
 * chain then costs hashing, not parsing. 0 when the file does not start
 * in exactly that form (the caller parses it in full instead). */
static int quick_head(const uint8_t *data, size_t len, manifest_head *h)
{
	const char *p = (const char *)data, *end = p + len;
	char num[16], fmt[32], tool[80];
	if (!head_line(&p, end, "format", 0, fmt, sizeof(fmt)) || strcmp(fmt, MANIFEST_FORMAT) ||
	    !head_line(&p, end, "version", 1, num, sizeof(num)) || strlen(num) > 6)
		return 0;
	h->version = strtoul(num, NULL, 10);
	h->previous[0] = '\0';
	if (h->version > 1 && !head_line(&p, end, "previous", 0, h->previous, sizeof(h->previous)))
		return 0;
	return head_line(&p, end, "time", 0, h->time, sizeof(h->time)) &&
	       head_line(&p, end, "tool_version", 0, tool, sizeof(tool)) &&
	       head_line(&p, end, "change", 0, h->change, sizeof(h->change));
}

static void head_of(const manifest *m, manifest_head *h)
{
	h->version = m->version;
	snprintf(h->previous, sizeof(h->previous), "%s", m->previous ? m->previous : "");
	snprintf(h->time, sizeof(h->time), "%s", m->time);
	snprintf(h->change, sizeof(h->change), "%s", m->change);
}

struct walk_opts {
	int full;                /* parse every version, not only the last */
	manifest_visit_fn fn;    /* parsed versions (implies full)          */
	manifest_head_fn hfn;    /* every version's head                    */
	void *ctx;
	manifest **last;         /* keeps the highest version, parsed       */
	char *last_hash;         /* [65]                                    */
};

/* The walk itself: names, numbers, each version's "previous" against the
 * sha256 of the one before it. Versions before the last are parsed only
 * with full (or when their head is not in hsmvault's own form). */
static int walk(vfs *v, const struct walk_opts *o, hv_err *err)
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
		manifest_head h;
		manifest_sha256_hex(data, len, h.sha256);
		int is_last = i + 1 == count;
		manifest *m = NULL;
		if (o->full || o->fn || (is_last && o->last) || !quick_head(data, len, &h)) {
			rc = manifest_parse(data, len, path, &m, err);
			if (rc == HV_OK)
				head_of(m, &h);
		}
		free(data);
		if (rc != HV_OK) {
			with_hint(err, rc);
			break;
		}
		if (h.version != want) {
			rc = hv_fail(err, HV_EINTEGRITY, "%s says it is version %lu: versions were "
				     "renamed or swapped; " RESTORE_HINT, path, h.version);
		} else if (want > 1 && strcmp(h.previous, prev_hash) != 0) {
			rc = hv_fail(err, HV_EINTEGRITY, "%s: previous hash does not match %s: "
				     RESTORE_HINT, path, prev_path);
		} else {
			if (o->hfn)
				rc = o->hfn(&h, o->ctx);
			if (rc == HV_OK && o->fn)
				rc = o->fn(m, h.sha256, o->ctx);
		}
		memcpy(prev_hash, h.sha256, sizeof(prev_hash));
		if (rc == HV_OK && o->last && is_last) {
			keep = m;
			memcpy(o->last_hash, h.sha256, 65);
		} else {
			manifest_free(m);
		}
	}
	free(nums);
	if (o->last)
		*o->last = keep;
	return rc;
}

int manifest_walk_heads(vfs *v, int full, manifest_head_fn fn, void *ctx, manifest **current,
			char current_hash[65], hv_err *err)
{
	char h[65];
	struct walk_opts o = { .full = full, .hfn = fn, .ctx = ctx, .last = current,
			       .last_hash = current_hash ? current_hash : h };
	return walk(v, &o, err);
}

int manifest_read_version(vfs *v, unsigned long n, manifest **out, char sha256[65],
			  hv_err *err)
{
	*out = NULL;
	uint8_t *data;
	size_t len;
	char path[64];
	manifest_version_path(n, path, sizeof(path));
	int rc = read_version(v, n, &data, &len, err);
	if (rc != HV_OK)
		return with_hint(err, rc);
	if (sha256)
		manifest_sha256_hex(data, len, sha256);
	rc = manifest_parse(data, len, path, out, err);
	free(data);
	if (rc == HV_OK && (*out)->version != n) {
		unsigned long said = (*out)->version;
		manifest_free(*out);
		*out = NULL;
		rc = hv_fail(err, HV_EINTEGRITY, "%s says it is version %lu: " RESTORE_HINT, path,
			     said);
	}
	return with_hint(err, rc);
}

int manifest_walk(vfs *v, manifest_visit_fn fn, void *ctx, hv_err *err)
{
	struct walk_opts o = { .full = 1, .fn = fn, .ctx = ctx };
	return walk(v, &o, err);
}

/* Checks one file the manifest names against its recorded sha256. */
static int check_file(vfs *v, const manifest *m, const char *file, const char *want,
		      size_t max, hv_err *err)
{
	char mpath[64];
	manifest_version_path(m->version, mpath, sizeof(mpath));
	uint8_t *data;
	size_t len;
	/* One read (one openat of the file); only a failure asks why. */
	int rc = vfs_read(v, file, max, &data, &len, err);
	if (rc != HV_OK) {
		int r = vfs_exists(v, file, err);
		if (r == 0)
			return hv_fail(err, HV_EINTEGRITY, "%s is missing but %s names it: "
				       RESTORE_HINT, file, mpath);
		if (r < 0)
			return with_hint(err, err ? err->code : HV_EIO);
		if (err && !err->msg[0])
			hv_fail(err, rc, "%s cannot be read", file);
		return with_hint(err, rc);
	}
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
	int rc = manifest_walk_heads(v, 0, NULL, NULL, &m, h, err);
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

/* The counts of vault/limits.h, with what to do; manifest_validate (run
 * by both writer and reader) refuses the same, as a damaged file. */
static int check_limits(const manifest *m, hv_err *err)
{
	const char *what = NULL;
	size_t have = 0;
	unsigned limit = 0;
	if (m->key_n > VAULT_LIMIT_KEYS) {
		what = "keys";
		have = m->key_n;
		limit = VAULT_LIMIT_KEYS;
	} else if (m->card_n > VAULT_LIMIT_CARDS) {
		what = "cards";
		have = m->card_n;
		limit = VAULT_LIMIT_CARDS;
	} else if (m->verification_n > VAULT_LIMIT_VERIFICATIONS) {
		what = "verification entries";
		have = m->verification_n;
		limit = VAULT_LIMIT_VERIFICATIONS;
	}
	for (size_t i = 0; !what && i < m->card_n; i++)
		if (m->cards[i].keys.count > VAULT_LIMIT_CARD_KEYS) {
			what = "key ids on one card";
			have = m->cards[i].keys.count;
			limit = VAULT_LIMIT_CARD_KEYS;
		}
	if (!what)
		return HV_OK;
	return hv_fail(err, HV_ESAFETY, "not writing manifest version %lu: it would list %zu %s, "
		       "more than the %u a vault version may hold and hsmvault can read back "
		       "(vault/limits.h); keep further keys in a second vault (a new stick, "
		       "hsmvault enroll); nothing was written", m->version, have, what, limit);
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
		manifest_head h;
		if (!quick_head(data, len, &h)) {
			manifest *cur;
			rc = manifest_parse(data, len, path, &cur, err);
			if (rc == HV_OK) {
				head_of(cur, &h);
				manifest_free(cur);
			}
		}
		free(data);
		if (rc != HV_OK)
			return rc;
		unsigned long said = h.version;
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
	/* The reader's limits, before anything else is done: a version the
	 * reader would refuse is never written (vault/limits.h). */
	if ((rc = check_limits(m, err)) != HV_OK) {
		manifest_free(m);
		return rc;
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
	/* The reader's byte limit, checked before anything is written (the
	 * counts were checked by manifest_emit's validation). */
	if (len > MANIFEST_MAX_BYTES) {
		free(text);
		return hv_fail(err, HV_ESAFETY, "not writing manifest version %lu: it would be %zu "
			       "bytes, more than the %u a version may have (vault/limits.h); keep "
			       "further keys in a second vault; nothing was written", top + 1, len,
			       (unsigned)MANIFEST_MAX_BYTES);
	}

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
