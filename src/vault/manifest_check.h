/* Semantic checks of a manifest version (field formats, ranges,
 * uniqueness), shared by the parser and the emitter so that nothing is
 * written that could not be read back. */
#ifndef HV_VAULT_MANIFEST_CHECK_H
#define HV_VAULT_MANIFEST_CHECK_H

#include "vault/manifest.h"

/* HV_OK, or HV_EINTEGRITY naming "name" and the field ("keys[2].file"). */
int manifest_validate(const manifest *m, const char *name, hv_err *err);

/* Format predicates, also useful to callers building a manifest. */
int manifest_is_time(const char *s);        /* 2026-11-28T04:07:09Z */
int manifest_is_sha256(const char *s);      /* 64 lowercase hex     */
int manifest_is_kcv(const char *s);         /* 16 uppercase hex     */
int manifest_is_key_id(const char *s);      /* lowercase hex bytes  */
/* A device CV certificate: "7f21..." in lowercase hex, whole bytes. */
#define MANIFEST_DEVCERT_MAX_HEX 4096
int manifest_is_devcert(const char *s);
void manifest_format_time(time_t t, char out[21]);

#endif
