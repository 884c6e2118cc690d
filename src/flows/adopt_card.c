#include "flows/adopt_card.h"

#include <string.h>

#include "flows/cardset.h"

int adopt_check_cards(const flow_ctx *fc, const char *kcv, hv_err *err)
{
	cardset cs = { 0 };
	hv_err why;
	hv_err_clear(&why);
	if (cardset_open(fc, &cs, &why) != HV_OK) {
		cardset_close(&cs);
		flow_say(fc, "no card compared with KCV %s (%.200s): restore checks it when it "
			     "imports the shares", kcv, why.msg);
		return HV_OK;
	}
	int rc = HV_OK;
	for (size_t i = 0; i < cs.n && rc == HV_OK; i++) {
		const flow_card *c = &cs.cards[i];
		char card_kcv[17];
		cardset_kcv_hex(c, card_kcv);
		if (!card_kcv[0])
			flow_say(fc, "card %s in reader %s shows no DKEK KCV (no DKEK yet, or a pico-hsm "
				     "before its PIN): not compared", c->ident.serial, c->reader);
		else if (strcmp(card_kcv, kcv) != 0)
			rc = hv_fail(err, HV_EMISMATCH,
				     "card %s in reader %s carries the DKEK with KCV %s, the shares give "
				     "%s: it is a card of another set; remove it (or give the shares of "
				     "its set); nothing was written", c->ident.serial, c->reader,
				     card_kcv, kcv);
		else
			flow_say(fc, "card %s in reader %s carries DKEK KCV %s: a card of this set",
				 c->ident.serial, c->reader, kcv);
	}
	cardset_close(&cs);
	return rc;
}
