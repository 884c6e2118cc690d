/* New DKEK share files (enroll, reshare): the password a holder chooses,
 * or a random one split n-of-m among holders and shown to each in turn;
 * then the sc-hsm-tool .pbe file, sealed for all shares at once (each
 * costs the 10,000,000-round KDF). */
#ifndef HV_FLOWS_SHARE_CREATE_H
#define HV_FLOWS_SHARE_CREATE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/dkek_share.h"
#include "flows/flow.h"
#include "util/err.h"
#include "util/secbuf.h"

#define SHARE_PASSWORD_MIN 8

/* The file password for share `index`. threshold 0: holders[0] chooses it
 * (secret "<prefix>-<index>", asked twice at the terminal); else a random
 * 8-byte password split threshold-of-n_holders, each holder's part
 * ("PRIME ID VALUE") revealed with flow_secret_show under
 * "share-<index>-<holder>", the name it is given back by. prefix: "share" (enroll) or "new-share"
 * (reshare). */
int share_new_password(const flow_ctx *fc, const char *prefix, unsigned index,
		       const char *const *holders, size_t n_holders, unsigned threshold,
		       secbuf **pw, hv_err *err);

typedef struct sealed_share {
	uint8_t file[DKEK_SHARE_FILE_LEN];
	char check[DKEK_SHARE_CHECK_HEX_LEN + 1];  /* the share's own KCV */
	char sha256[65];                           /* of file */
} sealed_share;

/* Encrypts n shares (plain[i]: 32 bytes) under pw[i], in parallel. */
int share_seal_all(secbuf *const *plain, secbuf *const *pw, size_t n, sealed_share *out,
		   hv_err *err);

#endif
