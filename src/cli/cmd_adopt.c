/* hsmvault adopt: a classic sc-hsm-tool backup stick (or folder) becomes a
 * vault, every original file unchanged (flows/adopt.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/flow_args.h"
#include "cli/vault_args.h"
#include "flows/adopt.h"
#include "stick/stick.h"
#include "util/fileio.h"
#include "util/json.h"
#include "vault/vault.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hsmvault adopt --vault FOLDER|IMAGE|DEVICE --policy FILE [--dry-run]\n"
		"                      [--share N=PATH]... [--reader R] [--secrets-fd N]\n"
		"                      [--passphrase-fd N] [--json]\n\n"
		"Turns a backup made the classic way -- a LUKS stick (or a folder) holding\n"
		"sc-hsm-tool's DKEK share files and --wrap-key files under any names, in any\n"
		"folders -- into an hsmvault vault. No file that is there is changed, moved\n"
		"or removed: the old manual procedure keeps working.\n"
		"Files are recognized by their content: DKEK share files (password and\n"
		"n-of-m shares look alike), wrap files (label, id, algorithm and DKEK KCV\n"
		"are shown), and everything else, listed as unrecognized and left alone.\n"
		"The policy names each share's holder(s) in order. adopt first lists what\n"
		"it found and what it would write (--dry-run stops there, asking no\n"
		"secret), then asks each share's holder by name for the password (a split\n"
		"share: its holders' parts) and tries it on the share files: the file it\n"
		"opens is that share (--share N=PATH names the file instead; PATH inside\n"
		"the vault). All shares must give one DKEK whose KCV every key blob\n"
		"carries, and every blob's MAC must verify under it; each key's public\n"
		"key, label, id and algorithm are recorded. Cards of the set in a reader\n"
		"are compared with that KCV (no PIN needed; optional): a card of another\n"
		"set stops the run (exit 1). Then it writes copies at the\n"
		"vault layout's paths (shares/, keys/KCV/ID.wrap), policy.yaml, manifest\n"
		"version 1, RECOVERY.md and the HSMVAULT marker. A layout path taken by\n"
		"another file is refused (exit 7), never overwritten.\n"
		"Nothing is written before every check passed: a wrong password exits 3,\n"
		"shares that do not match the keys' KCV exit 7. Interrupted (Ctrl-C, a\n"
		"crash) during the write: run adopt again, it finishes without secrets.\n"
		"Then restore the set onto blank cards with 'hsmvault restore' and check\n"
		"it with 'hsmvault verify --with-shares'.\n\n"
		"Batch mode (--secrets-fd N): lines 'share-1 PASSWORD', or for a split\n"
		"share 'share-2-HOLDER PRIME ID VALUE' (as sc-hsm-tool printed the part).\n");
}

struct adopt_cli {
	const char *policy;
	adopt_opts o;
};

enum { OPT_POLICY = FLOW_OPT_OWN, OPT_DRY_RUN, OPT_SHARE };

static int parse_share(struct adopt_cli *c, const char *arg, hv_err *err)
{
	char *end = NULL;
	unsigned long n = strtoul(arg, &end, 10);
	if (end == arg || *end != '=' || n < 1 || n > POLICY_MAX_SHARES || !end[1])
		return hv_fail(err, HV_EUSAGE, "--share takes N=PATH (share number, a path inside "
			       "the vault), got '%s'", arg);
	if (c->o.share_path[n - 1])
		return hv_fail(err, HV_EUSAGE, "--share %lu is given twice", n);
	c->o.share_path[n - 1] = end + 1;
	return HV_OK;
}

static int own(int opt, const char *arg, void *ctx, hv_err *err)
{
	struct adopt_cli *c = ctx;
	switch (opt) {
	case OPT_POLICY: c->policy = arg; return HV_OK;
	case OPT_DRY_RUN: c->o.dry_run = 1; return HV_OK;
	case OPT_SHARE: return parse_share(c, arg, err);
	}
	return hv_fail(err, HV_EUSAGE, "unknown option: see 'hsmvault adopt --help'");
}

int cmd_adopt(int argc, char **argv, hv_err *err)
{
	static const struct option opts[] = {
		FLOW_ARGS_OPTIONS,
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "share", required_argument, NULL, OPT_SHARE },
		{ NULL, 0, NULL, 0 },
	};
	struct adopt_cli c;
	memset(&c, 0, sizeof(c));
	flow_args fa;
	int rc = flow_args_parse(argc, argv, "adopt", opts, own, &c, 1, &fa, err);
	if (rc == HV_OK && fa.help) {
		usage(stdout);
		return flow_args_finish(&fa, HV_OK, err);
	}
	if (rc == HV_OK && !c.policy)
		rc = hv_fail(err, HV_EUSAGE, "which policy? give --policy FILE naming each share's "
			     "holder(s) in order (examples in policies/)");
	policy p;
	uint8_t *text = NULL;
	size_t len = 0;
	/* One read: the bytes checked are the bytes stored as policy.yaml. */
	if (rc == HV_OK)
		rc = file_read(c.policy, POLICY_MAX_BYTES, &text, &len, err);
	if (rc == HV_OK)
		rc = policy_parse(c.policy, text, len, &p, err);
	for (size_t i = 0; rc == HV_OK && i < POLICY_MAX_SHARES; i++)
		if (c.o.share_path[i] && i >= p.n_shares)
			rc = hv_fail(err, HV_EUSAGE, "--share %zu: policy %s names only %zu share%s",
				     i + 1, p.name, p.n_shares, p.n_shares == 1 ? "" : "s");
	c.o.p = &p;
	c.o.policy_text = text;
	c.o.policy_len = len;
	/* A dry run only reads: the stick is opened read-only. */
	if (rc == HV_OK && c.o.dry_run)
		stick_set_read_only(1);
	vfs *v = NULL;
	if (rc == HV_OK)
		rc = vault_open(fa.vault, 0, &v, err);
	adopt_result res;
	memset(&res, 0, sizeof(res));
	if (rc == HV_OK)
		rc = flow_adopt(&fa.fc, v, &c.o, &res, err);
	vfs_close(v);
	free(text);
	if ((c.o.dry_run || res.already || res.completed) && fa.fc.secrets) {
		/* A dry run, or a run that only finished an earlier one, asks no
		 * secret: lines given for the real run are not "unused" mistakes. */
		flow_secrets_free(fa.fc.secrets);
		fa.fc.secrets = NULL;
	}
	rc = flow_args_finish(&fa, rc, err);
	if (fa.json) {
		json_out j;
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		json_bool(&j, "dry_run", c.o.dry_run);
		json_int(&j, "share_files", (long long)res.share_files);
		json_int(&j, "wrap_files", (long long)res.wrap_files);
		json_int(&j, "unrecognized", (long long)res.unrecognized);
		json_int(&j, "keys", (long long)res.keys);
		json_str(&j, "kcv", res.kcv);
		json_int(&j, "version", (long long)res.version);
		json_bool(&j, "already", res.already);
		json_bool(&j, "completed", res.completed);
		vault_args_json_result(&j, rc, err);
		json_obj_end(&j);
		json_finish(&j);
	}
	return rc;
}
