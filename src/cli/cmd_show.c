/* hsmvault show: one manifest version in full (the current one unless
 * --version N). The chain up to the end is checked; on a break the last
 * verified version asked for is still printed, then the break is named
 * and the exit status is HV_EINTEGRITY. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/vault_args.h"
#include "util/json.h"
#include "vault/history.h"
#include "vault/manifest.h"

struct show_ctx {
	unsigned long want;      /* 0: the highest */
	int full;                /* --full: parse every version */
	manifest *m;
	char sha256[65];
	unsigned long seen;      /* versions verified */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: hsmvault show --vault FOLDER|IMAGE|DEVICE [--version N] [--full]\n"
		   "                     [--json] [--passphrase-fd N]\n\n"
		   "Shows one manifest version in full: the current one, or version N,\n"
		   "and the last verification (the journal's last entry). The hash chain\n"
		   "is checked from version 1 (older versions by their sha256 and link;\n"
		   "--full: every version parsed), the journal's chain, and for the\n"
		   "current version every file it names; a break is named and the exit\n"
		   "status is 5.\n");
}

/* The chain, the journal and the current version (vault/history.h); an
 * older version asked for is read on its own once its link checked. On a
 * break, the last version before it that was asked for is kept. */
static int load(vfs *v, struct show_ctx *c, vault_history *h, hv_err *err)
{
	int rc = vault_history_load(v, c->full, 0, h, err);
	c->seen = h->versions;
	unsigned long want = c->want ? c->want : c->seen;
	if (want && want <= c->seen && (rc == HV_OK || !c->want || want < c->seen)) {
		if (h->current && h->current->version == want) {
			c->m = h->current;
			h->current = NULL;
			memcpy(c->sha256, h->current_sha256, sizeof(c->sha256));
		} else {
			hv_err e2;
			hv_err_clear(&e2);
			int r2 = manifest_read_version(v, want, &c->m, c->sha256, &e2);
			if (rc == HV_OK && r2 != HV_OK) {
				*err = e2;
				rc = r2;
			}
		}
	}
	if (rc == HV_OK && c->m && c->m->version == c->seen)
		rc = manifest_check_files(v, c->m, err);
	return rc;
}

static void print_last_verification(const vault_history *h)
{
	const journal_entry *e = h->last_entry;
	if (!e) {
		printf("last verification %s\n", h->last_verified[0] ? h->last_verified
								 : "- (never)");
		return;
	}
	printf("last verification journal entry %lu, %s: %s, %s, %lu difference(s), of manifest "
	       "version %lu\n", e->entry, e->time, e->kind, e->result, e->differences,
	       e->manifest_version);
	for (size_t i = 0; i < e->card_n; i++)
		printf("  %s  %s%s%s\n", e->cards[i].id, e->cards[i].result,
		       e->cards[i].detail ? "  " : "", e->cards[i].detail ? e->cards[i].detail : "");
}

static void json_last_verification(json_out *j, const vault_history *h)
{
	const journal_entry *e = h->last_entry;
	if (!e) {
		json_null(j, "last_verification");
		return;
	}
	json_obj_begin(j, "last_verification");
	json_int(j, "entry", (long long)e->entry);
	json_str(j, "time", e->time);
	json_str(j, "kind", e->kind);
	json_str(j, "result", e->result);
	json_int(j, "differences", (long long)e->differences);
	json_int(j, "manifest_version", (long long)e->manifest_version);
	json_str(j, "manifest_sha256", e->manifest_sha256);
	json_arr_begin(j, "cards");
	for (size_t i = 0; i < e->card_n; i++) {
		json_obj_begin(j, NULL);
		json_str(j, "id", e->cards[i].id);
		json_str(j, "result", e->cards[i].result);
		json_str(j, "detail", e->cards[i].detail);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

static const char *or_none(const char *s)
{
	return s ? s : "-";
}

static void print_list(const manifest_strlist *l)
{
	if (l->count == 0)
		printf("-");
	for (size_t i = 0; i < l->count; i++)
		printf("%s%s", i ? ", " : "", l->items[i]);
}

static void print_human(const manifest *m, const char *sha256, const char *where, int current)
{
	char path[64];
	manifest_version_path(m->version, path, sizeof(path));
	printf("manifest version %lu of %s%s\n", m->version, where,
	       current ? " (current)" : "");
	printf("  file          %s\n", path);
	printf("  sha256        %s\n", sha256);
	printf("  previous      %s\n", m->previous ? m->previous : "- (first version)");
	printf("  time          %s\n", m->time);
	printf("  written by    hsmvault %s\n", m->tool_version);
	printf("  change        %s\n", m->change);
	printf("policy          %s", or_none(m->policy_name));
	if (m->policy_sha256)
		printf(" (policy.yaml sha256 %s)", m->policy_sha256);
	printf("\ndkek            %u share(s), KCV %s\n", m->share_count,
	       m->dkek_kcv ? m->dkek_kcv : "- (no card yet)");
	for (size_t i = 0; i < m->share_n; i++) {
		const manifest_share *s = &m->shares[i];
		printf("  share %-7u %s\n", s->index, s->file);
		printf("                scheme %s", s->scheme);
		if (!strcmp(s->scheme, "n-of-m"))
			printf(", any %u of: ", s->threshold);
		else
			printf(", holder: ");
		print_list(&s->holders);
		printf("\n                check %s, sha256 %s\n", or_none(s->check), s->sha256);
	}
	printf("cards           %zu\n", m->card_n);
	for (size_t i = 0; i < m->card_n; i++) {
		const manifest_card *c = &m->cards[i];
		printf("  %s\n", c->id);
		printf("                serial %s, role %s, firmware %s, KCV %s\n", c->serial,
		       c->role, or_none(c->firmware), or_none(c->kcv));
		printf("                keys: ");
		print_list(&c->keys);
		printf("\n                last verified %s\n", or_none(c->last_verified));
		if (c->attestation)
			printf("                device authentication: %s\n", c->attestation);
	}
	printf("keys            %zu\n", m->key_n);
	for (size_t i = 0; i < m->key_n; i++) {
		const manifest_key *k = &m->keys[i];
		printf("  %s\n", k->id);
		printf("                label %s, key reference %u, %s\n", or_none(k->label),
		       k->key_ref, k->algorithm);
		printf("                %s (KCV %s), sha256 %s\n", k->file, k->kcv, k->sha256);
		if (k->public_key)
			printf("                public key %s\n", k->public_key);
		if (k->public_key_sha256)
			printf("                public key sha256 %s\n", k->public_key_sha256);
		printf("                from card %s at %s\n", or_none(k->source_card), k->time);
	}
	printf("verifications   %zu\n", m->verification_n);
	for (size_t i = 0; i < m->verification_n; i++) {
		const manifest_verification *x = &m->verifications[i];
		printf("  %s  %s  %s  %s%s%s\n", x->time, x->card, x->kind, x->result,
		       x->detail ? "  " : "", x->detail ? x->detail : "");
	}
}

static void json_list(json_out *j, const char *key, const manifest_strlist *l)
{
	json_arr_begin(j, key);
	for (size_t i = 0; i < l->count; i++)
		json_str(j, NULL, l->items[i]);
	json_arr_end(j);
}

static void print_json(json_out *j, const manifest *m, const char *sha256)
{
	json_obj_begin(j, "manifest");
	json_str(j, "format", MANIFEST_FORMAT);
	json_int(j, "version", (long long)m->version);
	json_str(j, "sha256", sha256);
	json_str(j, "previous", m->previous);
	json_str(j, "time", m->time);
	json_str(j, "tool_version", m->tool_version);
	json_str(j, "change", m->change);
	json_obj_begin(j, "policy");
	json_str(j, "name", m->policy_name);
	json_str(j, "sha256", m->policy_sha256);
	json_obj_end(j);
	json_obj_begin(j, "dkek");
	json_int(j, "share_count", m->share_count);
	json_str(j, "kcv", m->dkek_kcv);
	json_arr_begin(j, "shares");
	for (size_t i = 0; i < m->share_n; i++) {
		const manifest_share *s = &m->shares[i];
		json_obj_begin(j, NULL);
		json_int(j, "index", s->index);
		json_str(j, "file", s->file);
		json_str(j, "sha256", s->sha256);
		json_str(j, "check", s->check);
		json_str(j, "scheme", s->scheme);
		json_list(j, "holders", &s->holders);
		json_int(j, "threshold", s->threshold);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
	json_arr_begin(j, "cards");
	for (size_t i = 0; i < m->card_n; i++) {
		const manifest_card *c = &m->cards[i];
		json_obj_begin(j, NULL);
		json_str(j, "id", c->id);
		json_str(j, "serial", c->serial);
		json_str(j, "role", c->role);
		json_str(j, "firmware", c->firmware);
		json_str(j, "kcv", c->kcv);
		json_list(j, "keys", &c->keys);
		json_str(j, "last_verified", c->last_verified);
		json_str(j, "attestation", c->attestation);
		json_str(j, "devcert", c->devcert);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_arr_begin(j, "keys");
	for (size_t i = 0; i < m->key_n; i++) {
		const manifest_key *k = &m->keys[i];
		json_obj_begin(j, NULL);
		json_str(j, "id", k->id);
		json_str(j, "label", k->label);
		json_int(j, "key_ref", k->key_ref);
		json_str(j, "algorithm", k->algorithm);
		json_str(j, "public_key", k->public_key);
		json_str(j, "public_key_sha256", k->public_key_sha256);
		json_str(j, "kcv", k->kcv);
		json_str(j, "file", k->file);
		json_str(j, "sha256", k->sha256);
		json_str(j, "source_card", k->source_card);
		json_str(j, "time", k->time);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_arr_begin(j, "verifications");
	for (size_t i = 0; i < m->verification_n; i++) {
		const manifest_verification *x = &m->verifications[i];
		json_obj_begin(j, NULL);
		json_str(j, "time", x->time);
		json_str(j, "card", x->card);
		json_str(j, "kind", x->kind);
		json_str(j, "result", x->result);
		json_str(j, "detail", x->detail);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

static int parse_version(const char *s, unsigned long *out, hv_err *err)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || s[0] == '-' || v < 1 || v > MANIFEST_MAX_VERSION)
		return hv_fail(err, HV_EUSAGE, "--version %s: give a version number from 1 to %lu",
			       s, MANIFEST_MAX_VERSION);
	*out = v;
	return HV_OK;
}

static int show_option(int opt, const char *arg, void *p, hv_err *err)
{
	struct show_ctx *c = p;
	if (opt == 'F') {
		c->full = 1;
		return HV_OK;
	}
	return parse_version(arg, &c->want, err);
}

int cmd_show(int argc, char **argv, hv_err *err)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "version", required_argument, NULL, 'n' },
		{ "full", no_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'j' },
		{ "passphrase-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct show_ctx c;
	memset(&c, 0, sizeof(c));
	struct vault_args a;
	int rc = vault_args_parse(argc, argv, "show", opts, show_option, &c, &a, err);
	if (rc != HV_OK)
		return rc;
	if (a.help) {
		usage(stdout);
		return HV_OK;
	}
	vfs *v;
	if ((rc = vault_args_open(&a, &v, err)) != HV_OK)
		return rc;
	/* Files are checked for the current version only: older versions may
	 * name files that later versions replaced. */
	vault_history h;
	rc = load(v, &c, &h, err);
	int current = rc == HV_OK && c.m && c.m->version == c.seen;
	if (rc == HV_OK && !c.m)
		rc = hv_fail(err, HV_EUSAGE, "%s has %lu manifest version(s); there is no version %lu",
			     v->where, c.seen, c.want);
	if (a.json) {
		json_out j;
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		json_str(&j, "vault", v->where);
		json_bool(&j, "current", current);
		if (c.m)
			print_json(&j, c.m, c.sha256);
		json_last_verification(&j, &h);
		vault_args_json_result(&j, rc, err);
		json_obj_end(&j);
		json_finish(&j);
	} else if (c.m) {
		if (rc != HV_OK && !c.want)
			printf("(the chain breaks after this version; it may not be the current one)\n");
		print_human(c.m, c.sha256, v->where, current);
		print_last_verification(&h);
		fflush(stdout);
	}
	manifest_free(c.m);
	vault_history_free(&h);
	vfs_close(v);
	return rc;
}
