/* What the commands that read one vault (log, show) share: parsing
 * --vault/--json/--help, opening the vault, and the "ok"/"error" part of
 * their --json answer, which is always a whole document. */
#ifndef HV_CLI_VAULT_ARGS_H
#define HV_CLI_VAULT_ARGS_H

#include <getopt.h>

#include "util/err.h"
#include "util/json.h"
#include "vfs/vfs.h"

struct vault_args {
	const char *spec;  /* --vault FOLDER|IMAGE|DEVICE */
	int json;          /* --json */
	int passphrase_fd; /* --passphrase-fd N for a stick; -1 = terminal */
	int help;          /* --help: the caller prints its usage and stops */
};

/* A command's own option: `opt` is its getopt_long val, `arg` its optarg. */
typedef int (*vault_args_own_fn)(int opt, const char *arg, void *ctx, hv_err *err);

/* Parses argv. `opts` is the command's whole getopt_long table and must
 * give --vault, --json and --help the vals 'v', 'j' and 'h'; any other val
 * goes to `own` (with `ctx`). `cmd` names the command in error messages.
 * Without --help, --vault is required and no operands are allowed. */
int vault_args_parse(int argc, char **argv, const char *cmd, const struct option *opts,
		     vault_args_own_fn own, void *ctx, struct vault_args *a, hv_err *err);

/* vault_open_existing, a stick opened read-only (these commands only
 * read: a write-protected stick or a read-only image works); with --json a failure is also written to stdout as
 * a document of its own. */
int vault_args_open(const struct vault_args *a, vfs **v, hv_err *err);

/* Writes "ok" and, when rc is not HV_OK, the "error" object (code name
 * and message) into the open document j. */
void vault_args_json_result(json_out *j, int rc, const hv_err *err);

#endif
