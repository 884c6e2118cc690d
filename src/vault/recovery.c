/* RECOVERY.md: the template with @NAME@ placeholders filled from the
 * manifest, so the page on the stick names the real files, KCV and
 * holders. An unknown @NAME@ is an error: a typo in the template must not
 * reach a stick. */
#include "vault/vault.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

static void puts_buf(bytebuf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static void putf(bytebuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(bytebuf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	puts_buf(b, tmp);
}

static void shares_list(bytebuf *b, const manifest *m)
{
	if (!m || m->share_n == 0) {
		puts_buf(b, "- (no shares recorded yet: the card set has not been created)");
		return;
	}
	for (size_t i = 0; i < m->share_n; i++) {
		const manifest_share *s = &m->shares[i];
		if (i)
			puts_buf(b, "\n");
		putf(b, "- share %u: `%s`, scheme %s, ", s->index, s->file, s->scheme);
		if (!strcmp(s->scheme, "n-of-m"))
			putf(b, "any %u of: ", s->threshold);
		else
			puts_buf(b, "holder: ");
		for (size_t h = 0; h < s->holders.count; h++) {
			if (h)
				puts_buf(b, ", ");
			puts_buf(b, s->holders.items[h]);
		}
	}
}

/* Shares in index order: the order they must be imported in. */
static void import_commands(bytebuf *b, const manifest *m)
{
	if (!m || m->share_n == 0) {
		puts_buf(b, "# no shares recorded yet");
		return;
	}
	int first = 1;
	for (unsigned idx = 1; idx <= m->share_count; idx++)
		for (size_t i = 0; i < m->share_n; i++) {
			const manifest_share *s = &m->shares[i];
			if (s->index != idx)
				continue;
			if (!first)
				puts_buf(b, "\n");
			first = 0;
			if (!strcmp(s->scheme, "n-of-m"))
				putf(b, "sc-hsm-tool --import-dkek-share %s --pwd-shares-total %u", s->file,
				     s->threshold);
			else
				putf(b, "sc-hsm-tool --import-dkek-share %s", s->file);
			putf(b, "    # share %u", s->index);
		}
}

static void unwrap_commands(bytebuf *b, const manifest *m)
{
	if (!m || m->key_n == 0) {
		puts_buf(b, "# no keys recorded yet");
		return;
	}
	for (size_t i = 0; i < m->key_n; i++) {
		const manifest_key *k = &m->keys[i];
		if (i)
			puts_buf(b, "\n");
		if (m->dkek_kcv && strcmp(k->kcv, m->dkek_kcv) != 0)
			putf(b, "# wrapped under another DKEK (KCV %s): needs that DKEK's shares\n# ",
			     k->kcv);
		putf(b, "sc-hsm-tool --unwrap-key %s --key-reference %u    # %s, %s", k->file,
		     k->key_ref, k->label ? k->label : "(no label)", k->algorithm);
	}
}

static void file_hashes(bytebuf *b, const manifest *m)
{
	/* The marker's content is fixed, so sha256sum -c always has a line. */
	char h[65];
	int any = 0;
	if (m && m->policy_sha256) {
		putf(b, "%s  %s", m->policy_sha256, VAULT_POLICY);
		any = 1;
	}
	for (size_t i = 0; m && i < m->share_n; i++) {
		putf(b, "%s%s  %s", any ? "\n" : "", m->shares[i].sha256, m->shares[i].file);
		any = 1;
	}
	for (size_t i = 0; m && i < m->key_n; i++) {
		putf(b, "%s%s  %s", any ? "\n" : "", m->keys[i].sha256, m->keys[i].file);
		any = 1;
	}
	if (!any) {
		manifest_sha256_hex(VAULT_MARKER_TEXT, strlen(VAULT_MARKER_TEXT), h);
		putf(b, "%s  %s", h, VAULT_MARKER);
	}
}

/* The table of what the vault holds: only what is there, so that a fresh
 * vault does not send the reader looking for a policy or shares that do not
 * exist yet. */
static void file_table(bytebuf *b, const manifest *m)
{
	puts_buf(b, "| file | what |\n| --- | --- |\n"
		    "| `HSMVAULT` | marker: format name and version |\n"
		    "| `RECOVERY.md` | this page |\n");
	if (m && m->policy_name)
		putf(b, "| `policy.yaml` | the policy in force (policy \"%s\") |\n", m->policy_name);
	if (m)
		puts_buf(b, "| `manifest/NNNNNN.yaml` | every manifest version; the highest is current |\n"
			    "| `journal/NNNNNN.yaml` | one entry per verification run, once the vault "
			    "was verified (not needed to restore) |\n");
	if (m && m->share_n)
		puts_buf(b, "| `shares/*.pbe` | DKEK shares, `sc-hsm-tool --create-dkek-share` format |\n");
	if (m && m->key_n)
		puts_buf(b, "| `keys/<KCV>/<key-id>.wrap` | wrapped keys, `sc-hsm-tool --wrap-key` format |\n");
}

/* What MANAGE DKEK's status answer (80 52 00 00) shows, as opensc-explorer
 * prints it, on a card holding the whole DKEK: share count, 00 outstanding,
 * the KCV byte by byte. RECOVERY.md compares it by hand on families that
 * show the KCV only after the user PIN (pico-hsm). */
static void dkek_status(bytebuf *b, const manifest *m)
{
	const char *kcv = m ? m->dkek_kcv : NULL;
	if (!kcv || strlen(kcv) != 16) {
		puts_buf(b, "(not known yet: no card has been initialized)");
		return;
	}
	putf(b, "%02X 00", m->share_count & 0xFFu);
	for (size_t i = 0; i < 16; i += 2)
		putf(b, " %c%c", kcv[i], kcv[i + 1]);
}

/* The value of placeholder name, appended to b; -1 when unknown. */
static int value(bytebuf *b, const char *name, size_t n, const manifest *m)
{
#define IS(s) (n == strlen(s) && !memcmp(name, s, n))
	char tmp[32];
	if (IS("TOOL_VERSION"))
		puts_buf(b, HSMVAULT_VERSION);
	else if (IS("VAULT_FORMAT"))
		puts_buf(b, VAULT_FORMAT);
	else if (IS("MANIFEST_VERSION")) {
		snprintf(tmp, sizeof(tmp), "%lu", m ? m->version : 1UL);
		puts_buf(b, tmp);
	} else if (IS("MANIFEST_TIME"))
		puts_buf(b, m && m->time ? m->time : "(new vault)");
	else if (IS("CHANGE"))
		puts_buf(b, m && m->change ? m->change : "vault created");
	else if (IS("POLICY_NAME"))
		puts_buf(b, m && m->policy_name ? m->policy_name : "(none yet)");
	else if (IS("KCV"))
		puts_buf(b, m && m->dkek_kcv ? m->dkek_kcv
					     : "(not known yet: no card has been initialized)");
	else if (IS("SHARE_COUNT")) {
		snprintf(tmp, sizeof(tmp), "%u", m ? m->share_count : 0);
		puts_buf(b, tmp);
	} else if (IS("DKEK_STATUS"))
		dkek_status(b, m);
	else if (IS("SHARES"))
		shares_list(b, m);
	else if (IS("IMPORT_COMMANDS"))
		import_commands(b, m);
	else if (IS("UNWRAP_COMMANDS"))
		unwrap_commands(b, m);
	else if (IS("FILE_HASHES"))
		file_hashes(b, m);
	else if (IS("FILE_TABLE"))
		file_table(b, m);
	else
		return -1;
	return 0;
#undef IS
}

int vault_render_recovery_from(const char *tmpl, const manifest *m, char **out, hv_err *err)
{
	*out = NULL;
	bytebuf b = { 0 };
	const char *p = tmpl;
	while (*p) {
		const char *at = strchr(p, '@');
		if (!at) {
			puts_buf(&b, p);
			break;
		}
		buf_put(&b, p, (size_t)(at - p));
		size_t n = 0;
		while ((at[1 + n] >= 'A' && at[1 + n] <= 'Z') || at[1 + n] == '_')
			n++;
		if (n == 0 || at[1 + n] != '@') {
			/* not a placeholder (an e-mail address, a lone @) */
			buf_put_u8(&b, '@');
			p = at + 1;
			continue;
		}
		if (value(&b, at + 1, n, m) != 0) {
			buf_free(&b);
			return hv_fail(err, HV_EINTERNAL,
				       "RECOVERY.md template: unknown placeholder @%.*s@", (int)n, at + 1);
		}
		p = at + n + 2;
	}
	buf_put_u8(&b, 0);
	if (b.failed) {
		buf_free(&b);
		return hv_fail(err, HV_ENOMEM, "out of memory writing RECOVERY.md");
	}
	char *s = strdup((char *)b.data);
	buf_free(&b);
	if (!s)
		return hv_fail(err, HV_ENOMEM, "out of memory writing RECOVERY.md");
	*out = s;
	return HV_OK;
}

int vault_render_recovery(const manifest *m, char **out, hv_err *err)
{
	return vault_render_recovery_from(vault_recovery_template, m, out, err);
}

int vault_write_recovery(vfs *v, const manifest *m, hv_err *err)
{
	char *text;
	int rc = vault_render_recovery(m, &text, err);
	if (rc != HV_OK)
		return rc;
	rc = vfs_write_atomic(v, VAULT_RECOVERY, text, strlen(text), err);
	free(text);
	return rc;
}

int vault_settle_recovery(vfs *v, const manifest *m, hv_err *err)
{
	char *text;
	int rc = vault_render_recovery(m, &text, err);
	if (rc != HV_OK)
		return rc;
	size_t want = strlen(text);
	uint8_t *have = NULL;
	size_t have_len = 0;
	hv_err rerr;
	hv_err_clear(&rerr);
	/* a missing or unreadable page (too large too) is written anew */
	int same = vfs_read(v, VAULT_RECOVERY, want, &have, &have_len, &rerr) == HV_OK &&
		   have_len == want && !memcmp(have, text, want);
	free(have);
	if (!same)
		rc = vfs_write_atomic(v, VAULT_RECOVERY, text, want, err);
	free(text);
	return rc;
}
