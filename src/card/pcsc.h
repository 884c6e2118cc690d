/* PC/SC access through libpcsclite: readers, connections, transactions, and
 * a card_transport (card/apdu.h) for each connected card.
 *
 * A card that disappears (pulled out, reset by another program, reader
 * gone) fails with HV_ECARD and the message "the card in reader X was
 * removed: reinsert it and run the command again"; pcsc_card_removed() and
 * the transport's `removed` flag tell such a failure from any other. */
#ifndef HV_CARD_PCSC_H
#define HV_CARD_PCSC_H

#include <stddef.h>
#include <stdint.h>

#include "card/apdu.h"
#include "util/err.h"

typedef struct pcsc_ctx pcsc_ctx;
typedef struct pcsc_card pcsc_card;

typedef struct pcsc_reader {
	char *name;
	int card_present;   /* a card is in the reader (may be in use)     */
	uint8_t atr[33];    /* ATR of that card when known                  */
	size_t atr_len;
} pcsc_reader;

/* SCardEstablishContext. HV_ECARD with advice when pcscd is not running. */
int pcsc_open(pcsc_ctx **out, hv_err *err);
void pcsc_close(pcsc_ctx *ctx);

/* All readers, with presence and ATR (one status query, no waiting).
 * No reader at all is not an error: *n = 0. Free with pcsc_readers_free. */
int pcsc_list_readers(pcsc_ctx *ctx, pcsc_reader **readers, size_t *n,
		      hv_err *err);
void pcsc_readers_free(pcsc_reader *readers, size_t n);

/* Connects in shared mode, T=1 preferred (T0|T1 offered). HV_ECARD when
 * the reader is unknown or holds no card (message names the reader). */
int pcsc_connect(pcsc_ctx *ctx, const char *reader, pcsc_card **out,
		 hv_err *err);

/* Leaves the card as it is (SCARD_LEAVE_CARD) and frees. NULL is fine. */
void pcsc_disconnect(pcsc_card *card);

/* One transaction per flow: exclusive access until pcsc_end(). */
int pcsc_begin(pcsc_card *card, hv_err *err);
/* reset != 0 resets the card at the end (drops every PIN session). */
int pcsc_end(pcsc_card *card, int reset, hv_err *err);

/* SCardReconnect (after a reset by someone else, or to reset ourselves:
 * reset != 0 = SCARD_RESET_CARD, else SCARD_LEAVE_CARD). Clears the
 * removed flag when it succeeds. */
int pcsc_reconnect(pcsc_card *card, int reset, hv_err *err);

/* The transport for card commands; lives as long as the card handle.
 * Its transmit() uses a 64 KiB + 2 response buffer. */
card_transport *pcsc_transport(pcsc_card *card);

/* 1 when the last failure on this card was a removed / reset card. */
int pcsc_card_removed(const pcsc_card *card);

/* 1 when a PC/SC return value means the card went away (removed, reset
 * by another program, unpowered, reader gone); public for tests. */
int pcsc_rv_is_removed(long rv);

/* Reader name and ATR of the connected card. */
const char *pcsc_reader_name(const pcsc_card *card);
const uint8_t *pcsc_atr(const pcsc_card *card, size_t *len);

#endif
