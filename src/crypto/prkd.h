/* PKCS#15 private-key / secret-key descriptions as the SmartCard-HSM keeps
 * them in EF C4<ref> (smartcard-hsm.md 5.8): the label, ID, key reference
 * and key size that hsmvault records for every key. */
#ifndef HV_CRYPTO_PRKD_H
#define HV_CRYPTO_PRKD_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

/* The outer tag is the kind. */
#define PRKD_RSA 0x30
#define PRKD_EC 0xA0
#define PRKD_AES 0xA8

#define PRKD_LABEL_MAX 127
#define PRKD_ID_MAX 64

typedef struct prkd_info {
	int kind;            /* PRKD_RSA, PRKD_EC or PRKD_AES */
	char label[128];     /* UTF-8, NUL-terminated; "" when absent */
	uint8_t id[64];      /* CKA_ID */
	size_t id_len;       /* 0 when absent */
	int key_ref;         /* -1 when absent */
	unsigned key_bits;   /* modulus / field size / AES key bits; 0 if absent */
} prkd_info;

/* Parses the first TLV of der (bytes after it are ignored, as OpenSC does
 * with the contents of C4 files). Labels over 127 bytes, IDs over 64 bytes,
 * unknown kinds and malformed encodings are refused with HV_EUSAGE. */
int prkd_parse(const uint8_t *der, size_t len, prkd_info *out, hv_err *err);

/* Appends the description CardContact's tools write: label, ID, the
 * kind's usual usage bits (RSA decrypt/sign/signRecover/unwrap, EC
 * sign/derive, AES pico's encrypt/decrypt/derive), the key reference when
 * >= 0, an empty path and the key size. For label "TestKey", ID 01, EC,
 * 256 bits, no key reference this is exactly vector V7's PRKD. */
int prkd_encode(const prkd_info *in, bytebuf *out, hv_err *err);

#endif
