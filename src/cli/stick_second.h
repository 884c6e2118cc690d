/* hsmvault stick copy / compare / sync: a second copy of a vault (a stick
 * with its own LUKS2 header and passphrase, or a folder), compared with
 * the first by the manifest chain and kept in step. cmd_stick.c parses
 * the options and calls these. */
#ifndef HV_CLI_STICK_SECOND_H
#define HV_CLI_STICK_SECOND_H

#include "stick/stick.h"
#include "util/err.h"

struct stick_second_args {
	const char *a, *b;        /* FROM and TO, or A and B                    */
	int pass_fd;              /* --passphrase-fd: FROM's / A's (-1: ask)    */
	int second_pass_fd;       /* --second-passphrase-fd: TO's / B's; -1: the
				   * next line of --passphrase-fd, or ask       */
	int new_pass_fd;          /* --new-passphrase-fd: the copy's new one    */
	int json;
};

/* copy FROM TO: TO is prepared with po (stick prepare's checks and
 * confirmation for a non-empty target), or is an empty folder. */
int stick_second_copy(const struct stick_second_args *a, const stick_prepare_opts *po,
		      hv_err *err);
/* compare A B: HV_OK when the same, HV_EMISMATCH otherwise (each case said). */
int stick_second_compare(const struct stick_second_args *a, hv_err *err);
/* sync FROM TO: HV_ESAFETY on divergence or when FROM is behind. */
int stick_second_sync(const struct stick_second_args *a, hv_err *err);

#endif
