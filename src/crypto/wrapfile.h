/* The file sc-hsm-tool --wrap-key writes and --unwrap-key reads
 * (smartcard-hsm.md 8.3):
 *   30 { 04 <key blob>, [<PRKD TLV>], [<certificate TLV>] }
 * The reader is positional like the tool's: the second element is the PRKD
 * and the third the certificate, whatever their tags. */
#ifndef HV_CRYPTO_WRAPFILE_H
#define HV_CRYPTO_WRAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

typedef struct wrapfile {
	const uint8_t *blob;  /* value of the OCTET STRING (the key blob) */
	size_t blob_len;
	const uint8_t *prkd;  /* whole TLV (what goes into C4<ref>), or NULL */
	size_t prkd_len;
	const uint8_t *cert;  /* whole TLV (what goes into CE<ref>), or NULL */
	size_t cert_len;
} wrapfile;

/* Pointers in *out point into data. Refused (HV_EUSAGE): anything but a
 * constructed SEQUENCE first, a first element that is not a primitive
 * OCTET STRING, an empty blob, malformed or overlong lengths, more than
 * three elements, and any byte after the SEQUENCE (the tool never writes
 * one, so such a file was altered). */
int wrapfile_parse(const uint8_t *data, size_t len, wrapfile *out, hv_err *err);

/* Appends the file. prkd and cert are whole TLVs (each checked to be one
 * well-formed TLV) or NULL; a certificate without a PRKD is refused because
 * the tool's positional reader would take it for the PRKD. */
int wrapfile_build(const uint8_t *blob, size_t blob_len,
		   const uint8_t *prkd, size_t prkd_len,
		   const uint8_t *cert, size_t cert_len,
		   bytebuf *out, hv_err *err);

#endif
