/* Status words of the SmartCard-HSM as sentences an operator understands
 * (smartcard-hsm.md 1.6). The same SW means different things for
 * different commands (6A 88 on VERIFY = "card not initialized", on WRAP =
 * "no complete DKEK"), so the message depends on the operation. */
#ifndef HV_CARD_SCHSM_SW_H
#define HV_CARD_SCHSM_SW_H

#include <stdint.h>

#include "card/schsm.h"
#include "util/err.h"

enum schsm_op {
	SCHSM_OP_OTHER,
	SCHSM_OP_SELECT,
	SCHSM_OP_VERIFY,       /* VERIFY / CHANGE of the user PIN */
	SCHSM_OP_SO_PIN,       /* anything presenting the SO-PIN */
	SCHSM_OP_INITIALIZE,
	SCHSM_OP_DKEK,         /* status or share import */
	SCHSM_OP_READ,
	SCHSM_OP_WRITE,
	SCHSM_OP_DELETE,
	SCHSM_OP_GENERATE,
	SCHSM_OP_WRAP,
	SCHSM_OP_UNWRAP,
	SCHSM_OP_SIGN,
	SCHSM_OP_ENUMERATE,
	SCHSM_OP_CHALLENGE,
};

/* The operator message for sw after op, without any prefix; never NULL.
 * 63Cx gives "wrong PIN, x tries left" (x = 0: blocked). */
const char *schsm_sw_message(enum schsm_op op, uint16_t sw, char *scratch,
			     unsigned scratch_len);

/* The error code that fits: HV_ESECRET for a wrong PIN / SO-PIN (63Cx,
 * x > 0, and 6A 80 on VERIFY), HV_ECARD otherwise. */
int schsm_sw_code(enum schsm_op op, uint16_t sw);

/* Fails with "<what> on card <serial or reader>: <message> (SW XXXX)"
 * and the fitting code; returns that code. */
int schsm_sw_fail(const schsm_card *c, enum schsm_op op, uint16_t sw,
		  const char *what, hv_err *err);

/* How this card is named in messages: its serial when known, else
 * "in reader <name>". Writes into buf. */
const char *schsm_card_name(const schsm_card *c, char *buf, unsigned len);

#endif
