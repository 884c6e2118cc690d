/* The two copies of a LUKS2 header, checked by reading them only: which
 * copy is intact, how large the metadata is, whether the device is long
 * enough for it. libcryptsetup repairs a damaged copy as a side effect of
 * loading a header it can write to; this check lets the stick layer decide
 * before libcryptsetup sees the device (see luks.c), and names the damage.
 * Layout facts from the LUKS2 on-disk format: a 4096-byte binary header
 * (magic "LUKS\xba\xbe" for the primary, "SKUL\xba\xbe" for the secondary,
 * big-endian fields) followed by the JSON area; the checksum covers
 * hdr_size bytes with the checksum field zeroed. */
#ifndef HV_STICK_LUKS_HDR_H
#define HV_STICK_LUKS_HDR_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum luks_copy_state {
	LUKS_COPY_ABSENT = 0, /* no magic where the copy should be */
	LUKS_COPY_DAMAGED,    /* magic found, but checksum or fields wrong */
	LUKS_COPY_OK,
};

typedef struct luks_hdr_state {
	uint64_t device_size;    /* bytes */
	int version;             /* 0: no LUKS header found, 1: LUKS1, 2: LUKS2 */
	int primary, secondary;  /* enum luks_copy_state (LUKS2 only) */
	int stale;               /* both intact, but one has an older seqid */
	uint64_t hdr_size;       /* binary header + JSON area of one copy */
	uint64_t secondary_at;   /* offset where the secondary copy was looked for */
	uint64_t metadata_size;  /* both copies + keyslots area (LUKS1: the payload
				    offset; 0: unknown) */
	uint64_t data_offset;    /* from the JSON segments or the LUKS1 header (0: unknown) */
	int nonzero_magic_area;  /* the first 4096 bytes are not all zero */
	int nareas;              /* keyslot areas named by the JSON (-1: unreadable) */
	struct { uint64_t offset, size; } areas[32];
} luks_hdr_state;

/* Reads the header area of path (opened O_RDONLY, never written). A path
 * that is not a regular file or block device is a usage error (2). */
int luks_hdr_inspect(const char *path, luks_hdr_state *s, hv_err *err);

/* 1 when one LUKS2 copy is damaged or stale but the other is intact:
 * readable, and a repair would rewrite the bad copy. */
int luks_hdr_needs_repair(const luks_hdr_state *s);

/* One sentence about the damage ("the secondary LUKS2 header copy is
 * damaged"), "" when there is none. */
void luks_hdr_describe_damage(const luks_hdr_state *s, char *out, size_t cap);

/* The size of a copy from which libcryptsetup can read the header instead
 * of the device: the metadata size, at least 16 MiB, at most the device
 * size (LUKS1: the payload offset). Of it only the two header copies and the keyslot areas the JSON
 * names need to be filled (luks_hdr_copy_ranges), the rest may stay zero:
 * a few hundred KiB read instead of 16 MiB from a slow stick. */
uint64_t luks_hdr_copy_size(const luks_hdr_state *s);

/* The ranges to fill, clipped to the copy size; 0 ranges: copy it all. */
size_t luks_hdr_copy_ranges(const luks_hdr_state *s, uint64_t (*ranges)[2], size_t cap);

#endif
