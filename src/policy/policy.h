/* The policy: which cards make a set, how the DKEK is split into shares and
 * who keeps each share's password, how PINs are set and how often the
 * backup must be verified. Read from a strict YAML file (format
 * "hsmvault-policy/1", described key by key in policies/SCHEMA.md).
 *
 * Strict means: unknown keys, wrong types, impossible values, duplicate
 * keys, anchors/aliases, tags, more or fewer than one document, files over
 * POLICY_MAX_BYTES and nesting deeper than a policy needs are all refused.
 * The FIRST problem found is reported, as an HV_EUSAGE error whose message
 * is "FILE:LINE:COLUMN: what is wrong: what to do" (1-based, columns in
 * characters). Size and encoding are checked first, then the YAML itself
 * (in file order), then the format line, then the keys in file order
 * (within one share: unknown keys, holder(s), threshold, file), then
 * what is missing. Only the first problem is reported, not a list.
 *
 * One person may keep at most one share (or one part of one split share):
 * a holder named twice, within a share or across shares, is refused,
 * because one person holding two shares can rebuild more of the DKEK alone
 * and defeats the split. Holder names are compared ignoring ASCII case. */
#ifndef HV_POLICY_POLICY_H
#define HV_POLICY_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"

#define POLICY_FORMAT "hsmvault-policy/1"
#define POLICY_MAX_BYTES 65536
#define POLICY_MAX_CARDS 16
#define POLICY_MAX_SHARES 16
#define POLICY_MAX_HOLDERS 16     /* per split share */
#define POLICY_MIN_SPLIT_HOLDERS 3  /* sc-hsm-tool's n-of-m needs n >= 3 */
#define POLICY_NAME_MAX 64        /* names, holders, labels: bytes */
#define POLICY_DESCRIPTION_MAX 255
#define POLICY_FILE_MAX 127

typedef struct policy_share {
	/* One holder (threshold 0) or the n holders of an n-of-m split of the
	 * share's password, in the order the policy lists them. */
	char holders[POLICY_MAX_HOLDERS][POLICY_NAME_MAX + 1];
	size_t n_holders;
	unsigned threshold;   /* 0 = single holder; else 2..n_holders */
	char file[POLICY_FILE_MAX + 1]; /* plain file name ending .pbe */
	unsigned line, column;  /* where the share starts, for later messages */
} policy_share;

enum policy_so_pin {
	SO_PIN_HOLDERS,  /* the SO-PIN is kept by people, outside the vault */
	SO_PIN_VAULT,    /* the SO-PIN is kept inside the LUKS volume */
};

/* What to do with a card that cannot prove it is genuine: no device
 * authentication chain to a trusted root (pico-hsm's self-signed device
 * certificate; crypto/devaut.h). A card whose chain FAILS is refused
 * whatever this says. */
enum policy_unattested {
	UNATTESTED_REFUSE,   /* default: such a card never receives the DKEK */
	UNATTESTED_ACCEPT,   /* the operator accepts it (e.g. a pico-hsm set) */
};

enum policy_key_backup {
	KEYS_BACKUP_ALL,  /* every private key on a card of the set has a blob */
};

typedef struct policy {
	char name[POLICY_NAME_MAX + 1];
	char description[POLICY_DESCRIPTION_MAX + 1];  /* "" when absent */
	unsigned card_count;                          /* 1..16 */
	/* Optional card labels: when given there is exactly one per card. */
	char card_labels[POLICY_MAX_CARDS][POLICY_NAME_MAX + 1];
	size_t n_card_labels;
	enum policy_unattested unattested;            /* default UNATTESTED_REFUSE */
	policy_share shares[POLICY_MAX_SHARES];
	size_t n_shares;                              /* 1..16 */
	unsigned retry_counter;                       /* 1..10, default 3 */
	enum policy_so_pin so_pin;                    /* default SO_PIN_HOLDERS */
	enum policy_key_backup keys_backup;           /* default KEYS_BACKUP_ALL */
	unsigned max_age_days;                        /* 1..3650, default 90 */
	uint8_t sha256[32];                           /* of the file's bytes */
} policy;

/* Reads path (O_NOFOLLOW, regular file, at most POLICY_MAX_BYTES) and
 * parses it; messages name the file as path was given. */
int policy_load(const char *path, policy *out, hv_err *err);

/* Parses len bytes of policy text; display_name is the FILE of messages.
 * On failure *out is zeroed. */
int policy_parse(const char *display_name, const uint8_t *text, size_t len,
		 policy *out, hv_err *err);

/* Writes one human paragraph (ending in a newline) saying what the policy
 * asks for, for CLI output. HV_EIO when f fails. */
int policy_describe(const policy *p, FILE *f);

#endif
