/* Test tool of the second-stick test: appends one manifest version to a
 * vault (a folder, or a stick whose passphrase is on the descriptor in
 * HSMVAULT_STICK_PASSPHRASE_FD), the way every writer does: first a new
 * share file shares/NAME.pbe (content derived from NAME), then the version
 * naming it, change "test: NAME", then RECOVERY.md. Two copies given
 * different names diverge; given the same names at the same times they
 * stay the same. NAME "policy" instead rewrites policy.yaml (a comment
 * line added) and names its new hash; NAME "journal" appends a
 * verification journal entry (no manifest version). Usage: vault_append
 * VAULT NAME [UNIX_TIME] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/journal.h"
#include "vault/manifest.h"
#include "vault/vault.h"

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: vault_append VAULT NAME [UNIX_TIME]\n");
		return 2;
	}
	hv_err e;
	hv_err_clear(&e);
	vfs *v = NULL;
	manifest *cur = NULL, *next = NULL;
	char path[300], content[400], sha[65], change[300];
	snprintf(path, sizeof(path), "shares/%.200s.pbe", argv[2]);
	int len = snprintf(content, sizeof(content), "test share %.200s\n", argv[2]);
	snprintf(change, sizeof(change), "test: %.200s", argv[2]);
	manifest_sha256_hex(content, (size_t)len, sha);
	time_t when = argc == 4 ? (time_t)strtoll(argv[3], NULL, 10) : time(NULL);
	int policy = !strcmp(argv[2], "policy");
	int rc = vault_open_existing(argv[1], &v, &e);
	if (!rc && !strcmp(argv[2], "journal")) {
		journal_entry j = { .kind = "quick", .result = "ok" };
		if (!(rc = manifest_load_current_hash(v, &cur, j.manifest_sha256, &e))) {
			j.manifest_version = cur->version;
			rc = journal_append(v, &j, when, NULL, &e);
		}
		if (!rc)
			rc = vfs_sync(v, &e);
		manifest_free(cur);
		vfs_close(v);
		if (rc)
			fprintf(stderr, "vault_append: %s\n", e.msg);
		return rc;
	}
	if (!rc && !policy)
		rc = vfs_write_atomic(v, path, content, (size_t)len, &e);
	if (!rc)
		rc = manifest_load_current(v, &cur, &e);
	if (!rc)
		rc = manifest_clone(cur, &next, &e);
	if (!rc && policy) {
		uint8_t *old = NULL, *text = NULL;
		size_t olen = 0;
		rc = vfs_read(v, VAULT_POLICY, 1 << 20, &old, &olen, &e);
		if (!rc && !(text = malloc(olen + 64)))
			rc = hv_fail(&e, HV_ENOMEM, "out of memory");
		if (!rc) {
			memcpy(text, old, olen);
			int add = snprintf((char *)text + olen, 64, "# changed at %lld\n",
					   (long long)when);
			manifest_sha256_hex(text, olen + (size_t)add, sha);
			rc = vfs_write_atomic(v, VAULT_POLICY, text, olen + (size_t)add, &e);
		}
		if (!rc && manifest_set(&next->policy_sha256, sha))
			rc = hv_fail(&e, HV_ENOMEM, "out of memory");
		free(old);
		free(text);
	} else if (!rc) {
		char *holder = "tester";
		manifest_share s = { .index = (unsigned)next->share_n + 1, .file = path,
				     .sha256 = sha, .scheme = "password", .threshold = 1,
				     .holders = { &holder, 1 } };
		if (!manifest_add_share(next, &s))
			rc = hv_fail(&e, HV_ENOMEM, "out of memory");
		next->share_count = (unsigned)next->share_n;
	}
	if (!rc)
		rc = manifest_append_at(v, next, change, when, NULL, &e);
	manifest_free(cur);
	cur = NULL;
	if (!rc && !(rc = manifest_load_current(v, &cur, &e)))
		rc = vault_write_recovery(v, cur, &e);
	if (!rc)
		rc = vfs_sync(v, &e);
	manifest_free(cur);
	manifest_free(next);
	vfs_close(v);
	if (rc)
		fprintf(stderr, "vault_append: %s\n", e.msg);
	return rc;
}
