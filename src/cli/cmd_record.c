/* hsmvault record export: the public record for scheduled verifies. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/vault_args.h"
#include "flows/record.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hsmvault record export --vault FOLDER|IMAGE|DEVICE --out FILE\n"
		"                              [--passphrase-fd N] [--json]\n\n"
		"Writes the public record of the vault's current manifest version to FILE\n"
		"(0600, atomically): KCV, cards, every key's id, label, algorithm, public\n"
		"key and blob hash. It holds no secret. 'hsmvault verify --record FILE'\n"
		"then checks the cards without the stick or its passphrase.\n");
}

/* --out names a file to create or replace: said before the vault is
 * opened (a stick asks its passphrase), and in the operator's words rather
 * than as the temporary file's failure. */
static int check_out(const char *out, hv_err *err)
{
	struct stat st;
	if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
		return hv_fail(err, HV_EUSAGE, "--out %s is a folder: name the record file to write "
			       "in it, e.g. %s/record", out, out);
	const char *slash = strrchr(out, '/');
	if (!slash)
		return HV_OK;
	char dir[4096];
	if (snprintf(dir, sizeof(dir), "%.*s", slash == out ? 1 : (int)(slash - out), out) >=
	    (int)sizeof(dir))
		return hv_fail(err, HV_EUSAGE, "--out %s: the path is too long: name a shorter one",
			       out);
	if (stat(dir, &st) != 0)
		return hv_fail(err, HV_EUSAGE, "--out %s: the folder %s %s: create it or name "
			       "another", out, dir, errno == ENOENT ? "does not exist" : strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return hv_fail(err, HV_EUSAGE, "--out %s: %s is not a folder: name another path",
			       out, dir);
	return HV_OK;
}

static int own(int opt, const char *arg, void *ctx, hv_err *err)
{
	if (opt == 'o') {
		*(const char **)ctx = arg;
		return HV_OK;
	}
	return hv_fail(err, HV_EUSAGE, "unknown option: see 'hsmvault record export --help'");
}

int cmd_record(int argc, char **argv, hv_err *err)
{
	if (argc < 2 || strcmp(argv[1], "export") != 0) {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			usage(stdout);
			return HV_OK;
		}
		return hv_fail(err, HV_EUSAGE, "%s%s: the only subcommand is 'export' (hsmvault "
			       "record export --vault V --out FILE)", argc >= 2 ? "unknown subcommand " :
			       "missing subcommand", argc >= 2 ? argv[1] : "");
	}
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "passphrase-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	struct vault_args a;
	int rc = vault_args_parse(argc - 1, argv + 1, "record export", opts, own, &out, &a, err);
	if (rc != HV_OK)
		return rc;
	if (a.help) {
		usage(stdout);
		return HV_OK;
	}
	if (!out)
		return hv_fail(err, HV_EUSAGE, "where to? give --out FILE");
	if ((rc = check_out(out, err)) != HV_OK)
		return rc;
	vfs *v;
	if ((rc = vault_args_open(&a, &v, err)) != HV_OK)
		return rc;
	unsigned long version = 0;
	rc = record_export(v, out, &version, err);
	vfs_close(v);
	if (a.json) {
		json_out j;
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		json_str(&j, "record", out);
		json_int(&j, "version", (long long)version);
		vault_args_json_result(&j, rc, err);
		json_obj_end(&j);
		json_finish(&j);
	} else if (rc == HV_OK) {
		printf("wrote %s: the public record of manifest version %lu\n", out, version);
	}
	return rc;
}
