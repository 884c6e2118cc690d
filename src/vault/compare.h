/* Two copies of one vault side by side (a stick and its second stick, or
 * a folder): their manifest chains are compared version by version by the
 * sha256 of each version file. They are the same, one is ahead of the
 * other (the shorter chain is a prefix of the longer), or they diverged:
 * from some version on, each holds a version the other lacks. Pure
 * comparison here; loading a chain checks it (links and the current
 * version's files) first. */
#ifndef HV_VAULT_COMPARE_H
#define HV_VAULT_COMPARE_H

#include <stddef.h>

#include "util/err.h"
#include "vault/manifest.h"
#include "vfs/vfs.h"

/* A vault's checked chain: every version's head, oldest first (heads[i]
 * is version i + 1), and the current version parsed in full. */
typedef struct vault_chain {
	manifest_head *heads;
	size_t n;
	manifest *current;
} vault_chain;

/* Walks and checks v's chain (manifest_walk_heads) and the files the
 * current version names (manifest_check_files): a copy with a broken
 * chain or a damaged file is never compared or copied from. */
int vault_chain_load(vfs *v, vault_chain *c, hv_err *err);
/* The chain alone, links checked, files not: for the copy a sync is about
 * to bring up to date, whose files an interrupted sync may have replaced
 * already (the sync writes FROM's checked bytes over them). */
int vault_chain_load_links(vfs *v, vault_chain *c, hv_err *err);
void vault_chain_free(vault_chain *c);

enum vault_relation {
	VAULT_SAME,      /* same number of versions, same hashes          */
	VAULT_A_AHEAD,   /* B's chain is a prefix of A's                   */
	VAULT_B_AHEAD,   /* A's chain is a prefix of B's                   */
	VAULT_DIVERGED,  /* a version both have differs                    */
};

typedef struct vault_comparison {
	int relation;              /* enum vault_relation                  */
	unsigned long common;      /* leading versions both hold unchanged */
	unsigned long ahead;       /* A_AHEAD / B_AHEAD: by how many       */
	unsigned long diverged_at; /* DIVERGED: the first differing version */
} vault_comparison;

/* The relation of chain a to chain b; only the heads are used. */
void vault_chain_compare(const vault_chain *a, const vault_chain *b, vault_comparison *out);

/* The first file two versions of one vault disagree on: policy.yaml, a
 * share or a key file that one names and the other does not, or names
 * with another sha256, in that order. "" when they name the same files
 * with the same hashes (then only the version's own text differs). */
void vault_first_file_difference(const manifest *a, const manifest *b, char *out, size_t outsz);

#endif
