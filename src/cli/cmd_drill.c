/* hsmvault drill: the whole cycle on an image-file stick and simulated
 * cards (flows/drill.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "flows/drill.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hsmvault drill [--workdir DIR] [--keep] [--policy FILE] [--sim PATH]\n"
		"                      [--profile FAMILY] [--insecure-fast-kdf-for-tests]\n\n"
		"Rehearses the whole life of a card set with no hardware: prepares an\n"
		"image-file stick (LUKS2 + ext4 vault), starts a private pcscd with two\n"
		"virtual readers and simulated cards (hsmvault-sim), enrolls the set,\n"
		"generates keys, backs them up, verifies, replaces the cards by blank\n"
		"ones, restores, deep-verifies and reopens the stick, printing each step\n"
		"and a table of times and card commands. Needs root (a private mount\n"
		"namespace keeps the machine's own pcscd out of it). Secrets are random\n"
		"and live only in memory. The work folder (default a new one under /tmp)\n"
		"is removed at the end unless --keep or a failure.\n\n"
		"The simulated cards chain to the simulator's own test root, which the\n"
		"drill trusts for its run only (written to the work folder by\n"
		"hsmvault-sim --print-root); no installation trusts it.\n\n"
		"  --profile FAMILY  the simulated cards' family: smartcard-hsm (default),\n"
		"                    nitrokey-hsm2, pico-hsm, or mixed (a pico-hsm and a\n"
		"                    SmartCard-HSM under one DKEK). With a pico-hsm the\n"
		"                    drill's policy accepts cards that cannot prove they\n"
		"                    are genuine (cards.unattested: accept).\n");
}

int cmd_drill(int argc, char **argv, hv_err *err)
{
	enum { OPT_FAST = 0x100, OPT_PROFILE };
	static const struct option opts[] = {
		{ "workdir", required_argument, NULL, 'w' },
		{ "keep", no_argument, NULL, 'k' },
		{ "policy", required_argument, NULL, 'p' },
		{ "sim", required_argument, NULL, 's' },
		{ "insecure-fast-kdf-for-tests", no_argument, NULL, OPT_FAST },
		{ "profile", required_argument, NULL, OPT_PROFILE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	drill_opts o;
	memset(&o, 0, sizeof(o));
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'w': o.workdir = optarg; break;
		case 'k': o.keep = 1; break;
		case 'p': o.policy_path = optarg; break;
		case 's': o.sim_path = optarg; break;
		case OPT_FAST: o.fast_kdf = 1; break;
		case OPT_PROFILE: o.profile = optarg; break;
		case 'h': usage(stdout); return HV_OK;
		default:
			return hv_fail(err, HV_EUSAGE, "unknown or incomplete option %s: see 'hsmvault "
				       "drill --help'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return hv_fail(err, HV_EUSAGE, "unexpected argument %s: see 'hsmvault drill --help'",
			       argv[optind]);
	return flow_drill(&o, err);
}
