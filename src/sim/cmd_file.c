/* SELECT, READ BINARY, UPDATE BINARY, DELETE FILE, ENUMERATE OBJECTS
 * (smartcard-hsm.md 1.1, 5.3-5.7). */
#include <stdlib.h>
#include <string.h>

#include "sim/cmds.h"
#include "util/tlv.h"

static const uint8_t AID[11] = { 0xE8, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x81, 0xC3, 0x1F, 0x02, 0x01 };

#define PREFIX_KEY 0xCC
#define PREFIX_PRIVATE_DATA 0xCD
#define PREFIX_PRKD 0xC4
#define PREFIX_CD 0xC8
#define PREFIX_DCOD 0xC9
#define FID_DEVICE_CERTS 0x2F02

/* pico-hsm's life-cycle byte (8A) in every FCP it sends. */
static const uint8_t PICO_LIFE_CYCLE = 0x05;

/* Tag 85: options, platform byte (OpenSC: 00 = "SmartCard-HSM Applet for
 * JCOP"), firmware version; the rest as the family lays it out. pico-hsm
 * puts its AID shifted by one byte into tag 84 (first byte dropped, a 30
 * appended: what the emulator of its firmware answers). */
static void put_applet_fcp(sim_card *c, bytebuf *out)
{
	const sim_profile *p = c->st->profile;
	bytebuf f = { 0 };
	uint8_t prop[5] = { (uint8_t)(c->st->options >> 8), (uint8_t)c->st->options, p->platform,
			    p->fw_major, p->fw_minor };
	if (p->fcp_pico_layout) {
		static const uint8_t zero2[2] = { 0, 0 };
		uint8_t desc = 0x01, shifted[sizeof(AID)];
		memcpy(shifted, AID + 1, sizeof(AID) - 1);
		shifted[sizeof(AID) - 1] = 0x30;
		buf_put_tlv(&f, 0x81, zero2, 2);
		buf_put_tlv(&f, 0x82, &desc, 1);
		buf_put_tlv(&f, 0x83, zero2, 2);
		buf_put_tlv(&f, 0x84, shifted, sizeof(shifted));
		buf_put_tlv(&f, 0x8A, &PICO_LIFE_CYCLE, 1);
	} else {
		uint8_t desc = 0x38; /* DF */
		buf_put_tlv(&f, 0x82, &desc, 1);
		buf_put_tlv(&f, 0x84, AID, sizeof(AID));
	}
	buf_put_tlv(&f, 0x85, prop, sizeof(prop));
	buf_put_tlv(out, 0x62, f.data, f.len);
	buf_free(&f);
}

static void put_ef_fcp(const sim_profile *p, uint16_t fid, size_t size, bytebuf *out)
{
	bytebuf f = { 0 };
	uint8_t sz[2] = { (uint8_t)(size >> 8), (uint8_t)size };
	uint8_t desc = 0x01; /* working EF, transparent */
	uint8_t id[2] = { (uint8_t)(fid >> 8), (uint8_t)fid };
	buf_put_tlv(&f, p->fcp_pico_layout ? 0x81 : 0x80, sz, 2);
	buf_put_tlv(&f, 0x82, &desc, 1);
	buf_put_tlv(&f, 0x83, id, 2);
	if (p->fcp_pico_layout)
		buf_put_tlv(&f, 0x8A, &PICO_LIFE_CYCLE, 1);
	buf_put_tlv(out, 0x62, f.data, f.len);
	buf_free(&f);
}

/* 1 when fid names an existing key object (CC00 = device key included). */
static int key_exists(sim_card *c, uint16_t fid)
{
	if (fid >> 8 != PREFIX_KEY)
		return 0;
	return (fid & 0xFF) == 0 || card_key(c, fid & 0xFF) != NULL;
}

uint16_t cmd_select(sim_card *c, const capdu *a, bytebuf *out)
{
	int want_fcp = a->p2 == 0x00 || a->p2 == 0x04;
	if (!want_fcp && (a->p2 != 0x0C || !c->st->profile->select_p2_0c_accepted))
		return SW_WRONG_P1P2;
	if (a->p1 == 0x04) {
		if (a->lc != sizeof(AID) || memcmp(a->data, AID, sizeof(AID)) != 0)
			return SW_NOT_FOUND;
		/* Re-selection is how clients log out: it drops all authentication. */
		c->selected = 1;
		c->user_ok = 0;
		c->so_ok = 0;
		c->cur_ef = -1;
		if (want_fcp)
			put_applet_fcp(c, out);
		return SW_OK;
	}
	if (a->p1 != 0x00 && a->p1 != 0x02 && a->p1 != 0x08 && a->p1 != 0x09)
		return SW_WRONG_P1P2;
	if (!c->selected)
		return SW_NOT_FOUND;
	if (a->lc < 2 || a->lc % 2)
		return SW_WRONG_DATA;
	/* A path names the EF in its last two bytes: there is only one DF. */
	uint16_t fid = (uint16_t)(a->data[a->lc - 2] << 8 | a->data[a->lc - 1]);
	if (fid == 0x3F00) {
		if (!c->st->profile->mf_selectable)
			return SW_NOT_FOUND;
		c->cur_ef = -1;
		if (want_fcp) {
			bytebuf f = { 0 };
			uint8_t desc = 0x38, id[2] = { 0x3F, 0x00 };
			buf_put_tlv(&f, 0x82, &desc, 1);
			buf_put_tlv(&f, 0x83, id, 2);
			buf_put_tlv(out, 0x62, f.data, f.len);
			buf_free(&f);
		}
		return SW_OK;
	}
	sim_ef *e = sim_ef_find(c->st, fid);
	if (!e && !key_exists(c, fid))
		return SW_NOT_FOUND;
	c->cur_ef = fid;
	if (want_fcp)
		put_ef_fcp(c->st->profile, fid, e ? e->len : 0, out);
	return SW_OK;
}

/* The offset object 54 (1 to 4 bytes; the card's files end at 0xFFFF). */
static int parse_offset(const uint8_t *d, size_t len, size_t *off, size_t *used)
{
	tlv t;
	size_t p = 0;
	*off = 0;
	*used = 0;
	if (len == 0)
		return 0;
	if (tlv_next(d, len, &p, &t) || t.tag != 0x54 || t.len < 1 || t.len > 4)
		return -1;
	size_t v = 0;
	for (size_t i = 0; i < t.len; i++)
		v = v << 8 | t.val[i];
	*off = v;
	*used = p;
	return 0;
}

/* Resolves P1P2 (0000 = current EF) for the odd-INS file commands. */
static int target_fid(sim_card *c, const capdu *a)
{
	uint16_t fid = (uint16_t)(a->p1 << 8 | a->p2);
	if (fid == 0)
		return c->cur_ef;
	return fid;
}

uint16_t cmd_read_binary(sim_card *c, const capdu *a, bytebuf *out)
{
	int fid;
	size_t off = 0;
	if (a->ins == 0xB0) {
		if (a->p1 & 0x80)
			return SW_WRONG_P1P2; /* SFI form: no short identifiers here */
		if (a->lc)
			return SW_WRONG_LENGTH;
		fid = c->cur_ef;
		off = (size_t)a->p1 << 8 | a->p2;
	} else {
		size_t used;
		if (parse_offset(a->data, a->lc, &off, &used) || used != a->lc)
			return SW_WRONG_DATA;
		fid = target_fid(c, a);
	}
	if (fid < 0)
		return SW_NOT_ALLOWED;
	if (key_exists(c, (uint16_t)fid))
		return SW_SECURITY;
	sim_ef *e = sim_ef_find(c->st, (uint16_t)fid);
	if (!e)
		return SW_NOT_FOUND;
	if (fid >> 8 == PREFIX_PRIVATE_DATA && !c->user_ok)
		return SW_SECURITY;
	c->cur_ef = fid;
	if (off > e->len)
		return SW_EOF;
	size_t avail = e->len - off;
	if (avail == 0)
		return SW_OK;
	size_t n = avail < a->ne ? avail : a->ne;
	buf_put(out, e->data + off, n);
	return avail < a->ne && c->st->profile->read_short_warns ? SW_EOF : SW_OK;
}

uint16_t cmd_update_binary(sim_card *c, const capdu *a, int *changed)
{
	int fid = target_fid(c, a);
	if (fid < 0)
		return SW_NOT_ALLOWED;
	size_t off, used;
	tlv d;
	if (parse_offset(a->data, a->lc, &off, &used) || used == 0 ||
	    tlv_next(a->data, a->lc, &used, &d) || d.tag != 0x53 || used != a->lc)
		return SW_WRONG_DATA;
	if (!c->user_ok)
		return SW_SECURITY;
	if (fid >> 8 == PREFIX_KEY || fid == FID_DEVICE_CERTS || fid == 0x3F00)
		return SW_SECURITY;
	sim_ef *e = sim_ef_find(c->st, (uint16_t)fid);
	size_t size = e ? e->len : 0;
	if (off > size)
		return SW_WRONG_DATA;
	/* Offset 0 replaces the content (the pico-hsm behaviour; how the real
	 * card treats a shorter rewrite is not documented, and OpenSC deletes
	 * before shrinking anyway). A later offset patches or extends. */
	size_t new_len = off == 0 ? d.len : (off + d.len > size ? off + d.len : size);
	if (new_len > SIM_MAX_EF_SIZE)
		return SW_NO_MEMORY;
	uint8_t *buf = NULL;
	if (new_len) {
		buf = malloc(new_len);
		if (!buf)
			return SW_NO_MEMORY;
		if (off > 0)
			memcpy(buf, e->data, size);
		memcpy(buf + off, d.val, d.len);
	}
	int rc = sim_ef_put(c->st, (uint16_t)fid, buf, new_len);
	free(buf);
	if (rc)
		return SW_NO_MEMORY;
	c->cur_ef = fid;
	*changed = 1;
	return SW_OK;
}

uint16_t cmd_delete_file(sim_card *c, const capdu *a, int *changed)
{
	if ((a->p1 != 0x02 && a->p1 != 0x00) || a->p2 != 0x00)
		return SW_WRONG_P1P2;
	if (a->lc != 2)
		return SW_WRONG_LENGTH;
	if (!c->user_ok)
		return SW_SECURITY;
	uint16_t fid = (uint16_t)(a->data[0] << 8 | a->data[1]);
	if (fid == (PREFIX_KEY << 8) || fid == FID_DEVICE_CERTS)
		return SW_CONDITIONS;
	if (fid >> 8 == PREFIX_KEY) {
		sim_key *k = card_key(c, fid & 0xFF);
		if (!k)
			return SW_NOT_FOUND;
		sim_key_clear(k);
	} else {
		if (!sim_ef_find(c->st, fid))
			return SW_NOT_FOUND;
		sim_ef_delete(c->st, fid);
	}
	if (c->cur_ef == fid)
		c->cur_ef = -1;
	*changed = 1;
	return SW_OK;
}

/* pico-hsm: C400 first (even factory-fresh), CC00 once INITIALIZE made
 * the device key, then keys and the C4 / C8 / C9 descriptions, newest
 * reference first (observed: C400 CC00 CC02 CC01 C402 C401); never CA, CE,
 * CF, CD or 2F02. */
static uint16_t enumerate_pico(sim_card *c, bytebuf *out)
{
	static const uint8_t listed[3] = { PREFIX_PRKD, PREFIX_CD, PREFIX_DCOD };
	buf_put_u16be(out, PREFIX_PRKD << 8);
	if (c->st->devkey)
		buf_put_u16be(out, PREFIX_KEY << 8);
	for (unsigned r = 255; r >= 1; r--)
		if (c->st->keys[r].used)
			buf_put_u16be(out, (uint16_t)(PREFIX_KEY << 8 | r));
	for (size_t p = 0; p < sizeof(listed); p++) {
		for (size_t i = c->st->n_efs; i-- > 0;) {
			uint16_t fid = c->st->efs[i].fid;
			if (fid >> 8 == listed[p] && fid != PREFIX_PRKD << 8)
				buf_put_u16be(out, fid);
		}
	}
	return SW_OK;
}

uint16_t cmd_enumerate(sim_card *c, const capdu *a, bytebuf *out)
{
	if (a->p1 || a->p2)
		return SW_WRONG_P1P2;
	if (c->st->profile->enumerate_pico_style)
		return enumerate_pico(c, out);
	/* The real card lists every object: keys first (device key CC00
	 * always), then every EF in FID order. */
	buf_put_u16be(out, PREFIX_KEY << 8);
	for (unsigned r = 1; r < 256; r++)
		if (c->st->keys[r].used)
			buf_put_u16be(out, (uint16_t)(PREFIX_KEY << 8 | r));
	for (size_t i = 0; i < c->st->n_efs; i++)
		buf_put_u16be(out, c->st->efs[i].fid);
	return SW_OK;
}
