/* Which device is a stick, and whether it may be erased. Block devices are
 * described from sysfs (/sys/block, /sys/dev/block), libblkid (signatures)
 * and /proc/self/mountinfo; image files are sticks too. */
#ifndef HV_STICK_DEVICE_H
#define HV_STICK_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct stick_device {
	char path[512];        /* /dev/sdb or the image file */
	char name[64];         /* sdb; "" for an image */
	int is_image;
	int exists;            /* an image file may not exist yet */
	int is_partition;
	char parent[64];       /* for a partition: the whole disk's name */
	int removable;         /* always 1 for images */
	uint64_t size;         /* bytes */
	char vendor[64];
	char model[128];
	char serial[128];
	char type[64];         /* blkid TYPE: ext4, crypto_LUKS, ... ("" none) */
	char label[64];        /* blkid LABEL */
	char pttype[32];       /* blkid PTTYPE: dos, gpt ("" none) */
	int npartitions;
	char partitions[256];  /* "sdb1 sdb2" */
	int mounted;
	char mounted_what[512];/* "/dev/sdb1 on /media/x" */
	int held;
	char held_by[256];     /* holders, swap, loop attachment or O_EXCL busy */
	int holds_data;        /* the sample (device_holds_data) found a non-zero byte */
	char luks_note[160];   /* a LUKS header blkid did not name (damaged magic) */
} stick_device;

/* Whether a device or file of size bytes holds anything but zeros, judged
 * in bounded time (a 4 GB stick is not read whole): the first and the last
 * MiB, 4 KiB at every place a LUKS2 secondary header can start (16 KiB to
 * 4 MiB), and 256 blocks of 4 KiB spread evenly over the rest. About 3 MiB
 * read whatever the size. 1: data found, 0: every sampled byte is zero. */
int device_holds_data(const char *path, uint64_t size, hv_err *err);

/* Fills holds_data (by device_holds_data; a read failure counts as data:
 * when in doubt, ask) and luks_note (a LUKS2 header blkid did not name).
 * For a device about to be erased, before device_check_erasable. */
void device_probe_contents(stick_device *d);

/* Describes path (block device, or image file that may be missing): sysfs
 * facts and blkid signatures; holds_data and luks_note stay unset (a
 * listing must not read every disk). */
int device_inspect(const char *path, stick_device *d, hv_err *err);

/* Every block device in /sys/block with a size, except ram/zram. *out is
 * malloc'd. */
int device_list(stick_device **out, size_t *count, hv_err *err);

/* HV_ESAFETY when the device is mounted, held or busy (nothing may be done
 * to it); otherwise HV_OK, and *reasons (may be "") lists why erasing it
 * needs a typed confirmation: a partition table, a signature, partitions,
 * any data at all (not all zeros by the sample of device_holds_data: random
 * bytes may be an old encrypted stick), a LUKS2 header with a damaged copy,
 * not removable. A missing image file and an all-zero one are empty. */
int device_check_erasable(const stick_device *d, char *reasons, size_t cap, hv_err *err);

/* One line per fact for an operator deciding whether to erase it. */
void device_describe(const stick_device *d, char *out, size_t cap);

/* 1 when a and b name the same device or file (links resolved), else 0. */
int device_same(const char *a, const char *b);

/* "4.0 GiB" */
void device_format_size(uint64_t bytes, char *out, size_t cap);

#endif
