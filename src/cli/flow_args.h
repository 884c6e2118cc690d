/* The options every flow command shares, parsed in one place so that
 * they mean the same everywhere:
 *
 *   --vault V            folder, image file or device (stick)
 *   --passphrase-fd N    the stick's LUKS passphrase from fd N
 *   --secrets-fd N       batch mode: secrets as "NAME VALUE" lines (flows/secrets.h)
 *   --reveal-fd N        batch mode: where n-of-m parts are written for holders
 *   --batch              never ask at the terminal (implied by --secrets-fd)
 *   --wipe CARD          this card (serial or id) may be initialized although
 *                        it holds keys or another set's DKEK; repeatable
 *   --reader R           work only on the card in reader R
 *   --trust-dir DIR      also trust the root CV certificates (*.cvc) in DIR
 *                        for the cards' device chains; repeatable
 *   --json               one JSON document on stdout instead of progress lines
 *   --help
 *
 * A command adds its own options through `own` (as vault_args.h). */
#ifndef HV_CLI_FLOW_ARGS_H
#define HV_CLI_FLOW_ARGS_H

#include <getopt.h>

#include "crypto/devaut.h"
#include "flows/flow.h"
#include "util/err.h"
#include "vfs/vfs.h"

/* getopt_long vals of the shared options; a command's own options use
 * values below 0x100 (letters) or from FLOW_OPT_OWN upward. */
enum {
	FLOW_OPT_VAULT = 0x100, FLOW_OPT_PASSPHRASE_FD, FLOW_OPT_SECRETS_FD,
	FLOW_OPT_REVEAL_FD, FLOW_OPT_BATCH, FLOW_OPT_WIPE, FLOW_OPT_READER,
	FLOW_OPT_JSON, FLOW_OPT_HELP, FLOW_OPT_TRUST_DIR, FLOW_OPT_OWN = 0x200,
};

/* The shared entries, to be copied at the head of a command's table:
 * struct option opts[] = { FLOW_ARGS_OPTIONS, { "policy", 1, 0, 'p' }, { 0 } }; */
#define FLOW_ARGS_OPTIONS \
	{ "vault", required_argument, 0, FLOW_OPT_VAULT }, \
	{ "passphrase-fd", required_argument, 0, FLOW_OPT_PASSPHRASE_FD }, \
	{ "secrets-fd", required_argument, 0, FLOW_OPT_SECRETS_FD }, \
	{ "reveal-fd", required_argument, 0, FLOW_OPT_REVEAL_FD }, \
	{ "batch", no_argument, 0, FLOW_OPT_BATCH }, \
	{ "wipe", required_argument, 0, FLOW_OPT_WIPE }, \
	{ "reader", required_argument, 0, FLOW_OPT_READER }, \
	{ "json", no_argument, 0, FLOW_OPT_JSON }, \
	{ "trust-dir", required_argument, 0, FLOW_OPT_TRUST_DIR }, \
	{ "help", no_argument, 0, FLOW_OPT_HELP }

typedef struct flow_args {
	const char *vault;         /* NULL when not given */
	int passphrase_fd;         /* -1: terminal */
	int secrets_fd;            /* -1: terminal */
	int reveal_fd;             /* -1: none */
	int json;
	int help;
	const char *wipe[32];
	size_t n_wipe;
	const char *trust_dirs[16];
	size_t n_trust_dirs;
	devaut_anchors anchors;    /* default anchors + every --trust-dir */
	flow_ctx fc;               /* filled by flow_args_parse: secrets source,
				    * out (stdout, or NULL with --json), batch,
				    * confirmed = wipe, reader, anchors */
} flow_args;

typedef int (*flow_args_own_fn)(int opt, const char *arg, void *ctx, hv_err *err);

/* Parses argv (getopt_long with `opts`), calls `own` for other vals, and
 * sets up fa->fc (secrets from --secrets-fd or the terminal). need_vault:
 * --vault is required (unless --help). Operands are refused. */
int flow_args_parse(int argc, char **argv, const char *cmd, const struct option *opts,
		    flow_args_own_fn own, void *ctx, int need_vault, flow_args *fa,
		    hv_err *err);

/* Opens fa->vault (vault_open_existing, honouring --passphrase-fd). */
int flow_args_open_vault(const flow_args *fa, vfs **v, hv_err *err);

/* Loads the default trust anchors and those of every dir into *a (for
 * commands that take --trust-dir outside flow_args, e.g. card status).
 * HV_EUSAGE naming a bad dir or file. */
int flow_args_load_anchors(devaut_anchors *a, const char *const *dirs, size_t n,
			   hv_err *err);

/* Frees the trust anchors and the secrets source (after flow_secrets_check_unused on success,
 * whose failure it returns when rc was HV_OK). */
int flow_args_finish(flow_args *fa, int rc, hv_err *err);

/* With --json: writes {"ok":false,"error":{...}} for a failed command that
 * printed no document yet. */
void flow_args_json_error(const flow_args *fa, int rc, const hv_err *err);

#endif
