#include "flows/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "util/fileio.h"
#include "util/input_file.h"
#include "vault/history.h"
#include "vault/manifest_check.h"
#include "vault/vault.h"

#define RECORD_MAX_BYTES (MANIFEST_MAX_BYTES + 8192)

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

/* The latest verification, as comment lines of the record's header: the
 * scheduled check reads its time for staleness; people see what it found. */
static void last_verification_lines(const vault_history *h, char *out, size_t outsz)
{
	const journal_entry *e = h->last_entry;
	if (e) {
		char path[64];
		journal_entry_path(e->entry, path, sizeof(path));
		const vault_event *ev = NULL;
		for (size_t i = h->n_events; i-- > 0 && !ev;)
			if (h->events[i].kind == VAULT_EV_JOURNAL && h->events[i].number == e->entry)
				ev = &h->events[i];
		snprintf(out, outsz,
			 "# last_verified time: \"%s\"\n"
			 "# last_verified entry: %s sha256 %s\n"
			 "# last_verified result: %s verify of %zu card(s), %s, %lu difference(s), "
			 "against manifest version %lu sha256 %s\n",
			 e->time, path, ev ? ev->sha256 : "-", e->kind, e->card_n, e->result,
			 e->differences, e->manifest_version, e->manifest_sha256);
	} else if (h->last_verified[0]) {
		snprintf(out, outsz, "# last_verified time: \"%s\"\n"
			 "# last_verified entry: the current manifest version's verifications "
			 "(format 1)\n", h->last_verified);
	} else {
		snprintf(out, outsz, "# last_verified time: never\n");
	}
}

int record_export(vfs *v, const char *path, unsigned long *version, hv_err *err)
{
	vault_history h;
	int rc = vault_history_load(v, 0, 1, &h, err);
	if (rc != HV_OK) {
		vault_history_free(&h);
		return rc;
	}
	const manifest *m = h.current;
	unsigned days = 0;
	char mpath[32];
	manifest_version_path(m->version, mpath, sizeof(mpath));
	uint8_t *body = NULL;
	size_t blen = 0;
	if ((rc = record_policy_max_age(v, &days, err)) == HV_OK)
		rc = vfs_read(v, mpath, MANIFEST_MAX_BYTES, &body, &blen, err);
	if (rc == HV_OK) {
		char last[1024];
		last_verification_lines(&h, last, sizeof(last));
		char head[2048];
		int hl = snprintf(head, sizeof(head),
				  "# " RECORD_FORMAT "\n"
				  "# max_age_days: %u\n"
				  "%s"
				  "# source: %s sha256 %s\n"
				  "# A public record of an hsmvault vault for 'hsmvault verify --record'.\n"
				  "# It holds no secret: keep it where the scheduled check runs.\n",
				  days, last, mpath, h.current_sha256);
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
	vault_history_free(&h);
	return rc;
}

/* "# last_verified time: "T"" (quoted or not) or "... never": T into out. */
static void read_last_verified(const char *data, size_t len, char out[21])
{
	static const char key[] = "\n# last_verified time: ";
	out[0] = '\0';
	const char *end = data + len;
	for (const char *p = data; p < end && *p == '#';) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		if ((size_t)(end - nl) > sizeof(key) && !memcmp(nl, key, sizeof(key) - 1)) {
			const char *t = nl + sizeof(key) - 1;
			if (*t == '"')
				t++;
			if (end - t >= 20 && t[19] == 'Z') {
				memcpy(out, t, 20);
				out[20] = '\0';
				if (!manifest_is_time(out))
					out[0] = '\0';
			}
			return;
		}
		p = nl + 1;
	}
}

int record_load(const char *path, manifest **out, unsigned *max_age_days,
		char last_verified[21], hv_err *err)
{
	uint8_t *data;
	size_t len;
	int rc = input_file_read(path, "record", RECORD_MAX_BYTES, &data, &len, err);
	if (rc != HV_OK)
		return rc;
	/* format 2 adds the last_verified lines; format 1 is read as well */
	static const char magic2[] = "# " RECORD_FORMAT "\n# max_age_days: ";
	static const char magic1[] = "# " RECORD_FORMAT_1 "\n# max_age_days: ";
	int v2 = len >= sizeof(magic2) && !memcmp(data, magic2, sizeof(magic2) - 1);
	int v1 = len >= sizeof(magic1) && !memcmp(data, magic1, sizeof(magic1) - 1);
	if (!v1 && !v2) {
		free(data);
		return hv_fail(err, HV_EUSAGE,
			       "%s is not an hsmvault record (its first line is not '# %s'): make "
			       "one with 'hsmvault record export'", path, RECORD_FORMAT);
	}
	char *end;
	unsigned long days = strtoul((const char *)data + sizeof(magic2) - 1, &end, 10);
	if (*end != '\n' || days > 3650) {
		free(data);
		return hv_fail(err, HV_EUSAGE, "%s: the max_age_days line is damaged", path);
	}
	*max_age_days = (unsigned)days;
	char last[21] = "";
	if (v2)
		read_last_verified((const char *)data, len, last);
	rc = manifest_parse(data, len, path, out, err);
	free(data);
	if (rc != HV_OK && rc != HV_ENOMEM && err) {
		/* a record is the operator's input, not the vault: a damaged
		 * one is a bad input file (exit 2), made again from the vault */
		char why[HV_ERR_MSG_MAX];
		memcpy(why, err->msg, sizeof(why));
		return hv_fail(err, HV_EUSAGE, "%s: the record is damaged or cut off: export it "
			       "again with 'hsmvault record export'", why);
	}
	if (rc == HV_OK && v1) {
		/* format 1: the last entry of the manifest's verifications */
		for (size_t i = 0; i < (*out)->verification_n; i++)
			if (strcmp((*out)->verifications[i].time, last) > 0)
				snprintf(last, sizeof(last), "%s", (*out)->verifications[i].time);
	}
	if (last_verified)
		memcpy(last_verified, last, sizeof(last));
	return rc;
}
