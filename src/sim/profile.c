#include "sim/profile.h"

#include <string.h>

/* The standard SmartCard-HSM ATR (JCOP 2.4.x, contact); pico-hsm sends the
 * same bytes (its sc_hsm.c). */
static const uint8_t ATR_JCOP24[24] = {
	0x3B, 0xFE, 0x18, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x45, 0x80, 0x31, 0x81,
	0x54, 0x48, 0x53, 0x4D, 0x31, 0x73, 0x80, 0x21, 0x40, 0x81, 0x07, 0xFA,
};

/* JCOP 3: OpenSC's sc_hsm_atrs table; Nitrokey's documentation lists it as
 * the Nitrokey HSM 2's ATR. */
static const uint8_t ATR_JCOP3[24] = {
	0x3B, 0xDE, 0x18, 0xFF, 0x81, 0x91, 0xFE, 0x1F, 0xC3, 0x80, 0x31, 0x81,
	0x54, 0x48, 0x53, 0x4D, 0x31, 0x73, 0x80, 0x21, 0x40, 0x81, 0x07, 0x1C,
};

static const sim_profile PROFILES[] = {
	{
		.id = SIM_PROFILE_SMARTCARD_HSM, .name = "smartcard-hsm",
		.atr = ATR_JCOP24, .atr_len = sizeof(ATR_JCOP24),
		.platform = 0x00, .fw_major = 3, .fw_minor = 5,
		.fcp_pico_layout = 0, .select_p2_0c_accepted = 1,
		.mf_selectable = 1, .data_without_le_61xx = 0, .read_short_warns = 1,
		.devaut = SIM_DEVAUT_FACTORY_CHAIN,
		.serial_prefix = "DECM", .default_serial = "DECM0190001", .chr_sequence = "00000",
		.dica_chr = "DEDICM0190001", .devkey_curve = "brainpoolP256r1",
		.kcv_needs_user_pin = 0, .sign_pkcs1_digestinfo = 1, .sw_algo_wrong_for_key = 0x6985,
		.sw_wrong_data = 0x6A80, .sw_unwrap_rejected = 0x6A80,
		.unwrap_overwrites = 0, .unwrap_staging_ef = 1, .reinit_checks_so_pin = 1,
		.init_leaves_user_verified = 0, .precreates_prkd = 0,
		.init_without_data_info = 0, .verify_pico_sessions = 0, .unwrap_into_device_key = 0,
		.enumerate_pico_style = 0,
		.sw_dkek_never_initialized = 0x6D00, .no_dkek_status_zero = 0,
	},
	{
		.id = SIM_PROFILE_NITROKEY_HSM2, .name = "nitrokey-hsm2",
		.atr = ATR_JCOP3, .atr_len = sizeof(ATR_JCOP3),
		.platform = 0x00, .fw_major = 4, .fw_minor = 1,
		.fcp_pico_layout = 0, .select_p2_0c_accepted = 1,
		.mf_selectable = 1, .data_without_le_61xx = 0, .read_short_warns = 1,
		.devaut = SIM_DEVAUT_FACTORY_CHAIN,
		.serial_prefix = "DENK", .default_serial = "DENK0490001", .chr_sequence = "00000",
		.dica_chr = "DEDINK0490001", .devkey_curve = "brainpoolP256r1",
		.kcv_needs_user_pin = 0, .sign_pkcs1_digestinfo = 1, .sw_algo_wrong_for_key = 0x6985,
		.sw_wrong_data = 0x6A80, .sw_unwrap_rejected = 0x6A80,
		.unwrap_overwrites = 0, .unwrap_staging_ef = 1, .reinit_checks_so_pin = 1,
		.init_leaves_user_verified = 0, .precreates_prkd = 0,
		.init_without_data_info = 0, .verify_pico_sessions = 0, .unwrap_into_device_key = 0,
		.enumerate_pico_style = 0,
		.sw_dkek_never_initialized = 0x6D00, .no_dkek_status_zero = 0,
	},
	{
		.id = SIM_PROFILE_PICO_HSM, .name = "pico-hsm",
		.atr = ATR_JCOP24, .atr_len = sizeof(ATR_JCOP24),
		.platform = 0xFF, .fw_major = 6, .fw_minor = 6,
		.fcp_pico_layout = 1, .select_p2_0c_accepted = 0,
		.mf_selectable = 0, .data_without_le_61xx = 1, .read_short_warns = 0,
		.devaut = SIM_DEVAUT_SELF_SIGNED_AT_INIT,
		.serial_prefix = "ESP", .default_serial = "ESPICOHSMTR", .chr_sequence = "00001",
		.dica_chr = NULL, .devkey_curve = "secp256k1",
		.kcv_needs_user_pin = 1, .sign_pkcs1_digestinfo = 0, .sw_algo_wrong_for_key = 0x6400,
		.sw_wrong_data = 0x6700, .sw_unwrap_rejected = 0x6400,
		.unwrap_overwrites = 1, .unwrap_staging_ef = 0, .reinit_checks_so_pin = 0,
		.init_leaves_user_verified = 1, .precreates_prkd = 1,
		.init_without_data_info = 1, .verify_pico_sessions = 1, .unwrap_into_device_key = 1,
		.enumerate_pico_style = 1,
		.sw_dkek_never_initialized = 0x6B00, .no_dkek_status_zero = 1,
	},
};

#define N_PROFILES (sizeof(PROFILES) / sizeof(PROFILES[0]))

const sim_profile *sim_profile_find(const char *name)
{
	for (size_t i = 0; i < N_PROFILES; i++)
		if (strcmp(PROFILES[i].name, name) == 0)
			return &PROFILES[i];
	return NULL;
}

const sim_profile *sim_profile_get(sim_profile_id id)
{
	for (size_t i = 0; i < N_PROFILES; i++)
		if (PROFILES[i].id == id)
			return &PROFILES[i];
	return &PROFILES[0];
}

const char *sim_profile_names(void)
{
	return "smartcard-hsm | nitrokey-hsm2 | pico-hsm";
}

int sim_profile_serial_ok(const sim_profile *p, const char *serial)
{
	size_t n = strlen(serial);
	if (n < 3 || n > 11)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = serial[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return 0;
	}
	for (size_t i = 0; i < N_PROFILES; i++) {
		const char *pre = PROFILES[i].serial_prefix;
		if (&PROFILES[i] != p && strncmp(serial, pre, strlen(pre)) == 0)
			return 0;
	}
	return 1;
}
