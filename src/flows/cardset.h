/* The cards a flow works on: every reader holding a SmartCard-HSM (or the
 * one --reader names), each with its own PC/SC context and connection in
 * one transaction for the whole flow, its applet selected and its identity
 * read. Cards in different readers are worked in parallel threads
 * (cardset_each): the operator waits on cards, not on the CPU. */
#ifndef HV_FLOWS_CARDSET_H
#define HV_FLOWS_CARDSET_H

#include <stddef.h>

#include "card/pcsc.h"
#include "card/schsm.h"
#include "flows/flow.h"
#include "util/err.h"

typedef struct flow_card {
	char reader[128];
	pcsc_ctx *ctx;           /* one context per card: threads never share */
	pcsc_card *pc;
	schsm_card sc;
	schsm_identity ident;    /* ident.id = card_id, "SERIAL-hash16";
				  * ident.no_identity: a blank pico-hsm whose
				  * device certificate appears only at
				  * INITIALIZE (ident.serial is then
				  * CARDSET_BLANK_SERIAL, for messages) */
	char card_id[96];        /* manifest_card_identity() form, the id the
				  * manifest records: "SERIAL-hash16"; "" for a
				  * card without identity (matches no card) */
	schsm_device_info dev;   /* read at open */
	schsm_dkek_info dkek;    /* read at open */
	hv_err err;              /* this card's failure in cardset_each */
	int rc;
	void *user;              /* for the flow */
} flow_card;

typedef struct cardset {
	flow_card *cards;        /* in reader order */
	size_t n;
} cardset;

/* Connects to every reader with a card present (only fc->reader when
 * set), begins a transaction, opens the applet, reads identity, device
 * status and DKEK status. A reader whose card has no SmartCard-HSM applet
 * is skipped with a progress line. No card at all: HV_ECARD "no
 * SmartCard-HSM card found: insert the cards and run again". */
int cardset_open(const flow_ctx *fc, cardset *s, hv_err *err);

/* Ends each transaction (resetting the card, which drops PIN sessions)
 * and disconnects. Safe on a partly opened set. */
void cardset_close(cardset *s);

/* Runs fn(card, ctx, &card->err) for every card, one thread per card, and
 * waits for all. Returns HV_OK when all succeeded, else the first failing
 * card's code with its message prefixed by "card SERIAL in reader R: ".
 * Each card's own rc/err stay in the card for flows that go on. */
typedef int (*cardset_fn)(flow_card *card, void *ctx, hv_err *err);
int cardset_each(cardset *s, cardset_fn fn, void *ctx, hv_err *err);

/* What a card without device identity shows as its serial in messages. */
#define CARDSET_BLANK_SERIAL "(blank, no identity yet)"

/* (Re-)reads the card's identity into card->ident and card->card_id.
 * cardset_open does it first; enroll and restore do it again right after
 * INITIALIZE, which is when pico-hsm creates its device certificate. A
 * card without identity (never initialized, empty EF 2F02) is fine unless
 * must_exist (then HV_ECARD: a card hsmvault cannot record). */
int cardset_read_identity(flow_card *card, int must_exist, hv_err *err);

/* Re-reads card->dkek (after imports). */
int cardset_refresh_dkek(flow_card *card, hv_err *err);

/* Uppercase 16-digit KCV of a card, or "" when unknown. */
void cardset_kcv_hex(const flow_card *card, char out[17]);

#endif
