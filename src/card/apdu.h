/* ISO/IEC 7816-4 command and response APDUs, and the transport interface
 * every card command goes through.
 *
 * A transport moves raw bytes (one command APDU in, one response APDU with
 * its status word out). The PC/SC transport (card/pcsc.h) is the real one;
 * unit tests plug in a scripted transport. apdu_transmit() sits on top of any
 * transport: it encodes the command (short or extended length as needed),
 * follows 61xx with GET RESPONSE and 6Cxx with a re-send, and splits the
 * status word off the data. */
#ifndef HV_CARD_APDU_H
#define HV_CARD_APDU_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

/* Largest command: 4 header + 3 Lc + 65535 data + 2 Le. */
#define APDU_MAX_CMD (4 + 3 + 65535 + 2)
/* Largest response: 65536 data + SW1 SW2. */
#define APDU_MAX_RESP (65536 + 2)
/* Ne value that asks for "everything" (extended Le 00 00). */
#define APDU_NE_MAX 65536

typedef struct apdu {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data; /* command data, may be NULL when lc == 0 */
	size_t lc;           /* 0 ... 65535 */
	size_t ne;           /* expected response length: 0 = no Le field,
			      * 1 ... 65536 (256 short, 65536 extended = 00 00) */
	int extended;        /* force extended encoding even if it would fit
			      * short (OpenSC does this for GENERATE / WRAP) */
} apdu;

/* Encodes a into out (appends). Case 1 to 4 follow from lc and ne; the
 * extended form is used when lc > 255, ne > 256 or a->extended is set.
 * HV_EINTERNAL when lc > 65535, ne > 65536 or data is NULL with lc > 0.
 * The command may hold a PIN: buf_free() wipes it. */
int apdu_encode(const apdu *a, bytebuf *out, hv_err *err);

/* Transport: one raw exchange. resp has room for APDU_MAX_RESP bytes; the
 * transport writes the response (data + SW1 SW2) and its length. On failure
 * it fills err (HV_ECARD) and, when the card has gone (pulled, reset by
 * someone else), sets `removed` so callers can tell a pulled card from any
 * other failure. */
typedef struct card_transport card_transport;
struct card_transport {
	int (*transmit)(card_transport *t, const uint8_t *cmd, size_t cmd_len,
			uint8_t *resp, size_t *resp_len, hv_err *err);
	const char *reader; /* for messages: the reader's name */
	int removed;        /* set by the transport on a removed/reset card */
	unsigned long count; /* exchanges made, GET RESPONSE included */
	void *priv;          /* transport's own state */
};

/* A parsed response: data (without the status word) and SW. The data is
 * wiped on apdu_resp_free() since a response may be a card random used as
 * a secret. */
typedef struct apdu_resp {
	bytebuf data;
	uint16_t sw;
} apdu_resp;

void apdu_resp_free(apdu_resp *r);

/* Splits a raw response: HV_ECARD when shorter than two bytes. */
int apdu_parse_response(const uint8_t *raw, size_t len, apdu_resp *r,
			hv_err *err);

/* Sends a, fills r (previous content replaced). 61xx: GET RESPONSE
 * (00 C0 00 00 xx) until the card stops asking, data concatenated; 6Cxx:
 * the command is re-sent once with Le = xx. Returns 0 whenever the exchange
 * itself worked (whatever the SW is); HV_ECARD etc. on transport failure. */
int apdu_transmit(card_transport *t, const apdu *a, apdu_resp *r, hv_err *err);

/* Sends a with its data split into pieces of at most chunk bytes under
 * command chaining (CLA | 0x10 on every piece but the last). Stops at the
 * first piece answered with anything but 9000 and returns that response.
 * Only for cards that accept chaining (pico-hsm does, OpenSC never uses
 * it); with lc <= chunk this is apdu_transmit(). */
int apdu_transmit_chained(card_transport *t, const apdu *a, size_t chunk,
			  apdu_resp *r, hv_err *err);

/* SW1 SW2 helpers. */
#define SW_OK 0x9000
static inline int sw_is_tries(uint16_t sw) { return (sw & 0xFFF0) == 0x63C0; }
static inline int sw_tries(uint16_t sw) { return sw & 0x0F; }

#endif
