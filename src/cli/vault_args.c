#include "cli/vault_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stick/stick.h"
#include "vault/vault.h"

int vault_args_parse(int argc, char **argv, const char *cmd, const struct option *opts,
		     vault_args_own_fn own, void *ctx, struct vault_args *a, hv_err *err)
{
	memset(a, 0, sizeof(*a));
	a->passphrase_fd = -1;
	optind = 1;
	opterr = 0;
	int o, rc;
	/* ':' first: a missing value comes back as ':', told apart from an
	 * unknown option */
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (o) {
		case 'v': a->spec = optarg; break;
		case 'j': a->json = 1; break;
		case 'p': {
			char *end;
			long fd = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || fd < 0 || fd > 1000000)
				return hv_fail(err, HV_EUSAGE, "--passphrase-fd takes a file "
					       "descriptor number, got '%s'", optarg);
			a->passphrase_fd = (int)fd;
			break;
		}
		case 'h': a->help = 1; return HV_OK;
		case ':':
			return hv_fail(err, HV_EUSAGE, "%s needs a value: see 'hsmvault %s --help'",
				       argv[optind - 1], cmd);
		default:
			/* getopt_long gives '?' for an unknown option or a missing argument. */
			if (o == '?' || !own)
				return hv_fail(err, HV_EUSAGE, "unknown or incomplete option %s: see "
					       "'hsmvault %s --help'", argv[optind - 1], cmd);
			if ((rc = own(o, optarg, ctx, err)) != HV_OK)
				return rc;
		}
	}
	if (optind < argc)
		return hv_fail(err, HV_EUSAGE, "unexpected argument %s: see 'hsmvault %s --help'",
			       argv[optind], cmd);
	if (!a->spec)
		return hv_fail(err, HV_EUSAGE, "which vault? give --vault FOLDER|IMAGE|DEVICE");
	return HV_OK;
}

int vault_args_open(const struct vault_args *a, vfs **v, hv_err *err)
{
	if (a->passphrase_fd >= 0)
		stick_set_passphrase_fd(a->passphrase_fd);
	/* log, show and record export only read: a stick is opened read-only */
	stick_set_read_only(1);
	int rc = vault_open_existing(a->spec, v, err);
	if (rc != HV_OK && a->json) {
		json_out j;
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		json_str(&j, "vault", a->spec);
		vault_args_json_result(&j, rc, err);
		json_obj_end(&j);
		json_finish(&j);
	}
	return rc;
}

void vault_args_json_result(json_out *j, int rc, const hv_err *err)
{
	json_bool(j, "ok", rc == HV_OK);
	if (rc == HV_OK)
		return;
	json_obj_begin(j, "error");
	json_str(j, "code", hv_code_name(rc));
	json_str(j, "message", err ? err->msg : "");
	json_obj_end(j);
}
