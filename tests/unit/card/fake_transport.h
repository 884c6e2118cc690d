/* A scripted card for APDU-level unit tests: each step names the exact
 * command expected (hex, or bytes) and the response to give. Any command
 * that differs from the script is recorded as a mismatch and fails the
 * exchange, so a test asserts the whole transcript. */
#ifndef HV_TEST_FAKE_TRANSPORT_H
#define HV_TEST_FAKE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "card/apdu.h"

#define FAKE_REMOVED "REMOVED" /* resp: the card was pulled */
#define FAKE_IOERR "IOERR"     /* resp: some other transport failure */

typedef struct fake_step {
	const char *cmd;        /* expected command in hex (spaces allowed) */
	const uint8_t *cmd_bin; /* ... or as bytes, when cmd is NULL */
	size_t cmd_bin_len;
	const char *resp;       /* response hex incl. SW, or FAKE_* */
	const uint8_t *resp_bin; /* ... or as bytes, when resp is NULL */
	size_t resp_bin_len;
} fake_step;

typedef struct fake_transport {
	card_transport t;
	const fake_step *steps;
	size_t n, pos;
	char mismatch[4096]; /* first difference, "" when none */
} fake_transport;

void fake_init(fake_transport *f, const fake_step *steps, size_t n);

/* cmocka-asserts: no mismatch and every step used. */
void fake_assert_done(const fake_transport *f);

/* Hex to freshly malloc'd bytes (test helper); *len set. */
uint8_t *fake_hex(const char *hex, size_t *len);

#endif
