/* The cards of a flow. Opening is in two steps: PC/SC connections and
 * transactions one reader after the other (cheap), then the card commands
 * (select, device certificate, PIN and DKEK status: slow on real cards)
 * for all cards at once in their own threads. Each card keeps its own
 * PC/SC context so that no two threads ever share PC/SC state. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows/cardset.h"
#include "util/hex.h"

/* card_id as manifest_card_identity() writes it over the device
 * certificate: the hash is already in the identity, so only the format is
 * repeated here (the flows layer must not pull the vault layer's hashing
 * in for one snprintf). */
static void card_id_from_identity(const schsm_identity *id, char *out, size_t outsz)
{
	char h[65];
	hex_encode(id->devcert_sha256, sizeof(id->devcert_sha256), h, 0);
	snprintf(out, outsz, "%.64s-%.16s", id->serial, h);
}

int cardset_read_identity(flow_card *c, int must_exist, hv_err *err)
{
	int rc = schsm_card_identity(&c->sc, &c->ident, err);
	if (rc != HV_OK)
		return rc;
	if (c->ident.no_identity) {
		if (must_exist)
			return hv_fail(err, HV_ECARD,
				       "the card was initialized but still shows no device certificate "
				       "(file 2F02): it cannot be identified, so hsmvault will not "
				       "record it");
		/* A blank pico-hsm: nothing may be keyed on the certificate it
		 * does not have yet. The empty id matches no card of any set;
		 * the serial is only what progress lines show until INITIALIZE. */
		c->card_id[0] = '\0';
		snprintf(c->ident.serial, sizeof(c->ident.serial), "%s", CARDSET_BLANK_SERIAL);
		return HV_OK;
	}
	card_id_from_identity(&c->ident, c->card_id, sizeof(c->card_id));
	return HV_OK;
}

static void close_card(flow_card *c)
{
	hv_err e;
	hv_err_clear(&e);
	if (c->pc) {
		/* The reset drops every PIN session the flow opened. */
		pcsc_end(c->pc, 1, &e);
		pcsc_disconnect(c->pc);
		c->pc = NULL;
	}
	if (c->ctx) {
		pcsc_close(c->ctx);
		c->ctx = NULL;
	}
}

void cardset_close(cardset *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		close_card(&s->cards[i]);
	free(s->cards);
	s->cards = NULL;
	s->n = 0;
}

/* "HV Sim 0 00 00, HV Sim 0 00 01" for messages (truncated when long). */
static void reader_list_text(const pcsc_reader *r, size_t n, char *out, size_t outsz)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && used + 1 < outsz; i++) {
		int w = snprintf(out + used, outsz - used, "%s'%s'", i ? ", " : "", r[i].name);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* Connects to the card in `name` with a context of its own and begins the
 * flow's transaction. On failure c holds nothing open. */
static int connect_card(flow_card *c, const char *name, hv_err *err)
{
	snprintf(c->reader, sizeof(c->reader), "%s", name);
	int rc = pcsc_open(&c->ctx, err);
	if (rc != HV_OK)
		return rc;
	rc = pcsc_connect(c->ctx, name, &c->pc, err);
	if (rc == HV_OK) {
		rc = pcsc_begin(c->pc, err);
		if (rc != HV_OK) {
			pcsc_disconnect(c->pc);
			c->pc = NULL;
		}
	}
	if (rc != HV_OK) {
		pcsc_close(c->ctx);
		c->ctx = NULL;
	}
	return rc;
}

/* Runs in the card's thread: everything cardset_open reads from a card.
 * A card without the applet is marked by skip (not an error). */
typedef struct open_job {
	const cardset *s;
	int *skip;               /* per card */
} open_job;

static int read_card(flow_card *c, void *ctx, hv_err *err)
{
	open_job *job = ctx;
	int rc = schsm_open(&c->sc, pcsc_transport(c->pc), err);
	if (rc != HV_OK) {
		if (rc == HV_ECARD && !schsm_card_removed(&c->sc)) {
			job->skip[c - job->s->cards] = 1;
			return HV_OK;
		}
		return rc;
	}
	rc = cardset_read_identity(c, 0, err);
	if (rc != HV_OK)
		return rc;
	rc = schsm_device_status(&c->sc, &c->dev, err);
	if (rc != HV_OK)
		return rc;
	/* A blank card has no DKEK to ask about (and some firmware answers
	 * the query with an error before initialization). */
	if (c->dev.state != SCHSM_DEV_UNINITIALIZED)
		rc = schsm_dkek_status(&c->sc, &c->dkek, err);
	return rc;
}

/* Opens connections to the readers of `r` that hold a card (only `only`
 * when set) into s. */
static int connect_all(const flow_ctx *fc, const pcsc_reader *r, size_t nr, cardset *s,
		       hv_err *err)
{
	s->cards = calloc(nr ? nr : 1, sizeof(*s->cards));
	if (!s->cards)
		return hv_fail(err, HV_ENOMEM, "out of memory listing the cards");
	for (size_t i = 0; i < nr; i++) {
		if (fc->reader && strcmp(fc->reader, r[i].name))
			continue;
		if (!r[i].card_present) {
			if (fc->reader)
				return hv_fail(err, HV_ECARD,
					       "no card in reader '%s': insert the card and run again",
					       r[i].name);
			continue;
		}
		flow_card *c = &s->cards[s->n];
		memset(c, 0, sizeof(*c));
		int rc = connect_card(c, r[i].name, err);
		if (rc != HV_OK)
			return rc;
		s->n++;
	}
	return HV_OK;
}

int cardset_open(const flow_ctx *fc, cardset *s, hv_err *err)
{
	memset(s, 0, sizeof(*s));
	pcsc_ctx *list_ctx = NULL;
	pcsc_reader *r = NULL;
	size_t nr = 0;
	int rc = pcsc_open(&list_ctx, err);
	if (rc != HV_OK)
		return rc;
	rc = pcsc_list_readers(list_ctx, &r, &nr, err);
	if (rc != HV_OK) {
		pcsc_close(list_ctx);
		return rc;
	}
	if (fc->reader) {
		size_t i;
		for (i = 0; i < nr && strcmp(fc->reader, r[i].name); i++)
			;
		if (i == nr) {
			char names[384];
			reader_list_text(r, nr, names, sizeof(names));
			rc = nr ? hv_fail(err, HV_EUSAGE,
					  "no reader named '%s': give one of %s to --reader",
					  fc->reader, names)
				: hv_fail(err, HV_EUSAGE,
					  "no reader named '%s': no card reader is connected",
					  fc->reader);
		}
	}
	if (rc == HV_OK)
		rc = connect_all(fc, r, nr, s, err);
	pcsc_readers_free(r, nr);
	pcsc_close(list_ctx);
	if (rc != HV_OK) {
		cardset_close(s);
		return rc;
	}

	open_job job = { s, calloc(s->n ? s->n : 1, sizeof(int)) };
	if (!job.skip) {
		cardset_close(s);
		return hv_fail(err, HV_ENOMEM, "out of memory opening the cards");
	}
	rc = cardset_each(s, read_card, &job, err);
	size_t kept = 0;
	for (size_t i = 0; i < s->n; i++) {
		flow_card *c = &s->cards[i];
		if (rc == HV_OK && job.skip[i]) {
			if (strstr(c->err.msg, c->reader))
				flow_say(fc, "skipped: %s", c->err.msg);
			else
				flow_say(fc, "skipped reader %s: %s", c->reader, c->err.msg);
			close_card(c);
			continue;
		}
		hv_err_clear(&c->err);
		c->rc = HV_OK;
		if (kept != i)
			s->cards[kept] = *c;
		kept++;
	}
	s->n = kept;
	free(job.skip);
	if (rc != HV_OK) {
		cardset_close(s);
		return rc;
	}
	if (s->n == 0) {
		cardset_close(s);
		if (fc->reader)
			return hv_fail(err, HV_ECARD,
				       "no SmartCard-HSM card in reader '%s': insert one and run again",
				       fc->reader);
		return hv_fail(err, HV_ECARD,
			       "no SmartCard-HSM card found: insert the cards and run again");
	}
	return HV_OK;
}

typedef struct each_job {
	flow_card *card;
	cardset_fn fn;
	void *ctx;
} each_job;

static void *each_thread(void *arg)
{
	each_job *j = arg;
	hv_err_clear(&j->card->err);
	j->card->rc = j->fn(j->card, j->ctx, &j->card->err);
	if (j->card->rc != HV_OK && j->card->err.msg[0] == '\0')
		hv_fail(&j->card->err, j->card->rc, "failed (%s)", hv_code_name(j->card->rc));
	return NULL;
}

int cardset_each(cardset *s, cardset_fn fn, void *ctx, hv_err *err)
{
	if (s->n == 0)
		return HV_OK;
	each_job *jobs = calloc(s->n, sizeof(*jobs));
	pthread_t *tids = calloc(s->n, sizeof(*tids));
	int *started = calloc(s->n, sizeof(*started));
	if (!jobs || !tids || !started) {
		free(jobs);
		free(tids);
		free(started);
		return hv_fail(err, HV_ENOMEM, "out of memory starting the card threads");
	}
	for (size_t i = 0; i < s->n; i++) {
		jobs[i] = (each_job){ &s->cards[i], fn, ctx };
		started[i] = pthread_create(&tids[i], NULL, each_thread, &jobs[i]) == 0;
	}
	/* A thread that could not be started still gets its card worked,
	 * here, while the others run: slower, never skipped. */
	for (size_t i = 0; i < s->n; i++)
		if (!started[i])
			each_thread(&jobs[i]);
	for (size_t i = 0; i < s->n; i++)
		if (started[i])
			pthread_join(tids[i], NULL);
	free(jobs);
	free(tids);
	free(started);

	for (size_t i = 0; i < s->n; i++) {
		flow_card *c = &s->cards[i];
		if (c->rc == HV_OK)
			continue;
		if (err) {
			*err = c->err;
			err->code = c->rc;
			if (c->sc.serial[0])
				hv_err_prefix(err, "card %s in reader %s", c->sc.serial, c->reader);
			else
				hv_err_prefix(err, "card in reader %s", c->reader);
		}
		return c->rc;
	}
	return HV_OK;
}

int cardset_refresh_dkek(flow_card *card, hv_err *err)
{
	return schsm_dkek_status(&card->sc, &card->dkek, err);
}

void cardset_kcv_hex(const flow_card *card, char out[17])
{
	if (card->dkek.configured && card->dkek.kcv_known)
		hex_encode(card->dkek.kcv, sizeof(card->dkek.kcv), out, 1);
	else
		out[0] = '\0';
}
