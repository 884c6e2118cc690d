/* SmartCard-HSM commands (smartcard-hsm.md), over any card_transport.
 *
 * Usage: schsm_open() selects the applet (FCP asked with P2=04, then P2=00;
 * never P2=0C); every later command uses the same schsm_card. The layer
 * applies the card safety rules itself: it never presents a PIN or SO-PIN
 * when the card says only one try is left (unless the caller passes
 * force), and status queries never consume a try.
 *
 * Errors: HV_ESECRET wrong PIN ("wrong PIN, 2 tries left"), HV_ESAFETY a
 * refusal by a safety rule (nothing was sent that could change the card),
 * HV_ECARD anything the card or reader refused, with an operator message
 * (card/schsm_sw.h). After any failure c->last_sw holds the card's status
 * word (0 when the transport failed) and schsm_card_removed() says whether
 * the card was pulled. */
#ifndef HV_CARD_SCHSM_H
#define HV_CARD_SCHSM_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "card/apdu.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/secbuf.h"

/* AID E8 2B 06 01 04 01 81 C3 1F 02 01 */
extern const uint8_t SCHSM_AID[11];

#define SCHSM_PIN_USER 0x81
#define SCHSM_PIN_SO 0x88
#define SCHSM_SO_PIN_LEN 8
#define SCHSM_PIN_MIN 6
#define SCHSM_PIN_MAX 16

/* File prefixes (5.1) and fixed EFs. */
#define SCHSM_PREFIX_KEY 0xCC
#define SCHSM_PREFIX_PRKD 0xC4
#define SCHSM_PREFIX_CERT 0xCE
#define SCHSM_EF_DEVAUT 0x2F02
#define SCHSM_EF_TOKENINFO 0x2F03
#define SCHSM_EF_UNWRAP 0x2F10

/* Algorithm identifiers (6.4) used here. */
#define SCHSM_ALG_RSA_RAW 0x20
#define SCHSM_ALG_RSA_PKCS1 0x30   /* input = DigestInfo */
#define SCHSM_ALG_ECDSA 0x70       /* input = hash */
#define SCHSM_ALG_WRAP 0x92
#define SCHSM_ALG_UNWRAP 0x93

/* Platform byte of FCP tag 85 that pico-hsm reports. pico's UNWRAP reads
 * the blob from its command data only, never from EF 2F10. */
#define SCHSM_PLATFORM_PICO 0xFF

/* Parsed tag 85 of the SELECT FCP (1.1). */
typedef struct schsm_fcp {
	int has_85;          /* tag 85 found with >= 2 bytes */
	int has_options;     /* tag 85 was >= 5 bytes (firmware >= 2) */
	uint16_t options;    /* device options (tag 80 of INITIALIZE) */
	uint8_t type;        /* platform / applet type byte (0 when absent) */
	uint8_t fw_major, fw_minor;
} schsm_fcp;

typedef struct schsm_card {
	card_transport *t;
	schsm_fcp fcp;           /* from the last SELECT */
	uint16_t last_sw;        /* status word of the last exchange (0: none) */
	int user_verified;       /* user PIN verified since the last SELECT */
	size_t max_send;         /* largest command data field we send
				  * (default 1223, OpenSC's; chunking of
				  * UPDATE BINARY uses max_send - 8) */
	char serial[40];         /* filled by schsm_card_identity() */
} schsm_card;

/* Sets up c over t and selects the applet. HV_ECARD "no SmartCard-HSM
 * applet on the card in reader X" when neither SELECT form works. Call
 * schsm_card_identity() next: messages then name the card by serial. */
int schsm_open(schsm_card *c, card_transport *t, hv_err *err);

/* SELECT of the applet (drops every PIN session: that is also "logout").
 * P2=04 first, P2=00 when that fails. Fills c->fcp. */
int schsm_select(schsm_card *c, hv_err *err);

/* FCP parser, public for tests: 0 when the template holds a tag 85 of at
 * least 2 bytes, HV_ECARD otherwise (out then zeroed). */
int schsm_parse_fcp(const uint8_t *fcp, size_t len, schsm_fcp *out,
		    hv_err *err);

/* 1 when the last failure was a pulled / reset card. */
int schsm_card_removed(const schsm_card *c);

/* ---- PINs (2) ---- */

enum schsm_pin_state {
	SCHSM_PIN_OK,              /* verified in this session (90 00)       */
	SCHSM_PIN_TRIES,           /* not verified; `tries` left (63 Cx, x>0) */
	SCHSM_PIN_BLOCKED,         /* 63 C0 or 69 83                          */
	SCHSM_PIN_TRANSPORT,       /* 69 84: transport PIN, change it first   */
	SCHSM_PIN_NOT_SET,         /* 6A 88: device never initialized         */
	SCHSM_PIN_OTHER,           /* anything else (sw in `sw`)              */
};

typedef struct schsm_pin_info {
	int state;   /* enum schsm_pin_state */
	int tries;   /* for SCHSM_PIN_TRIES; 0 otherwise */
	uint16_t sw;
} schsm_pin_info;

/* Status query 00 20 00 <ref> (case 1): never consumes a try. */
int schsm_pin_status(schsm_card *c, uint8_t ref, schsm_pin_info *st,
		     hv_err *err);

/* Turns a status into a verdict on presenting the PIN: 0 go ahead,
 * HV_ESAFETY when only one try is left and !force ("only one PIN try left
 * on card SERIAL: hsmvault will not risk blocking it; ..."), HV_ECARD when
 * blocked / not initialized / transport PIN. Public so that flows can ask
 * before prompting the operator. what = "PIN" or "SO-PIN". */
int schsm_pin_check_safe(const schsm_card *c, const schsm_pin_info *st,
			 const char *what, int force, hv_err *err);

/* VERIFY user PIN (6...16 bytes). Queries the status first and refuses by
 * schsm_pin_check_safe(); a status of "already verified" still sends the
 * PIN (to check it). HV_ESECRET "wrong PIN, N tries left" on 63Cx;
 * HV_ECARD when blocked. Sets c->user_verified. */
int schsm_verify_pin(schsm_card *c, const secbuf *pin, int force,
		     hv_err *err);

/* CHANGE REFERENCE DATA for ref 81 (old+new PIN, 6...16 bytes each) or 88
 * (old+new SO-PIN, 8 bytes each). Same last-try rule as VERIFY. */
int schsm_change_pin(schsm_card *c, uint8_t ref, const secbuf *old_pin,
		     const secbuf *new_pin, int force, hv_err *err);

/* RESET RETRY COUNTER with the SO-PIN (8 bytes): new_pin != NULL sets a
 * new user PIN (00 2C 00 81), new_pin == NULL only resets the counter
 * (00 2C 01 81). Same SO-PIN last-try rule as CHANGE. HV_ECARD when the
 * card does not allow it (option 0001 not set at initialization). */
int schsm_reset_retry_counter(schsm_card *c, const secbuf *so_pin,
			      const secbuf *new_pin, int force, hv_err *err);

/* Device state by CardContact's algorithm (2.2): */
enum schsm_device_state {
	SCHSM_DEV_UNINITIALIZED,   /* both PIN queries 6A 88 */
	SCHSM_DEV_INITIALIZED,     /* user PIN exists (see user status)  */
	SCHSM_DEV_TRANSPORT_PIN,   /* initialized, transport PIN active   */
};
typedef struct schsm_device_info {
	int state;                /* enum schsm_device_state */
	schsm_pin_info user;    /* 00 20 00 81 */
	schsm_pin_info so;      /* 00 20 00 88 */
} schsm_device_info;
int schsm_device_status(schsm_card *c, schsm_device_info *st, hv_err *err);

/* ---- INITIALIZE DEVICE (3) ---- */

typedef struct schsm_init_params {
	uint16_t options;         /* tag 80; 0x0001 = reset retry counter ok */
	const secbuf *user_pin;   /* tag 81, 6...16 bytes */
	const secbuf *so_pin;     /* tag 82, exactly 8 bytes (binary) */
	uint8_t retry_counter;    /* tag 91, 1...10 */
	int dkek_shares;          /* tag 92: -1 = omit (no DKEK), 0 = random
				   * DKEK, 1...255 = number of shares */
	uint8_t pka_total;        /* tag 93 when != 0: N total ... */
	uint8_t pka_required;     /* ... M required */
} schsm_init_params;

/* Builds the INITIALIZE data field (tags 80 81 82 91 [92] [93], OpenSC's
 * order) into a secbuf. Public for tests. HV_EUSAGE on bad parameters. */
int schsm_build_init_data(const schsm_init_params *p, secbuf **out,
			  hv_err *err);

/* INITIALIZE DEVICE. Queries the SO-PIN status first (00 20 00 88):
 * refuses with HV_ESAFETY when only one SO-PIN try is left (unless force)
 * and with HV_ECARD when the SO-PIN is blocked. Does NOT check whether the
 * card holds keys: callers ask schsm_list_keys() and confirm first.
 * A wrong SO-PIN on re-initialization: HV_ESECRET. Afterwards the applet is
 * re-selected so every card is in the same (logged-out) state. */
int schsm_initialize(schsm_card *c, const schsm_init_params *p, int force,
		     hv_err *err);

/* ---- DKEK (4) ---- */

typedef struct schsm_dkek_info {
	int configured;       /* 0: no DKEK on this card (6D 00, 6B 00, or
			       * pico's 00 00 answer) */
	int shares_total;     /* byte 0 (unreliable on pico) */
	int shares_missing;   /* byte 1 */
	int kcv_known;        /* 1 only when complete and KCV not all zero:
			       * pico reports zeros until the user PIN is
			       * verified; never compare an unknown KCV */
	uint8_t kcv[8];
	uint16_t sw;
} schsm_dkek_info;

/* 80 52 00 00 00 (key domain 0). */
int schsm_dkek_status(schsm_card *c, schsm_dkek_info *st, hv_err *err);

/* Pure decoder of the status answer, public for tests. */
int schsm_parse_dkek_status(uint16_t sw, const uint8_t *data, size_t len,
			    schsm_dkek_info *st, hv_err *err);

/* 80 52 00 00 20 <share> 00; *after (may be NULL) gets the new status. */
int schsm_import_dkek_share(schsm_card *c, const secbuf *share,
			    schsm_dkek_info *after, hv_err *err);

/* ---- Random ---- */

/* GET CHALLENGE: appends n card-random bytes to out (n <= out's free room;
 * sent in pieces of at most 1024). */
int schsm_get_challenge(schsm_card *c, size_t n, secbuf *out, hv_err *err);

/* ---- Files (5) ---- */

/* ENUMERATE OBJECTS (extended Le; when that fails, short Le and
 * c->max_send drops to 248 as in OpenSC). *fids is malloc'd; a trailing
 * odd byte and pico's dummy 0000 entries are dropped. */
int schsm_enumerate(schsm_card *c, uint16_t **fids, size_t *n, hv_err *err);

/* READ BINARY by FID (00 B1 FID, offset object 54, extended Le), looping
 * until the end of the file. Appends to out. *exists = 0 and return 0 when
 * the file is absent (6A 82) and exists != NULL; with exists == NULL an
 * absent file is HV_ECARD. */
int schsm_read_ef(schsm_card *c, uint16_t fid, bytebuf *out, int *exists,
		  hv_err *err);

/* UPDATE BINARY by FID (00 D7 FID, 54 offset, 53 data), in chunks of
 * c->max_send - 8 from offset 0; creates the file if missing. len 0 makes
 * an empty file. Needs the user PIN. */
int schsm_write_ef(schsm_card *c, uint16_t fid, const uint8_t *data,
		   size_t len, hv_err *err);

/* DELETE FILE 00 E4 02 00 02 FID. *existed = 0 (return 0) when absent and
 * existed != NULL. */
int schsm_delete_file(schsm_card *c, uint16_t fid, int *existed, hv_err *err);

/* Deletes then writes: the file ends up holding exactly data. */
int schsm_replace_ef(schsm_card *c, uint16_t fid, const uint8_t *data,
		     size_t len, hv_err *err);

/* ---- Identity (1.3) ---- */

typedef struct schsm_identity {
	/* 1: the card was never initialized and its EF 2F02 is empty or
	 * absent: pico-hsm creates its device key and certificate at the
	 * first INITIALIZE. chr, serial and id are then "" and the card has
	 * no identity yet: read it again after INITIALIZE. */
	int no_identity;
	char chr[40];          /* CHR of the device certificate */
	char serial[40];       /* CHR minus its last 5 characters */
	uint8_t devcert_sha256[32]; /* SHA-256 of the device CVC (7F21 TLV) */
	/* serial + "-" + first 8 bytes of devcert_sha256 in hex: the card
	 * id the manifest records. pico-hsm cards all report the same
	 * serial; this string tells them apart. */
	char id[40 + 1 + 16 + 1];
} schsm_identity;

/* Reads 2F02 and fills *id and c->serial. An empty or absent 2F02 on a
 * never-initialized card (both PIN status queries 6A 88) is no error:
 * *id comes back with no_identity = 1 and c->serial "" (messages then
 * name the reader). On an initialized card, an empty, absent or garbled
 * 2F02 is HV_ECARD, as is a garbled one on any card. */
int schsm_card_identity(schsm_card *c, schsm_identity *id, hv_err *err);

/* Parser behind it, public for tests: the 2F02 content. */
int schsm_parse_devaut(const uint8_t *ef, size_t len, schsm_identity *id,
		       hv_err *err);

/* ---- Keys (5.2, 6, 7) ---- */

enum schsm_key_alg {
	SCHSM_KEY_UNKNOWN = 0,
	SCHSM_KEY_RSA,
	SCHSM_KEY_EC,
	SCHSM_KEY_AES,
};

typedef struct schsm_key {
	uint8_t ref;            /* key reference n (files CCn, C4n, CEn)    */
	int device_key;         /* ref 0: the device authentication key     */
	int exportable;         /* 0 for the device key; 1 otherwise = "may
				 * be wrapped": the card decides by the
				 * key's algorithm list and domain (7.1)    */
	int alg;                /* enum schsm_key_alg, from PRKD / CE        */
	unsigned bits;          /* RSA modulus / EC field size (P-521 = 521)
				 * / AES key bits; 0 unknown                */
	int curve_nid;          /* EC: OpenSSL NID when known, else 0       */
	char label[128];        /* PRKD label ("" when none)                */
	uint8_t id[64];         /* PRKD iD (CKA_ID)                         */
	size_t id_len;
	int has_prkd;
	bytebuf prkd;           /* first TLV of C4n (empty when none)       */
	int has_cert;           /* CEn holds an X.509 certificate (30 ...)  */
	int has_cv_request;     /* CEn holds the CV request (67 / 7F21)     */
	bytebuf ce;             /* first TLV of CEn (empty when none)       */
	EVP_PKEY *pub;          /* from CEn; NULL when absent/unparseable   */
} schsm_key;

typedef struct schsm_key_list {
	schsm_key *keys;        /* sorted by ref; includes ref 0 when the
				 * card lists CC00 (device_key = 1)        */
	size_t n;
} schsm_key_list;

/* Inventory: ENUMERATE, then for each CCn read C4n and CEn (absent files
 * are fine). */
int schsm_list_keys(schsm_card *c, schsm_key_list *list, hv_err *err);
void schsm_key_list_free(schsm_key_list *list);

/* Fills alg, label, id and bits of k from a PRKD (crypto/prkd.h's
 * prkd_parse; P-521 written as 528 bits is corrected to 521). HV_ECARD
 * when malformed. */
int schsm_parse_prkd(const uint8_t *prkd, size_t len, schsm_key *k,
		     hv_err *err);

/* Public key from a CE file's first TLV: authenticated CV request (67),
 * CV request / certificate (7F21: 7F4E/7F49: EC 86 point with the curve
 * found from its prime p, RSA 81 modulus + 82 exponent) or X.509 (30).
 * *is_x509 (may be NULL) says which. */
int schsm_parse_public_key(const uint8_t *ce, size_t len, EVP_PKEY **pub,
			   int *is_x509, hv_err *err);

typedef struct schsm_keygen {
	int alg;                /* SCHSM_KEY_EC or SCHSM_KEY_RSA */
	int curve_nid;          /* EC: NID_X9_62_prime256v1, NID_secp384r1,
				 * NID_secp521r1 */
	unsigned rsa_bits;      /* RSA: 2048 or 4096 (1024...4096 accepted
				 * in steps of 512) */
	const char *car;        /* NULL: "UTCA00001" (OpenSC) */
	const char *chr;        /* NULL: "UTTM00001" (OpenSC) */
	const uint8_t *allowed; /* tag 91 algorithm list; NULL = omit (key
				 * usable for everything, exportable) */
	size_t allowed_len;
	int key_domain;         /* tag 92 when >= 0; -1 = omit */
} schsm_keygen;

/* Builds the GENERATE ASYMMETRIC KEY PAIR data field (the content of a CV
 * body: 5F29, 42, 7F49, 5F20, then [91] [92]), as OpenSC does. Public for
 * tests. */
int schsm_build_keygen_data(const schsm_keygen *g, bytebuf *out,
			    hv_err *err);

/* 00 46 ref 00 (device key signs the request), extended Le. The returned
 * authenticated CV request is appended to request (may be NULL); the card
 * keeps it in CEn. ref must be 1...255 and free. Needs the user PIN. */
int schsm_generate_key(schsm_card *c, uint8_t ref, const schsm_keygen *g,
		       bytebuf *request, hv_err *err);

/* Lowest key reference >= 1 with no CC file; HV_ECARD when all are used. */
int schsm_free_key_ref(schsm_card *c, uint8_t *ref, hv_err *err);

/* WRAP KEY 80 72 ref 92, extended Ne: appends the key blob to blob.
 * Refuses ref 0 (the device key) with HV_EUSAGE. */
int schsm_wrap_key(schsm_card *c, uint8_t ref, bytebuf *blob, hv_err *err);

/* UNWRAP KEY. direct = 0: blob into staging EF 2F10, then 80 74 ref 93
 * (OpenSC's way); direct = 1: 80 74 ref 93 with the blob as data. */
int schsm_unwrap_key(schsm_card *c, uint8_t ref, const uint8_t *blob,
		     size_t len, int direct, hv_err *err);

/* Which files of the target reference the card's listing showed before
 * the restore (schsm_restore_key's existing). */
#define SCHSM_RESTORE_PRKD_EXISTS 0x01u  /* C4n listed */
#define SCHSM_RESTORE_CERT_EXISTS 0x02u  /* CEn listed */

/* sc-hsm-tool --unwrap-key's card side in as few commands as possible:
 * UNWRAP into ref (the blob as its data when it fits c->max_send, else
 * staged in 2F10), then the PRKD (when prkd_len > 0) into C4n and the
 * certificate (when cert_len > 0) into CEn. A file flagged in existing is
 * deleted first (the real card keeps the tail of a longer file written at
 * offset 0); an unflagged one is written at offset 0 directly: absent on
 * the real card, which lists every EF, or pre-created by pico-hsm at
 * UNWRAP, where an offset-0 write replaces the whole file. Each write is
 * checked by its status word. The ref must be free (never 0): the real
 * card refuses an occupied one, pico-hsm overwrites it. */
int schsm_restore_key(schsm_card *c, uint8_t ref, const uint8_t *blob,
		      size_t blob_len, const uint8_t *prkd, size_t prkd_len,
		      const uint8_t *cert, size_t cert_len, unsigned existing,
		      hv_err *err);

/* Deletes CCn, then C4n and CEn (absent ones are fine). Refuses ref 0. */
int schsm_delete_key(schsm_card *c, uint8_t ref, hv_err *err);

/* SIGN 80 68 ref alg, extended (Ne 512). alg SCHSM_ALG_ECDSA (in = hash;
 * out = DER ECDSA-Sig-Value), SCHSM_ALG_RSA_PKCS1 (in = DigestInfo) or
 * SCHSM_ALG_RSA_RAW (in = padded block). Appends to sig. */
int schsm_sign(schsm_card *c, uint8_t ref, uint8_t alg, const uint8_t *in,
	       size_t len, bytebuf *sig, hv_err *err);

/* Signs a digest with key ref, whose public key is pub (its type and RSA
 * modulus size choose the mechanism), the way every SmartCard-HSM family
 * accepts, as OpenSC does: EC by ECDSA (0x70) on the digest; RSA by raw
 * RSA (0x20) over the PKCS#1 v1.5 block 00 01 FF..FF 00 DigestInfo built
 * here, and when the card refuses that mechanism (schsm_sign_refused) by
 * PKCS#1 v1.5 with the DigestInfo (0x30). pico-hsm answers 0x30 with
 * 64 00; a card whose key may only be used with 0x30 refuses 0x20.
 * md = EVP_sha256() etc. The signature verifies with EVP_DigestVerify*
 * (PKCS#1 v1.5 / DER ECDSA) against pub. *alg_used (may be NULL) gets
 * the algorithm identifier that signed. On failure the error is the
 * first mechanism's when every one was refused. */
int schsm_sign_digest(schsm_card *c, uint8_t ref, EVP_PKEY *pub,
		      const EVP_MD *md, const uint8_t *digest, size_t dlen,
		      bytebuf *sig, uint8_t *alg_used, hv_err *err);

/* 1 when sw, the answer to a SIGN, says "not with this mechanism"
 * (64 00, 67 00, 69 85, 6A 80, 6A 81, 6A 86, 6B 00) rather than "not now"
 * (PIN not verified, key absent, card gone): another mechanism may work. */
int schsm_sign_refused(uint16_t sw);

/* The PKCS#1 v1.5 signature block (RFC 8017, EMSA-PKCS1-v1_5) of a
 * digest for a modulus of k bytes: 00 01 FF...FF 00 DigestInfo, into out
 * (k bytes). HV_EUSAGE when md is no SHA-1/SHA-2 digest or k is too
 * small. Public for tests. */
int schsm_pkcs1_block(const EVP_MD *md, const uint8_t *digest, size_t dlen,
		      size_t k, uint8_t *out, hv_err *err);

#endif
