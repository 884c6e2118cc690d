#include "stick/ext4_vfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <et/com_err.h>
#include <ext2fs/ext2fs.h>
#include <ext2fs/ext3_extents.h>

#include "stick/xts_io.h"

#define NAME_MAX_EXT4 255
#define MAX_DEPTH 32
/* Extents that fit in the inode itself: a file never needs an extent
 * block, so writing it is one inode write. */
#define INODE_EXTENTS 4
#define MAX_EXTENT_LEN 32768

struct ext4_vfs {
	vfs v;
	ext2_filsys fs;
	xts_volume *vol;
	int fd;
	int writable;
	char ioname[64];
};

static int fs_fail(struct ext4_vfs *e, hv_err *err, errcode_t r, const char *fmt,
		   const char *path)
{
	char what[600];
	snprintf(what, sizeof(what), fmt, path);
	const char *io = xts_io_last_error();
	return hv_fail(err, HV_EIO, "%s: %s: %s%s%s", e->v.where, what, error_message(r),
		       io[0] ? ": " : "", io);
}

/* Splits path into components; refuses absolute paths, empty, "." and "..". */
static int split_path(const char *path, char comp[][NAME_MAX_EXT4 + 1], int *n, hv_err *err)
{
	*n = 0;
	if (!path || !*path || path[0] == '/')
		return hv_fail(err, HV_EINTERNAL, "vault path '%s' must be relative and non-empty",
			       path ? path : "");
	const char *p = path;
	while (*p) {
		const char *s = strchr(p, '/');
		size_t len = s ? (size_t)(s - p) : strlen(p);
		if (len == 0 || len > NAME_MAX_EXT4 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.') || *n >= MAX_DEPTH)
			return hv_fail(err, HV_EINTERNAL, "vault path '%s' is not a plain relative path",
				       path);
		memcpy(comp[*n], p, len);
		comp[*n][len] = '\0';
		(*n)++;
		p += len;
		if (*p == '/')
			p++;
	}
	return HV_OK;
}

/* Looks up name in dir without following links. *ino 0 when absent. */
static int lookup(struct ext4_vfs *e, ext2_ino_t dir, const char *name, ext2_ino_t *ino,
		  struct ext2_inode *inode, hv_err *err)
{
	errcode_t r = ext2fs_lookup(e->fs, dir, name, (int)strlen(name), NULL, ino);
	if (r == EXT2_ET_FILE_NOT_FOUND) {
		*ino = 0;
		return HV_OK;
	}
	if (r)
		return fs_fail(e, err, r, "looking up '%s'", name);
	r = ext2fs_read_inode(e->fs, *ino, inode);
	if (r)
		return fs_fail(e, err, r, "reading the inode of '%s'", name);
	return HV_OK;
}

/* Resolves the first n components as folders. *dir 0 when one is absent. */
static int walk_dirs(struct ext4_vfs *e, char comp[][NAME_MAX_EXT4 + 1], int n,
		     ext2_ino_t *dir, const char *path, hv_err *err)
{
	ext2_ino_t cur = EXT2_ROOT_INO;
	for (int i = 0; i < n; i++) {
		ext2_ino_t ino;
		struct ext2_inode in;
		int rc = lookup(e, cur, comp[i], &ino, &in, err);
		if (rc)
			return rc;
		if (!ino) {
			*dir = 0;
			return HV_OK;
		}
		if (!LINUX_S_ISDIR(in.i_mode))
			return hv_fail(err, HV_EINTEGRITY,
				       "%s: '%s' in '%s' is not a folder (symbolic links are not followed)",
				       e->v.where, comp[i], path);
		cur = ino;
	}
	*dir = cur;
	return HV_OK;
}

static int e_read(vfs *v, const char *path, size_t max, uint8_t **data, size_t *len,
		  hv_err *err)
{
	struct ext4_vfs *e = v->impl;
	char comp[MAX_DEPTH][NAME_MAX_EXT4 + 1];
	int n, rc;
	if ((rc = split_path(path, comp, &n, err)))
		return rc;
	ext2_ino_t dir, ino = 0;
	struct ext2_inode in;
	if ((rc = walk_dirs(e, comp, n - 1, &dir, path, err)))
		return rc;
	if (dir && (rc = lookup(e, dir, comp[n - 1], &ino, &in, err)))
		return rc;
	if (!ino)
		return hv_fail(err, HV_EIO, "%s: '%s' does not exist", v->where, path);
	if (!LINUX_S_ISREG(in.i_mode))
		return hv_fail(err, HV_EINTEGRITY,
			       "%s: '%s' is not a regular file (symbolic links are not followed)",
			       v->where, path);
	uint64_t size = EXT2_I_SIZE(&in);
	if (size > max)
		return hv_fail(err, HV_EINTEGRITY, "%s: '%s' is %llu bytes, more than the %zu allowed",
			       v->where, path, (unsigned long long)size, max);
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return hv_fail(err, HV_ENOMEM, "out of memory reading '%s'", path);
	ext2_file_t f;
	errcode_t r = ext2fs_file_open(e->fs, ino, 0, &f);
	if (r) {
		free(buf);
		return fs_fail(e, err, r, "opening '%s'", path);
	}
	size_t got = 0;
	while (got < size && !r) {
		unsigned int chunk = 0;
		size_t want = size - got > (1u << 30) ? (1u << 30) : size - got;
		r = ext2fs_file_read(f, buf + got, (unsigned int)want, &chunk);
		if (!r && chunk == 0)
			break;
		got += chunk;
	}
	ext2fs_file_close(f);
	if (r || got != size) {
		free(buf);
		return r ? fs_fail(e, err, r, "reading '%s'", path)
			 : hv_fail(err, HV_EIO, "%s: '%s' is shorter than its size", v->where, path);
	}
	*data = buf;
	*len = size;
	return HV_OK;
}

struct list_ctx {
	char **names;
	size_t count, cap;
	int failed;
};

static int list_cb(struct ext2_dir_entry *d, int offset, int blocksize, char *buf, void *priv)
{
	(void)offset;
	(void)blocksize;
	(void)buf;
	struct list_ctx *c = priv;
	int len = ext2fs_dirent_name_len(d);
	if ((len == 1 && d->name[0] == '.') || (len == 2 && d->name[0] == '.' && d->name[1] == '.'))
		return 0;
	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		char **nn = realloc(c->names, cap * sizeof(*nn));
		if (!nn) {
			c->failed = 1;
			return DIRENT_ABORT;
		}
		c->names = nn;
		c->cap = cap;
	}
	char *s = strndup(d->name, (size_t)len);
	if (!s) {
		c->failed = 1;
		return DIRENT_ABORT;
	}
	c->names[c->count++] = s;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int e_list(vfs *v, const char *dirpath, char ***names, size_t *count, hv_err *err)
{
	struct ext4_vfs *e = v->impl;
	char comp[MAX_DEPTH][NAME_MAX_EXT4 + 1];
	int n = 0, rc;
	ext2_ino_t dir = EXT2_ROOT_INO;
	*names = NULL;
	*count = 0;
	if (dirpath && *dirpath && strcmp(dirpath, ".") != 0) {
		if ((rc = split_path(dirpath, comp, &n, err)) ||
		    (rc = walk_dirs(e, comp, n, &dir, dirpath, err)))
			return rc;
		if (!dir)
			return HV_OK;
	}
	struct list_ctx c = { 0 };
	errcode_t r = ext2fs_dir_iterate(e->fs, dir, 0, NULL, list_cb, &c);
	if (r || c.failed) {
		for (size_t i = 0; i < c.count; i++)
			free(c.names[i]);
		free(c.names);
		return r ? fs_fail(e, err, r, "listing '%s'", dirpath ? dirpath : "/")
			 : hv_fail(err, HV_ENOMEM, "out of memory listing a folder");
	}
	if (c.count > 1) /* qsort's pointer must not be NULL, even for 0 items */
		qsort(c.names, c.count, sizeof(char *), cmp_names);
	*names = c.names;
	*count = c.count;
	return HV_OK;
}

/* A write barrier: allocation state (bitmaps, group descriptors,
 * superblock) written, then everything forced to the device. */
static int barrier(struct ext4_vfs *e, int with_metadata, hv_err *err)
{
	errcode_t r = with_metadata ? ext2fs_flush2(e->fs, 0) : io_channel_flush(e->fs->io);
	if (r)
		return fs_fail(e, err, r, "flushing %s", "the filesystem");
	return HV_OK;
}

/* Blocks that libext2fs allocates on its own (extent tree splits) are
 * recorded as allocated on disk before the library uses them. */
static errcode_t alloc_block_persisted(ext2_filsys fs, blk64_t goal, blk64_t *ret)
{
	blk64_t b;
	errcode_t r = ext2fs_new_block2(fs, goal, NULL, &b);
	if (r)
		return r;
	ext2fs_block_alloc_stats2(fs, b, +1);
	r = ext2fs_flush2(fs, 0);
	/* The library counts the block itself after we return. */
	ext2fs_block_alloc_stats2(fs, b, -1);
	if (r)
		return r;
	*ret = b;
	return 0;
}

static uint32_t now32(void)
{
	return (uint32_t)time(NULL);
}

struct run {
	blk64_t start, len;
};

/* Allocates nblocks in at most INODE_EXTENTS runs and records them on disk. */
static int allocate_runs(struct ext4_vfs *e, blk64_t goal, blk64_t nblocks, struct run *runs,
			 int *nruns, const char *path, hv_err *err)
{
	*nruns = 0;
	blk64_t left = nblocks;
	while (left) {
		if (*nruns == INODE_EXTENTS) {
			for (int i = 0; i < *nruns; i++)
				ext2fs_block_alloc_stats_range(e->fs, runs[i].start, runs[i].len, -1);
			return hv_fail(err, HV_EIO,
				       "%s: no room for '%s' in %d contiguous pieces (volume full or "
				       "fragmented)", e->v.where, path, INODE_EXTENTS);
		}
		blk64_t want = left > MAX_EXTENT_LEN ? MAX_EXTENT_LEN : left, p, l;
		errcode_t r = ext2fs_new_range(e->fs, 0, goal, want, NULL, &p, &l);
		if (r) {
			for (int i = 0; i < *nruns; i++)
				ext2fs_block_alloc_stats_range(e->fs, runs[i].start, runs[i].len, -1);
			return r == EXT2_ET_BLOCK_ALLOC_FAIL
				       ? hv_fail(err, HV_EIO, "%s: the volume is full writing '%s'",
						 e->v.where, path)
				       : fs_fail(e, err, r, "allocating blocks for '%s'", path);
		}
		ext2fs_block_alloc_stats_range(e->fs, p, l, +1);
		runs[(*nruns)++] = (struct run){ p, l };
		left -= l;
		goal = p + l;
	}
	return HV_OK;
}

static void set_extents(struct ext2_inode *in, const struct run *runs, int nruns)
{
	struct ext3_extent_header *eh = (struct ext3_extent_header *)in->i_block;
	eh->eh_magic = ext2fs_cpu_to_le16(EXT3_EXT_MAGIC);
	eh->eh_entries = ext2fs_cpu_to_le16((uint16_t)nruns);
	eh->eh_max = ext2fs_cpu_to_le16(INODE_EXTENTS);
	eh->eh_depth = 0;
	eh->eh_generation = 0;
	struct ext3_extent *ex = (struct ext3_extent *)(eh + 1);
	uint32_t lblk = 0;
	for (int i = 0; i < nruns; i++) {
		ex[i].ee_block = ext2fs_cpu_to_le32(lblk);
		ex[i].ee_len = ext2fs_cpu_to_le16((uint16_t)runs[i].len);
		ex[i].ee_start_hi = ext2fs_cpu_to_le16((uint16_t)(runs[i].start >> 32));
		ex[i].ee_start = ext2fs_cpu_to_le32((uint32_t)runs[i].start);
		lblk += (uint32_t)runs[i].len;
	}
	in->i_flags |= EXT4_EXTENTS_FL;
}

/* Writes a complete, not yet named inode: a regular file holding data, or
 * (S_IFDIR, data unused) a folder with its first block of "." and "..". */
static int create_inode(struct ext4_vfs *e, ext2_ino_t parent, int mode, const void *data,
			size_t len, ext2_ino_t *out, const char *path, hv_err *err)
{
	ext2_filsys fs = e->fs;
	ext2_ino_t ino;
	errcode_t r = ext2fs_new_inode(fs, parent, mode, NULL, &ino);
	if (r)
		return r == EXT2_ET_INODE_ALLOC_FAIL
			       ? hv_fail(err, HV_EIO, "%s: no free inode for '%s'", e->v.where, path)
			       : fs_fail(e, err, r, "allocating an inode for '%s'", path);
	int isdir = LINUX_S_ISDIR(mode);
	ext2fs_inode_alloc_stats2(fs, ino, +1, isdir);
	blk64_t nblocks = (len + fs->blocksize - 1) / fs->blocksize;
	struct run runs[INODE_EXTENTS];
	int nruns = 0, rc = HV_OK;
	if (nblocks) {
		blk64_t goal = ext2fs_find_inode_goal(fs, ino, NULL, 0);
		rc = allocate_runs(e, goal, nblocks, runs, &nruns, path, err);
		if (rc) {
			ext2fs_inode_alloc_stats2(fs, ino, -1, isdir);
			return rc;
		}
	}
	/* 1: allocation recorded before anything refers to it. */
	if ((rc = barrier(e, 1, err)))
		return rc;

	/* 2: the content. */
	if (isdir) {
		char *blk;
		r = ext2fs_new_dir_block(fs, ino, parent, &blk);
		if (!r) {
			r = ext2fs_write_dir_block4(fs, runs[0].start, blk, 0, ino);
			ext2fs_free_mem(&blk);
		}
		if (r)
			return fs_fail(e, err, r, "writing folder '%s'", path);
	} else {
		const uint8_t *src = data;
		size_t done = 0;
		for (int i = 0; i < nruns; i++) {
			size_t bytes = (size_t)runs[i].len * fs->blocksize;
			size_t full = len - done >= bytes ? (size_t)runs[i].len
							   : (len - done) / fs->blocksize;
			if (full) {
				r = io_channel_write_blk64(fs->io, runs[i].start, (int)full, src + done);
				if (r)
					return fs_fail(e, err, r, "writing '%s'", path);
				done += full * fs->blocksize;
			}
			if (full < runs[i].len) { /* the zero-padded last block */
				uint8_t *blk = calloc(1, fs->blocksize);
				if (!blk)
					return hv_fail(err, HV_ENOMEM, "out of memory writing '%s'", path);
				memcpy(blk, src + done, len - done);
				r = io_channel_write_blk64(fs->io, runs[i].start + full, 1, blk);
				free(blk);
				if (r)
					return fs_fail(e, err, r, "writing '%s'", path);
				done = len;
			}
		}
	}

	/* 3: the inode, complete in one write. */
	struct ext2_inode in;
	memset(&in, 0, sizeof(in));
	in.i_mode = (uint16_t)mode;
	in.i_links_count = isdir ? 2 : 1;
	in.i_atime = in.i_ctime = in.i_mtime = now32();
	ext2fs_inode_size_set(fs, &in, isdir ? fs->blocksize : len);
	set_extents(&in, runs, nruns);
	ext2fs_iblk_set(fs, &in, nblocks);
	r = ext2fs_write_new_inode(fs, ino, &in);
	if (r)
		return fs_fail(e, err, r, "writing the inode of '%s'", path);
	/* content and inode durable before a name points to them */
	if ((rc = barrier(e, 0, err)))
		return rc;
	*out = ino;
	return HV_OK;
}

/* Adds one empty block to a linear folder, allocation first. */
static int grow_dir(struct ext4_vfs *e, ext2_ino_t dir, const char *path, hv_err *err)
{
	ext2_filsys fs = e->fs;
	struct ext2_inode in;
	errcode_t r = ext2fs_read_inode(fs, dir, &in);
	if (r)
		return fs_fail(e, err, r, "reading folder of '%s'", path);
	/* An indexed (htree) folder, as the kernel makes them, is extended
	 * by ext2fs_link itself; a plain block added here would break it. */
	if (in.i_flags & EXT2_INDEX_FL)
		return hv_fail(err, HV_EIO, "%s: the indexed folder of '%s' is full", e->v.where,
			       path);
	blk64_t lblk = EXT2_I_SIZE(&in) / fs->blocksize, last = 0, b;
	if (lblk)
		ext2fs_bmap2(fs, dir, &in, NULL, 0, lblk - 1, NULL, &last);
	r = ext2fs_new_block2(fs, last ? last + 1 : ext2fs_find_inode_goal(fs, dir, &in, 0),
			      NULL, &b);
	if (r)
		return fs_fail(e, err, r, "allocating a folder block for '%s'", path);
	ext2fs_block_alloc_stats2(fs, b, +1);
	int rc = barrier(e, 1, err);
	if (rc)
		return rc;
	char *blk;
	r = ext2fs_new_dir_block(fs, 0, 0, &blk);
	if (!r) {
		r = ext2fs_write_dir_block4(fs, b, blk, 0, dir);
		ext2fs_free_mem(&blk);
	}
	if (r)
		return fs_fail(e, err, r, "writing a folder block for '%s'", path);
	if ((rc = barrier(e, 0, err)))
		return rc;
	/* size, block count and mapping reach the disk in one inode write */
	ext2fs_inode_size_set(fs, &in, EXT2_I_SIZE(&in) + fs->blocksize);
	ext2fs_iblk_add_blocks(fs, &in, 1);
	r = ext2fs_bmap2(fs, dir, &in, NULL, BMAP_SET, lblk, NULL, &b);
	if (r)
		return fs_fail(e, err, r, "extending folder of '%s'", path);
	return barrier(e, 0, err);
}

static int add_name(struct ext4_vfs *e, ext2_ino_t dir, const char *name, ext2_ino_t ino,
		    int ftype, const char *path, hv_err *err)
{
	for (int tries = 0; tries < 2; tries++) {
		errcode_t r = ext2fs_link(e->fs, dir, name, ino, ftype);
		if (r == 0)
			return barrier(e, 0, err);
		if (r != EXT2_ET_DIR_NO_SPACE)
			return fs_fail(e, err, r, "naming '%s'", path);
		int rc = grow_dir(e, dir, path, err);
		if (rc)
			return rc;
	}
	return hv_fail(err, HV_EIO, "%s: no room in the folder of '%s'", e->v.where, path);
}

static int e_mkdir(vfs *v, const char *path, hv_err *err);

static int ensure_parent(struct ext4_vfs *e, char comp[][NAME_MAX_EXT4 + 1], int n,
			 ext2_ino_t *dir, const char *path, hv_err *err)
{
	int rc = walk_dirs(e, comp, n, dir, path, err);
	if (rc || *dir)
		return rc;
	char parent[MAX_DEPTH * (NAME_MAX_EXT4 + 1)];
	size_t at = 0;
	for (int i = 0; i < n; i++)
		at += (size_t)snprintf(parent + at, sizeof(parent) - at, "%s%s", i ? "/" : "",
				       comp[i]);
	if ((rc = e_mkdir(&e->v, parent, err)))
		return rc;
	return walk_dirs(e, comp, n, dir, path, err);
}

static int check_writable(struct ext4_vfs *e, hv_err *err)
{
	if (!e->writable)
		return hv_fail(err, HV_EINTERNAL, "%s is open read-only", e->v.where);
	return HV_OK;
}

static int e_mkdir(vfs *v, const char *path, hv_err *err)
{
	struct ext4_vfs *e = v->impl;
	char comp[MAX_DEPTH][NAME_MAX_EXT4 + 1];
	int n, rc;
	if ((rc = check_writable(e, err)) || (rc = split_path(path, comp, &n, err)))
		return rc;
	ext2_ino_t dir = EXT2_ROOT_INO;
	for (int i = 0; i < n; i++) {
		ext2_ino_t ino;
		struct ext2_inode in;
		if ((rc = lookup(e, dir, comp[i], &ino, &in, err)))
			return rc;
		if (ino) {
			if (!LINUX_S_ISDIR(in.i_mode))
				return hv_fail(err, HV_EINTEGRITY, "%s: '%s' in '%s' is not a folder",
					       v->where, comp[i], path);
			dir = ino;
			continue;
		}
		ext2_ino_t newino;
		rc = create_inode(e, dir, LINUX_S_IFDIR | 0700, NULL, e->fs->blocksize, &newino,
				  path, err);
		if (rc)
			return rc;
		errcode_t r;
		if ((rc = add_name(e, dir, comp[i], newino, EXT2_FT_DIR, path, err)))
			return rc;
		/* the parent gains a ".." link */
		struct ext2_inode pin;
		r = ext2fs_read_inode(e->fs, dir, &pin);
		if (!r) {
			pin.i_links_count++;
			r = ext2fs_write_inode(e->fs, dir, &pin);
		}
		if (r)
			return fs_fail(e, err, r, "counting links of the folder of '%s'", path);
		if ((rc = barrier(e, 1, err)))
			return rc;
		dir = newino;
	}
	return HV_OK;
}

struct replace_ctx {
	const char *name;
	int len;
	ext2_ino_t old, new;
	int done;
};

static int replace_cb(struct ext2_dir_entry *d, int offset, int blocksize, char *buf,
		      void *priv)
{
	(void)offset;
	(void)blocksize;
	(void)buf;
	struct replace_ctx *c = priv;
	if (d->inode == c->old && ext2fs_dirent_name_len(d) == c->len &&
	    memcmp(d->name, c->name, (size_t)c->len) == 0) {
		d->inode = c->new;
		c->done = 1;
		return DIRENT_CHANGED | DIRENT_ABORT;
	}
	return 0;
}

/* Retires an inode nothing names any more: first marked deleted on disk,
 * then its blocks and number freed in the bitmaps. */
static int release_inode(struct ext4_vfs *e, ext2_ino_t ino, const char *path, hv_err *err)
{
	struct ext2_inode in;
	errcode_t r = ext2fs_read_inode(e->fs, ino, &in);
	if (r)
		return fs_fail(e, err, r, "reading the old inode of '%s'", path);
	in.i_links_count = 0;
	in.i_dtime = now32();
	r = ext2fs_write_inode(e->fs, ino, &in);
	if (r)
		return fs_fail(e, err, r, "retiring the old inode of '%s'", path);
	int rc = barrier(e, 0, err);
	if (rc)
		return rc;
	if (ext2fs_inode_has_valid_blocks2(e->fs, &in)) {
		r = ext2fs_punch(e->fs, ino, &in, NULL, 0, ~0ULL);
		if (r)
			return fs_fail(e, err, r, "freeing the old blocks of '%s'", path);
	}
	ext2fs_inode_alloc_stats2(e->fs, ino, -1, LINUX_S_ISDIR(in.i_mode));
	return barrier(e, 1, err);
}

static int e_write_atomic(vfs *v, const char *path, const void *data, size_t len, hv_err *err)
{
	struct ext4_vfs *e = v->impl;
	char comp[MAX_DEPTH][NAME_MAX_EXT4 + 1];
	int n, rc;
	if ((rc = check_writable(e, err)) || (rc = split_path(path, comp, &n, err)))
		return rc;
	ext2_ino_t dir, old = 0, ino;
	struct ext2_inode oin;
	if ((rc = ensure_parent(e, comp, n - 1, &dir, path, err)) ||
	    (rc = lookup(e, dir, comp[n - 1], &old, &oin, err)))
		return rc;
	if (old && !LINUX_S_ISREG(oin.i_mode))
		return hv_fail(err, HV_EINTEGRITY,
			       "%s: '%s' exists and is not a regular file: not replacing it",
			       v->where, path);
	if ((rc = create_inode(e, dir, LINUX_S_IFREG | 0600, data, len, &ino, path, err)))
		return rc;
	if (!old)
		return add_name(e, dir, comp[n - 1], ino, EXT2_FT_REG_FILE, path, err);

	/* The switch: one directory-block write turns old into new. */
	struct replace_ctx c = { comp[n - 1], (int)strlen(comp[n - 1]), old, ino, 0 };
	errcode_t r = ext2fs_dir_iterate(e->fs, dir, 0, NULL, replace_cb, &c);
	if (r || !c.done)
		return r ? fs_fail(e, err, r, "replacing '%s'", path)
			 : hv_fail(err, HV_EIO, "%s: '%s' vanished while replacing it", v->where,
				   path);
	if ((rc = barrier(e, 0, err)))
		return rc;
	return release_inode(e, old, path, err);
}

static int e_exists(vfs *v, const char *path, hv_err *err)
{
	struct ext4_vfs *e = v->impl;
	char comp[MAX_DEPTH][NAME_MAX_EXT4 + 1];
	int n, rc;
	if ((rc = split_path(path, comp, &n, err)))
		return -rc;
	ext2_ino_t dir, ino = 0;
	struct ext2_inode in;
	if ((rc = walk_dirs(e, comp, n - 1, &dir, path, err)))
		return -rc;
	if (dir && (rc = lookup(e, dir, comp[n - 1], &ino, &in, err)))
		return -rc;
	return ino != 0;
}

static int e_sync(vfs *v, hv_err *err)
{
	struct ext4_vfs *e = v->impl;
	if (!e->writable)
		return HV_OK;
	return barrier(e, 1, err);
}

static void e_close(vfs *v)
{
	if (!v)
		return;
	struct ext4_vfs *e = v->impl;
	if (e->fs) {
		if (e->writable)
			ext2fs_close_free(&e->fs);
		if (e->fs)
			ext2fs_free(e->fs);
	}
	xts_io_unregister(e->vol);
	xts_volume_free(e->vol);
	if (e->fd >= 0)
		close(e->fd);
	free(e);
}

static const struct vfs_ops ext4_ops = {
	.read = e_read,
	.list = e_list,
	.write_atomic = e_write_atomic,
	.mkdir = e_mkdir,
	.exists = e_exists,
	.sync = e_sync,
	.close = e_close,
};

int ext4_vfs_open(xts_volume *vol, int fd, const char *where, int writable, vfs **out,
		  hv_err *err)
{
	initialize_ext2_error_table();
	struct ext4_vfs *e = calloc(1, sizeof(*e));
	if (!e) {
		xts_volume_free(vol);
		close(fd);
		return hv_fail(err, HV_ENOMEM, "out of memory opening %s", where);
	}
	e->v.ops = &ext4_ops;
	e->v.impl = e;
	snprintf(e->v.where, sizeof(e->v.where), "%s", where);
	e->vol = vol;
	e->fd = fd;
	e->writable = writable;
	if (xts_io_register(vol, e->ioname, sizeof(e->ioname))) {
		e_close(&e->v);
		return hv_fail(err, HV_EINTERNAL, "too many open sticks");
	}
	int flags = EXT2_FLAG_64BITS | (writable ? EXT2_FLAG_RW : 0);
	errcode_t r = ext2fs_open2(e->ioname, NULL, flags, 0, 0, xts_io_manager, &e->fs);
	if (r) {
		e->fs = NULL;
		int rc = r == EXT2_ET_BAD_MAGIC
				 ? hv_fail(err, HV_EINTEGRITY,
					   "%s: no ext4 filesystem inside the LUKS volume (wrong stick, "
					   "or never prepared by hsmvault)", where)
				 : fs_fail(e, err, r, "opening the filesystem%s", "");
		e_close(&e->v);
		return rc;
	}
	/* A stick image copied short: libext2fs would fail later with a
	 * bitmap or inode error that says nothing about the cause. */
	uint64_t fs_bytes = ext2fs_blocks_count(e->fs->super) * (uint64_t)EXT2_BLOCK_SIZE(e->fs->super);
	if (fs_bytes > xts_volume_size(vol)) {
		uint64_t have = xts_volume_size(vol);
		e_close(&e->v);
		return hv_fail(err, HV_EINTEGRITY,
			       "%s is shorter than its file system says (%llu of %llu bytes of the "
			       "encrypted volume): it was cut off; copy the whole stick again", where,
			       (unsigned long long)have, (unsigned long long)fs_bytes);
	}
	if (ext2fs_has_feature_journal_needs_recovery(e->fs->super)) {
		e_close(&e->v);
		return hv_fail(err, HV_EINTEGRITY,
			       "%s: the ext4 journal needs recovery (a kernel mount was interrupted): "
			       "open it once with '--backend kernel' or run e2fsck on the opened "
			       "volume", where);
	}
	if (writable) {
		/* Only the primary superblock and descriptors, as the kernel does. */
		e->fs->flags |= EXT2_FLAG_MASTER_SB_ONLY;
		/* A crash between a bitmap write and its group descriptor leaves
		 * a checksum mismatch. The bitmap on disk is still safe to use:
		 * this layer frees nothing before it is unreferenced, so a bitmap
		 * on disk never marks free what is in use; the next flush writes
		 * matching checksums. */
		e->fs->flags |= EXT2_FLAG_IGNORE_CSUM_ERRORS;
		r = ext2fs_read_bitmaps(e->fs);
		e->fs->flags &= ~EXT2_FLAG_IGNORE_CSUM_ERRORS;
		if (r) {
			int rc = fs_fail(e, err, r, "reading the allocation bitmaps%s", "");
			e_close(&e->v);
			return rc;
		}
		ext2fs_set_alloc_block_callback(e->fs, alloc_block_persisted, NULL);
	}
	*out = &e->v;
	return HV_OK;
}
