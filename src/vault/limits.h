/* The size limits of a vault, one set for the writer and the reader: a
 * version the writer accepts is one the reader accepts, and the writer
 * refuses (before writing anything) what the reader would refuse, so a
 * vault can never grow into one hsmvault cannot read.
 *
 * Derivation, from what a real card set holds:
 *
 *   key slots per card   255 (key references 1..255; SmartCard-HSM and
 *                        pico-hsm address keys as CC01..CCFF)
 *   cards per set        16 (the most a card set works at once, flows/)
 *   keys per DKEK        16 x 255 = 4,080 (every card full, no two alike)
 *   largest key entry    about 1,950 bytes in the manifest: an RSA-4096
 *                        public key (550-byte SubjectPublicKeyInfo, 1,100
 *                        hex digits), a 64-byte id (128 hex digits), a
 *                        64-character label, file name, two sha256, card
 *                        id and time, with the YAML around them
 *   card key list entry  at most 132 bytes (a 128-digit id, quotes, ", ")
 *
 * and then a wide margin on each: keys wrapped under retired DKEKs stay in
 * the vault, sets get replaced cards, people keep more than one set's keys.
 *
 *   keys                 4,080 x 32 -> 131,072 (2^17)
 *   cards                16 x 4 = 64
 *   key ids per card     255 x 4 = 1,024
 *   share holders        255 per share (n-of-m splits are 2..255)
 *   verification entries 65,536 in the `verifications` list of format-1
 *                        versions (16 cards weekly for 78 years); no new
 *                        entry is added there since the journal exists
 *   bytes per version    131,072 keys x 2 KiB (256 MiB)
 *                        + 64 cards x 1,024 ids x 132 B (8.25 MiB)
 *                        + 65,536 verifications x 256 B (16 MiB)
 *                        + shares, policy and header (< 1 MiB) -> 288 MiB
 *   YAML nodes           keys x 24 (a mapping, 11 keys, 11 values, + 1)
 *                        + cards x (24 + ids) (a card has up to 11 fields)
 *                        + verifications x 12
 *                        + shares x (18 + holders) + 64 for the top
 *
 * A real set (a few cards, tens of keys) is four orders of magnitude below
 * every limit; reading a version costs time and memory in proportion to
 * its size, not to the limits. */
#ifndef HV_VAULT_LIMITS_H
#define HV_VAULT_LIMITS_H

#define VAULT_LIMIT_KEYS 131072u
#define VAULT_LIMIT_CARDS 64u
#define VAULT_LIMIT_CARD_KEYS 1024u
#define VAULT_LIMIT_SHARES 255u
#define VAULT_LIMIT_HOLDERS 255u
#define VAULT_LIMIT_VERIFICATIONS 65536u

#define VAULT_LIMIT_MANIFEST_BYTES (288u << 20)
#define VAULT_LIMIT_MANIFEST_NODES                                                  \
	((unsigned long)VAULT_LIMIT_KEYS * 24 +                                     \
	 (unsigned long)VAULT_LIMIT_CARDS * (24 + VAULT_LIMIT_CARD_KEYS) +           \
	 (unsigned long)VAULT_LIMIT_VERIFICATIONS * 12 +                             \
	 (unsigned long)VAULT_LIMIT_SHARES * (18 + VAULT_LIMIT_HOLDERS) + 64)

/* Files a version names, and the journal's entries. */
#define VAULT_LIMIT_SHARE_BYTES 4096u
#define VAULT_LIMIT_KEYFILE_BYTES (1u << 20)
#define VAULT_LIMIT_POLICY_BYTES (1u << 20)
/* A journal entry names the cards of one run (at most VAULT_LIMIT_CARDS),
 * each with one line of detail of at most 1,000 bytes. */
#define VAULT_LIMIT_JOURNAL_BYTES (128u << 10)

#endif
