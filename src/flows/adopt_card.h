/* adopt, optional: the cards in the readers compared with the DKEK the
 * shares give. A SmartCard-HSM shows its KCV without any PIN, so a card
 * of another set is caught before the vault claims these shares for it. */
#ifndef HV_FLOWS_ADOPT_CARD_H
#define HV_FLOWS_ADOPT_CARD_H

#include "flows/flow.h"
#include "util/err.h"

/* No reader or no card: a progress line, HV_OK (cards are optional). A
 * card whose KCV differs from kcv: HV_EMISMATCH naming it. A card that
 * shows no KCV (no DKEK yet; pico-hsm before the PIN) is named as not
 * compared. */
int adopt_check_cards(const flow_ctx *fc, const char *kcv, hv_err *err);

#endif
