/* Card families as profiles of the simulator: every value in which
 * CardContact's SmartCard-HSM, the Nitrokey HSM 2 and pico-hsm differ, in
 * one table that the command handlers consult (smartcard-hsm.md section
 * 10; src/sim/README.md says what each value rests on). */
#ifndef HV_SIM_PROFILE_H
#define HV_SIM_PROFILE_H

#include <stddef.h>
#include <stdint.h>

typedef enum sim_profile_id {
	SIM_PROFILE_SMARTCARD_HSM = 0,
	SIM_PROFILE_NITROKEY_HSM2 = 1,
	SIM_PROFILE_PICO_HSM = 2,
} sim_profile_id;

/* How the device identity (EF 2F02, key CC00) comes about. */
typedef enum sim_devaut_kind {
	/* From the factory: device CVC + DICA CVC under the test root. */
	SIM_DEVAUT_FACTORY_CHAIN = 0,
	/* Empty until the first INITIALIZE, which makes the device key and a
	 * self-signed CVC with explicit domain parameters (pico-hsm). */
	SIM_DEVAUT_SELF_SIGNED_AT_INIT = 1,
} sim_devaut_kind;

typedef struct sim_profile {
	sim_profile_id id;
	const char *name;            /* the --profile value */
	const uint8_t *atr;
	size_t atr_len;
	uint8_t platform;            /* FCP tag 85, byte length-3 */
	uint8_t fw_major, fw_minor;  /* FCP tag 85, last two bytes */
	int fcp_pico_layout;         /* pico FCPs: size in 81, life cycle 8A, AID in 84 shifted by one byte */
	int select_p2_0c_accepted;   /* SELECT with P2 0C (no FCP); else 6A 86 */
	int mf_selectable;           /* SELECT 3F00 by FID answers 90 00; else 6A 82 */
	int data_without_le_61xx;    /* response data to a command without Le: 61 xx */
	int read_short_warns;        /* READ BINARY with fewer than Ne bytes left: 62 82 (else 90 00) */

	sim_devaut_kind devaut;
	const char *serial_prefix;   /* the family's serial form starts so */
	const char *default_serial;
	const char *chr_sequence;    /* device CHR = serial + this */
	const char *dica_chr;        /* issuer of the device CVC (factory chain) */
	const char *devkey_curve;    /* OpenSSL name of the device key's curve */

	int kcv_needs_user_pin;      /* DKEK status shows zeros unless VERIFY in this session */
	int sign_pkcs1_digestinfo;   /* SIGN algorithm 30 works (pico: 64 00) */
	uint16_t sw_algo_wrong_for_key; /* SIGN/DECIPHER algorithm of another key type */
	uint16_t sw_wrong_data;      /* what the card answers where the real one says 6A 80 */
	uint16_t sw_unwrap_rejected; /* UNWRAP with a wrong DKEK, bad MAC or format */
	int unwrap_overwrites;       /* UNWRAP onto an occupied reference replaces the key */
	int unwrap_staging_ef;       /* UNWRAP without data takes the blob staged in EF 2F10
	                              * (OpenSC's way); pico-hsm reads only the command data */
	int reinit_checks_so_pin;    /* re-INITIALIZE needs the current SO-PIN */
	int init_leaves_user_verified; /* user PIN session active after INITIALIZE */
	int init_without_data_info;  /* INITIALIZE without data: free memory + version */
	int verify_pico_sessions;    /* any VERIFY with data ends both PIN sessions first; no
	                              * length check before counting; SO status 90 00 in session */
	int unwrap_into_device_key;  /* UNWRAP onto reference 0 replaces the device key */
	int precreates_prkd;         /* GENERATE / UNWRAP create C4<ref> themselves */
	int enumerate_pico_style;    /* ENUMERATE: C400 CC00 first, only CC/C4/C8/C9 */
	uint16_t sw_dkek_never_initialized; /* DKEK status on a never-initialized card */
	int no_dkek_status_zero;     /* no DKEK: 00 00 + zero KCV instead of 6D 00 */
} sim_profile;

/* The profile named name, or NULL. */
const sim_profile *sim_profile_find(const char *name);
const sim_profile *sim_profile_get(sim_profile_id id);
/* "smartcard-hsm | nitrokey-hsm2 | pico-hsm", for messages. */
const char *sim_profile_names(void);

/* 1 when serial may be given to a card of profile p: 3 to 11 letters or
 * digits, and not in the serial form of another family (a DENK... serial
 * is a Nitrokey's). Free test serials such as HVTEST01 stay allowed. */
int sim_profile_serial_ok(const sim_profile *p, const char *serial);

#endif
