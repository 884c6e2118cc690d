/* hsmvault drill: the whole cycle with no hardware. Prepares an image-file
 * stick, starts a private pcscd with vpcd readers and one hsmvault-sim per
 * card, enrolls the set, generates keys, backs up, verifies, wipes the
 * cards, restores, deep-verifies, printing each step. */
#ifndef HV_FLOWS_DRILL_H
#define HV_FLOWS_DRILL_H

#include "util/err.h"

typedef struct drill_opts {
	const char *workdir;      /* NULL: a new folder under /tmp, removed at
				   * the end unless keep */
	const char *policy_path;  /* NULL: the built-in classic policy */
	const char *sim_path;     /* NULL: hsmvault-sim next to this program */
	/* The simulated cards' family: "smartcard-hsm" (NULL), "nitrokey-hsm2",
	 * "pico-hsm", or "mixed" (a pico-hsm and a SmartCard-HSM under one
	 * DKEK). With a pico-hsm the built-in policy accepts cards that cannot
	 * prove they are genuine (cards.unattested: accept). */
	const char *profile;
	int keep;                 /* keep the work folder */
	int fast_kdf;             /* cheaper LUKS PBKDF (argon2id minimum) */
} drill_opts;

int flow_drill(const drill_opts *o, hv_err *err);

#endif
