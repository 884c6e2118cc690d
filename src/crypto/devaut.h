/* Device authentication: is this card a genuine SmartCard-HSM?
 *
 * A card's EF 2F02 holds its device CV certificate, normally followed by
 * the certificate of the device issuer CA (DICA) that signed it. The DICA
 * is signed by a root (CardContact's DESRCACC100001 for genuine cards).
 * devaut_check() walks that chain to a root the operator trusts: a root
 * is never taken from the card, only from the anchor set.
 *
 * Verdicts:
 *   GENUINE       every signature verifies, up to a trusted anchor;
 *   NOT_ATTESTED  nothing to check: EF 2F02 empty (a pico-hsm before its
 *                 first INITIALIZE) or a self-signed device certificate
 *                 (pico-hsm's default): proves only that the card holds
 *                 the matching private key;
 *   FAILED        a chain that does not verify: a bad signature, a point
 *                 off its curve, an issuer that is neither in EF 2F02 nor
 *                 among the anchors, or an issuer chain that ends at a
 *                 root the operator does not trust.
 * A malformed EF 2F02 is FAILED too (with the reason), never an error:
 * the card's content is untrusted input, and the caller needs a verdict. */
#ifndef HV_CRYPTO_DEVAUT_H
#define HV_CRYPTO_DEVAUT_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum devaut_status {
	DEVAUT_GENUINE = 1,
	DEVAUT_NOT_ATTESTED = 2,
	DEVAUT_FAILED = 3,
};

/* "genuine", "not-attested", "failed" (the manifest's and --json's words). */
const char *devaut_status_name(int status);
/* Inverse of devaut_status_name; 0 when unknown. */
int devaut_status_from_name(const char *name);

/* A set of trusted self-signed root CV certificates. */
typedef struct devaut_anchors {
	struct devaut_anchor *v;
	size_t n, cap;
} devaut_anchors;

/* Empty set. */
void devaut_anchors_init(devaut_anchors *a);
/* Adds one root: must be a self-signed 7F21 whose signature verifies;
 * HV_EUSAGE naming `what` (a file name) otherwise. Duplicates are kept
 * once. */
int devaut_anchors_add(devaut_anchors *a, const uint8_t *cvc, size_t len,
		       const char *what, hv_err *err);
/* Adds every *.cvc file of dir (opened with O_NOFOLLOW). A missing dir is
 * HV_EUSAGE unless missing_ok; a bad file is HV_EUSAGE naming it. */
int devaut_anchors_add_dir(devaut_anchors *a, const char *dir,
			   int missing_ok, hv_err *err);
/* The anchors hsmvault trusts by default: the installed folder
 * (HSMVAULT_TRUST_DIR, set at build time) when present, and CardContact's
 * production root DESRCACC100001, which is built in so that a program run
 * from its build tree trusts it too. */
int devaut_anchors_add_default(devaut_anchors *a, hv_err *err);
void devaut_anchors_free(devaut_anchors *a);

typedef struct devaut_result {
	int status;              /* enum devaut_status */
	char device_chr[24];     /* CHR of the device certificate ("" if none) */
	char serial[24];         /* device CHR minus its last 5 characters */
	char issuer_chr[24];     /* CAR of the device certificate (DICA) */
	char root_chr[24];       /* the anchor reached (GENUINE only) */
	/* why NOT_ATTESTED or FAILED, one line without a trailing period,
	 * e.g. "self-signed device certificate ESP41D722E200001 (pico-hsm)"
	 * or "the DICA's signature does not verify under DESRCACC100001" */
	char reason[200];
	uint8_t devcert_sha256[32]; /* SHA-256 of the device 7F21 TLV (zeros
				     * when EF 2F02 is empty) */
	int has_devcert;
	/* Validity periods, "2026-05-28..2031-05-27" ("" when undated or not
	 * reached). Recorded and shown, never enforced: a CV certificate's
	 * dates say when the issuer may sign with it, and an expired but
	 * genuine chain (the openkex SmartCard-HSM, pico-hsm's first CA)
	 * still proves where the card came from; an offline host has no
	 * trustworthy clock either. */
	char device_valid[24];
	char issuer_valid[24];
	char root_valid[24];
} devaut_result;

/* Judges the content of EF 2F02 (len 0 allowed). Returns 0 with *r
 * filled for every verdict; non-zero only for HV_ENOMEM / HV_EINTERNAL. */
/* Details of the verdicts (devaut.c):
 * - a self-signed device certificate whose self-signature does not
 *   verify is FAILED, not NOT_ATTESTED;
 * - one byte-identical to an anchor (an operator who trusts exactly this
 *   pico-hsm, by putting its certificate in a --trust-dir) is GENUINE,
 *   with root_chr its own CHR;
 * - a 67 request in EF 2F02 (pico-hsm firmware before df9b45e) must be
 *   self-signed by its own key and outer-signed by the device key, or
 *   the verdict is FAILED; it changes nothing else;
 * - 00 or FF padding after the last element is ignored.
 * The anchor set is only read: one set may serve several threads. A check
 * costs about 3 to 7 ms (brainpoolP256r1: up to two signatures and three
 * point validations); loading the default anchors about 25 ms. */
int devaut_check(const devaut_anchors *a, const uint8_t *ef, size_t len,
		 devaut_result *r, hv_err *err);

/* CardContact's production root DESRCACC100001 as built in; byte-identical
 * to the installed trust-anchors/DESRCACC100001.cvc (a unit test checks). */
#define DEVAUT_BUILTIN_ROOT_LEN 441
extern const uint8_t devaut_builtin_root[DEVAUT_BUILTIN_ROOT_LEN];

#endif
