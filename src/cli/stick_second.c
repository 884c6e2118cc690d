/* hsmvault stick copy / compare / sync (stick_second.h). */
#include "cli/stick_second.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "flows/stick_copy.h"
#include "flows/stick_sync.h"
#include "util/json.h"
#include "util/prompt.h"
#include "vault/compare.h"
#include "vault/vault.h"
#include "vfs/vfs_dir.h"

#define MIN_PASSPHRASE 8

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The same file or device named twice (a link, another path). */
static int same_storage(const char *a, const char *b)
{
	struct stat sa, sb;
	if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
		return 0;
	if (S_ISBLK(sa.st_mode) && S_ISBLK(sb.st_mode))
		return sa.st_rdev == sb.st_rdev;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int read_pass(int fd, const char *spec, secbuf **out, hv_err *err)
{
	char prompt[600];
	snprintf(prompt, sizeof(prompt), "Passphrase of %.500s: ", spec);
	int rc = fd >= 0 ? secret_from_fd(fd, LUKS_PASSPHRASE_MAX, out, err)
			 : prompt_secret(prompt, LUKS_PASSPHRASE_MAX, out, err);
	if (rc == HV_OK && (*out)->len == 0) {
		secbuf_free(*out);
		*out = NULL;
		return hv_fail(err, HV_EUSAGE, "the passphrase of %s is empty", spec);
	}
	return rc;
}

/* A folder vault, or a stick unlocked with its passphrase (from fd, or
 * asked naming the stick). Read-only unless writable. */
static int open_side(const char *spec, int fd, int writable, vfs **out, hv_err *err)
{
	*out = NULL;
	if (is_dir(spec))
		return vfs_dir_open(spec, 0, out, err);
	struct stat st;
	if (stat(spec, &st) != 0)
		return hv_fail(err, HV_EUSAGE, "no vault at %s: give a folder, an image file or a "
			       "device", spec);
	secbuf *pass = NULL;
	int rc = read_pass(fd, spec, &pass, err);
	if (rc == HV_OK)
		rc = stick_open_vfs(spec, pass, writable, out, err);
	secbuf_free(pass);
	return rc;
}

/* Opens both sides and loads both checked chains. */
struct sides {
	vfs *va, *vb;
	vault_chain ca, cb;
};

static int open_both(const struct stick_second_args *a, int b_writable, struct sides *s,
		     hv_err *err)
{
	memset(s, 0, sizeof(*s));
	if (same_storage(a->a, a->b))
		return hv_fail(err, HV_EUSAGE, "%s and %s are the same storage: name two copies",
			       a->a, a->b);
	int fd_b = a->second_pass_fd >= 0 ? a->second_pass_fd : a->pass_fd;
	int rc = open_side(a->a, a->pass_fd, 0, &s->va, err);
	if (rc == HV_OK)
		rc = open_side(a->b, fd_b, b_writable, &s->vb, err);
	if (rc == HV_OK && (rc = vault_check(s->va, err)) == HV_OK &&
	    (rc = vault_check(s->vb, err)) == HV_OK &&
	    (rc = vault_chain_load(s->va, &s->ca, err)) == HV_OK)
		rc = b_writable ? vault_chain_load_links(s->vb, &s->cb, err)
				: vault_chain_load(s->vb, &s->cb, err);
	return rc;
}

static void close_both(struct sides *s)
{
	vault_chain_free(&s->ca);
	vault_chain_free(&s->cb);
	vfs_close(s->va);
	vfs_close(s->vb);
}

static const char *relation_name(int r)
{
	switch (r) {
	case VAULT_SAME: return "same";
	case VAULT_A_AHEAD: return "a-ahead";
	case VAULT_B_AHEAD: return "b-ahead";
	default: return "diverged";
	}
}

/* ---- compare ---- */

int stick_second_compare(const struct stick_second_args *a, hv_err *err)
{
	struct sides s;
	int rc = open_both(a, 0, &s, err);
	if (rc != HV_OK) {
		close_both(&s);
		return rc;
	}
	vault_comparison cmp;
	vault_chain_compare(&s.ca, &s.cb, &cmp);
	char vfile[32] = "", file[600] = "";
	if (cmp.relation == VAULT_DIVERGED)
		rc = stick_first_difference(s.va, s.vb, &cmp, vfile, file, sizeof(file), err);
	stick_journals jr = { 0 };
	if (rc == HV_OK)
		rc = stick_compare_journals(s.va, s.vb, &jr, err);
	const char *ha = s.ca.heads[s.ca.n - 1].sha256, *hb = s.cb.heads[s.cb.n - 1].sha256;
	if (rc == HV_OK && a->json) {
		json_out j;
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		json_str(&j, "a", a->a);
		json_str(&j, "b", a->b);
		json_str(&j, "relation", relation_name(cmp.relation));
		json_int(&j, "a_version", (long long)s.ca.n);
		json_int(&j, "b_version", (long long)s.cb.n);
		json_str(&j, "a_head_sha256", ha);
		json_str(&j, "b_head_sha256", hb);
		json_int(&j, "common_versions", (long long)cmp.common);
		json_int(&j, "ahead_by", (long long)cmp.ahead);
		json_int(&j, "a_journal_entries", (long long)jr.a);
		json_int(&j, "b_journal_entries", (long long)jr.b);
		json_int(&j, "common_journal_entries", (long long)jr.common);
		if (cmp.relation == VAULT_DIVERGED) {
			json_int(&j, "diverged_at", (long long)cmp.diverged_at);
			json_str(&j, "first_differing_version_file", vfile);
			json_str(&j, "first_differing_file", file[0] ? file : NULL);
		} else {
			json_null(&j, "diverged_at");
		}
		json_obj_end(&j);
		json_finish(&j);
	} else if (rc == HV_OK) {
		switch (cmp.relation) {
		case VAULT_SAME:
			printf("same: %s and %s hold the same vault, version %zu, manifest head "
			       "sha256 %s\n", a->a, a->b, s.ca.n, ha);
			break;
		case VAULT_A_AHEAD:
		case VAULT_B_AHEAD: {
			int a_ahead = cmp.relation == VAULT_A_AHEAD;
			const char *ahead = a_ahead ? a->a : a->b, *behind = a_ahead ? a->b : a->a;
			printf("%s is %lu version%s ahead of %s (%s: version %zu, %s: version %zu; "
			       "the versions both hold are the same)\n", ahead, cmp.ahead,
			       cmp.ahead == 1 ? "" : "s", behind, a->a, s.ca.n, a->b, s.cb.n);
			char title[600];
			snprintf(title, sizeof(title), "versions only in %.500s", ahead);
			stick_print_history(stdout, title, a_ahead ? &s.ca : &s.cb, cmp.common + 1);
			printf("to bring %s up to date: hsmvault stick sync %s %s\n", behind, ahead,
			       behind);
			break;
		}
		default:
			printf("diverged: %s and %s differ from version %lu on (%s; first differing "
			       "file: %s); versions 1 to %lu are the same\n", a->a, a->b,
			       cmp.diverged_at, vfile, file[0] ? file : "none, only the version's "
			       "own text", cmp.common);
			stick_print_history(stdout, a->a, &s.ca, cmp.diverged_at);
			stick_print_history(stdout, a->b, &s.cb, cmp.diverged_at);
			printf("no sync is possible: decide which copy is right (hsmvault log, "
			       "hsmvault show), then make the other again with 'hsmvault stick copy'\n");
		}
	}
	/* the journal records verifications, not content: said, not judged */
	if (rc == HV_OK && !a->json) {
		if (jr.a == jr.b && jr.common == jr.a)
			printf("verification journals: the same (%zu entr%s)\n", jr.a,
			       jr.a == 1 ? "y" : "ies");
		else if (jr.common == jr.b || jr.common == jr.a)
			printf("verification journals: %s has %zu entr%s %s lacks (a sync from it "
			       "copies them)\n", jr.common == jr.b ? a->a : a->b,
			       (jr.a > jr.b ? jr.a : jr.b) - jr.common,
			       (jr.a > jr.b ? jr.a : jr.b) - jr.common == 1 ? "y" : "ies",
			       jr.common == jr.b ? a->b : a->a);
		else
			printf("verification journals: they differ from entry %zu on (each keeps "
			       "its own; a sync leaves the target's alone)\n", jr.common + 1);
	}
	if (rc == HV_OK && cmp.relation != VAULT_SAME)
		rc = hv_fail(err, HV_EMISMATCH, "%s and %s are not the same (%s)", a->a, a->b,
			     cmp.relation == VAULT_DIVERGED ? "diverged" : "one is ahead");
	close_both(&s);
	return rc;
}

/* ---- sync ---- */

int stick_second_sync(const struct stick_second_args *a, hv_err *err)
{
	struct sides s;
	int rc = open_both(a, 1, &s, err);
	if (rc != HV_OK) {
		close_both(&s);
		return rc;
	}
	vault_comparison cmp;
	vault_chain_compare(&s.ca, &s.cb, &cmp);
	if (cmp.relation == VAULT_DIVERGED) {
		char vfile[32] = "", file[600] = "";
		rc = stick_first_difference(s.va, s.vb, &cmp, vfile, file, sizeof(file), err);
		if (rc == HV_OK) {
			fprintf(stderr, "%s and %s diverged at version %lu (%s; first differing file: "
				"%s):\n", a->a, a->b, cmp.diverged_at, vfile,
				file[0] ? file : "none, only the version's own text");
			stick_print_history(stderr, a->a, &s.ca, cmp.diverged_at);
			stick_print_history(stderr, a->b, &s.cb, cmp.diverged_at);
			rc = hv_fail(err, HV_ESAFETY, "%s and %s diverged at version %lu: a sync "
				     "would lose one side's versions; decide which copy is right, then "
				     "make the other again with 'hsmvault stick copy'; nothing was "
				     "written", a->a, a->b, cmp.diverged_at);
		}
		close_both(&s);
		return rc;
	}
	if (cmp.relation == VAULT_B_AHEAD) {
		char title[600];
		snprintf(title, sizeof(title), "versions only in %.500s", a->b);
		stick_print_history(stderr, title, &s.cb, cmp.common + 1);
		rc = hv_fail(err, HV_ESAFETY, "%s (FROM) is %lu version%s behind %s (TO): a sync "
			     "never goes backwards; run 'hsmvault stick sync %s %s'; nothing was "
			     "written", a->a, cmp.ahead, cmp.ahead == 1 ? "" : "s", a->b, a->b, a->a);
		close_both(&s);
		return rc;
	}
	unsigned long before = s.cb.n;
	stick_sync_result res;
	rc = stick_sync_vault(s.va, s.vb, &s.ca, &s.cb, &res, err);
	/* read back what was written: TO must now end where FROM does */
	vault_chain after;
	if (rc == HV_OK && (rc = vault_chain_load(s.vb, &after, err)) == HV_OK) {
		if (after.n != s.ca.n || strcmp(after.heads[after.n - 1].sha256,
						s.ca.heads[s.ca.n - 1].sha256))
			rc = hv_fail(err, HV_EINTEGRITY, "after the sync %s does not end at %s's "
				     "version %zu: check both with 'hsmvault stick compare'", a->b,
				     a->a, s.ca.n);
		vault_chain_free(&after);
	}
	if (rc == HV_OK) {
		if (cmp.relation == VAULT_SAME)
			printf("%s and %s already hold the same vault (version %zu): no version "
			       "to copy, %zu file%s mended", a->a, a->b, s.ca.n, res.files_copied,
			       res.files_copied == 1 ? "" : "s");
		else
			printf("%s was at version %lu and is now at version %zu like %s: copied %lu "
			       "version%s and %zu file%s", a->b, before, s.ca.n, a->a,
			       res.versions_copied, res.versions_copied == 1 ? "" : "s",
			       res.files_copied, res.files_copied == 1 ? "" : "s");
		printf("; %zu journal entr%s copied\n", res.journal_copied,
		       res.journal_copied == 1 ? "y" : "ies");
		if (res.journal_kept)
			printf("note: %s's verification journal has entries %s lacks; it was left "
			       "as it is\n", a->b, a->a);
		printf("manifest head sha256 %s\n", s.ca.heads[s.ca.n - 1].sha256);
	}
	close_both(&s);
	return rc;
}

/* ---- copy ---- */

struct new_pass {
	int fd;
	secbuf *pass;
};

static int supply_new_pass(void *ctx, const secbuf **out, hv_err *err)
{
	struct new_pass *p = ctx;
	int rc = HV_OK;
	if (!p->pass)
		rc = p->fd >= 0 ? new_secret_from_fd(p->fd, "passphrase", MIN_PASSPHRASE,
						     LUKS_PASSPHRASE_MAX, &p->pass, err)
				: prompt_new_secret("passphrase for the copy stick", MIN_PASSPHRASE,
						    LUKS_PASSPHRASE_MAX, &p->pass, err);
	*out = p->pass;
	return rc;
}

int stick_second_copy(const struct stick_second_args *a, const stick_prepare_opts *po,
		      hv_err *err)
{
	if (same_storage(a->a, a->b))
		return hv_fail(err, HV_EUSAGE, "%s and %s are the same storage: name a second "
			       "stick", a->a, a->b);
	vfs *from = NULL, *to = NULL;
	vault_chain cf = { 0 };
	int rc = open_side(a->a, a->pass_fd, 0, &from, err);
	/* a broken vault is refused before the target is touched */
	if (rc == HV_OK && (rc = vault_check(from, err)) == HV_OK)
		rc = vault_chain_load(from, &cf, err);
	if (rc != HV_OK) {
		vfs_close(from);
		return rc;
	}
	struct new_pass np = { a->new_pass_fd >= 0 ? a->new_pass_fd : a->pass_fd, NULL };
	int folder = is_dir(a->b);
	if (folder) {
		rc = vfs_dir_open(a->b, 0, &to, err);
	} else {
		stick_prepare_opts o = *po;
		struct stat sa, sb;
		/* an image copy of an image stick: the same size unless told */
		int b_new = stat(a->b, &sb) != 0 || (S_ISREG(sb.st_mode) && sb.st_size == 0);
		if (!o.size && b_new && stat(a->a, &sa) == 0 && S_ISREG(sa.st_mode))
			o.size = (uint64_t)sa.st_size;
		rc = stick_prepare(a->b, &o, supply_new_pass, &np, &to, err);
	}
	stick_copy_result res;
	if (rc == HV_OK)
		rc = stick_copy_vault(from, to, &res, err);
	vfs_close(to);
	to = NULL;
	/* opened again, as anyone will open it: the same chain head */
	vault_chain ct = { 0 };
	if (rc == HV_OK && !folder)
		rc = stick_open_vfs(a->b, np.pass, 0, &to, err);
	else if (rc == HV_OK)
		rc = vfs_dir_open(a->b, 0, &to, err);
	if (rc == HV_OK && (rc = vault_chain_load(to, &ct, err)) == HV_OK &&
	    strcmp(ct.heads[ct.n - 1].sha256, res.head_sha256))
		rc = hv_fail(err, HV_EINTEGRITY, "%s, opened again, does not end at the copied "
			     "version: the copy is not good; use another stick", a->b);
	if (rc == HV_OK)
		printf("copied %zu files (%llu bytes) from %s to %s; both hold version %lu, "
		       "manifest head sha256 %s\n", res.files, (unsigned long long)res.bytes, a->a,
		       a->b, res.version, res.head_sha256);
	vault_chain_free(&ct);
	vault_chain_free(&cf);
	secbuf_free(np.pass);
	vfs_close(to);
	vfs_close(from);
	return rc;
}
