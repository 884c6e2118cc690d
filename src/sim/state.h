/* The persistent state of one simulated SmartCard-HSM: everything a real
 * card keeps in its EEPROM. Kept in a text file (format below) that is
 * rewritten atomically after every command that changes it, so the card
 * can be "pulled" (the simulator killed) at any point.
 *
 * File format (version 1), one record per line, hex in upper case:
 *   hsmvault-sim-state 1
 *   serial <text>                 device serial (CHR without the 5-digit sequence)
 *   devkey <hex DER>              device authentication key CC00 (EC P-256)
 *   options <4 hex>
 *   initialized <0|1>
 *   transport <0|1>
 *   userpin <hex> <max> <left>    ("-" for the PIN while never initialized)
 *   sopin <hex> <left>
 *   dkek none | dkek <total> <outstanding> <hex 32 bytes>
 *   ef <FID 4 hex> <hex or ->     one per EF, 2F02 included
 *   key <ref> <ec|rsa|aes> <domain> <allowed hex or -> <hex DER / AES key>
 *   end
 * Unknown record names are an error, so a newer file is never half-read. */
#ifndef HV_SIM_STATE_H
#define HV_SIM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "util/err.h"

#define SIM_STATE_VERSION 1
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

typedef struct sim_state {
	char serial[17];
	EVP_PKEY *devkey;
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

/* A factory-fresh card: new device key, device + DICA CVC in 2F02 with
 * CHR = serial + "00001", never initialized. serial: 3 to 11 characters. */
int sim_state_blank(sim_state *s, const char *serial, hv_err *err);
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
