#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "policy/policy.h"
#include "util/hex.h"
#include "util/json.h"

static int policy_check(const char *path, int as_json, hv_err *err)
{
	policy p;
	int rc = policy_load(path, &p, err);
	if (rc != HV_OK)
		return rc;
	if (!as_json)
		return policy_describe(&p, stdout) == 0 ? HV_OK
			: hv_fail(err, HV_EIO, "cannot write to standard output");

	char sha[65];
	hex_encode(p.sha256, sizeof(p.sha256), sha, 0);
	json_out j;
	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_str(&j, "file", path);
	json_str(&j, "name", p.name);
	json_str(&j, "sha256", sha);
	json_int(&j, "cards", p.card_count);
	json_arr_begin(&j, "shares");
	for (size_t i = 0; i < p.n_shares; i++) {
		const policy_share *s = &p.shares[i];
		json_obj_begin(&j, NULL);
		json_int(&j, "index", (long long)i + 1);
		json_str(&j, "file", s->file);
		json_str(&j, "scheme", s->threshold ? "n-of-m" : "password");
		json_int(&j, "threshold", s->threshold ? s->threshold : 1);
		json_arr_begin(&j, "holders");
		for (size_t h = 0; h < s->n_holders; h++)
			json_str(&j, NULL, s->holders[h]);
		json_arr_end(&j);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_int(&j, "retry_counter", p.retry_counter);
	json_str(&j, "so_pin", p.so_pin == SO_PIN_VAULT ? "vault" : "holders");
	json_int(&j, "max_age_days", p.max_age_days);
	json_obj_end(&j);
	json_finish(&j);
	return HV_OK;
}

int cmd_policy(int argc, char **argv, hv_err *err)
{
	static const char help[] =
		"usage: hsmvault policy check FILE [--json]\n"
		"Parses a policy strictly and describes it; errors name FILE:LINE:COLUMN.\n";
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(help, stdout);
		return HV_OK;
	}
	if (argc < 2 || strcmp(argv[1], "check") != 0)
		return hv_fail(err, HV_EUSAGE, "expected 'policy check FILE [--json]'");
	const char *file = NULL;
	int as_json = 0;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(help, stdout);
			return HV_OK;
		} else if (!strcmp(argv[i], "--json"))
			as_json = 1;
		else if (argv[i][0] == '-')
			return hv_fail(err, HV_EUSAGE, "unknown option %s: see 'hsmvault policy --help'",
				       argv[i]);
		else if (file)
			return hv_fail(err, HV_EUSAGE, "one policy file at a time, got %s and %s",
				       file, argv[i]);
		else
			file = argv[i];
	}
	if (!file)
		return hv_fail(err, HV_EUSAGE, "name the policy file: hsmvault policy check FILE");
	return policy_check(file, as_json, err);
}
