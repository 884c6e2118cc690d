/* cardset_probe [--reader R] list|each|fail: drives flows/cardset.h
 * against the simulated cards of test-cardset.sh.
 *
 *   list  one line per card: "card<TAB>reader<TAB>card_id<TAB>ident.id<TAB>
 *         serial<TAB>state<TAB>kcv"
 *   each  cardset_each with a function that waits until every card's
 *         thread is inside it at the same time (so the run is proven
 *         parallel), then prints "parallel N threads"
 *   fail  cardset_each where the last card fails: prints the message
 *
 * Any failure: "error CODE: MESSAGE" on stdout, exit status CODE. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flows/cardset.h"

static int report(int rc, const hv_err *err)
{
	printf("error %s: %s\n", hv_code_name(rc), err->msg);
	return rc;
}

struct meet {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t n, arrived;
	pthread_t main_thread;
	pthread_t seen[64];
};

/* Waits (5 s at most) until all cards' threads are here together. */
static int meet_fn(flow_card *card, void *ctx, hv_err *err)
{
	struct meet *m = ctx;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&m->lock);
	if (m->arrived < 64)
		m->seen[m->arrived] = pthread_self();
	m->arrived++;
	pthread_cond_broadcast(&m->cond);
	int rc = 0;
	while (m->arrived < m->n && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&m->cond, &m->lock, &until);
	size_t arrived = m->arrived;
	pthread_mutex_unlock(&m->lock);
	if (arrived < m->n)
		return hv_fail(err, HV_EINTERNAL, "only %zu of %zu card threads ran at once",
			       arrived, m->n);
	if (pthread_equal(pthread_self(), m->main_thread))
		return hv_fail(err, HV_EINTERNAL, "card %s worked in the caller's thread",
			       card->ident.serial);
	return HV_OK;
}

static int fail_last_fn(flow_card *card, void *ctx, hv_err *err)
{
	cardset *s = ctx;
	if (card == &s->cards[s->n - 1])
		return hv_fail(err, HV_ECARD, "test failure");
	/* Prove the others still run and keep their own result. */
	return schsm_dkek_status(&card->sc, &card->dkek, err);
}

int main(int argc, char **argv)
{
	flow_ctx fc;
	memset(&fc, 0, sizeof(fc));
	fc.out = stdout;
	fc.batch = 1;
	int a = 1;
	if (a + 1 < argc && !strcmp(argv[a], "--reader")) {
		fc.reader = argv[a + 1];
		a += 2;
	}
	if (a + 1 != argc) {
		fprintf(stderr, "usage: cardset_probe [--reader R] list|each|fail\n");
		return 2;
	}
	const char *mode = argv[a];
	hv_err err;
	hv_err_clear(&err);
	int rc = flow_secrets_memory(&fc.secrets, &err);
	if (rc != HV_OK)
		return report(rc, &err);

	cardset s;
	rc = cardset_open(&fc, &s, &err);
	if (rc != HV_OK) {
		flow_secrets_free(fc.secrets);
		return report(rc, &err);
	}
	if (!strcmp(mode, "list")) {
		for (size_t i = 0; i < s.n; i++) {
			const flow_card *c = &s.cards[i];
			char kcv[17];
			cardset_kcv_hex(c, kcv);
			printf("card\t%s\t%s\t%s\t%s\t%d\t%s\n", c->reader, c->card_id, c->ident.id,
			       c->ident.serial, c->dev.state, kcv[0] ? kcv : "-");
		}
	} else if (!strcmp(mode, "each")) {
		struct meet m = { .lock = PTHREAD_MUTEX_INITIALIZER,
				  .cond = PTHREAD_COND_INITIALIZER, .n = s.n };
		m.main_thread = pthread_self();
		rc = cardset_each(&s, meet_fn, &m, &err);
		if (rc == HV_OK) {
			size_t distinct = 0;
			for (size_t i = 0; i < m.arrived && i < 64; i++) {
				size_t k;
				for (k = 0; k < i && !pthread_equal(m.seen[k], m.seen[i]); k++)
					;
				distinct += k == i;
			}
			printf("parallel %zu threads\n", distinct);
		}
	} else if (!strcmp(mode, "fail")) {
		rc = cardset_each(&s, fail_last_fn, &s, &err);
		for (size_t i = 0; i < s.n; i++)
			printf("rc %zu %s\n", i, hv_code_name(s.cards[i].rc));
	} else {
		fprintf(stderr, "cardset_probe: unknown mode %s\n", mode);
		rc = HV_EUSAGE;
		hv_fail(&err, rc, "unknown mode");
	}
	cardset_close(&s);
	flow_secrets_free(fc.secrets);
	if (rc != HV_OK)
		return report(rc, &err);
	return 0;
}
