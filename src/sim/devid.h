/* Device identities of the simulated cards (EF 2F02 and key CC00), per
 * family: a factory chain device CVC -> DICA CVC -> the simulator's TEST
 * ROOT (SmartCard-HSM, Nitrokey HSM 2), or pico-hsm's self-signed CVC made
 * at the first INITIALIZE. The test root and the DICAs are public test
 * data: their keys come from fixed seeds, so every run makes the same
 * certificates and tests can trust the root explicitly
 * (hsmvault-sim --print-root). It is not CardContact's root and no
 * production trust store may contain it. */
#ifndef HV_SIM_DEVID_H
#define HV_SIM_DEVID_H

#include <openssl/evp.h>

#include "sim/profile.h"
#include "util/buf.h"

/* CHR (= CAR, self-signed) of the test root. */
extern const char SIM_ROOT_CHR[];

/* The test root's CVC (brainpoolP256r1 with explicit domain parameters,
 * CHAT role C0), the same bytes on every call. 0 or -1. */
int sim_root_cert(bytebuf *out);

/* A new device key on the profile's curve, or NULL. */
EVP_PKEY *sim_devid_new_key(const sim_profile *p);

/* Factory EF 2F02: device CVC (CHR dev_chr, key devkey, signed by the
 * profile's DICA) followed by the DICA CVC (signed by the test root). */
int sim_devid_factory_chain(const sim_profile *p, EVP_PKEY *devkey, const char *dev_chr, bytebuf *out);

/* pico-hsm's EF 2F02: one self-signed CVC, CAR = CHR = chr, full explicit
 * domain parameters, CHAT id-AT role 00 and pico's fixed validity. */
int sim_devid_self_signed(EVP_PKEY *devkey, const char *chr, bytebuf *out);

/* Flips one byte of the first certificate's signature (5F37): the chain
 * still parses but the device certificate no longer verifies. 0 or -1. */
int sim_devid_forge(uint8_t *certs, size_t len);

#endif
