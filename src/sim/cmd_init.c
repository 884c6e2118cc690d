/* INITIALIZE DEVICE and IMPORT DKEK SHARE (smartcard-hsm.md 3, 4). */
#include <string.h>

#include <openssl/rand.h>

#include "crypto/dkek.h"
#include "sim/cmds.h"
#include "sim/state.h"
#include "util/secbuf.h"
#include "util/tlv.h"

#define OPT_TRANSPORT 0x0002
#define DEFAULT_USER_TRIES 3
#define MAX_USER_TRIES 15

/* The device identity: 2F02, and on pico-hsm also the device key's
 * request (CE00) and description (C400) that its INITIALIZE wrote. */
static int identity_file(const sim_state *s, uint16_t fid)
{
	if (fid == 0x2F02)
		return 1;
	return s->profile->devaut == SIM_DEVAUT_SELF_SIGNED_AT_INIT && (fid == 0xCE00 || fid == 0xC400);
}

/* Host-made files go; the device identity stays. */
static void wipe_host_objects(sim_state *s)
{
	for (int r = 1; r < 256; r++)
		sim_key_clear(&s->keys[r]);
	size_t i = 0;
	while (i < s->n_efs) {
		if (identity_file(s, s->efs[i].fid)) {
			i++;
			continue;
		}
		sim_ef_delete(s, s->efs[i].fid);
	}
}

/* pico-hsm keeps its device certificate over a re-INITIALIZE only when it
 * can unlock its master key: with a PIN session still open, or when the new
 * user PIN or SO-PIN equals the old one (its cmd_initialize.c and
 * load_mkek). Otherwise it makes the key again, from its OTP key on the
 * boards simulated here: the same key, a new signature (seen on the
 * emulator). */
static int pico_keeps_identity(const sim_card *c, const uint8_t *pin, size_t pin_len, const uint8_t *so)
{
	const sim_state *s = c->st;
	if (s->devaut == SIM_DEVAUT_NONE || !s->initialized)
		return s->devaut != SIM_DEVAUT_NONE;
	if (c->user_ok || c->so_ok)
		return 1;
	int same_user = pin_len == s->user_pin_len && secure_memcmp(pin, s->user_pin, pin_len) == 0;
	return same_user || secure_memcmp(so, s->so_pin, 8) == 0;
}

uint16_t cmd_initialize(sim_card *c, const capdu *a, bytebuf *out, int *changed)
{
	sim_state *s = c->st;
	if (a->p1 || a->p2)
		return SW_WRONG_P1P2;
	if (a->lc == 0 && s->profile->init_without_data_info) {
		/* pico-hsm: free memory (the emulator's fixed 1 MiB) and version. */
		static const uint8_t mem[5] = { 0x00, 0x10, 0x00, 0x00, 0x00 };
		buf_put(out, mem, sizeof(mem));
		buf_put_u8(out, s->profile->fw_major);
		buf_put_u8(out, s->profile->fw_minor);
		return SW_OK;
	}
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
	if (s->initialized && s->profile->reinit_checks_so_pin) {
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
	int self_signed = s->profile->devaut == SIM_DEVAUT_SELF_SIGNED_AT_INIT;
	int new_identity = self_signed && !pico_keeps_identity(c, pin, pin_len, so);
	wipe_host_objects(s);
	if (new_identity && sim_state_make_self_signed_identity(s)) {
		*changed = 1;
		return SW_EXEC_ERROR;
	}
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
	/* pico-hsm leaves both PIN sessions open after INITIALIZE. */
	c->user_ok = s->profile->init_leaves_user_verified;
	c->so_ok = s->profile->init_leaves_user_verified;
	c->cur_ef = -1;
	*changed = 1;
	return SW_OK;
}

uint16_t cmd_manage_dkek(sim_card *c, const capdu *a, bytebuf *out, int *changed)
{
	sim_state *s = c->st;
	if (a->p1 != 0x00)
		return SW_WRONG_P1P2; /* key-domain management (P1 01-04) is not simulated */
	const sim_profile *p = s->profile;
	/* What sc-hsm-tool expects from a card without DKEK (or never
	 * initialized): "not supported or not initialized for key shares".
	 * pico-hsm answers 6B 00 before its first INITIALIZE and reports a
	 * domain without DKEK as 00 00 with a zero KCV. */
	if (!s->initialized)
		return p->sw_dkek_never_initialized;
	if (!s->dkek_configured && !p->no_dkek_status_zero)
		return SW_INS_UNKNOWN;
	if (a->p2 != 0x00)
		return SW_WRONG_P1P2; /* only key domain 0 exists */
	if (!s->dkek_configured) {
		if (a->lc)
			return SW_NOT_ALLOWED;
		uint8_t none[2 + DKEK_KCV_LEN] = { 0 };
		buf_put(out, none, sizeof(none));
		return SW_OK;
	}
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
	if (s->dkek_outstanding == 0) {
		/* pico-hsm can only read its DKEK with the user PIN's session key:
		 * without a VERIFY since the last SELECT the KCV is zeros. */
		if (!p->kcv_needs_user_pin || c->user_ok)
			dkek_kcv(s->dkek, kcv);
	} else if (p->kcv_needs_user_pin && s->dkek_outstanding < s->dkek_total) {
		/* ... and once some but not all shares are in it shows bytes that
		 * mean nothing: here the check value of the partial sum. */
		dkek_kcv(s->dkek, kcv);
	}
	buf_put_u8(out, s->dkek_total);
	buf_put_u8(out, s->dkek_outstanding);
	buf_put(out, kcv, sizeof(kcv));
	return SW_OK;
}
