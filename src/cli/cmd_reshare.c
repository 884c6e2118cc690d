/* hsmvault reshare: custodian turnover for one DKEK share
 * (flows/reshare.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/flow_args.h"
#include "cli/vault_args.h"
#include "flows/reshare.h"
#include "util/json.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hsmvault reshare --vault FOLDER|IMAGE|DEVICE --share N --holder NAME\n"
		"                        [--holder NAME... --threshold K]\n"
		"                        [--secrets-fd N [--reveal-fd N]] [--passphrase-fd N] [--json]\n\n"
		"Hands DKEK share N to a new holder: the current holder(s) unlock it, the\n"
		"new holder chooses a password (asked twice), or with several --holder and\n"
		"--threshold K a random password is split K-of-n and each new holder is\n"
		"shown their part alone. The share itself does not change: its check value\n"
		"and the DKEK's KCV stay the same (checked), so the cards need nothing.\n"
		"The new file and holders are recorded in a new manifest version (the\n"
		"manifest, not policy.yaml, names a share's current holders); the old\n"
		"file stays, as older versions name it.\n\n"
		"Batch mode: 'share-N OLD-PASSWORD' (or the old parts), 'new-share-N\n"
		"NEW-PASSWORD'; parts of a new split go to --reveal-fd.\n");
}

enum { OPT_SHARE = FLOW_OPT_OWN, OPT_HOLDER, OPT_THRESHOLD };

struct reshare_cli {
	reshare_opts o;
	const char *holders[16];
};

static int number(const char *arg, const char *what, unsigned max, unsigned *out, hv_err *err)
{
	char *end;
	unsigned long n = strtoul(arg, &end, 10);
	if (!*arg || *end || n == 0 || n > max)
		return hv_fail(err, HV_EUSAGE, "%s takes a number from 1 to %u, got '%s'", what,
			       max, arg);
	*out = (unsigned)n;
	return HV_OK;
}

static int own(int opt, const char *arg, void *ctx, hv_err *err)
{
	struct reshare_cli *c = ctx;
	switch (opt) {
	case OPT_SHARE: return number(arg, "--share", 255, &c->o.index, err);
	case OPT_THRESHOLD: return number(arg, "--threshold", 16, &c->o.threshold, err);
	case OPT_HOLDER:
		if (c->o.n_holders == 16)
			return hv_fail(err, HV_EUSAGE, "at most 16 --holder");
		c->holders[c->o.n_holders++] = arg;
		return HV_OK;
	}
	return hv_fail(err, HV_EUSAGE, "unknown option: see 'hsmvault reshare --help'");
}

int cmd_reshare(int argc, char **argv, hv_err *err)
{
	static const struct option opts[] = {
		FLOW_ARGS_OPTIONS,
		{ "share", required_argument, NULL, OPT_SHARE },
		{ "holder", required_argument, NULL, OPT_HOLDER },
		{ "threshold", required_argument, NULL, OPT_THRESHOLD },
		{ NULL, 0, NULL, 0 },
	};
	struct reshare_cli c;
	memset(&c, 0, sizeof(c));
	c.o.holders = c.holders;
	flow_args fa;
	int rc = flow_args_parse(argc, argv, "reshare", opts, own, &c, 1, &fa, err);
	if (rc == HV_OK && fa.help) {
		usage(stdout);
		return flow_args_finish(&fa, HV_OK, err);
	}
	if (rc == HV_OK && !c.o.index)
		rc = hv_fail(err, HV_EUSAGE, "which share? give --share N");
	vfs *v = NULL;
	unsigned long version = 0;
	if (rc == HV_OK)
		rc = flow_args_open_vault(&fa, &v, err);
	if (rc == HV_OK)
		rc = flow_reshare(&fa.fc, v, &c.o, &version, err);
	vfs_close(v);
	rc = flow_args_finish(&fa, rc, err);
	if (fa.json) {
		json_out j;
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		json_int(&j, "share", c.o.index);
		json_int(&j, "version", (long long)version);
		vault_args_json_result(&j, rc, err);
		json_obj_end(&j);
		json_finish(&j);
	}
	return rc;
}
