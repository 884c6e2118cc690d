/* adopt, step 3: which share file is which share of the policy.
 *
 * The content of a share file cannot tell whose it is, nor whether its
 * password is a holder's or an n-of-m split one. So each share's password
 * is asked from its holder(s) by name, exactly as restore asks it
 * ("share-N", or "share-N-HOLDER" parts for a split share), and tried on
 * the share files no earlier share took: first the file named as the
 * policy names the share (dkek-share-N.pbe), then the others in path
 * order. The file whose padding decrypts correctly under that password is
 * the share (a wrong password passes the 16-byte padding check with a
 * probability of 2^-128). --share N=PATH names the file instead; its
 * password is still checked. Each try costs sc-hsm-tool's
 * 10,000,000-round key derivation (about a second). */
#ifndef HV_FLOWS_ADOPT_MATCH_H
#define HV_FLOWS_ADOPT_MATCH_H

#include "flows/adopt_scan.h"
#include "flows/flow.h"
#include "policy/policy.h"
#include "util/secbuf.h"

/* matched[i] gets the scanned file of share i+1; plain (a secbuf of at
 * least p->n_shares * 32 bytes) the decrypted shares in policy order.
 * HV_ESECRET naming the share and holder when no candidate opens. */
int adopt_match_shares(const flow_ctx *fc, vfs *v, const policy *p, const adopt_scan *s,
		       const char *const *explicit_path, const adopt_file **matched,
		       secbuf *plain, hv_err *err);

#endif
