/* libFuzzer harness: a hostile card. The input is a sequence of responses
 * (each: 2-byte big-endian length, then that many bytes incl. SW1 SW2)
 * handed out one per exchange by a transport of our own, whatever the
 * command; when they run out the card is "removed". The card layer is
 * driven through what hsmvault asks of every card: SELECT, EF 2F02
 * identity, PIN and DKEK status, ENUMERATE, and the inventory (READ
 * BINARY of PRKDs and certificates). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "card/apdu.h"
#include "card/schsm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct hostile {
	const uint8_t *data;
	size_t size, pos;
} hostile;

static int hostile_transmit(card_transport *t, const uint8_t *cmd, size_t cmd_len,
			    uint8_t *resp, size_t *resp_len, hv_err *err)
{
	(void)cmd;
	(void)cmd_len;
	hostile *h = t->priv;
	if (h->size - h->pos < 2) {
		t->removed = 1;
		return hv_fail(err, HV_ECARD, "fuzz card: out of responses (removed)");
	}
	size_t len = (size_t)h->data[h->pos] << 8 | h->data[h->pos + 1];
	h->pos += 2;
	if (len > h->size - h->pos)
		len = h->size - h->pos;
	memcpy(resp, h->data + h->pos, len);
	h->pos += len;
	*resp_len = len;
	t->count++;
	return HV_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hostile h = { data, size, 0 };
	card_transport t = { .transmit = hostile_transmit, .reader = "fuzz", .priv = &h };
	schsm_card c;
	hv_err err;
	memset(&c, 0, sizeof(c));
	if (schsm_open(&c, &t, &err) != HV_OK)
		return 0;
	schsm_identity id;
	(void)schsm_card_identity(&c, &id, &err);
	schsm_pin_info pin;
	(void)schsm_pin_status(&c, 0x81, &pin, &err);
	schsm_dkek_info dk;
	(void)schsm_dkek_status(&c, &dk, &err);
	schsm_device_info dev;
	(void)schsm_device_status(&c, &dev, &err);
	schsm_key_list list = { 0 };
	if (schsm_list_keys(&c, &list, &err) == HV_OK)
		schsm_key_list_free(&list);
	bytebuf ef = { 0 };
	int exists = 0;
	(void)schsm_read_ef(&c, 0x2F02, &ef, &exists, &err);
	buf_free(&ef);
	return 0;
}
