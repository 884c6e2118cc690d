/* hsmvault log: the vault's history, oldest first: every manifest version
 * (the content changed) and every verification (journal entries, and in a
 * format-1 vault the versions that recorded one), interleaved by time.
 * Both hash chains are checked as they are read; a break is printed
 * after what came before it and ends the command with HV_EINTEGRITY. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/vault_args.h"
#include "util/json.h"
#include "vault/history.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: hsmvault log --vault FOLDER|IMAGE|DEVICE [--full] [--json]\n"
		   "                    [--passphrase-fd N]\n\n"
		   "Lists the vault's history, oldest first: every manifest version (number,\n"
		   "time, sha256 of the version file, the change it recorded) and every\n"
		   "verification run (J1, J2, ...: the journal's entries, with the manifest\n"
		   "version each one checked). Versions a vault of format 1 wrote for a\n"
		   "verification are marked as such. The hash chains and the files the\n"
		   "current version names are checked; older versions by their sha256 and\n"
		   "their link, or (--full) parsed in full. A break is named and the exit\n"
		   "status is 5.\n");
}

static int log_option(int opt, const char *arg, void *ctx, hv_err *err)
{
	(void)opt; /* --full is log's only option of its own */
	(void)arg;
	(void)err;
	*(int *)ctx = 1;
	return HV_OK;
}

static void print_human(const vault_history *h)
{
	printf("%6s  %-20s  %-64s  %s\n", "vers.", "time (UTC)", "sha256", "change");
	for (size_t i = 0; i < h->n_events; i++) {
		const vault_event *e = &h->events[i];
		char num[24];
		if (e->kind == VAULT_EV_JOURNAL)
			snprintf(num, sizeof(num), "J%lu", e->number);
		else
			snprintf(num, sizeof(num), "%lu", e->number);
		printf("%6s  %s  %s  %s%s\n", num, e->time, e->sha256, e->text,
		       e->kind == VAULT_EV_OLD_VERIFY ? " (verification, format 1)" : "");
	}
}

static void print_json(json_out *j, const vault_history *h)
{
	json_arr_begin(j, "versions");
	for (size_t i = 0; i < h->n_events; i++) {
		const vault_event *e = &h->events[i];
		if (e->kind == VAULT_EV_JOURNAL)
			continue;
		json_obj_begin(j, NULL);
		json_int(j, "version", (long long)e->number);
		json_str(j, "time", e->time);
		json_str(j, "sha256", e->sha256);
		json_str(j, "change", e->text);
		json_bool(j, "verification", e->kind == VAULT_EV_OLD_VERIFY);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_arr_begin(j, "journal");
	for (size_t i = 0; i < h->n_events; i++) {
		const vault_event *e = &h->events[i];
		if (e->kind != VAULT_EV_JOURNAL)
			continue;
		json_obj_begin(j, NULL);
		json_int(j, "entry", (long long)e->number);
		json_str(j, "time", e->time);
		json_str(j, "sha256", e->sha256);
		json_str(j, "kind", e->check_kind);
		json_str(j, "result", e->result);
		json_int(j, "cards", (long long)e->cards);
		json_int(j, "differences", (long long)e->differences);
		json_int(j, "manifest_version", (long long)e->manifest_version);
		json_obj_end(j);
	}
	json_arr_end(j);
}

int cmd_log(int argc, char **argv, hv_err *err)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "full", no_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'j' },
		{ "passphrase-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int full = 0;
	struct vault_args a;
	int rc = vault_args_parse(argc, argv, "log", opts, log_option, &full, &a, err);
	if (rc != HV_OK)
		return rc;
	if (a.help) {
		usage(stdout);
		return HV_OK;
	}
	vfs *v;
	if ((rc = vault_args_open(&a, &v, err)) != HV_OK)
		return rc;
	vault_history h;
	rc = vault_history_load(v, full, 1, &h, err);
	if (a.json) {
		json_out j;
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		json_str(&j, "vault", v->where);
		print_json(&j, &h);
		vault_args_json_result(&j, rc, err);
		json_obj_end(&j);
		json_finish(&j);
	} else {
		print_human(&h);
		fflush(stdout);
	}
	vault_history_free(&h);
	vfs_close(v);
	return rc;
}
