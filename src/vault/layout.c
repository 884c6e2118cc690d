/* Creating and recognizing a vault's skeleton. */
#include "vault/vault.h"

#include <stdlib.h>
#include <string.h>

static int count_versions(vfs *v, size_t *n, hv_err *err)
{
	char **names;
	size_t count;
	int rc = vfs_list(v, MANIFEST_DIR, &names, &count, err);
	if (rc != HV_OK)
		return rc;
	*n = 0;
	for (size_t i = 0; i < count; i++)
		if (names[i][0] != '.')
			(*n)++;
	vfs_names_free(names, count);
	return HV_OK;
}

/* A vault is made in empty storage: a fresh ext4 root holds only
 * lost+found, and an interrupted vault_init leaves only its own parts. */
static int check_empty(vfs *v, hv_err *err)
{
	static const char *ok[] = { "lost+found", MANIFEST_DIR, VAULT_SHARES_DIR,
				    VAULT_KEYS_DIR, VAULT_RECOVERY };
	char **names;
	size_t n;
	int rc = vfs_list(v, "", &names, &n, err);
	if (rc != HV_OK)
		return rc;
	for (size_t i = 0; i < n && rc == HV_OK; i++) {
		int known = names[i][0] == '.' && strstr(names[i], ".tmp") != NULL;
		for (size_t k = 0; k < sizeof(ok) / sizeof(ok[0]); k++)
			known |= !strcmp(names[i], ok[k]);
		if (!known)
			rc = hv_fail(err, HV_ESAFETY, "%s is not empty (it holds %.100s): a vault is "
				     "created in an empty folder or on a fresh stick; nothing was "
				     "changed", v->where, names[i]);
	}
	vfs_names_free(names, n);
	return rc;
}

int vault_init(vfs *v, const char *recovery_md_text, hv_err *err)
{
	int ex = vfs_exists(v, VAULT_MARKER, err);
	if (ex < 0)
		return err ? err->code : HV_EIO;
	if (ex > 0)
		return hv_fail(err, HV_ESAFETY, "%s already holds a vault (it has a " VAULT_MARKER
			       " marker); nothing was changed", v->where);
	int rc = check_empty(v, err);
	if (rc != HV_OK)
		return rc;
	const char *dirs[] = { MANIFEST_DIR, VAULT_SHARES_DIR, VAULT_KEYS_DIR };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if ((rc = vfs_mkdir(v, dirs[i], err)) != HV_OK)
			return rc;

	/* Without a marker, existing versions can only be those of an
	 * interrupted vault_init: keep them if their chain holds. */
	size_t have;
	if ((rc = count_versions(v, &have, err)) != HV_OK)
		return rc;
	if (have == 0) {
		manifest *empty = manifest_new();
		if (!empty)
			return hv_fail(err, HV_ENOMEM, "out of memory creating a vault");
		rc = manifest_append(v, empty, "vault created", err);
		manifest_free(empty);
		if (rc != HV_OK)
			return rc;
	}
	manifest *cur;
	if ((rc = manifest_load_current(v, &cur, err)) != HV_OK)
		return hv_err_prefix(err, "%s has manifest versions but no " VAULT_MARKER
				     " marker, and they do not verify", v->where);

	char *text = NULL;
	if (!recovery_md_text) {
		rc = vault_render_recovery(cur, &text, err);
		recovery_md_text = text;
	}
	manifest_free(cur);
	if (rc == HV_OK)
		rc = vfs_write_atomic(v, VAULT_RECOVERY, recovery_md_text,
				      strlen(recovery_md_text), err);
	free(text);
	if (rc != HV_OK)
		return rc;
	/* Last: a marker means every part above is in place. */
	if ((rc = vfs_write_atomic(v, VAULT_MARKER, VAULT_MARKER_TEXT, strlen(VAULT_MARKER_TEXT),
				   err)) != HV_OK)
		return rc;
	return vfs_sync(v, err);
}

int vault_format(vfs *v, hv_err *err)
{
	int ex = vfs_exists(v, VAULT_MARKER, err);
	if (ex < 0)
		return 0;
	if (ex == 0) {
		hv_fail(err, HV_EUSAGE, "%s is not an hsmvault vault (no " VAULT_MARKER
			" marker): check the path", v->where);
		return 0;
	}
	uint8_t *data;
	size_t len;
	if (vfs_read(v, VAULT_MARKER, 4096, &data, &len, err) != HV_OK)
		return 0;
	size_t line = 0;
	while (line < len && data[line] != '\n')
		line++;
	int format = 0;
	if (line == strlen(VAULT_FORMAT) && !memcmp(data, VAULT_FORMAT, line))
		format = 2;
	else if (line == strlen(VAULT_FORMAT_1) && !memcmp(data, VAULT_FORMAT_1, line))
		format = 1;
	if (!format) {
		hv_fail(err, HV_EUSAGE, "%s: the " VAULT_MARKER " marker says \"%.*s\"; this "
			"hsmvault reads " VAULT_FORMAT_1 " and " VAULT_FORMAT " vaults: open it with "
			"the (newer) hsmvault that wrote it; nothing was changed", v->where,
			(int)(line > 60 ? 60 : line), (const char *)data);
		/* a line of binary junk is reported, not printed */
		for (size_t i = 0; i < line && i < 60; i++)
			if (data[i] < 0x20 || data[i] >= 0x7f) {
				hv_fail(err, HV_EUSAGE, "%s: the " VAULT_MARKER " marker is not "
					"an hsmvault marker: check the path", v->where);
				break;
			}
	}
	free(data);
	return format;
}

int vault_check(vfs *v, hv_err *err)
{
	if (vault_format(v, err))
		return HV_OK;
	return err && err->code ? err->code : HV_EUSAGE;
}

int vault_mark_format(vfs *v, hv_err *err)
{
	int f = vault_format(v, err);
	if (f == 0)
		return err && err->code ? err->code : HV_EUSAGE;
	if (f == 2)
		return HV_OK;
	return vfs_write_atomic(v, VAULT_MARKER, VAULT_MARKER_TEXT, strlen(VAULT_MARKER_TEXT), err);
}
