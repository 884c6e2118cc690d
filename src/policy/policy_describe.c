#include "policy/policy.h"

/* "a", "a and b", "a, b and c" */
static void put_names(FILE *f, const char (*names)[POLICY_NAME_MAX + 1], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputs(i + 1 == n ? " and " : ", ", f);
		fputs(names[i], f);
	}
}

static void put_share(FILE *f, const policy_share *s, size_t index)
{
	fprintf(f, "share %zu (%s) ", index, s->file);
	if (s->threshold == 0) {
		fprintf(f, "is kept by %s", s->holders[0]);
		return;
	}
	fprintf(f, "has its password split %u-of-%zu among ", s->threshold,
		s->n_holders);
	put_names(f, s->holders, s->n_holders);
}

int policy_describe(const policy *p, FILE *f)
{
	fprintf(f, "Policy %s", p->name);
	if (p->description[0])
		fprintf(f, " (%s)", p->description);
	fprintf(f, ": a set of %u card%s", p->card_count, p->card_count == 1 ? "" : "s");
	if (p->n_card_labels) {
		fputs(" (", f);
		put_names(f, p->card_labels, p->n_card_labels);
		fputs(")", f);
	}
	fprintf(f, " sharing one DKEK made of %zu share%s: ", p->n_shares,
		p->n_shares == 1 ? "" : "s");
	for (size_t i = 0; i < p->n_shares; i++) {
		if (i > 0)
			fputs("; ", f);
		put_share(f, &p->shares[i], i + 1);
	}
	fprintf(f, ". Each card's user PIN locks after %u wrong tr%s; the SO-PIN "
		"is kept %s. Every private key on a card of the set must have a "
		"backup in the vault, and the backup must be verified at least "
		"every %u day%s.", p->retry_counter, p->retry_counter == 1 ? "y" : "ies",
		p->so_pin == SO_PIN_VAULT ? "inside the vault's LUKS volume" :
		"by people, outside the vault",
		p->max_age_days, p->max_age_days == 1 ? "" : "s");
	fprintf(f, " A card that cannot prove it is genuine (no device certificate chain "
		"to a trusted root, such as a pico-hsm) %s; a card whose chain fails to "
		"verify is always refused.\n",
		p->unattested == UNATTESTED_ACCEPT ? "is accepted" :
		"is refused (set cards.unattested: accept to accept it)");
	return ferror(f) ? HV_EIO : HV_OK;
}
