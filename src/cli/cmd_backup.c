/* hsmvault backup: every exportable key of the cards present into the
 * vault (flows/backup.h). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/flow_args.h"
#include "cli/vault_args.h"
#include "flows/backup.h"
#include "util/json.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hsmvault backup --vault FOLDER|IMAGE|DEVICE [--reader R]\n"
		"                       [--secrets-fd N | --batch] [--passphrase-fd N] [--json]\n\n"
		"Wraps every key of the cards present (or of the card in reader R) under\n"
		"the set's DKEK into sc-hsm-tool wrap files (key blob, PRKD, certificate)\n"
		"in keys/<KCV>/, and records id, label, algorithm, public key and hashes\n"
		"in a new manifest version. Keys already in the vault are not wrapped\n"
		"again; keys the card refuses to export are named and skipped. Needs the\n"
		"user PIN (batch: line 'pin PIN').\n");
}

int cmd_backup(int argc, char **argv, hv_err *err)
{
	static const struct option opts[] = { FLOW_ARGS_OPTIONS, { NULL, 0, NULL, 0 } };
	flow_args fa;
	int rc = flow_args_parse(argc, argv, "backup", opts, NULL, NULL, 1, &fa, err);
	if (rc == HV_OK && fa.help) {
		usage(stdout);
		return flow_args_finish(&fa, HV_OK, err);
	}
	vfs *v = NULL;
	backup_result res;
	memset(&res, 0, sizeof(res));
	if (rc == HV_OK)
		rc = flow_args_open_vault(&fa, &v, err);
	if (rc == HV_OK)
		rc = flow_backup(&fa.fc, v, &res, err);
	vfs_close(v);
	rc = flow_args_finish(&fa, rc, err);
	if (fa.json) {
		json_out j;
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		json_int(&j, "wrapped", (long long)res.wrapped);
		json_int(&j, "already", (long long)res.already);
		json_int(&j, "skipped", (long long)res.skipped);
		json_int(&j, "version", (long long)res.version);
		vault_args_json_result(&j, rc, err);
		json_obj_end(&j);
		json_finish(&j);
	}
	return rc;
}
