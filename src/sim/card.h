/* The simulated SmartCard-HSM applet: one card session (what a real card
 * keeps in RAM until reset) on top of the persistent state, and the command
 * interpreter. Behaviour follows the card's profile (sim/profile.h: the
 * columns of smartcard-hsm.md section 10); choices where a card is not
 * pinned down are listed in src/sim/README.md. */
#ifndef HV_SIM_CARD_H
#define HV_SIM_CARD_H

#include <stddef.h>
#include <stdint.h>

#include "sim/state.h"
#include "util/buf.h"

typedef struct sim_card {
	sim_state *st;
	int selected;        /* applet selected since the last reset */
	int user_ok;         /* user PIN verified in this session */
	int so_ok;           /* SO-PIN verified in this session */
	int cur_ef;          /* current EF (FID), -1 when none */
	bytebuf pending;     /* response data waiting for GET RESPONSE */
	size_t pending_off;
	bytebuf chain;       /* data of a command chain (CLA bit 10) so far */
	uint8_t chain_ins, chain_p1, chain_p2;
	int chaining;
} sim_card;

void sim_card_init(sim_card *c, sim_state *st);
void sim_card_free(sim_card *c);

/* Power on / reset / power off: forget everything held in RAM. */
void sim_card_reset(sim_card *c);

/* One command APDU in, the response APDU (data + SW1 SW2) appended to
 * resp. *changed is set when the persistent state was modified and must
 * be saved. */
void sim_card_process(sim_card *c, const uint8_t *cmd, size_t len, bytebuf *resp, int *changed);

#endif
