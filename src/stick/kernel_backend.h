/* The kernel backend (`--backend kernel`): the LUKS2 volume is activated as
 * a dm-crypt mapping by libcryptsetup and its ext4 is mounted by the kernel,
 * then presented as a folder vfs. Needs root and device-mapper; the default
 * userspace backend needs neither. The LUKS2 header itself is written by the
 * stick layer's format code; this backend only puts ext4 inside it and
 * opens it. Mappings are named "hsmvault-<pid>[-n]"; the volume is mounted
 * on "/run/hsmvault-XXXXXX/vault" (or under /tmp), inside a private 0700
 * folder. Whatever this backend
 * sets up is torn down on close, on error, at exit and on SIGINT/SIGTERM,
 * except a volume opened with keep_mounted. */
#ifndef HV_STICK_KERNEL_BACKEND_H
#define HV_STICK_KERNEL_BACKEND_H

#include <stddef.h>

#include "util/err.h"
#include "util/secbuf.h"
#include "vfs/vfs.h"

/* 0 when this process is root and device-mapper answers; otherwise
 * HV_EUSAGE with "the kernel backend needs root and device-mapper
 * (dm-crypt); use the default userspace backend" and the detail. */
int kernel_backend_available(hv_err *err);

/* Puts an ext4 filesystem (4096-byte blocks, made by the system's
 * mkfs.ext4) into an already formatted LUKS2 volume: activate, mkfs,
 * deactivate. Wrong passphrase: HV_ESECRET. */
int kernel_stick_format_fs(const char *device, const secbuf *passphrase,
			   hv_err *err);

/* Activates and mounts (nosuid, nodev, noexec) the volume on device and
 * returns the mounted ext4 as a vfs; its close unmounts, deactivates and
 * removes the mount point. With keep_mounted the volume stays mounted after
 * close and after exit (for `hsmvault stick open`); it is released later
 * by kernel_vault_close. The mount point is copied to mountpoint_out
 * (which may be NULL). */
int kernel_vault_open(const char *device, const secbuf *passphrase,
		      int keep_mounted, vfs **out, char *mountpoint_out,
		      size_t mp_len, hv_err *err);

/* From then on kernel_vault_open maps the volume read-only and mounts it
 * read-only (MS_RDONLY): for commands that only read a stick whose format
 * only the kernel reads (chosen by stick.c). 0 restores the default. */
void kernel_backend_set_read_only(int read_only);

/* For `hsmvault stick close`: given a mount point made by kernel_vault_open
 * or a mapping name ("hsmvault-1234" or /dev/mapper/hsmvault-1234),
 * unmounts, deactivates the mapping and removes the mount point. */
int kernel_vault_close(const char *mountpoint_or_name, hv_err *err);

#endif
