/* The LUKS header of a stick, through libcryptsetup, without
 * device-mapper: format, read the header, check a passphrase and fetch the
 * volume key, manage passphrases, back up the header. hsmvault formats
 * LUKS2, aes-xts-plain64, 512-bit volume key, argon2id keyslots,
 * whole-device volume; it reads and writes LUKS1 and LUKS2 volumes in any
 * layout the userspace sector cipher has (sector_cipher.h: aes-xts-plain64
 * with 256/512-bit keys, aes-cbc-essiv:sha256; 512/4096-byte sectors). Other
 * ciphers and LUKS2 segments with integrity are for the kernel backend. */
#ifndef HV_STICK_LUKS_H
#define HV_STICK_LUKS_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/secbuf.h"

#define LUKS_DEFAULT_LABEL "HSMVAULT"
#define LUKS_MAX_KEYSLOTS 32
/* Upper bound for passphrases read from a terminal or descriptor. */
#define LUKS_PASSPHRASE_MAX 512

typedef struct luks_format_opts {
	const char *label;     /* NULL: LUKS_DEFAULT_LABEL */
	unsigned sector_size;  /* 0: auto (4096 when the size allows), 512, 4096 */
	/* argon2id with 4 iterations, 32 KiB, 1 thread, no benchmark: only
	 * for tests (--insecure-fast-kdf-for-tests); never for real sticks. */
	int insecure_fast_kdf;
	/* 0: libcryptsetup's defaults, benchmarked once for this machine */
	uint32_t pbkdf_memory_kb;  /* --pbkdf-memory */
	uint32_t iter_time_ms;     /* --iter-time */
	uint32_t pbkdf_iterations; /* --pbkdf-force-iterations: no benchmark */
} luks_format_opts;

typedef struct luks_keyslot {
	int slot;
	char pbkdf[16];        /* "argon2id", "pbkdf2", ... */
	uint32_t iterations;
	uint32_t memory_kb;
	uint32_t threads;
} luks_keyslot;

typedef struct luks_info {
	int version;           /* 1: LUKS1, 2: LUKS2 */
	char label[49];
	char uuid[40];
	char cipher[32];       /* "aes", "serpent", ... */
	char mode[32];         /* "xts-plain64", "cbc-essiv:sha256", ... */
	int key_bits;          /* 512, 256, 128, ... */
	char integrity[32];    /* LUKS2 segment integrity ("hmac(sha256)", "aead"), "" if none */
	uint64_t iv_offset;    /* in 512-byte units (0 for volumes cryptsetup makes) */
	unsigned sector_size;  /* 512 or 4096 */
	uint64_t data_offset;  /* bytes from the device start (16 MiB) */
	uint64_t data_size;    /* bytes of the data segment */
	int nkeyslots;
	luks_keyslot keyslots[LUKS_MAX_KEYSLOTS];
	/* "" or what is wrong with one header copy (the other was read) */
	char damage[200];
} luks_info;

/* Every function that reads a header (info, unlock, header backup) hands
 * libcryptsetup a copy of the header area in memory, never the stick: a
 * damaged copy is not rewritten as a side effect of reading, and a
 * write-protected stick or read-only image can be read. The damage is
 * reported in luks_info.damage. Passphrase changes refuse a header with a
 * damaged copy; luks_repair rewrites it when asked. Messages distinguish
 * LUKS1, no header (empty or holding data), both copies damaged and a
 * device cut off short of its header. */

/* 1 when path holds a LUKS header (any version), 0 when not, <0 on error. */
int luks_is_luks(const char *path, hv_err *err);

/* Writes a new LUKS2 header with a fresh random volume key (made here, in
 * locked memory) and one keyslot for passphrase: the KDF runs once (after
 * one benchmark unless the iterations are forced). Destroys what the header
 * area held: check the device first. volume_key (may be NULL) receives the
 * 64-byte key, so that the caller fills the volume without another KDF
 * run; kdf (may be NULL) the keyslot and argon2id settings used. */
int luks_format(const char *path, const luks_format_opts *o, const secbuf *passphrase,
		secbuf **volume_key, luks_keyslot *kdf, hv_err *err);

/* Header facts only; no passphrase. */
int luks_read_info(const char *path, luks_info *info, hv_err *err);

/* 1 when the userspace backend reads and writes this volume's data segment;
 * otherwise 0 and why: one phrase naming the format and what it lacks
 * ("LUKS2 serpent-cbc-essiv:sha256 with a 256-bit key: serpent is not a cipher
 * the userspace backend has (it has aes)"). */
int luks_userspace_can(const luks_info *info, char *why, size_t cap);

/* "LUKS1 aes-cbc-essiv:sha256, 256-bit key, 512-byte sectors" */
void luks_describe_format(const luks_info *info, char *out, size_t cap);

/* Checks the passphrase and returns the volume key (its size as the header
 * says) in a new secbuf (HV_ESECRET on a wrong passphrase). info (may be
 * NULL) is filled as by luks_read_info. Refuses, before any KDF run and with
 * HV_EUSAGE, a layout the userspace backend cannot read (luks_userspace_can). */
int luks_unlock(const char *path, const secbuf *passphrase, secbuf **volume_key,
		luks_info *info, hv_err *err);

/* Adds new_pass in a free keyslot, authorised by an existing passphrase
 * (argon2id on LUKS2, pbkdf2 on LUKS1, which has no other). */
int luks_add_passphrase(const char *path, const secbuf *existing, const secbuf *new_pass,
			int insecure_fast_kdf, int *slot_out, hv_err *err);

/* Removes the keyslot that passphrase opens; refuses the last one. */
int luks_remove_passphrase(const char *path, const secbuf *passphrase, int *slot_out,
			   hv_err *err);

/* Header backup (cryptsetup luksHeaderBackup format, LUKS1 or LUKS2) to a new file. */
int luks_header_backup(const char *path, const char *file, hv_err *err);

/* What is wrong with one header copy ("" when both are intact); an
 * unreadable header is an error as for luks_read_info. */
int luks_damage(const char *path, char *out, size_t cap, hv_err *err);

/* Rewrites a damaged or stale header copy from the intact one (what
 * 'cryptsetup repair' does); what receives the damage that was repaired, ""
 * when there was none. The only function that rewrites a copy. */
int luks_repair(const char *path, char *what, size_t cap, hv_err *err);

#endif
