/* hsmvault verify: the cards present against the vault or a public record
 * (flows/verify.h). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/flow_args.h"
#include "cli/vault_args.h"
#include "flows/verify.h"
#include "util/json.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hsmvault verify (--vault FOLDER|IMAGE|DEVICE [--record FILE] | --record FILE)\n"
		"                       [--deep] [--check-kcv] [--with-shares] [--no-record]\n"
		"                       [--reader R] [--trust-dir DIR]...\n"
		"                       [--secrets-fd N | --batch] [--passphrase-fd N] [--json]\n\n"
		"Checks every card present: it belongs to the set, its DKEK KCV matches,\n"
		"every key on it has a blob in the vault with the same public key, and\n"
		"no recorded key is missing. With --vault every blob and share file is\n"
		"hashed (--with-shares: the shares are unlocked and every blob's MAC is\n"
		"checked under the DKEK), and the result is recorded in a new manifest\n"
		"version (--no-record: not). --deep verifies the user PIN and has each key\n"
		"sign a fresh challenge, checked against the recorded public key.\n"
		"--check-kcv asks only the user PIN, verifies it (never with the last try\n"
		"left) and reads each card's DKEK key check value after it, signing\n"
		"nothing: pico-hsm shows its KCV only after the user PIN, so a quick\n"
		"verify cannot check it there.\n"
		"--record FILE (from 'hsmvault record export') needs neither the stick nor\n"
		"its passphrase. With both --vault and --record, the vault's newest manifest\n"
		"version is compared with the record's (the hash chain cannot show an edit\n"
		"of the newest version; the record can): a vault behind, ahead of or\n"
		"different from the record is a difference. Warns when the last verification is older than the\n"
		"policy's max_age_days. Each card's device certificate must be the one\n"
		"recorded and its chain is checked again (trusted roots: CardContact's,\n"
		"the installed ones, every --trust-dir DIR): a changed certificate or a\n"
		"failed chain is a difference.\n\n"
		"Exit status: 0 everything matches; 1 differences, each listed; 11 no\n"
		"difference, but a check could not run without a secret (a card that\n"
		"shows its KCV only after the user PIN: rerun with --check-kcv); 2 bad\n"
		"usage; 3 wrong PIN or password; 4 card or reader error; 5 vault\n"
		"integrity; 7 refused for safety (the last PIN try).\n");
}

struct verify_cli {
	verify_opts o;
	int deep;
	int no_record;
};

enum { OPT_RECORD = FLOW_OPT_OWN, OPT_DEEP, OPT_WITH_SHARES, OPT_NO_RECORD, OPT_CHECK_KCV };

static int own(int opt, const char *arg, void *ctx, hv_err *err)
{
	struct verify_cli *c = ctx;
	switch (opt) {
	case OPT_RECORD: c->o.record_path = arg; return HV_OK;
	case OPT_DEEP: c->deep = 1; return HV_OK;
	case OPT_WITH_SHARES: c->o.with_shares = 1; return HV_OK;
	case OPT_NO_RECORD: c->no_record = 1; return HV_OK;
	case OPT_CHECK_KCV: c->o.check_kcv = 1; return HV_OK;
	}
	return hv_fail(err, HV_EUSAGE, "unknown option: see 'hsmvault verify --help'");
}

int cmd_verify(int argc, char **argv, hv_err *err)
{
	static const struct option opts[] = {
		FLOW_ARGS_OPTIONS,
		{ "record", required_argument, NULL, OPT_RECORD },
		{ "deep", no_argument, NULL, OPT_DEEP },
		{ "with-shares", no_argument, NULL, OPT_WITH_SHARES },
		{ "no-record", no_argument, NULL, OPT_NO_RECORD },
		{ "check-kcv", no_argument, NULL, OPT_CHECK_KCV },
		{ NULL, 0, NULL, 0 },
	};
	struct verify_cli c;
	memset(&c, 0, sizeof(c));
	flow_args fa;
	int rc = flow_args_parse(argc, argv, "verify", opts, own, &c, 0, &fa, err);
	if (rc == HV_OK && fa.help) {
		usage(stdout);
		return flow_args_finish(&fa, HV_OK, err);
	}
	if (rc == HV_OK && !fa.vault && !c.o.record_path)
		rc = hv_fail(err, HV_EUSAGE, "give --vault, --record, or both");
	if (rc == HV_OK && c.o.record_path && !fa.vault && c.o.with_shares)
		rc = hv_fail(err, HV_EUSAGE, "--with-shares needs the vault's share files: use "
			     "--vault instead of --record");
	fa.fc.deep = c.deep;
	c.o.record_result = fa.vault && !c.no_record;
	vfs *v = NULL;
	if (rc == HV_OK && fa.vault)
		rc = flow_args_open_vault(&fa, &v, err);
	verify_report rep;
	memset(&rep, 0, sizeof(rep));
	if (rc == HV_OK)
		rc = flow_verify(&fa.fc, v, &c.o, &rep, err);
	vfs_close(v);
	rc = flow_args_finish(&fa, rc, err);
	if (fa.json) {
		json_out j;
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		json_bool(&j, "deep", c.deep);
		json_bool(&j, "check_kcv", c.o.check_kcv || c.deep);
		verify_report_json(&rep, &j);
		vault_args_json_result(&j, rc, err);
		json_obj_end(&j);
		json_finish(&j);
	}
	verify_report_free(&rep);
	return rc;
}
