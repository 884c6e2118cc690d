/* A vault stick as a whole: a device or image file holding one LUKS
 * volume with one ext4 filesystem inside, read and written in userspace (no
 * device-mapper, no mount). Prepared sticks are LUKS2 (aes-xts-plain64,
 * 512-bit key, argon2id); sticks made by hand may be LUKS1 or LUKS2 in any
 * format luks.h lists, or, through the kernel backend, any other.
 * Preparing one never touches a device that is mounted or in use, and one
 * that holds data or is not removable only after a typed confirmation. */
#ifndef HV_STICK_STICK_H
#define HV_STICK_STICK_H

#include <stdint.h>

#include "stick/device.h"
#include "stick/luks.h"
#include "util/err.h"
#include "util/secbuf.h"
#include "vfs/vfs.h"

/* Smallest stick: the 16 MiB LUKS2 header plus a small ext4. */
#define STICK_MIN_SIZE (32ULL * 1024 * 1024)

/* Supplies the new passphrase once the device has passed every check (so
 * nobody types a passphrase for a device that is then refused). The
 * secbuf stays the caller's. */
typedef int (*stick_passphrase_fn)(void *ctx, const secbuf **out, hv_err *err);

typedef struct stick_prepare_opts {
	uint64_t size;              /* image files: size to create when missing or empty */
	const char *label;          /* LUKS2 label; NULL: "HSMVAULT" */
	unsigned sector_size;       /* 0 auto, 512, 4096 */
	int insecure_fast_kdf;      /* tests only */
	int wipe;                   /* encrypted zeros over the whole data segment */
	int batch;                  /* never prompt: confirmation only by confirm_device */
	const char *confirm_device; /* the device named a second time */
	int skip_filesystem;        /* leave the volume empty (the kernel backend
				       makes its own ext4) */
	uint32_t pbkdf_memory_kb;   /* 0: libcryptsetup's default */
	uint32_t iter_time_ms;      /* 0: libcryptsetup's default */
	uint32_t pbkdf_iterations;  /* 0: benchmarked */
	luks_keyslot *kdf_out;      /* may be NULL: receives the argon2id settings */
} stick_prepare_opts;

/* Checks the device (device.h rules: a target that is not empty, i.e. not
 * missing and not all zeros by the sample of device_check_erasable, needs
 * a typed confirmation), asks for or checks the confirmation,
 * then formats: LUKS2 header, optional wipe, ext4. With out non-NULL the
 * fresh filesystem is returned as a writable vfs (no second PBKDF run).
 * A missing image file is created (0600) and removed again on failure. */
int stick_prepare(const char *path, const stick_prepare_opts *o,
		  stick_passphrase_fn get_passphrase, void *ctx, vfs **out,
		  hv_err *err);

/* Which backend reads this volume: the userspace one when it has the
 * format (luks_userspace_can), else the kernel one when device-mapper is
 * there (*kernel = 1); otherwise HV_EUSAGE with a message naming the format
 * and what to do (root on a machine with device-mapper, or cryptsetup open
 * and mount by hand). */
int stick_choose_backend(const char *path, const luks_info *info, int *kernel, hv_err *err);

/* Unlocks the stick and opens its ext4 as a vfs: the userspace backend, or
 * the kernel backend for a format only the kernel reads (a note on stderr
 * says so), as stick_choose_backend decides. */
int stick_open_vfs(const char *path, const secbuf *passphrase, int writable,
		   vfs **out, hv_err *err);

/* For commands that open a vault by path (--vault IMAGE|DEVICE, through
 * vault_open): unlocks with the passphrase read from the descriptor given
 * to stick_set_passphrase_fd(), else from the descriptor number in the
 * environment variable HSMVAULT_STICK_PASSPHRASE_FD, else asked on the
 * terminal; then opens the ext4 as a writable vfs. */
void stick_set_passphrase_fd(int fd);
int stick_open_vault(const char *path, vfs **out, hv_err *err);

/* For commands that only read (log, show, record export): from then on
 * stick_open_vault opens the volume read-only (the data segment O_RDONLY,
 * libext2fs without EXT2_FLAG_RW; the header is always read from a copy). */
void stick_set_read_only(int read_only);

/* Once per path and process: a warning on stderr when one LUKS2 header copy
 * is damaged, saying what to do. */
void stick_warn_damage(const char *path, const luks_info *info);

/* Header facts without a passphrase (label, UUID, cipher, keyslots). */
int stick_status(const char *path, luks_info *info, hv_err *err);

#endif
