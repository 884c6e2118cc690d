/* DKEK shares in flows: making them under a policy (enroll) and unlocking
 * the vault's shares with their holders' passwords (restore, verify with
 * shares, reshare). Decrypting a share costs sc-hsm-tool's 10,000,000-
 * iteration KDF, so each share is decrypted once per run, checked at once
 * against the manifest's per-share check value, and re-asked (terminal)
 * on a wrong password. */
#ifndef HV_FLOWS_SHARES_H
#define HV_FLOWS_SHARES_H

#include <stddef.h>

#include "crypto/dkek.h"
#include "crypto/dkek_share.h"
#include "flows/flow.h"
#include "util/err.h"
#include "util/secbuf.h"
#include "vault/manifest.h"
#include "vfs/vfs.h"

/* The decrypted shares of a vault, in import order, and the DKEK and KCV
 * they make. Secrets only in `plain` (n x 32 bytes, locked). */
typedef struct unlocked_shares {
	size_t n;
	secbuf *plain;          /* n * DKEK_SHARE_LEN bytes */
	secbuf *dkek;           /* DKEK_LEN bytes, XOR of the shares */
	char kcv[17];           /* uppercase hex of the DKEK's KCV */
} unlocked_shares;

/* Asks each share's holder(s) by name ("share 1 (alice): password"; for a
 * split share, `threshold` of its holders for their parts) through
 * fc->secrets, decrypts, checks against the manifest's check value (a
 * share with no check value: says plainly that the password cannot be
 * checked until the KCV is compared), and finally checks that the DKEK's
 * KCV equals m->dkek_kcv when set. Wrong password: re-asked at the
 * terminal, HV_ESECRET in batch mode ("the password of share 2 (bob) is
 * wrong: ..."). */
int shares_unlock(const flow_ctx *fc, vfs *v, const manifest *m,
		  unlocked_shares *out, hv_err *err);
/* Decrypts only share `index` (1-based); out->n = 1, dkek/kcv unset. */
int shares_unlock_one(const flow_ctx *fc, vfs *v, const manifest *m, unsigned index,
		      unlocked_shares *out, hv_err *err);
void unlocked_shares_free(unlocked_shares *u);

#endif
