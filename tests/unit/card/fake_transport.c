#include "fake_transport.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/hex.h"

uint8_t *fake_hex(const char *hex, size_t *len)
{
	/* hex_decode wants pairs; drop every blank first. */
	size_t n = strlen(hex);
	char *clean = malloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (hex[i] != ' ' && hex[i] != '\n' && hex[i] != '\t')
			clean[k++] = hex[i];
	clean[k] = '\0';
	uint8_t *out = malloc(k / 2 + 1);
	long r = hex_decode(clean, out, k / 2 + 1);
	free(clean);
	if (r < 0) {
		fail_msg("bad hex in test script: %s", hex);
	}
	*len = (size_t)r;
	return out;
}

static void dump(char *dst, size_t cap, const uint8_t *b, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 4 < cap; i++)
		o += (size_t)snprintf(dst + o, cap - o, "%02X", b[i]);
	if (o < cap)
		dst[o] = '\0';
}

static int fake_transmit(card_transport *t, const uint8_t *cmd, size_t cmd_len,
			 uint8_t *resp, size_t *resp_len, hv_err *err)
{
	fake_transport *f = t->priv;
	if (f->mismatch[0])
		return hv_fail(err, HV_ECARD, "fake: earlier mismatch");
	if (f->pos >= f->n) {
		char got[1024];
		dump(got, sizeof(got), cmd, cmd_len);
		snprintf(f->mismatch, sizeof(f->mismatch),
			 "step %zu: unexpected extra command %s", f->pos, got);
		return hv_fail(err, HV_ECARD, "fake: script exhausted");
	}
	const fake_step *s = &f->steps[f->pos++];
	uint8_t *want = NULL;
	size_t want_len = 0;
	if (s->cmd)
		want = fake_hex(s->cmd, &want_len);
	const uint8_t *w = s->cmd ? want : s->cmd_bin;
	if (!s->cmd)
		want_len = s->cmd_bin_len;
	if (w && (want_len != cmd_len || memcmp(w, cmd, cmd_len) != 0)) {
		char got[1800], exp[1800];
		dump(got, sizeof(got), cmd, cmd_len);
		dump(exp, sizeof(exp), w, want_len);
		snprintf(f->mismatch, sizeof(f->mismatch),
			 "step %zu:\n  expected %s\n  got      %s", f->pos - 1, exp, got);
		free(want);
		return hv_fail(err, HV_ECARD, "fake: command mismatch");
	}
	free(want);
	if (s->resp && strcmp(s->resp, FAKE_REMOVED) == 0) {
		t->removed = 1;
		*resp_len = 0;
		return hv_fail(err, HV_ECARD,
			       "the card in reader %s was removed: reinsert it and run the command again",
			       t->reader);
	}
	if (s->resp && strcmp(s->resp, FAKE_IOERR) == 0) {
		*resp_len = 0;
		return hv_fail(err, HV_ECARD, "fake: transmission failed");
	}
	size_t rl;
	uint8_t *r = NULL;
	const uint8_t *rb;
	if (s->resp) {
		r = fake_hex(s->resp, &rl);
		rb = r;
	} else {
		rb = s->resp_bin;
		rl = s->resp_bin_len;
	}
	assert_true(rl <= *resp_len);
	memcpy(resp, rb, rl);
	*resp_len = rl;
	free(r);
	return HV_OK;
}

void fake_init(fake_transport *f, const fake_step *steps, size_t n)
{
	memset(f, 0, sizeof(*f));
	f->steps = steps;
	f->n = n;
	f->t.transmit = fake_transmit;
	f->t.reader = "Fake Reader 00 00";
	f->t.priv = f;
}

void fake_assert_done(const fake_transport *f)
{
	if (f->mismatch[0])
		fail_msg("%s", f->mismatch);
	if (f->pos != f->n)
		fail_msg("only %zu of %zu scripted commands were sent", f->pos, f->n);
}
