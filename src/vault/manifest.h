/* The vault's manifest: what a vault holds (policy, DKEK shares, cards,
 * wrapped keys), kept as numbered YAML versions manifest/NNNNNN.yaml that
 * form a hash chain. Schema: vault/manifest-schema.md.
 *
 * Crash safety, for every writer: first write the new data files (share,
 * key blob, policy.yaml) with vfs_write_atomic, then manifest_append the
 * version naming them. A crash in between leaves unreferenced files, which
 * the next run overwrites; never a manifest naming a file that is absent. */
#ifndef HV_VAULT_MANIFEST_H
#define HV_VAULT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/err.h"
#include "vault/limits.h"
#include "vfs/vfs.h"

#define MANIFEST_FORMAT "hsmvault-manifest/1"
#define MANIFEST_DIR "manifest"
#define MANIFEST_MAX_VERSION 999999UL
/* Size limits of the files a manifest version names or is: vault/limits.h,
 * shared by the writer and the reader. */
#define MANIFEST_MAX_BYTES VAULT_LIMIT_MANIFEST_BYTES
#define MANIFEST_SHARE_MAX_BYTES VAULT_LIMIT_SHARE_BYTES
#define MANIFEST_KEYFILE_MAX_BYTES VAULT_LIMIT_KEYFILE_BYTES
#define MANIFEST_POLICY_MAX_BYTES VAULT_LIMIT_POLICY_BYTES

/* Every string below is malloc'd and owned by the manifest; optional
 * fields are NULL when absent (written as null). Hex is lowercase, except
 * KCVs and share check values: 16 uppercase digits, as the card and
 * sc-hsm-tool print them. */

typedef struct manifest_strlist {
	char **items;
	size_t count;
} manifest_strlist;

typedef struct manifest_share {
	unsigned index;          /* 1..share_count: the order of import   */
	char *file;              /* "shares/dkek-share-1.pbe"             */
	char *sha256;            /* of the file's bytes                   */
	char *check;             /* KCV of this share alone, or NULL      */
	char *scheme;            /* "password" or "n-of-m"                */
	manifest_strlist holders;
	unsigned threshold;      /* n-of-m: shares needed; password: 1    */
} manifest_share;

typedef struct manifest_card {
	char *id;                /* manifest_card_identity()              */
	char *serial;
	char *role;              /* "primary", "backup", ...              */
	char *firmware;          /* or NULL                               */
	char *kcv;               /* or NULL when no DKEK yet              */
	manifest_strlist keys;   /* key ids (hex CKA_ID) on the card      */
	char *last_verified;     /* time, or NULL                         */
	/* The device certificate (EF 2F02's device 7F21 TLV, lowercase hex)
	 * and its verdict when the card was enrolled or restored
	 * ("genuine" or "not-attested": a failed chain never gets that far).
	 * NULL in versions written before hsmvault checked device chains. */
	char *devcert;
	char *attestation;
} manifest_card;

typedef struct manifest_key {
	char *id;                /* hex CKA_ID                            */
	char *label;             /* or NULL                               */
	unsigned key_ref;        /* 1..255                                */
	char *algorithm;         /* "EC P-256", "RSA 2048", ...           */
	char *public_key;        /* hex of the public key, or NULL        */
	char *public_key_sha256; /* or NULL; at least one of the two      */
	char *kcv;               /* DKEK the blob is wrapped under        */
	char *file;              /* "keys/<KCV>/<id>.wrap"                */
	char *sha256;            /* of the file's bytes                   */
	char *source_card;       /* card id, or NULL                      */
	char *time;              /* when it was wrapped                   */
} manifest_key;

typedef struct manifest_verification {
	char *time;
	char *card;              /* card id                               */
	char *kind;              /* "quick" or "deep"                     */
	char *result;            /* "ok" or "mismatch"                    */
	char *detail;            /* or NULL                               */
} manifest_verification;

typedef struct manifest {
	unsigned long version;   /* 1, 2, ...: equals the file name       */
	char *previous;          /* sha256 of the previous file; NULL in 1 */
	char *time;              /* UTC, "2026-11-28T04:07:09Z"           */
	char *tool_version;
	char *change;            /* one line                              */
	char *policy_name;       /* NULL until a policy is in force       */
	char *policy_sha256;     /* of policy.yaml; NULL with the name    */
	unsigned share_count;
	char *dkek_kcv;          /* NULL before any card                  */
	manifest_share *shares;
	size_t share_n;
	manifest_card *cards;
	size_t card_n;
	manifest_key *keys;
	size_t key_n;
	manifest_verification *verifications;
	size_t verification_n;
} manifest;

/* An empty manifest (no version yet); NULL when out of memory. */
manifest *manifest_new(void);
void manifest_free(manifest *m);
/* A deep copy, the usual start of the next version. */
int manifest_clone(const manifest *m, manifest **out, hv_err *err);

/* Replaces *field with a copy of value (NULL allowed). 0 or HV_ENOMEM. */
int manifest_set(char **field, const char *value);
int manifest_strlist_add(manifest_strlist *l, const char *s);
/* Append deep copies; they return a pointer to the new entry or NULL. */
manifest_share *manifest_add_share(manifest *m, const manifest_share *s);
manifest_card *manifest_add_card(manifest *m, const manifest_card *c);
manifest_key *manifest_add_key(manifest *m, const manifest_key *k);
manifest_verification *manifest_add_verification(manifest *m,
						 const manifest_verification *x);
/* Lookups; NULL when absent. */
manifest_card *manifest_find_card(const manifest *m, const char *id);
manifest_key *manifest_find_key(const manifest *m, const char *kcv, const char *id);

/* A card's identity: serial plus the first 16 hex digits of the sha256 of
 * its device public key or device certificate, "DECC0100001-3fa2b1c4d5e6f708":
 * a serial alone can be reused or faked. out must hold 96 bytes. */
void manifest_card_identity(const char *serial, const uint8_t *device_key,
			    size_t len, char *out, size_t outsz);

/* The file name of version n: "manifest/000007.yaml" (out >= 32 bytes). */
void manifest_version_path(unsigned long n, char *out, size_t outsz);

/* sha256 of data as 64 lowercase hex digits plus NUL. */
void manifest_sha256_hex(const void *data, size_t len, char out[65]);

/* Serializes m (all fields, in schema order) to YAML. The same manifest
 * always gives the same bytes. *out is malloc'd. */
int manifest_emit(const manifest *m, char **out, size_t *len, hv_err *err);

/* Parses and validates one version's bytes; "name" is used in messages
 * (file:line:column). Aliases, anchors, tags, unknown keys, wrong types
 * and impossible values are refused. */
int manifest_parse(const uint8_t *data, size_t len, const char *name,
		   manifest **out, hv_err *err);

/* --- the chain (chain.c) --- */

/* Called for each version, oldest first, once its chain link is checked;
 * sha256 is that file's hash. A nonzero return stops the walk and is
 * returned. */
typedef int (*manifest_visit_fn)(const manifest *m, const char *sha256, void *ctx);

/* Walks manifest/ from version 1 upward checking: file names, contiguous
 * numbers, version field = file name, each "previous" = sha256 of the
 * prior file. Stops at the first break with HV_EINTEGRITY naming it
 * (after visiting every version before it). Does not check the files a
 * version names: see manifest_check_files(). */
int manifest_walk(vfs *v, manifest_visit_fn fn, void *ctx, hv_err *err);

/* A version's head: what log shows of every version. */
typedef struct manifest_head {
	unsigned long version;
	char sha256[65];         /* of the version file's bytes            */
	char previous[65];       /* "" in version 1                        */
	char time[21];
	char change[1001];
} manifest_head;
typedef int (*manifest_head_fn)(const manifest_head *h, void *ctx);

/* The same checks as manifest_walk, but versions before the last are
 * checked by their bytes and their link only: their head lines are read
 * without a YAML parse (full: every version is parsed, as manifest_walk
 * does). fn (may be NULL) sees every head, oldest first. *current (may be
 * NULL) gets the last version, parsed in full, and current_hash its
 * sha256. Files are not checked: see manifest_check_files(). */
int manifest_walk_heads(vfs *v, int full, manifest_head_fn fn, void *ctx, manifest **current,
			char current_hash[65], hv_err *err);

/* Reads and parses version n alone (its chain is the caller's business);
 * sha256 (may be NULL) gets its hash. */
int manifest_read_version(vfs *v, unsigned long n, manifest **out, char sha256[65],
			  hv_err *err);

/* Checks the sha256 of every file m names (shares, keys, policy.yaml). */
int manifest_check_files(vfs *v, const manifest *m, hv_err *err);

/* The highest version, after the whole chain and its files are checked.
 * *hash (when not NULL) receives the current file's sha256. */
int manifest_load_current(vfs *v, manifest **out, hv_err *err);
int manifest_load_current_hash(vfs *v, manifest **out, char hash[65], hv_err *err);

/* Writes version N+1 (N = highest present, 0 in an empty vault) from
 * next's content, with previous = sha256 of file N, the time now, this
 * tool's version and change. next must be based on version N: its
 * version field is N (a clone of manifest_load_current's result, or
 * manifest_new() for an empty vault), else HV_ESAFETY and nothing is
 * written. Never replaces a file; every file next names must already be
 * in the vault with its recorded sha256. */
int manifest_append(vfs *v, const manifest *next, const char *change, hv_err *err);
/* The same at a given time (tests, reproducible samples); *written gets
 * the new version number when not NULL. */
int manifest_append_at(vfs *v, const manifest *next, const char *change, time_t when,
		       unsigned long *written, hv_err *err);

#endif
