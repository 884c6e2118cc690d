/* hsmvault log: every manifest version of a vault, oldest first, with the
 * chain checked as it is read. A break is printed after the versions
 * before it and ends the command with HV_EINTEGRITY. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/vault_args.h"
#include "util/json.h"
#include "vault/manifest.h"

struct log_ctx {
	int json;
	json_out j;
	manifest *last;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: hsmvault log --vault FOLDER|IMAGE|DEVICE [--json] [--passphrase-fd N]\n\n"
		   "Lists every manifest version, oldest first: number, time, sha256 of the\n"
		   "version file, and the change it recorded. The hash chain and the files\n"
		   "the current version names are checked; a break is named and the exit\n"
		   "status is 5.\n");
}

static int visit(const manifest *m, const char *sha256, void *p)
{
	struct log_ctx *c = p;
	if (c->json) {
		json_obj_begin(&c->j, NULL);
		json_int(&c->j, "version", (long long)m->version);
		json_str(&c->j, "time", m->time);
		json_str(&c->j, "sha256", sha256);
		json_str(&c->j, "change", m->change);
		json_obj_end(&c->j);
	} else {
		printf("%6lu  %s  %s  %s\n", m->version, m->time, sha256, m->change);
	}
	manifest *copy;
	hv_err e;
	if (manifest_clone(m, &copy, &e) != HV_OK)
		return HV_ENOMEM;
	manifest_free(c->last);
	c->last = copy;
	return HV_OK;
}

int cmd_log(int argc, char **argv, hv_err *err)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "passphrase-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vault_args a;
	int rc = vault_args_parse(argc, argv, "log", opts, NULL, NULL, &a, err);
	if (rc != HV_OK)
		return rc;
	if (a.help) {
		usage(stdout);
		return HV_OK;
	}
	struct log_ctx c;
	memset(&c, 0, sizeof(c));
	c.json = a.json;
	vfs *v;
	if ((rc = vault_args_open(&a, &v, err)) != HV_OK)
		return rc;
	if (c.json) {
		json_init(&c.j, stdout);
		json_obj_begin(&c.j, NULL);
		json_str(&c.j, "vault", v->where);
		json_arr_begin(&c.j, "versions");
	} else {
		printf("%6s  %-20s  %-64s  %s\n", "vers.", "time (UTC)", "sha256", "change");
	}
	rc = manifest_walk(v, visit, &c, err);
	if (rc == HV_ENOMEM && err && !err->msg[0])
		hv_fail(err, HV_ENOMEM, "out of memory listing versions");
	if (rc == HV_OK)
		rc = manifest_check_files(v, c.last, err);
	if (c.json) {
		json_arr_end(&c.j);
		vault_args_json_result(&c.j, rc, err);
		json_obj_end(&c.j);
		json_finish(&c.j);
	} else {
		fflush(stdout);
	}
	manifest_free(c.last);
	vfs_close(v);
	return rc;
}
