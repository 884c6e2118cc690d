#include "card/schsm_sw.h"

#include <stdio.h>

static const char *tries_text(enum schsm_op op, uint16_t sw, char *s, unsigned n)
{
	const char *what = op == SCHSM_OP_SO_PIN || op == SCHSM_OP_INITIALIZE
		? "SO-PIN" : "PIN";
	int x = sw_tries(sw);
	if (x == 0)
		snprintf(s, n, "wrong %s; the %s is now blocked", what, what);
	else
		snprintf(s, n, "wrong %s, %d %s left", what, x, x == 1 ? "try" : "tries");
	return s;
}

const char *schsm_sw_message(enum schsm_op op, uint16_t sw, char *scratch,
			     unsigned scratch_len)
{
	if (sw_is_tries(sw))
		return tries_text(op, sw, scratch, scratch_len);
	switch (sw) {
	case 0x9000:
		return "success";
	case 0x6282:
		return "end of file reached";
	case 0x6400:
		if (op == SCHSM_OP_UNWRAP)
			return "the wrapped key does not match this card's DKEK";
		return "the card could not execute the command";
	case 0x6581:
		return "the card reports a memory failure";
	case 0x6700:
		return "the card rejected the data length";
	case 0x6883:
		return "the card expected the last command of a chain";
	case 0x6982:
		if (op == SCHSM_OP_SO_PIN || op == SCHSM_OP_INITIALIZE)
			return "the SO-PIN was not accepted";
		return "the user PIN has not been verified";
	case 0x6983:
		if (op == SCHSM_OP_SO_PIN || op == SCHSM_OP_INITIALIZE)
			return "the SO-PIN is blocked";
		return "the PIN is blocked: reset it with the SO-PIN or re-initialize the card";
	case 0x6984:
		if (op == SCHSM_OP_UNWRAP)
			return "the wrapped key has a key type this card does not accept";
		return "the user PIN is still the transport PIN: change it first";
	case 0x6985:
		if (op == SCHSM_OP_WRAP)
			return "the key is not exportable (its policy lacks the wrap algorithm)";
		if (op == SCHSM_OP_SIGN)
			return "the key may not be used with this algorithm";
		return "conditions of use not satisfied";
	case 0x6986:
		if (op == SCHSM_OP_DKEK)
			return "the card expects no DKEK share (none outstanding, or no DKEK configured)";
		if (op == SCHSM_OP_INITIALIZE)
			return "the card refused initialization (wrong SO-PIN?)";
		return "command not allowed";
	case 0x6A80:
		if (op == SCHSM_OP_UNWRAP)
			return "the wrapped key does not match this card's DKEK";
		if (op == SCHSM_OP_VERIFY)
			return "the PIN length is out of range (6 to 16 characters)";
		return "the card rejected the data";
	case 0x6A82:
		if (op == SCHSM_OP_SELECT)
			return "no SmartCard-HSM applet on this card";
		if (op == SCHSM_OP_WRAP || op == SCHSM_OP_SIGN)
			return "no such key on the card";
		return "no such file or key on the card";
	case 0x6A84:
		return "the card is out of memory";
	case 0x6A86:
	case 0x6A87:
	case 0x6B00:
		if (op == SCHSM_OP_UNWRAP)
			return "the wrapped key does not match this card's DKEK";
		if (op == SCHSM_OP_DKEK)
			return "card not initialized for DKEK shares";
		return "the card rejected the command parameters";
	case 0x6A88:
		switch (op) {
		case SCHSM_OP_VERIFY:
		case SCHSM_OP_SO_PIN:
			return "card not initialized";
		case SCHSM_OP_WRAP:
		case SCHSM_OP_UNWRAP:
			return "the card has no complete DKEK (import all shares first)";
		case SCHSM_OP_DKEK:
			return "the key domain is not configured";
		default:
			return "referenced data not found";
		}
	case 0x6A89:
		return "the object already exists";
	case 0x6D00:
		if (op == SCHSM_OP_DKEK || op == SCHSM_OP_WRAP || op == SCHSM_OP_UNWRAP)
			return "card not initialized for DKEK shares (initialized without a DKEK)";
		return "the card does not support this command (is the SmartCard-HSM applet selected?)";
	case 0x6E00:
		return "the card does not support this command class (the applet is not selected)";
	case 0x6F00:
		return "the card reported an internal error";
	default:
		snprintf(scratch, scratch_len, "the card refused the command");
		return scratch;
	}
}

int schsm_sw_code(enum schsm_op op, uint16_t sw)
{
	if (sw_is_tries(sw) && sw_tries(sw) > 0)
		return HV_ESECRET;
	if (sw == 0x6A80 && op == SCHSM_OP_VERIFY)
		return HV_ESECRET;
	return HV_ECARD;
}

const char *schsm_card_name(const schsm_card *c, char *buf, unsigned len)
{
	if (c && c->serial[0])
		snprintf(buf, len, "%s", c->serial);
	else
		snprintf(buf, len, "in reader %s",
			 c && c->t && c->t->reader ? c->t->reader : "?");
	return buf;
}

int schsm_sw_fail(const schsm_card *c, enum schsm_op op, uint16_t sw,
		  const char *what, hv_err *err)
{
	char scratch[96], name[160];
	return hv_fail(err, schsm_sw_code(op, sw), "%s on card %s: %s (SW %04X)",
		       what, schsm_card_name(c, name, sizeof(name)),
		       schsm_sw_message(op, sw, scratch, sizeof(scratch)), sw);
}
