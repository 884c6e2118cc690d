#include "card/pcsc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

struct pcsc_ctx {
	SCARDCONTEXT h;
};

struct pcsc_card {
	pcsc_ctx *ctx;
	SCARDHANDLE h;
	DWORD proto;
	char *reader;
	uint8_t atr[MAX_ATR_SIZE];
	size_t atr_len;
	int in_transaction;
	card_transport tr;
};

/* Errors that mean "the card is not the one we talked to any more". */
int pcsc_rv_is_removed(long rv)
{
	switch (rv) {
	case SCARD_W_REMOVED_CARD:
	case SCARD_E_NO_SMARTCARD:
	case SCARD_W_RESET_CARD:
	case SCARD_W_UNPOWERED_CARD:
	case SCARD_W_UNRESPONSIVE_CARD:
	case SCARD_E_READER_UNAVAILABLE:
	case SCARD_E_UNKNOWN_READER:
	case SCARD_E_INVALID_HANDLE:
		return 1;
	default:
		return 0;
	}
}

static int fail_rv(pcsc_card *card, LONG rv, const char *what, hv_err *err)
{
	const char *reader = card ? card->reader : "?";
	if (card && pcsc_rv_is_removed(rv)) {
		card->tr.removed = 1;
		return hv_fail(err, HV_ECARD,
			       "the card in reader %s was removed: reinsert it and run the command again",
			       reader);
	}
	if (rv == SCARD_E_NO_SERVICE || rv == SCARD_E_SERVICE_STOPPED)
		return hv_fail(err, HV_ECARD,
			       "%s: the PC/SC service is not running: start pcscd", what);
	if (rv == SCARD_E_SHARING_VIOLATION)
		return hv_fail(err, HV_ECARD,
			       "%s: the card in reader %s is in exclusive use by another program: "
			       "close it and run the command again", what, reader);
	return hv_fail(err, HV_ECARD, "%s (reader %s): %s (0x%08lX)", what, reader,
		       pcsc_stringify_error(rv), (unsigned long)rv);
}

int pcsc_open(pcsc_ctx **out, hv_err *err)
{
	*out = NULL;
	pcsc_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx->h);
	if (rv != SCARD_S_SUCCESS) {
		free(ctx);
		return fail_rv(NULL, rv, "connecting to the PC/SC service", err);
	}
	*out = ctx;
	return HV_OK;
}

void pcsc_close(pcsc_ctx *ctx)
{
	if (!ctx)
		return;
	SCardReleaseContext(ctx->h);
	free(ctx);
}

void pcsc_readers_free(pcsc_reader *readers, size_t n)
{
	if (!readers)
		return;
	for (size_t i = 0; i < n; i++)
		free(readers[i].name);
	free(readers);
}

int pcsc_list_readers(pcsc_ctx *ctx, pcsc_reader **readers, size_t *n,
		      hv_err *err)
{
	*readers = NULL;
	*n = 0;
	DWORD len = 0;
	LONG rv = SCardListReaders(ctx->h, NULL, NULL, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE)
		return HV_OK;
	if (rv != SCARD_S_SUCCESS)
		return fail_rv(NULL, rv, "listing card readers", err);
	char *multi = calloc(1, len + 1);
	if (!multi)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	rv = SCardListReaders(ctx->h, NULL, multi, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE) {
		free(multi);
		return HV_OK;
	}
	if (rv != SCARD_S_SUCCESS) {
		free(multi);
		return fail_rv(NULL, rv, "listing card readers", err);
	}
	size_t count = 0;
	for (const char *p = multi; *p; p += strlen(p) + 1)
		count++;
	pcsc_reader *list = calloc(count ? count : 1, sizeof(*list));
	SCARD_READERSTATE *st = calloc(count ? count : 1, sizeof(*st));
	if (!list || !st) {
		free(list);
		free(st);
		free(multi);
		return hv_fail(err, HV_ENOMEM, "out of memory");
	}
	size_t i = 0;
	for (const char *p = multi; *p && i < count; p += strlen(p) + 1, i++) {
		list[i].name = strdup(p);
		if (!list[i].name) {
			pcsc_readers_free(list, i);
			free(st);
			free(multi);
			return hv_fail(err, HV_ENOMEM, "out of memory");
		}
		st[i].szReader = list[i].name;
		st[i].dwCurrentState = SCARD_STATE_UNAWARE;
	}
	free(multi);
	if (count > 0) {
		rv = SCardGetStatusChange(ctx->h, 0, st, (DWORD)count);
		if (rv == SCARD_S_SUCCESS || rv == SCARD_E_TIMEOUT) {
			for (i = 0; i < count; i++) {
				list[i].card_present =
					(st[i].dwEventState & SCARD_STATE_PRESENT) != 0;
				size_t al = st[i].cbAtr;
				if (al > sizeof(list[i].atr))
					al = sizeof(list[i].atr);
				if (list[i].card_present) {
					memcpy(list[i].atr, st[i].rgbAtr, al);
					list[i].atr_len = al;
				}
			}
		}
	}
	free(st);
	*readers = list;
	*n = count;
	return HV_OK;
}

/* After a failed exchange, is the card still there? A card pulled in the
 * middle of a command often fails with a plain communication error
 * (SCARD_E_NOT_TRANSACTED, SCARD_F_COMM_ERROR); pcscd notices the absence
 * only at its next poll of the reader, so look a few times. */
static int card_gone(pcsc_card *card)
{
	for (int i = 0; i < 8; i++) {
		DWORD rlen = 0, state = 0, proto = 0, alen = MAX_ATR_SIZE;
		BYTE atr[MAX_ATR_SIZE];
		LONG rv = SCardStatus(card->h, NULL, &rlen, &state, &proto, atr, &alen);
		if (pcsc_rv_is_removed(rv))
			return 1;
		if (rv == SCARD_S_SUCCESS && !(state & SCARD_PRESENT))
			return 1;
		if (rv != SCARD_S_SUCCESS && rv != SCARD_E_INSUFFICIENT_BUFFER)
			return 0;
		struct timespec ts = { 0, 150 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

static int pcsc_transmit(card_transport *t, const uint8_t *cmd, size_t cmd_len,
			 uint8_t *resp, size_t *resp_len, hv_err *err)
{
	pcsc_card *card = t->priv;
	const SCARD_IO_REQUEST *pci = card->proto == SCARD_PROTOCOL_T0
		? SCARD_PCI_T0 : SCARD_PCI_T1;
	DWORD rl = (DWORD)(*resp_len > APDU_MAX_RESP ? APDU_MAX_RESP : *resp_len);
	LONG rv = SCardTransmit(card->h, pci, cmd, (DWORD)cmd_len, NULL, resp, &rl);
	if (rv != SCARD_S_SUCCESS) {
		*resp_len = 0;
		if (!pcsc_rv_is_removed(rv) && card_gone(card))
			rv = SCARD_W_REMOVED_CARD;
		return fail_rv(card, rv, "sending a command to the card", err);
	}
	if (rl < 2) {
		/* vpcd (and some readers) hand back an empty answer when the
		 * card goes away in the middle of a command. */
		*resp_len = 0;
		if (card_gone(card))
			return fail_rv(card, SCARD_W_REMOVED_CARD, "sending a command to the card", err);
		return hv_fail(err, HV_ECARD,
			       "the card in reader %s sent an incomplete answer: "
			       "remove and reinsert it, then run the command again", card->reader);
	}
	*resp_len = rl;
	return HV_OK;
}

int pcsc_connect(pcsc_ctx *ctx, const char *reader, pcsc_card **out,
		 hv_err *err)
{
	*out = NULL;
	pcsc_card *card = calloc(1, sizeof(*card));
	if (!card)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	card->reader = strdup(reader);
	if (!card->reader) {
		free(card);
		return hv_fail(err, HV_ENOMEM, "out of memory");
	}
	card->ctx = ctx;
	LONG rv = SCardConnect(ctx->h, reader, SCARD_SHARE_SHARED,
			       SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
			       &card->h, &card->proto);
	if (rv != SCARD_S_SUCCESS) {
		int code;
		if (rv == SCARD_E_NO_SMARTCARD || rv == SCARD_W_REMOVED_CARD)
			code = hv_fail(err, HV_ECARD,
				       "no card in reader %s: insert the card and run the command again",
				       reader);
		else if (rv == SCARD_E_UNKNOWN_READER)
			code = hv_fail(err, HV_ECARD,
				       "no reader named '%s': list the readers with 'hsmvault card status'",
				       reader);
		else
			code = fail_rv(card, rv, "connecting to the card", err);
		free(card->reader);
		free(card);
		return code;
	}
	/* T=1 when the card offers it: the reader then takes extended APDUs
	 * as they are. A card offering both lets pcscd pick; ask for T=1. */
	if (card->proto != SCARD_PROTOCOL_T1) {
		DWORD p2 = 0;
		if (SCardReconnect(card->h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1,
				   SCARD_LEAVE_CARD, &p2) == SCARD_S_SUCCESS)
			card->proto = p2;
	}
	DWORD rlen = 0, state = 0, proto = 0, alen = sizeof(card->atr);
	if (SCardStatus(card->h, NULL, &rlen, &state, &proto, card->atr, &alen)
	    == SCARD_S_SUCCESS)
		card->atr_len = alen;
	card->tr.transmit = pcsc_transmit;
	card->tr.reader = card->reader;
	card->tr.priv = card;
	*out = card;
	return HV_OK;
}

void pcsc_disconnect(pcsc_card *card)
{
	if (!card)
		return;
	if (card->in_transaction)
		SCardEndTransaction(card->h, SCARD_LEAVE_CARD);
	SCardDisconnect(card->h, SCARD_LEAVE_CARD);
	free(card->reader);
	free(card);
}

int pcsc_begin(pcsc_card *card, hv_err *err)
{
	LONG rv = SCardBeginTransaction(card->h);
	if (rv == SCARD_W_RESET_CARD) {
		/* Someone reset the card since we connected: our state (applet
		 * selection, PIN) is gone anyway. Reconnect and go on; the
		 * caller selects the applet next. */
		DWORD p = 0;
		rv = SCardReconnect(card->h, SCARD_SHARE_SHARED,
				    SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
				    SCARD_LEAVE_CARD, &p);
		if (rv == SCARD_S_SUCCESS) {
			card->proto = p;
			rv = SCardBeginTransaction(card->h);
		}
	}
	if (rv != SCARD_S_SUCCESS)
		return fail_rv(card, rv, "starting a card transaction", err);
	card->in_transaction = 1;
	return HV_OK;
}

int pcsc_end(pcsc_card *card, int reset, hv_err *err)
{
	if (!card->in_transaction)
		return HV_OK;
	card->in_transaction = 0;
	LONG rv = SCardEndTransaction(card->h, reset ? SCARD_RESET_CARD : SCARD_LEAVE_CARD);
	if (rv != SCARD_S_SUCCESS)
		return fail_rv(card, rv, "ending the card transaction", err);
	return HV_OK;
}

int pcsc_reconnect(pcsc_card *card, int reset, hv_err *err)
{
	DWORD p = 0;
	LONG rv = SCardReconnect(card->h, SCARD_SHARE_SHARED,
				 SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
				 reset ? SCARD_RESET_CARD : SCARD_LEAVE_CARD, &p);
	if (rv != SCARD_S_SUCCESS)
		return fail_rv(card, rv, "reconnecting to the card", err);
	card->proto = p;
	card->in_transaction = 0;
	card->tr.removed = 0;
	DWORD rlen = 0, state = 0, proto = 0, alen = sizeof(card->atr);
	if (SCardStatus(card->h, NULL, &rlen, &state, &proto, card->atr, &alen)
	    == SCARD_S_SUCCESS)
		card->atr_len = alen;
	return HV_OK;
}

card_transport *pcsc_transport(pcsc_card *card)
{
	return &card->tr;
}

int pcsc_card_removed(const pcsc_card *card)
{
	return card->tr.removed;
}

const char *pcsc_reader_name(const pcsc_card *card)
{
	return card->reader;
}

const uint8_t *pcsc_atr(const pcsc_card *card, size_t *len)
{
	*len = card->atr_len;
	return card->atr;
}
