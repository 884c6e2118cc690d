/* hsmvault restore: rebuild the card set from the vault (flows/restore.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/flow_args.h"
#include "cli/vault_args.h"
#include "flows/restore.h"
#include "util/json.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hsmvault restore --vault FOLDER|IMAGE|DEVICE [--policy FILE]\n"
		"                        [--secrets-fd N | --batch] [--wipe CARD]... [--reader R]\n"
		"                        [--trust-dir DIR]... [--passphrase-fd N] [--json]\n\n"
		"Rebuilds the full card set (card count from the policy; default: the\n"
		"vault's policy.yaml) on blank cards, or on cards confirmed for wiping\n"
		"(typed serial, or --wipe SERIAL). Each share's holder is asked by name\n"
		"and each share is decrypted once for all cards and checked at once.\n"
		"Then every card is initialized, the shares imported, the KCV checked,\n"
		"every key unwrapped and proven by a signature against the public key on\n"
		"record. Run it again after a pulled card, a crash or Ctrl-C: it\n"
		"continues where it stopped.\n"
		"Only genuine cards receive the DKEK and the keys: each card's device\n"
		"certificate chain must verify up to a trusted root (CardContact's, the\n"
		"installed ones, and the *.cvc files of every --trust-dir DIR) before\n"
		"anything is written to it; a failed chain is refused (exit 7), a card\n"
		"that cannot prove it is genuine (pico-hsm) only under the policy's\n"
		"cards.unattested: accept.\n\n"
		"Batch mode (--secrets-fd N): 'share-1 PASSWORD' (or 'share-2-HOLDER\n"
		"PRIME ID VALUE' for split shares), 'so-pin 16HEX' (unless the policy keeps\n"
		"it in the vault), 'pin PIN', and 'current-so-pin 16HEX' for cards to wipe.\n");
}

struct restore_opts {
	const char *policy;
};

static int own(int opt, const char *arg, void *ctx, hv_err *err)
{
	struct restore_opts *o = ctx;
	if (opt == FLOW_OPT_OWN) {
		o->policy = arg;
		return HV_OK;
	}
	return hv_fail(err, HV_EUSAGE, "unknown option: see 'hsmvault restore --help'");
}

int cmd_restore(int argc, char **argv, hv_err *err)
{
	static const struct option opts[] = {
		FLOW_ARGS_OPTIONS,
		{ "policy", required_argument, NULL, FLOW_OPT_OWN },
		{ NULL, 0, NULL, 0 },
	};
	struct restore_opts o = { 0 };
	flow_args fa;
	int rc = flow_args_parse(argc, argv, "restore", opts, own, &o, 1, &fa, err);
	if (rc == HV_OK && fa.help) {
		usage(stdout);
		return flow_args_finish(&fa, HV_OK, err);
	}
	policy p;
	if (rc == HV_OK && o.policy)
		rc = policy_load(o.policy, &p, err);
	vfs *v = NULL;
	if (rc == HV_OK)
		rc = flow_args_open_vault(&fa, &v, err);
	restore_result res;
	memset(&res, 0, sizeof(res));
	if (rc == HV_OK)
		rc = flow_restore(&fa.fc, v, o.policy ? &p : NULL, &res, err);
	vfs_close(v);
	rc = flow_args_finish(&fa, rc, err);
	if (fa.json) {
		json_out j;
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		json_int(&j, "cards", (long long)res.cards);
		json_int(&j, "keys_unwrapped", (long long)res.keys_unwrapped);
		json_int(&j, "keys_present", (long long)res.keys_present);
		json_int(&j, "version", (long long)res.version);
		vault_args_json_result(&j, rc, err);
		json_obj_end(&j);
		json_finish(&j);
	}
	return rc;
}
