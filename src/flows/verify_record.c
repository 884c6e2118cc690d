/* The vault's chain against its public record (verify_record.h). */
#include "flows/verify_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"
#include "vault/limits.h"

#define RECORD_READ_MAX (VAULT_LIMIT_MANIFEST_BYTES + 8192)

/* The record's "# source: manifest/NNNNNN.yaml sha256 H" line and the
 * start of the manifest bytes (the first line not starting with '#'). */
static int parse_source(const char *path, const char *data, size_t len, unsigned long *version,
			char sha[65], size_t *body, hv_err *err)
{
	static const char key[] = "# source: " MANIFEST_DIR "/";
	int found = 0;
	size_t p = 0;
	while (p < len && data[p] == '#') {
		const char *nl = memchr(data + p, '\n', len - p);
		if (!nl)
			break;
		size_t ll = (size_t)(nl - (data + p));
		char line[200];
		if (ll < sizeof(line) && ll > sizeof(key) - 1 && !memcmp(data + p, key, sizeof(key) - 1)) {
			memcpy(line, data + p, ll);
			line[ll] = '\0';
			char hex[80];
			if (sscanf(line + sizeof(key) - 1, "%6lu.yaml sha256 %79s", version, hex) == 2 &&
			    strlen(hex) == 64) {
				memcpy(sha, hex, 65);
				found = 1;
			}
		}
		p = (size_t)(nl - data) + 1;
	}
	*body = p;
	if (!found)
		return hv_fail(err, HV_EUSAGE, "%s has no '# source:' line naming its manifest "
			       "version: export the record again with 'hsmvault record export'", path);
	return HV_OK;
}

int verify_record_compare(const char *path, const vault_chain *c, record_comparison *out,
			  hv_err *err)
{
	memset(out, 0, sizeof(*out));
	uint8_t *data;
	size_t len, body = 0;
	int rc = file_read(path, RECORD_READ_MAX, &data, &len, err);
	if (rc != HV_OK)
		return rc;
	rc = parse_source(path, (const char *)data, len, &out->record_version, out->record_sha256,
			  &body, err);
	char actual[65];
	if (rc == HV_OK) {
		manifest_sha256_hex(data + body, len - body, actual);
		if (strcmp(actual, out->record_sha256))
			rc = hv_fail(err, HV_EINTEGRITY, "%s: the manifest it carries does not hash "
				     "to the sha256 on its source line: the record was edited or "
				     "damaged; export it again from a vault you trust", path);
	}
	free(data);
	if (rc != HV_OK)
		return rc;
	out->vault_version = c->n;
	memcpy(out->vault_sha256, c->heads[c->n - 1].sha256, 65);
	unsigned long r = out->record_version, n = c->n;
	if (r == 0) {
		return hv_fail(err, HV_EUSAGE, "%s names manifest version 0: not a record", path);
	} else if (r <= n && !strcmp(c->heads[r - 1].sha256, out->record_sha256)) {
		out->relation = r == n ? RECORD_SAME : RECORD_VAULT_AHEAD;
		if (r < n)
			snprintf(out->text, sizeof(out->text),
				 "the vault is %lu version%s ahead of the record (record: version "
				 "%lu; vault: version %lu): check the newer versions with 'hsmvault "
				 "log', then export the record again", n - r, n - r == 1 ? "" : "s",
				 r, n);
	} else if (r > n) {
		out->relation = RECORD_VAULT_BEHIND;
		snprintf(out->text, sizeof(out->text),
			 "the vault is behind the record: it ends at version %lu, the record was "
			 "exported from version %lu (an older copy of the vault?): bring it up to "
			 "date from the newer stick ('hsmvault stick sync')", n, r);
	} else {
		out->relation = RECORD_DIFFERS;
		snprintf(out->text, sizeof(out->text),
			 "the vault's version %lu is not the one the record was exported from "
			 "(sha256 %.16s... in the vault, %.16s... in the record): %s", r,
			 c->heads[r - 1].sha256, out->record_sha256,
			 r == n ? "the newest version was changed after the record was made, or "
				  "the record comes from another vault; compare with the second stick"
				: "the vault and the record went different ways; compare with the "
				  "second stick");
	}
	return HV_OK;
}
