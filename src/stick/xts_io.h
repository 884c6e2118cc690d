/* A libext2fs io_manager over an xts_volume: ext2fs reads and writes
 * plaintext blocks, the stick only ever sees ciphertext. Discards are not
 * passed through and zero-outs write encrypted zeros.
 */
#ifndef HV_STICK_XTS_IO_H
#define HV_STICK_XTS_IO_H

#include <stddef.h>

#include <ext2fs/ext2fs.h>

#include "stick/xts.h"

extern io_manager xts_io_manager;

/* Test hook for crash-consistency tests, called only by test programs
 * (never by hsmvault itself): the process kills itself with SIGKILL right
 * after its n-th write through this layer. n <= 0 turns it off. */
void xts_io_kill_after_writes(long n);

/* Registers v and writes the name to hand to ext2fs_open2() or
 * ext2fs_initialize() with xts_io_manager. 0, or -1 when all slots are
 * taken. Unregister before freeing v. */
int xts_io_register(xts_volume *v, char *name, size_t cap);
void xts_io_unregister(xts_volume *v);

/* The message of the last I/O failure in this layer ("" if none). */
const char *xts_io_last_error(void);

#endif
