/* hsmvault enroll: a new card set under a policy (flows/enroll.h). */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/flow_args.h"
#include "cli/vault_args.h"
#include "flows/enroll.h"
#include "util/fileio.h"
#include "util/input_file.h"
#include "util/json.h"
#include "vault/vault.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hsmvault enroll --vault FOLDER|IMAGE|DEVICE --policy FILE\n"
		"                       [--secrets-fd N [--reveal-fd N]] [--wipe CARD]...\n"
		"                       [--reader R] [--trust-dir DIR]... [--passphrase-fd N] [--json]\n\n"
		"Creates the DKEK shares the policy names (each holder types a password\n"
		"twice, or a random password is split n-of-m and each holder is shown\n"
		"their part alone), initializes every card of the set (SO-PIN and PIN\n"
		"asked twice), imports the shares, checks that every card reports the\n"
		"same KCV, and records policy, shares and cards in a new manifest\n"
		"version. A card that holds keys or another DKEK is only initialized\n"
		"after its serial is typed, or named with --wipe SERIAL.\n"
		"Only genuine cards receive the DKEK: before anything is asked or written,\n"
		"each card's device certificate chain must verify up to a trusted root\n"
		"(CardContact's, the installed ones, and the *.cvc files of every\n"
		"--trust-dir DIR). A card whose chain fails is refused (exit 7); one that\n"
		"cannot prove it is genuine (pico-hsm) only if the policy says\n"
		"cards.unattested: accept.\n"
		"A FOLDER vault is created when it does not exist; a stick must be\n"
		"prepared first (hsmvault stick prepare).\n\n"
		"Batch mode (--secrets-fd N): lines 'share-1 PASSWORD', ..., 'so-pin\n"
		"16HEX', 'pin PIN' (and 'current-so-pin 16HEX' for cards already\n"
		"initialized); parts of split shares go to --reveal-fd.\n");
}

struct enroll_opts {
	const char *policy;
};

static int own(int opt, const char *arg, void *ctx, hv_err *err)
{
	struct enroll_opts *o = ctx;
	if (opt == FLOW_OPT_OWN) {
		o->policy = arg;
		return HV_OK;
	}
	return hv_fail(err, HV_EUSAGE, "unknown option: see 'hsmvault enroll --help'");
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* An existing vault, or a new folder vault (*created = 1: the folder did
 * not exist before this run). */
static int open_or_create(const flow_args *fa, vfs **v, int *created, hv_err *err)
{
	*created = 0;
	int rc = flow_args_open_vault(fa, v, err);
	if (rc == HV_OK)
		return rc;
	hv_err first = *err;
	struct stat st;
	*created = lstat(fa->vault, &st) != 0 && errno == ENOENT;
	/* An existing folder without a marker: empty, or what an enroll
	 * killed before its marker left (vault_init's own parts), which
	 * vault_init completes; it refuses a folder holding anything else. */
	int leftover = !*created && S_ISDIR(st.st_mode);
	vfs *nv;
	if ((!*created && !leftover) || vault_open(fa->vault, 1, &nv, err) != HV_OK) {
		*created = 0;
		*err = first;
		return rc;
	}
	if (vault_check(nv, err) == HV_OK) {
		*v = nv;
		return HV_OK;
	}
	if ((rc = vault_init(nv, NULL, err)) != HV_OK) {
		vfs_close(nv);
		if (*created)
			nftw(fa->vault, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
		*created = 0;
		return rc;
	}
	*v = nv;
	return HV_OK;
}

int cmd_enroll(int argc, char **argv, hv_err *err)
{
	static const struct option opts[] = {
		FLOW_ARGS_OPTIONS,
		{ "policy", required_argument, NULL, FLOW_OPT_OWN },
		{ NULL, 0, NULL, 0 },
	};
	struct enroll_opts o = { 0 };
	flow_args fa;
	int rc = flow_args_parse(argc, argv, "enroll", opts, own, &o, 1, &fa, err);
	if (rc == HV_OK && fa.help) {
		usage(stdout);
		return flow_args_finish(&fa, HV_OK, err);
	}
	if (rc == HV_OK && !o.policy)
		rc = hv_fail(err, HV_EUSAGE, "which policy? give --policy FILE (examples in "
			     "policies/)");
	policy p;
	uint8_t *text = NULL;
	size_t len = 0;
	/* One read: the bytes checked are the bytes stored as policy.yaml. */
	if (rc == HV_OK)
		rc = input_file_read(o.policy, "policy", POLICY_MAX_BYTES, &text, &len, err);
	if (rc == HV_OK)
		rc = policy_parse(o.policy, text, len, &p, err);
	vfs *v = NULL;
	int created = 0;
	if (rc == HV_OK)
		rc = open_or_create(&fa, &v, &created, err);
	enroll_result res;
	memset(&res, 0, sizeof(res));
	if (rc == HV_OK)
		rc = flow_enroll(&fa.fc, v, &p, text, len, &res, err);
	vfs_close(v);
	/* A failed enroll leaves no half-made vault folder behind: it removes
	 * the folder it created itself in this run, and nothing else; never
	 * once a manifest version is written (the shares of enrolled cards). */
	if (rc != HV_OK && created && res.version == 0)
		nftw(fa.vault, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(text);
	rc = flow_args_finish(&fa, rc, err);
	if (fa.json) {
		json_out j;
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		if (rc == HV_OK) {
			json_str(&j, "kcv", res.kcv);
			json_int(&j, "cards", (long long)res.cards);
			json_int(&j, "version", (long long)res.version);
		}
		vault_args_json_result(&j, rc, err);
		json_obj_end(&j);
		json_finish(&j);
	}
	return rc;
}
