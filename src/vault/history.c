#include "vault/history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESTORE_HINT "the vault was edited or damaged; restore it from another stick"

int vault_change_is_verification(const char *change)
{
	/* what format-1 verify wrote: "verify (quick): 2 cards, 0 differences" */
	return !strncmp(change, "verify (quick)", 14) || !strncmp(change, "verify (deep)", 13);
}

static vault_event *add_event(vault_history *h, size_t *cap)
{
	if (h->n_events == *cap) {
		size_t nc = *cap ? 2 * *cap : 64;
		vault_event *a = realloc(h->events, nc * sizeof(*a));
		if (!a)
			return NULL;
		h->events = a;
		*cap = nc;
	}
	vault_event *e = &h->events[h->n_events++];
	memset(e, 0, sizeof(*e));
	return e;
}

struct load {
	vault_history *h;
	size_t cap;
	size_t n_versions;           /* version events before entries are added */
	hv_err *err;
};

static int on_version(const manifest_head *mh, void *p)
{
	struct load *l = p;
	vault_event *e = add_event(l->h, &l->cap);
	if (!e)
		return HV_ENOMEM;
	e->kind = vault_change_is_verification(mh->change) ? VAULT_EV_OLD_VERIFY : VAULT_EV_VERSION;
	e->number = mh->version;
	memcpy(e->time, mh->time, sizeof(e->time));
	memcpy(e->sha256, mh->sha256, sizeof(e->sha256));
	snprintf(e->text, sizeof(e->text), "%s", mh->change);
	l->h->versions = mh->version;
	return HV_OK;
}

static int on_entry(const journal_entry *j, const char *sha, void *p)
{
	struct load *l = p;
	/* The entry names the version it checked by number and hash: that
	 * version must be in this vault's chain with that hash. */
	char path[64];
	journal_entry_path(j->entry, path, sizeof(path));
	if (j->manifest_version > l->n_versions ||
	    strcmp(l->h->events[j->manifest_version - 1].sha256, j->manifest_sha256) != 0)
		return hv_fail(l->err, HV_EINTEGRITY, "%s names manifest version %lu, which is not "
			       "in this vault's chain with the sha256 it records: " RESTORE_HINT,
			       path, j->manifest_version);
	vault_event *e = add_event(l->h, &l->cap);
	if (!e)
		return HV_ENOMEM;
	e->kind = VAULT_EV_JOURNAL;
	e->number = j->entry;
	memcpy(e->check_kind, j->kind, sizeof(e->check_kind));
	memcpy(e->result, j->result, sizeof(e->result));
	e->differences = j->differences;
	e->manifest_version = j->manifest_version;
	e->cards = j->card_n;
	memcpy(e->time, j->time, sizeof(e->time));
	memcpy(e->sha256, sha, 65);
	snprintf(e->text, sizeof(e->text), "verify (%s): %zu card%s, %lu difference%s; checked "
		 "manifest version %lu", j->kind, j->card_n, j->card_n == 1 ? "" : "s",
		 j->differences, j->differences == 1 ? "" : "s", j->manifest_version);
	return HV_OK;
}

static int by_time(const void *a, const void *b)
{
	const vault_event *x = a, *y = b;
	int c = strcmp(x->time, y->time);
	if (c)
		return c;
	int jx = x->kind == VAULT_EV_JOURNAL, jy = y->kind == VAULT_EV_JOURNAL;
	if (jx != jy)
		return jx - jy;
	return (x->number > y->number) - (x->number < y->number);
}

int vault_history_load(vfs *v, int full, int check_files, vault_history *h, hv_err *err)
{
	memset(h, 0, sizeof(*h));
	struct load l = { .h = h, .err = err };
	int rc = manifest_walk_heads(v, full, on_version, &l, &h->current, h->current_sha256, err);
	if (rc == HV_ENOMEM && err && !err->msg[0])
		hv_fail(err, HV_ENOMEM, "out of memory reading the manifest");
	if (rc != HV_OK)
		return rc;
	if (check_files && (rc = manifest_check_files(v, h->current, err)) != HV_OK)
		return rc;
	l.n_versions = h->n_events;
	rc = journal_walk(v, on_entry, &l, &h->entries, &h->last_entry, err);
	if (rc == HV_ENOMEM && err && !err->msg[0]) {
		hv_fail(err, HV_ENOMEM, "out of memory reading the journal");
	}
	/* Oldest first; a format-2 vault interleaves entries and versions. */
	qsort(h->events, h->n_events, sizeof(*h->events), by_time);
	if (h->last_entry) {
		memcpy(h->last_verified, h->last_entry->time, sizeof(h->last_verified));
	} else {
		const manifest *m = h->current;
		for (size_t i = 0; i < m->verification_n; i++)
			if (strcmp(m->verifications[i].time, h->last_verified) > 0)
				snprintf(h->last_verified, sizeof(h->last_verified), "%s",
					 m->verifications[i].time);
	}
	return rc;
}

void vault_history_free(vault_history *h)
{
	free(h->events);
	manifest_free(h->current);
	journal_entry_free(h->last_entry);
	memset(h, 0, sizeof(*h));
}
