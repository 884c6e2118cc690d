#include "cli/flow_args.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/vault_args.h"
#include "stick/stick.h"
#include "util/json.h"
#include "vault/vault.h"

/* A descriptor number as the operator's script passes it: plain decimal,
 * and open now (a typo must not turn into a silent read of nothing). */
static int parse_fd(const char *opt, const char *arg, int *fd, hv_err *err)
{
	const char *p = arg;
	long v = 0;
	if (*p == '\0')
		return hv_fail(err, HV_EUSAGE, "%s takes a file descriptor number, got ''", opt);
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || v > INT_MAX / 10)
			return hv_fail(err, HV_EUSAGE,
				       "%s takes a file descriptor number, got '%s'", opt, arg);
		v = v * 10 + (*p - '0');
	}
	if (v > INT_MAX)
		return hv_fail(err, HV_EUSAGE, "%s takes a file descriptor number, got '%s'", opt,
			       arg);
	if (fcntl((int)v, F_GETFD) < 0)
		return hv_fail(err, HV_EUSAGE,
			       "%s %ld: file descriptor %ld is not open: redirect it, e.g. "
			       "%ld<file", opt, v, v, v);
	*fd = (int)v;
	return HV_OK;
}

/* The secrets source: --secrets-fd, or nothing to read at all with
 * --batch alone (every secret then fails as missing instead of prompting),
 * or the people at the terminal. */
static int open_secrets(flow_args *fa, hv_err *err)
{
	if (fa->secrets_fd >= 0)
		return flow_secrets_from_fd(fa->secrets_fd, fa->reveal_fd, &fa->fc.secrets, err);
	if (fa->fc.batch) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return hv_fail(err, HV_EIO, "opening /dev/null: %s", strerror(errno));
		int rc = flow_secrets_from_fd(fd, fa->reveal_fd, &fa->fc.secrets, err);
		close(fd);
		return rc;
	}
	return flow_secrets_terminal(&fa->fc.secrets, err);
}

static int check_distinct_fds(const flow_args *fa, hv_err *err)
{
	const struct { const char *name; int fd; } f[] = {
		{ "--passphrase-fd", fa->passphrase_fd },
		{ "--secrets-fd", fa->secrets_fd },
		{ "--reveal-fd", fa->reveal_fd },
	};
	for (size_t i = 0; i < 3; i++)
		for (size_t k = i + 1; k < 3; k++)
			if (f[i].fd >= 0 && f[i].fd == f[k].fd)
				return hv_fail(err, HV_EUSAGE,
					       "%s and %s both name descriptor %d: give each "
					       "its own", f[i].name, f[k].name, f[i].fd);
	return HV_OK;
}

int flow_args_parse(int argc, char **argv, const char *cmd, const struct option *opts,
		    flow_args_own_fn own, void *ctx, int need_vault, flow_args *fa,
		    hv_err *err)
{
	memset(fa, 0, sizeof(*fa));
	fa->passphrase_fd = fa->secrets_fd = fa->reveal_fd = -1;
	optind = 1;
	opterr = 0;
	int o, rc;
	/* ':' first: a missing value comes back as ':', told apart from an
	 * unknown option */
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (o) {
		case FLOW_OPT_VAULT: fa->vault = optarg; break;
		case FLOW_OPT_PASSPHRASE_FD:
			if ((rc = parse_fd("--passphrase-fd", optarg, &fa->passphrase_fd, err)))
				return rc;
			break;
		case FLOW_OPT_SECRETS_FD:
			if ((rc = parse_fd("--secrets-fd", optarg, &fa->secrets_fd, err)))
				return rc;
			break;
		case FLOW_OPT_REVEAL_FD:
			if ((rc = parse_fd("--reveal-fd", optarg, &fa->reveal_fd, err)))
				return rc;
			break;
		case FLOW_OPT_BATCH: fa->fc.batch = 1; break;
		case FLOW_OPT_WIPE:
			if (fa->n_wipe == sizeof(fa->wipe) / sizeof(fa->wipe[0]))
				return hv_fail(err, HV_EUSAGE, "too many --wipe options (at most %zu)",
					       sizeof(fa->wipe) / sizeof(fa->wipe[0]));
			if (*optarg == '\0')
				return hv_fail(err, HV_EUSAGE, "--wipe needs a card serial or id");
			fa->wipe[fa->n_wipe++] = optarg;
			break;
		case FLOW_OPT_READER:
			if (*optarg == '\0')
				return hv_fail(err, HV_EUSAGE, "--reader needs a reader name "
					       "(see 'hsmvault card status')");
			fa->fc.reader = optarg;
			break;
		case FLOW_OPT_JSON: fa->json = 1; break;
		case FLOW_OPT_TRUST_DIR:
			if (fa->n_trust_dirs == sizeof(fa->trust_dirs) / sizeof(fa->trust_dirs[0]))
				return hv_fail(err, HV_EUSAGE, "too many --trust-dir options (at most %zu)",
					       sizeof(fa->trust_dirs) / sizeof(fa->trust_dirs[0]));
			if (*optarg == '\0')
				return hv_fail(err, HV_EUSAGE, "--trust-dir needs a folder of root "
					       "certificates (*.cvc)");
			fa->trust_dirs[fa->n_trust_dirs++] = optarg;
			break;
		case FLOW_OPT_HELP: fa->help = 1; return HV_OK;
		case ':':
			return hv_fail(err, HV_EUSAGE, "%s needs a value: see 'hsmvault %s --help'",
				       argv[optind - 1], cmd);
		default:
			/* '?' = unknown option or missing argument. */
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
	if (need_vault && !fa->vault)
		return hv_fail(err, HV_EUSAGE, "which vault? give --vault FOLDER|IMAGE|DEVICE");
	if ((rc = check_distinct_fds(fa, err)) != HV_OK)
		return rc;
	if (fa->secrets_fd >= 0)
		fa->fc.batch = 1;
	if (fa->reveal_fd >= 0 && !fa->fc.batch)
		return hv_fail(err, HV_EUSAGE, "--reveal-fd is for batch mode: give --secrets-fd "
			       "too (at the terminal each holder is shown their part)");
	if (fa->passphrase_fd >= 0)
		stick_set_passphrase_fd(fa->passphrase_fd);
	fa->fc.out = fa->json ? NULL : stdout;
	fa->fc.confirmed = fa->wipe;
	fa->fc.n_confirmed = fa->n_wipe;
	if ((rc = flow_args_load_anchors(&fa->anchors, fa->trust_dirs, fa->n_trust_dirs,
					 err)) != HV_OK)
		return rc;
	fa->fc.anchors = &fa->anchors;
	return open_secrets(fa, err);
}

int flow_args_open_vault(const flow_args *fa, vfs **v, hv_err *err)
{
	if (!fa->vault)
		return hv_fail(err, HV_EUSAGE, "which vault? give --vault FOLDER|IMAGE|DEVICE");
	if (fa->passphrase_fd >= 0)
		stick_set_passphrase_fd(fa->passphrase_fd);
	return vault_open_existing(fa->vault, v, err);
}

int flow_args_load_anchors(devaut_anchors *a, const char *const *dirs, size_t n,
			   hv_err *err)
{
	devaut_anchors_init(a);
	int rc = devaut_anchors_add_default(a, err);
	for (size_t i = 0; rc == HV_OK && i < n; i++)
		rc = devaut_anchors_add_dir(a, dirs[i], 0, err);
	if (rc != HV_OK) {
		devaut_anchors_free(a);
		if (err && rc != HV_ENOMEM)
			err->code = rc = HV_EUSAGE;  /* what the operator named */
	}
	return rc;
}

int flow_args_finish(flow_args *fa, int rc, hv_err *err)
{
	devaut_anchors_free(&fa->anchors);
	fa->fc.anchors = NULL;
	if (fa->fc.secrets) {
		if (rc == HV_OK)
			rc = flow_secrets_check_unused(fa->fc.secrets, err);
		flow_secrets_free(fa->fc.secrets);
		fa->fc.secrets = NULL;
	}
	return rc;
}

void flow_args_json_error(const flow_args *fa, int rc, const hv_err *err)
{
	if (!fa->json)
		return;
	json_out j;
	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	vault_args_json_result(&j, rc, err);
	json_obj_end(&j);
	json_finish(&j);
}
