/* A vault as a whole: its layout on the stick (design.md section 3,
 * vault/layout.md), creating one, recognizing one, and opening the
 * storage it lives on (a folder, or a LUKS2 stick through src/stick). */
#ifndef HV_VAULT_VAULT_H
#define HV_VAULT_VAULT_H

#include "util/err.h"
#include "vault/manifest.h"
#include "vfs/vfs.h"

#define VAULT_MARKER "HSMVAULT"
/* Format 2: verification results go to the journal (vault/journal.h),
 * never into manifest versions. Format 1 (the same tree without journal/,
 * verifications recorded as manifest versions) is read as it is and
 * becomes format 2 with its first journal entry; its manifest versions
 * stay as they are. */
#define VAULT_FORMAT "hsmvault-vault/2"
#define VAULT_FORMAT_1 "hsmvault-vault/1"
/* The marker file's whole content: the format on the first line. */
#define VAULT_MARKER_TEXT VAULT_FORMAT "\nThis is an hsmvault backup vault. " \
	"Read RECOVERY.md before changing anything here.\n"
#define VAULT_RECOVERY "RECOVERY.md"
#define VAULT_POLICY "policy.yaml"
#define VAULT_SHARES_DIR "shares"
#define VAULT_KEYS_DIR "keys"

/* Opens the storage named by spec: an existing folder (or, with create, a
 * path that does not exist yet) is a folder vault; anything else (image
 * file, block device) is a stick, opened by the stick layer. */
int vault_open(const char *spec, int create, vfs **out, hv_err *err);
/* vault_open without create, then vault_check: what read-only commands use. */
int vault_open_existing(const char *spec, vfs **out, hv_err *err);

/* Writes the skeleton into empty storage: manifest/, shares/, keys/,
 * RECOVERY.md (recovery_md_text, or rendered from the built-in template
 * when NULL), manifest version 1 ("vault created"), and last the HSMVAULT
 * marker, so that a marker means a complete vault. Refuses storage that
 * already holds a vault or holds anything but lost+found (or the parts an
 * interrupted vault_init left, which it completes). */
int vault_init(vfs *v, const char *recovery_md_text, hv_err *err);

/* HV_OK when v holds the HSMVAULT marker of a format this tool reads. */
int vault_check(vfs *v, hv_err *err);
/* The format number in v's marker (1 or 2); 0 with an error otherwise. */
int vault_format(vfs *v, hv_err *err);
/* Rewrites a format-1 marker as format 2 (atomically); a format-2 vault
 * is left alone. */
int vault_mark_format(vfs *v, hv_err *err);

/* RECOVERY.md for manifest m (NULL: a new, empty vault), from the
 * template compiled in from vault/RECOVERY.md.in, or from tmpl. *out is
 * malloc'd. */
int vault_render_recovery(const manifest *m, char **out, hv_err *err);
int vault_render_recovery_from(const char *tmpl, const manifest *m, char **out,
			       hv_err *err);
/* Renders and writes RECOVERY.md; call after each manifest_append. */
int vault_write_recovery(vfs *v, const manifest *m, hv_err *err);
/* RECOVERY.md rewritten only when it differs from m's rendering (m: the
 * current version): a run killed between a manifest version and its
 * RECOVERY.md left the page one version behind; every flow that writes
 * calls this first, so that a rerun catches up even when it has nothing
 * new to write itself. */
int vault_settle_recovery(vfs *v, const manifest *m, hv_err *err);

/* The template text (generated from vault/RECOVERY.md.in at build time). */
extern const char vault_recovery_template[];

#endif
