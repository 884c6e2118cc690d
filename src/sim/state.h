/* The persistent state of one simulated SmartCard-HSM: everything a real
 * card keeps in its EEPROM. Kept in a text file (format below) that is
 * rewritten atomically after every command that changes it, so the card
 * can be "pulled" (the simulator killed) at any point.
 *
 * File format (version 2), one record per line, hex in upper case:
 *   hsmvault-sim-state 2
 *   profile <name>                card family (sim/profile.h)
 *   serial <text>                 device serial (CHR without the 5-digit sequence)
 *   devaut <kind>                 how 2F02 came about: factory, forged, self-signed,
 *                                 none (pico before its first INITIALIZE), legacy
 *   devkey <hex DER | ->          device authentication key CC00 ("-": none yet)
 *   options <4 hex>
 *   initialized <0|1>
 *   transport <0|1>
 *   userpin <hex> <max> <left>    ("-" for the PIN while never initialized)
 *   sopin <hex> <left>
 *   dkek none | dkek <total> <outstanding> <hex 32 bytes>
 *   ef <FID 4 hex> <hex or ->     one per EF, 2F02 included
 *   key <ref> <ec|rsa|aes> <domain> <allowed hex or -> <hex DER / AES key>
 *   end
 * Unknown record names are an error, so a newer file is never half-read.
 * Version 1 files (no profile, devaut or "-" devkey) load as smartcard-hsm
 * cards whose 2F02 is kept as it is ("legacy"). */
#ifndef HV_SIM_STATE_H
#define HV_SIM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "sim/profile.h"
#include "util/err.h"

#define SIM_STATE_VERSION 2
#define SIM_SO_TRIES 15
#define SIM_MAX_EF 512
#define SIM_MAX_EF_SIZE 0xFFFF

enum sim_key_type { SIM_KEY_EC = 1, SIM_KEY_RSA = 2, SIM_KEY_AES = 3 };

typedef struct sim_ef {
	uint16_t fid;
	uint8_t *data;
	size_t len;
} sim_ef;

typedef struct sim_key {
	int used;
	int type;                /* enum sim_key_type */
	EVP_PKEY *pkey;          /* EC and RSA */
	uint8_t aes[32];         /* AES */
	size_t aes_len;
	uint8_t allowed[32];     /* allowed algorithm IDs; empty = no restriction */
	size_t allowed_len;
	uint8_t domain;
} sim_key;

enum sim_devaut_state {
	SIM_DEVAUT_NONE = 0,        /* pico-hsm before its first INITIALIZE */
	SIM_DEVAUT_GENUINE = 1,     /* factory chain under the test root */
	SIM_DEVAUT_FORGED = 2,      /* factory chain, device signature broken */
	SIM_DEVAUT_SELF_SIGNED = 3, /* pico-hsm after INITIALIZE */
	SIM_DEVAUT_LEGACY = 4,      /* whatever a version-1 state file held */
};

typedef struct sim_state {
	const sim_profile *profile;
	int devaut;              /* enum sim_devaut_state */
	char serial[17];
	EVP_PKEY *devkey;        /* NULL while devaut is SIM_DEVAUT_NONE */
	uint16_t options;
	int initialized;
	int transport;
	uint8_t user_pin[16];
	size_t user_pin_len;
	uint8_t user_max, user_left;
	uint8_t so_pin[8];
	uint8_t so_left;
	int dkek_configured;
	uint8_t dkek_total, dkek_outstanding;
	uint8_t dkek[32];
	sim_ef efs[SIM_MAX_EF];
	size_t n_efs;
	sim_key keys[256];       /* index = key reference; 0 is unused (devkey) */
} sim_state;

/* A factory-fresh card of profile p: serial NULL = the profile's default
 * (else sim_profile_serial_ok). Factory-chain profiles get their device
 * key and 2F02 (device CVC with CHR = serial + the profile's sequence,
 * DICA CVC); forge breaks the device certificate's signature. pico-hsm
 * gets an empty 2F02 and no device key (forge: usage error). */
int sim_state_blank(sim_state *s, const sim_profile *p, const char *serial, int forge, hv_err *err);

/* pico-hsm's first INITIALIZE (or one that could not unlock the old
 * identity): the device key (made on first use, then kept: pico derives
 * it from its OTP key), a freshly signed self-signed 2F02, the key's
 * authenticated request in CE00 and its description in C400. 0 or -1. */
int sim_state_make_self_signed_identity(sim_state *s);

/* The device CHR: serial + the profile's 5-character sequence. */
void sim_state_device_chr(const sim_state *s, char chr[17]);
int sim_state_load(sim_state *s, const char *path, hv_err *err);
int sim_state_save(const sim_state *s, const char *path, hv_err *err);
void sim_state_free(sim_state *s);

/* EF access. sim_ef_find: NULL when absent. sim_ef_put replaces the
 * content (creating the EF); -1 when the EF table is full or out of memory. */
sim_ef *sim_ef_find(sim_state *s, uint16_t fid);
int sim_ef_put(sim_state *s, uint16_t fid, const uint8_t *data, size_t len);
void sim_ef_delete(sim_state *s, uint16_t fid);

/* Drops a key (wiping it). */
void sim_key_clear(sim_key *k);

#endif
