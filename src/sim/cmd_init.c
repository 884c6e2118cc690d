/* INITIALIZE DEVICE and IMPORT DKEK SHARE (smartcard-hsm.md 3, 4). */
#include <string.h>

#include <openssl/rand.h>

#include "crypto/dkek.h"
#include "sim/cmds.h"
#include "util/secbuf.h"
#include "util/tlv.h"

#define OPT_TRANSPORT 0x0002
#define DEFAULT_USER_TRIES 3
#define MAX_USER_TRIES 15

/* Host-made files go; the device identity (2F02) stays. */
static void wipe_host_objects(sim_state *s)
{
	for (int r = 1; r < 256; r++)
		sim_key_clear(&s->keys[r]);
	size_t i = 0;
	while (i < s->n_efs) {
		if (s->efs[i].fid == 0x2F02) {
			i++;
			continue;
		}
		sim_ef_delete(s, s->efs[i].fid);
	}
}

uint16_t cmd_initialize(sim_card *c, const capdu *a, int *changed)
{
	sim_state *s = c->st;
	if (a->p1 || a->p2)
		return SW_WRONG_P1P2;
	const uint8_t *opts = NULL, *pin = NULL, *so = NULL;
	size_t pin_len = 0;
	int tries = DEFAULT_USER_TRIES, shares = -1;
	size_t off = 0;
	while (off < a->lc) {
		tlv t;
		if (tlv_next(a->data, a->lc, &off, &t))
			return SW_WRONG_DATA;
		switch (t.tag) {
		case 0x80:
			if (t.len != 2)
				return SW_WRONG_DATA;
			opts = t.val;
			break;
		case 0x81:
			if (t.len < 6 || t.len > 16)
				return SW_WRONG_DATA;
			pin = t.val;
			pin_len = t.len;
			break;
		case 0x82:
			if (t.len != 8)
				return SW_WRONG_DATA;
			so = t.val;
			break;
		case 0x91:
			if (t.len != 1 || t.val[0] == 0 || t.val[0] > MAX_USER_TRIES)
				return SW_WRONG_DATA;
			tries = t.val[0];
			break;
		case 0x92:
			if (t.len != 1)
				return SW_WRONG_DATA;
			shares = t.val[0];
			break;
		case 0x93: /* public-key authentication: accepted, not enforced */
			if (t.len != 2 || t.val[0] == 0 || t.val[1] > t.val[0])
				return SW_WRONG_DATA;
			break;
		case 0x95: case 0x96: /* biometric servers: no such thing here */
			break;
		default: /* 97 (key domains) and anything else: not supported */
			return SW_WRONG_DATA;
		}
	}
	if (!pin || !so)
		return SW_WRONG_DATA;
	if (s->initialized) {
		/* Re-initialization needs the current SO-PIN. OpenSC reads a
		 * "not allowed" answer as "SO-PIN incorrect". */
		if (s->so_left == 0)
			return SW_BLOCKED;
		if (secure_memcmp(so, s->so_pin, 8) != 0) {
			s->so_left--;
			*changed = 1;
			return SW_CONDITIONS;
		}
	}
	wipe_host_objects(s);
	if (opts) /* absent: the options stay as they were */
		s->options = (uint16_t)(opts[0] << 8 | opts[1]);
	memcpy(s->user_pin, pin, pin_len);
	s->user_pin_len = pin_len;
	s->user_max = s->user_left = (uint8_t)tries;
	memcpy(s->so_pin, so, 8);
	s->so_left = SIM_SO_TRIES;
	s->transport = (s->options & OPT_TRANSPORT) != 0;
	s->initialized = 1;
	secure_wipe(s->dkek, sizeof(s->dkek));
	s->dkek_configured = shares >= 0;
	s->dkek_total = 0;
	s->dkek_outstanding = 0;
	if (shares > 0) {
		s->dkek_total = (uint8_t)shares;
		s->dkek_outstanding = (uint8_t)shares;
	} else if (shares == 0) {
		/* A random DKEK: keys can only be unwrapped on this card. */
		if (RAND_bytes(s->dkek, sizeof(s->dkek)) != 1)
			return SW_EXEC_ERROR;
		s->dkek_total = 1;
	}
	c->user_ok = 0;
	c->so_ok = 0;
	c->cur_ef = -1;
	*changed = 1;
	return SW_OK;
}

uint16_t cmd_manage_dkek(sim_card *c, const capdu *a, bytebuf *out, int *changed)
{
	sim_state *s = c->st;
	if (a->p1 != 0x00)
		return SW_WRONG_P1P2; /* key-domain management (P1 01-04) is not simulated */
	/* What sc-hsm-tool expects from a card without DKEK (or never
	 * initialized): "not supported or not initialized for key shares". */
	if (!s->initialized || !s->dkek_configured)
		return SW_INS_UNKNOWN;
	if (a->p2 != 0x00)
		return SW_WRONG_P1P2; /* only key domain 0 exists */
	if (a->lc) {
		if (a->lc != DKEK_LEN)
			return SW_WRONG_LENGTH;
		if (s->dkek_outstanding == 0)
			return SW_NOT_ALLOWED;
		dkek_add_share(s->dkek, a->data);
		s->dkek_outstanding--;
		*changed = 1;
	}
	uint8_t kcv[DKEK_KCV_LEN] = { 0 };
	if (s->dkek_outstanding == 0)
		dkek_kcv(s->dkek, kcv);
	buf_put_u8(out, s->dkek_total);
	buf_put_u8(out, s->dkek_outstanding);
	buf_put(out, kcv, sizeof(kcv));
	return SW_OK;
}
