/* Helpers for the simulator tests: drive a sim_card with hex APDUs. */
#ifndef HV_TEST_SIM_TEST_H
#define HV_TEST_SIM_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/card.h"
#include "util/buf.h"
#include "util/hex.h"

/* Sends the command (hex, blanks allowed) and returns SW1 SW2; the
 * response data replaces *data when data is not NULL. */
static inline uint16_t xfer_bytes(sim_card *c, const uint8_t *cmd, size_t len, bytebuf *data, int *changed)
{
	bytebuf resp = { 0 };
	int ch = 0;
	sim_card_process(c, cmd, len, &resp, &ch);
	assert_false(resp.failed);
	assert_true(resp.len >= 2);
	uint16_t sw = (uint16_t)(resp.data[resp.len - 2] << 8 | resp.data[resp.len - 1]);
	if (data) {
		buf_free(data);
		memset(data, 0, sizeof(*data));
		buf_put(data, resp.data, resp.len - 2);
	}
	if (changed)
		*changed = ch;
	buf_free(&resp);
	return sw;
}

static inline uint16_t xfer(sim_card *c, const char *hex, bytebuf *data)
{
	char clean[70000];
	size_t n = 0;
	for (const char *p = hex; *p && n + 1 < sizeof(clean); p++)
		if (*p != ' ')
			clean[n++] = *p;
	clean[n] = 0;
	static uint8_t cmd[35000];
	long len = hex_decode(clean, cmd, sizeof(cmd));
	assert_true(len >= 4);
	return xfer_bytes(c, cmd, (size_t)len, data, NULL);
}

static inline void assert_data_hex(const bytebuf *b, const char *hex)
{
	char out[4096];
	assert_true(b->len * 2 < sizeof(out));
	hex_encode(b->data, b->len, out, 1);
	assert_string_equal(out, hex);
}

#endif
