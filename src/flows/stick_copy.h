/* A second copy of a vault: every file of one vault written byte for byte
 * into empty storage (a freshly prepared stick with its own LUKS2 header
 * and passphrase, or an empty folder), then read back and compared. */
#ifndef HV_FLOWS_STICK_COPY_H
#define HV_FLOWS_STICK_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "vfs/vfs.h"

typedef struct stick_copy_result {
	size_t files;            /* files written                          */
	uint64_t bytes;          /* their total size                       */
	unsigned long version;   /* the chain head both now hold           */
	char head_sha256[65];    /* sha256 of that manifest version file   */
} stick_copy_result;

/* from must hold a vault whose chain and current files check; to must be
 * empty (a fresh ext4 holds only lost+found). Every file under from's root
 * but lost+found and leftover temporary files is copied: data files first,
 * then the manifest and journal versions in order, the HSMVAULT marker
 * last, so an interrupted copy is no vault. Every file is then read back
 * from to and compared with from's bytes, and to's chain is loaded: the
 * same head as from's, or HV_EINTEGRITY. */
int stick_copy_vault(vfs *from, vfs *to, stick_copy_result *res, hv_err *err);

/* Byte-for-byte copy of one file (used by sync too); max bounds its size. */
int stick_copy_file(vfs *from, vfs *to, const char *path, size_t max, uint64_t *bytes,
		    hv_err *err);

#endif
