/* Shared by the schsm_*.c files only: one exchange with the card that
 * records the status word. */
#ifndef HV_CARD_SCHSM_PRIV_H
#define HV_CARD_SCHSM_PRIV_H

#include "card/apdu.h"
#include "card/schsm.h"
#include "card/schsm_sw.h"

/* apdu_transmit() that also stores the SW in c->last_sw (0 on transport
 * failure). Returns 0 when the exchange happened, whatever the SW. */
int schsm_xfer(schsm_card *c, const apdu *a, apdu_resp *r, hv_err *err);

/* Extended-length Ne for "the whole answer". */
#define SCHSM_NE_ALL APDU_NE_MAX

#endif
