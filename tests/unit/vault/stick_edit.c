#include "stick_edit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ext2fs/ext2fs.h>

#include "stick/luks.h"
#include "stick/xts.h"
#include "stick/xts_io.h"

struct opened {
	int fd;
	xts_volume *vol;
	ext2_filsys fs;
	char ioname[64];
};

static int fs_fail(hv_err *err, errcode_t r, const char *what, const char *path)
{
	return hv_fail(err, HV_EIO, "test stick edit: %s '%s': %s", what, path, error_message(r));
}

static int open_image(const char *img, const secbuf *pass, int rw, struct opened *o,
		      hv_err *err)
{
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	initialize_ext2_error_table();
	luks_info info;
	secbuf *vk = NULL;
	int rc = luks_unlock(img, pass, &vk, &info, err);
	if (rc)
		return rc;
	o->fd = open(img, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (o->fd < 0) {
		secbuf_free(vk);
		return hv_fail(err, HV_EIO, "test stick edit: cannot open %s", img);
	}
	rc = xts_volume_new(o->fd, info.data_offset, info.data_size, info.sector_size, vk,
			    &o->vol, err);
	secbuf_free(vk);
	if (rc)
		goto fail;
	if (xts_io_register(o->vol, o->ioname, sizeof(o->ioname))) {
		xts_volume_free(o->vol);
		o->vol = NULL;
		rc = hv_fail(err, HV_EINTERNAL, "test stick edit: no free xts_io slot");
		goto fail;
	}
	errcode_t r = ext2fs_open2(o->ioname, NULL, EXT2_FLAG_64BITS | (rw ? EXT2_FLAG_RW : 0), 0,
				   0, xts_io_manager, &o->fs);
	if (!r && rw) {
		o->fs->flags |= EXT2_FLAG_MASTER_SB_ONLY;
		r = ext2fs_read_bitmaps(o->fs);
	}
	if (r) {
		rc = fs_fail(err, r, "opening the filesystem of", img);
		goto fail;
	}
	return HV_OK;
fail:
	if (o->fs)
		ext2fs_free(o->fs);
	if (o->vol) {
		xts_io_unregister(o->vol);
		xts_volume_free(o->vol);
	}
	close(o->fd);
	return rc;
}

static int close_image(struct opened *o, int rc, hv_err *err)
{
	errcode_t r = 0;
	if (o->fs && (o->fs->flags & EXT2_FLAG_RW))
		r = ext2fs_close_free(&o->fs);
	if (o->fs)
		ext2fs_free(o->fs);
	xts_io_unregister(o->vol);
	xts_volume_free(o->vol);
	if (fsync(o->fd) != 0 && !rc && !r)
		rc = hv_fail(err, HV_EIO, "test stick edit: fsync failed");
	close(o->fd);
	if (r && !rc)
		rc = fs_fail(err, r, "closing", "filesystem");
	return rc;
}

/* The folder holding rel and rel's last component. */
static int parent_of(ext2_filsys fs, const char *rel, ext2_ino_t *dir, const char **name,
		     hv_err *err)
{
	const char *slash = strrchr(rel, '/');
	*name = slash ? slash + 1 : rel;
	*dir = EXT2_ROOT_INO;
	if (!slash)
		return HV_OK;
	char parent[1024];
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - rel), rel);
	errcode_t r = ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, parent, dir);
	return r ? fs_fail(err, r, "looking up", parent) : HV_OK;
}

static int file_type(const struct ext2_inode *in)
{
	if (LINUX_S_ISDIR(in->i_mode))
		return EXT2_FT_DIR;
	if (LINUX_S_ISLNK(in->i_mode))
		return EXT2_FT_SYMLINK;
	return EXT2_FT_REG_FILE;
}

/* ext2fs_link, growing the folder by a block when it is full. */
static errcode_t link_name(ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t ino,
			   int type)
{
	errcode_t r = ext2fs_link(fs, dir, name, ino, type);
	if (r == EXT2_ET_DIR_NO_SPACE) {
		if ((r = ext2fs_expand_dir(fs, dir)))
			return r;
		r = ext2fs_link(fs, dir, name, ino, type);
	}
	return r;
}

int stick_edit_remove(const char *img, const secbuf *pass, const char *rel, hv_err *err)
{
	struct opened o;
	int rc = open_image(img, pass, 1, &o, err);
	if (rc)
		return rc;
	ext2_ino_t dir, ino;
	const char *name;
	struct ext2_inode in;
	errcode_t r;
	if ((rc = parent_of(o.fs, rel, &dir, &name, err)))
		return close_image(&o, rc, err);
	if ((r = ext2fs_namei(o.fs, EXT2_ROOT_INO, EXT2_ROOT_INO, rel, &ino)) ||
	    (r = ext2fs_read_inode(o.fs, ino, &in)))
		return close_image(&o, fs_fail(err, r, "looking up", rel), err);
	if (!LINUX_S_ISREG(in.i_mode))
		return close_image(&o, hv_fail(err, HV_EINTERNAL, "test stick edit: '%s' is not a "
					       "regular file", rel), err);
	if ((r = ext2fs_unlink(o.fs, dir, name, ino, 0)))
		return close_image(&o, fs_fail(err, r, "unlinking", rel), err);
	if (ext2fs_inode_has_valid_blocks2(o.fs, &in) &&
	    (r = ext2fs_punch(o.fs, ino, &in, NULL, 0, ~0ULL)))
		return close_image(&o, fs_fail(err, r, "freeing the blocks of", rel), err);
	in.i_links_count = 0;
	in.i_dtime = (__u32)time(NULL);
	if ((r = ext2fs_write_inode(o.fs, ino, &in)))
		return close_image(&o, fs_fail(err, r, "writing the inode of", rel), err);
	ext2fs_inode_alloc_stats2(o.fs, ino, -1, 0);
	return close_image(&o, HV_OK, err);
}

int stick_edit_rename(const char *img, const secbuf *pass, const char *from, const char *to,
		      hv_err *err)
{
	struct opened o;
	int rc = open_image(img, pass, 1, &o, err);
	if (rc)
		return rc;
	ext2_ino_t fdir, tdir, ino, exists;
	const char *fname, *tname;
	struct ext2_inode in;
	errcode_t r;
	if ((rc = parent_of(o.fs, from, &fdir, &fname, err)) ||
	    (rc = parent_of(o.fs, to, &tdir, &tname, err)))
		return close_image(&o, rc, err);
	if ((r = ext2fs_namei(o.fs, EXT2_ROOT_INO, EXT2_ROOT_INO, from, &ino)) ||
	    (r = ext2fs_read_inode(o.fs, ino, &in)))
		return close_image(&o, fs_fail(err, r, "looking up", from), err);
	if (ext2fs_namei(o.fs, EXT2_ROOT_INO, EXT2_ROOT_INO, to, &exists) == 0)
		return close_image(&o, hv_fail(err, HV_EINTERNAL, "test stick edit: '%s' exists",
					       to), err);
	if (LINUX_S_ISDIR(in.i_mode) && fdir != tdir)
		return close_image(&o, hv_fail(err, HV_EINTERNAL, "test stick edit: folders move "
					       "only within their parent"), err);
	/* the new name first, as rename(2) never leaves the file nameless */
	if ((r = link_name(o.fs, tdir, tname, ino, file_type(&in))))
		return close_image(&o, fs_fail(err, r, "linking", to), err);
	if ((r = ext2fs_unlink(o.fs, fdir, fname, ino, 0)))
		return close_image(&o, fs_fail(err, r, "unlinking", from), err);
	return close_image(&o, HV_OK, err);
}

int stick_edit_symlink(const char *img, const secbuf *pass, const char *target,
		       const char *rel, hv_err *err)
{
	struct opened o;
	int rc = open_image(img, pass, 1, &o, err);
	if (rc)
		return rc;
	ext2_ino_t dir;
	const char *name;
	if ((rc = parent_of(o.fs, rel, &dir, &name, err)))
		return close_image(&o, rc, err);
	errcode_t r = ext2fs_symlink(o.fs, dir, 0, name, target);
	if (r == EXT2_ET_DIR_NO_SPACE) {
		if (!(r = ext2fs_expand_dir(o.fs, dir)))
			r = ext2fs_symlink(o.fs, dir, 0, name, target);
	}
	if (r)
		return close_image(&o, fs_fail(err, r, "making the symbolic link", rel), err);
	return close_image(&o, HV_OK, err);
}

int stick_edit_mode(const char *img, const secbuf *pass, const char *rel, int *mode,
		    hv_err *err)
{
	struct opened o;
	int rc = open_image(img, pass, 0, &o, err);
	if (rc)
		return rc;
	ext2_ino_t ino;
	struct ext2_inode in;
	errcode_t r = ext2fs_namei(o.fs, EXT2_ROOT_INO, EXT2_ROOT_INO, rel, &ino);
	if (r == EXT2_ET_FILE_NOT_FOUND) {
		*mode = -1;
		return close_image(&o, HV_OK, err);
	}
	if (r || (r = ext2fs_read_inode(o.fs, ino, &in)))
		return close_image(&o, fs_fail(err, r, "looking up", rel), err);
	*mode = in.i_mode;
	return close_image(&o, HV_OK, err);
}

int stick_edit_decrypt(const char *img, const secbuf *pass, const char *plain, hv_err *err)
{
	luks_info info;
	secbuf *vk = NULL;
	int rc = luks_unlock(img, pass, &vk, &info, err);
	if (rc)
		return rc;
	int fd = open(img, O_RDONLY | O_CLOEXEC);
	int out = open(plain, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	xts_volume *x = NULL;
	uint8_t *buf = malloc(1 << 20);
	if (fd < 0 || out < 0 || !buf)
		rc = hv_fail(err, HV_EIO, "test stick edit: cannot open %s or %s", img, plain);
	else
		rc = xts_volume_new(fd, info.data_offset, info.data_size, info.sector_size, vk, &x,
				    err);
	secbuf_free(vk);
	uint64_t size = x ? xts_volume_size(x) : 0;
	for (uint64_t off = 0; !rc && off < size; off += 1 << 20) {
		size_t n = size - off < (1 << 20) ? (size_t)(size - off) : 1 << 20;
		if (!(rc = xts_read(x, off, buf, n, err)) &&
		    pwrite(out, buf, n, (off_t)off) != (ssize_t)n)
			rc = hv_fail(err, HV_EIO, "test stick edit: writing %s", plain);
	}
	xts_volume_free(x);
	free(buf);
	if (fd >= 0)
		close(fd);
	if (out >= 0)
		close(out);
	return rc;
}
