#include "flows/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "util/fileio.h"
#include "vault/vault.h"

#define RECORD_MAX_BYTES (MANIFEST_MAX_BYTES + 4096)

int record_policy_max_age(vfs *v, unsigned *days, hv_err *err)
{
	*days = 0;
	int e = vfs_exists(v, VAULT_POLICY, err);
	if (e < 0)
		return err->code ? err->code : HV_EIO;
	if (e == 0)
		return HV_OK;
	uint8_t *text;
	size_t len;
	int rc = vfs_read(v, VAULT_POLICY, MANIFEST_POLICY_MAX_BYTES, &text, &len, err);
	if (rc != HV_OK)
		return rc;
	policy p;
	rc = policy_parse(VAULT_POLICY, text, len, &p, err);
	free(text);
	if (rc == HV_OK)
		*days = p.max_age_days;
	return rc;
}

int record_export(vfs *v, const char *path, unsigned long *version, hv_err *err)
{
	manifest *m;
	char hash[65];
	int rc = manifest_load_current_hash(v, &m, hash, err);
	if (rc != HV_OK)
		return rc;
	unsigned days = 0;
	char mpath[32];
	manifest_version_path(m->version, mpath, sizeof(mpath));
	uint8_t *body = NULL;
	size_t blen = 0;
	if ((rc = record_policy_max_age(v, &days, err)) == HV_OK)
		rc = vfs_read(v, mpath, MANIFEST_MAX_BYTES, &body, &blen, err);
	if (rc == HV_OK) {
		char head[512];
		int hl = snprintf(head, sizeof(head),
				  "# " RECORD_FORMAT "\n"
				  "# max_age_days: %u\n"
				  "# source: %s sha256 %s\n"
				  "# A public record of an hsmvault vault for 'hsmvault verify --record'.\n"
				  "# It holds no secret: keep it where the scheduled check runs.\n",
				  days, mpath, hash);
		uint8_t *all = malloc((size_t)hl + blen);
		if (!all) {
			rc = hv_fail(err, HV_ENOMEM, "out of memory");
		} else {
			memcpy(all, head, (size_t)hl);
			memcpy(all + hl, body, blen);
			rc = file_write_atomic(path, all, (size_t)hl + blen, err);
			free(all);
		}
	}
	if (rc == HV_OK && version)
		*version = m->version;
	free(body);
	manifest_free(m);
	return rc;
}

int record_load(const char *path, manifest **out, unsigned *max_age_days, hv_err *err)
{
	uint8_t *data;
	size_t len;
	int rc = file_read(path, RECORD_MAX_BYTES, &data, &len, err);
	if (rc != HV_OK)
		return rc;
	static const char magic[] = "# " RECORD_FORMAT "\n# max_age_days: ";
	if (len < sizeof(magic) || memcmp(data, magic, sizeof(magic) - 1) != 0) {
		free(data);
		return hv_fail(err, HV_EUSAGE,
			       "%s is not an hsmvault record (its first line is not '# %s'): make "
			       "one with 'hsmvault record export'", path, RECORD_FORMAT);
	}
	char *end;
	unsigned long days = strtoul((const char *)data + sizeof(magic) - 1, &end, 10);
	if (*end != '\n' || days > 3650) {
		free(data);
		return hv_fail(err, HV_EUSAGE, "%s: the max_age_days line is damaged", path);
	}
	*max_age_days = (unsigned)days;
	rc = manifest_parse(data, len, path, out, err);
	free(data);
	return rc;
}
