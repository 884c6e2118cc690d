/* Command handlers of the simulated card (internal to src/sim). Each gets
 * the parsed APDU, appends response data to out and returns the status
 * word; *changed is set when the persistent state was modified. */
#ifndef HV_SIM_CMDS_H
#define HV_SIM_CMDS_H

#include <stdint.h>

#include "sim/capdu.h"
#include "sim/card.h"
#include "util/buf.h"

/* Status words used by the card. */
enum {
	SW_OK = 0x9000,
	SW_EOF = 0x6282,
	SW_WRONG_LENGTH = 0x6700,
	SW_SM_UNSUPPORTED = 0x6882,
	SW_CHAIN_EXPECTED = 0x6883,
	SW_SECURITY = 0x6982,
	SW_BLOCKED = 0x6983,
	SW_REF_UNUSABLE = 0x6984,
	SW_CONDITIONS = 0x6985,
	SW_NOT_ALLOWED = 0x6986,
	SW_WRONG_DATA = 0x6A80,
	SW_NOT_FOUND = 0x6A82,
	SW_NO_MEMORY = 0x6A84,
	SW_WRONG_P1P2 = 0x6A86,
	SW_REF_NOT_FOUND = 0x6A88,
	SW_EXISTS = 0x6A89,
	SW_BAD_P1P2 = 0x6B00,
	SW_INS_UNKNOWN = 0x6D00,
	SW_CLA_UNKNOWN = 0x6E00,
	SW_EXEC_ERROR = 0x6400,
};

#define SW_TRIES(n) ((uint16_t)(0x63C0 | ((n) & 0x0F)))

uint16_t cmd_select(sim_card *c, const capdu *a, bytebuf *out);
uint16_t cmd_read_binary(sim_card *c, const capdu *a, bytebuf *out);
uint16_t cmd_update_binary(sim_card *c, const capdu *a, int *changed);
uint16_t cmd_delete_file(sim_card *c, const capdu *a, int *changed);
uint16_t cmd_enumerate(sim_card *c, const capdu *a, bytebuf *out);

uint16_t cmd_verify(sim_card *c, const capdu *a, int *changed);
uint16_t cmd_change_reference(sim_card *c, const capdu *a, int *changed);
uint16_t cmd_reset_retry_counter(sim_card *c, const capdu *a, int *changed);

uint16_t cmd_initialize(sim_card *c, const capdu *a, bytebuf *out, int *changed);
uint16_t cmd_manage_dkek(sim_card *c, const capdu *a, bytebuf *out, int *changed);

uint16_t cmd_generate_key(sim_card *c, const capdu *a, bytebuf *out, int *changed);
uint16_t cmd_sign(sim_card *c, const capdu *a, bytebuf *out);
uint16_t cmd_decipher(sim_card *c, const capdu *a, bytebuf *out);

uint16_t cmd_wrap_key(sim_card *c, const capdu *a, bytebuf *out);
uint16_t cmd_unwrap_key(sim_card *c, const capdu *a, int *changed);

/* Shared helpers. */
/* The key at reference ref, or NULL (ref 0 is the device key: never here). */
sim_key *card_key(sim_card *c, unsigned ref);
/* pico-hsm writes a description C4<ref> itself after GENERATE and UNWRAP
 * (empty label, ID = the reference in ASCII decimal); other profiles: no-op. */
void card_precreate_prkd(sim_card *c, unsigned ref);
/* The same for a key unwrapped onto pico-hsm's device key (C400, ID "0"). */
void card_describe_device_key(sim_card *c);
/* 1 when the key's allowed-algorithm list permits algo (an empty list
 * permits everything). */
int key_allows(const sim_key *k, uint8_t algo);

#endif
