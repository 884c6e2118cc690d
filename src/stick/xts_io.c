#include "stick/xts_io.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XTS_IO_SLOTS 8
#define XTS_IO_PREFIX "hsmvault-xts:"

static xts_volume *slots[XTS_IO_SLOTS];
static char last_error[HV_ERR_MSG_MAX];

/* Crash-test hook state: writes left before SIGKILL, -1 when off. */
static long kill_after = -1; /* test hook: see xts_io_kill_after_writes() */

struct xts_chan {
	xts_volume *vol;
	struct struct_io_stats stats;
};

int xts_io_register(xts_volume *v, char *name, size_t cap)
{
	for (int i = 0; i < XTS_IO_SLOTS; i++) {
		if (slots[i] == NULL || slots[i] == v) {
			slots[i] = v;
			snprintf(name, cap, XTS_IO_PREFIX "%d", i);
			return 0;
		}
	}
	return -1;
}

void xts_io_unregister(xts_volume *v)
{
	for (int i = 0; i < XTS_IO_SLOTS; i++)
		if (slots[i] == v)
			slots[i] = NULL;
}

const char *xts_io_last_error(void)
{
	return last_error;
}

static errcode_t fail_from(hv_err *e)
{
	snprintf(last_error, sizeof(last_error), "%s", e->msg);
	return e->code == HV_ENOMEM ? EXT2_ET_NO_MEMORY : EIO;
}

void xts_io_kill_after_writes(long n)
{
	kill_after = n > 0 ? n : -1;
}

static void count_write(void)
{
	if (kill_after > 0 && --kill_after == 0)
		raise(SIGKILL);
}

static errcode_t xio_open(const char *name, int flags, io_channel *channel)
{
	(void)flags;
	int slot = -1;
	if (!name || strncmp(name, XTS_IO_PREFIX, strlen(XTS_IO_PREFIX)) != 0)
		return EXT2_ET_BAD_DEVICE_NAME;
	slot = atoi(name + strlen(XTS_IO_PREFIX));
	if (slot < 0 || slot >= XTS_IO_SLOTS || !slots[slot])
		return EXT2_ET_BAD_DEVICE_NAME;

	io_channel io = calloc(1, sizeof(*io));
	struct xts_chan *xc = calloc(1, sizeof(*xc));
	char *nm = strdup(name);
	if (!io || !xc || !nm) {
		free(io);
		free(xc);
		free(nm);
		return EXT2_ET_NO_MEMORY;
	}
	xc->vol = slots[slot];
	xc->stats.num_fields = 2;
	io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	io->manager = xts_io_manager;
	io->name = nm;
	io->block_size = 1024;
	io->refcount = 1;
	io->private_data = xc;
	*channel = io;
	return 0;
}

static errcode_t xio_close(io_channel io)
{
	if (--io->refcount > 0)
		return 0;
	free(io->private_data);
	free(io->name);
	free(io);
	return 0;
}

static errcode_t xio_set_blksize(io_channel io, int blksize)
{
	io->block_size = blksize;
	return 0;
}

/* count < 0 means -count bytes, else count blocks. */
static size_t span_bytes(io_channel io, int count)
{
	return count < 0 ? (size_t)(-(long)count) : (size_t)count * (size_t)io->block_size;
}

static errcode_t xio_read64(io_channel io, unsigned long long block, int count, void *data)
{
	struct xts_chan *xc = io->private_data;
	size_t len = span_bytes(io, count);
	hv_err e;
	hv_err_clear(&e);
	if (xts_read(xc->vol, block * (unsigned long long)io->block_size, data, len, &e))
		return fail_from(&e);
	xc->stats.bytes_read += len;
	return 0;
}

static errcode_t xio_write64(io_channel io, unsigned long long block, int count,
			     const void *data)
{
	struct xts_chan *xc = io->private_data;
	size_t len = span_bytes(io, count);
	hv_err e;
	hv_err_clear(&e);
	if (xts_write(xc->vol, block * (unsigned long long)io->block_size, data, len, &e))
		return fail_from(&e);
	xc->stats.bytes_written += len;
	count_write();
	return 0;
}

static errcode_t xio_read(io_channel io, unsigned long block, int count, void *data)
{
	return xio_read64(io, block, count, data);
}

static errcode_t xio_write(io_channel io, unsigned long block, int count, const void *data)
{
	return xio_write64(io, block, count, data);
}

static errcode_t xio_flush(io_channel io)
{
	struct xts_chan *xc = io->private_data;
	if (fdatasync(xts_volume_fd(xc->vol)) != 0 && errno != EINVAL) {
		snprintf(last_error, sizeof(last_error), "flushing the stick: %s",
			 strerror(errno));
		return errno;
	}
	return 0;
}

static errcode_t xio_set_option(io_channel io, const char *option, const char *arg)
{
	(void)io;
	(void)option;
	(void)arg;
	return EXT2_ET_INVALID_ARGUMENT;
}

static errcode_t xio_get_stats(io_channel io, io_stats *stats)
{
	struct xts_chan *xc = io->private_data;
	*stats = &xc->stats;
	return 0;
}

/* A discard would leave raw zeros (or anything) that decrypt to garbage:
 * refuse it so callers fall back to writing. */
static errcode_t xio_discard(io_channel io, unsigned long long block,
			     unsigned long long count)
{
	(void)io;
	(void)block;
	(void)count;
	return EXT2_ET_UNIMPLEMENTED;
}

static errcode_t xio_zeroout(io_channel io, unsigned long long block,
			     unsigned long long count)
{
	struct xts_chan *xc = io->private_data;
	uint64_t bs = (uint64_t)io->block_size;
	hv_err e;
	hv_err_clear(&e);
	if (xts_write_zeros(xc->vol, block * bs, count * bs, NULL, NULL, &e))
		return fail_from(&e);
	xc->stats.bytes_written += count * bs;
	count_write();
	return 0;
}

static struct struct_io_manager xts_manager = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "hsmvault AES-XTS I/O manager",
	.open = xio_open,
	.close = xio_close,
	.set_blksize = xio_set_blksize,
	.read_blk = xio_read,
	.write_blk = xio_write,
	.flush = xio_flush,
	.set_option = xio_set_option,
	.get_stats = xio_get_stats,
	.read_blk64 = xio_read64,
	.write_blk64 = xio_write64,
	.discard = xio_discard,
	.zeroout = xio_zeroout,
};

io_manager xts_io_manager = &xts_manager;
