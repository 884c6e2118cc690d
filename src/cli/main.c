#include <stdio.h>
#include <string.h>

#include "cli/build_commit.h"
#include "cli/cli.h"
#include "util/harden.h"

struct command {
	const char *name;
	cli_run_fn run;
	const char *summary;
};

static const struct command commands[] = {
	{ "log", cmd_log, "list the manifest versions of a vault, oldest first" },
	{ "show", cmd_show, "show one manifest version (the current one by default)" },
	{ "card", cmd_card, "card status: readers, cards, PIN tries, DKEK, keys" },
	{ "stick", cmd_stick, "list, prepare, open, close and inspect vault sticks" },
	{ "policy", cmd_policy, "check a policy file and describe it" },
	/* part:enroll */
	{ "enroll", cmd_enroll, "create a card set under a policy: shares, cards, manifest" },
	/* part:reshare */
	{ "reshare", cmd_reshare, "hand one DKEK share to a new holder (KCV unchanged)" },
	/* part:backup */
	{ "backup", cmd_backup, "wrap every key of the cards present into the vault" },
	/* part:verify */
	{ "verify", cmd_verify, "check the cards present against the vault or a record" },
	{ "record", cmd_record, "export the public record for scheduled verifies" },
	/* part:restore */
	{ "restore", cmd_restore, "rebuild the card set from the vault (resumable)" },
	/* part:adopt */
	{ "adopt", cmd_adopt, "turn a classic sc-hsm-tool backup stick into a vault" },
	/* part:drill */
	{ "drill", cmd_drill, "rehearse the whole cycle on a stick image and simulated cards" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: hsmvault COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'hsmvault COMMAND --help' describes a command. "
		   "Exit codes: see hsmvault(1).\n");
}

int main(int argc, char **argv)
{
	/* Before anything can hold a secret: no core dumps, no ptrace by peers. */
	if (harden_process() != 0)
		fprintf(stderr, "hsmvault: warning: could not disable core dumps\n");

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		/* without a command: the list, and one line on stderr saying why
		 * the exit status is 2 (scripts read stderr's first line) */
		usage(stdout);
		if (argc < 2)
			fprintf(stderr, "hsmvault: no command given: choose one of the list above "
				"('hsmvault COMMAND --help' describes it)\n");
		return argc < 2 ? HV_EUSAGE : HV_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("hsmvault %s (commit %s)\n", HSMVAULT_VERSION, HSMVAULT_COMMIT);
		return HV_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		hv_err err;
		hv_err_clear(&err);
		int rc = commands[i].run(argc - 1, argv + 1, &err);
		if (rc != HV_OK && err.msg[0])
			fprintf(stderr, "hsmvault %s: %s\n", argv[1], err.msg);
		return rc;
	}
	fprintf(stderr, "hsmvault: unknown command '%s': run 'hsmvault --help' for the list\n",
		argv[1]);
	return HV_EUSAGE;
}
