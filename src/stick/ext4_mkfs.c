#include "stick/ext4_mkfs.h"

#include <string.h>
#include <sys/random.h>

#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

#include "stick/xts_io.h"

static int fs_fail(hv_err *err, errcode_t r, const char *what)
{
	const char *io = xts_io_last_error();
	return hv_fail(err, HV_EIO, "making the ext4 filesystem: %s: %s%s%s", what,
		       error_message(r), io[0] ? ": " : "", io);
}

static int random_bytes(void *p, size_t n)
{
	uint8_t *b = p;
	while (n) {
		ssize_t r = getrandom(b, n, 0);
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static void set_params(struct ext2_super_block *p, uint64_t blocks)
{
	memset(p, 0, sizeof(*p));
	ext2fs_blocks_count_set(p, blocks);
	p->s_log_block_size = 2; /* 1024 << 2 */
	p->s_rev_level = EXT2_DYNAMIC_REV;
	p->s_inode_size = 256;
	p->s_log_groups_per_flex = 4;
	uint64_t inodes = blocks * EXT4_MKFS_BLOCK_SIZE / EXT4_MKFS_INODE_RATIO;
	p->s_inodes_count = inodes < 1024 ? 1024 : inodes > 0xffffffffULL / 2 ? 0x7fffffff
										   : (uint32_t)inodes;
	/* mke2fs's ext4 defaults, without resize_inode (sticks never grow). */
	ext2fs_set_feature_xattr(p);
	ext2fs_set_feature_dir_index(p);
	ext2fs_set_feature_filetype(p);
	ext2fs_set_feature_sparse_super(p);
	ext2fs_set_feature_large_file(p);
	ext2fs_set_feature_extents(p);
	ext2fs_set_feature_huge_file(p);
	ext2fs_set_feature_flex_bg(p);
	ext2fs_set_feature_metadata_csum(p);
	ext2fs_set_feature_64bit(p);
	ext2fs_set_feature_dir_nlink(p);
	ext2fs_set_feature_extra_isize(p);
}

/* Inode tables must decrypt to zeros: a never-written block on the stick
 * decrypts to random bytes, which e2fsck, libext2fs and the kernel would
 * take for inodes once a group's itable_unused shrinks over them. So
 * every table is written now and the groups are marked INODE_ZEROED (no
 * lazy init). Bitmaps of BLOCK_UNINIT/INODE_UNINIT groups stay unwritten:
 * those flags tell every reader not to read them. */
static int zero_inode_tables(ext2_filsys fs, hv_err *err)
{
	for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
		errcode_t r = ext2fs_zero_blocks2(fs, ext2fs_inode_table_loc(fs, g),
						  (int)fs->inode_blocks_per_group, NULL, NULL);
		if (r)
			return fs_fail(err, r, "writing inode tables");
		ext2fs_bg_flags_set(fs, g, EXT2_BG_INODE_ZEROED);
		ext2fs_group_desc_csum_set(fs, g);
	}
	/* Reserved inodes need valid checksums with metadata_csum. */
	struct ext2_inode_large zero;
	memset(&zero, 0, sizeof(zero));
	for (ext2_ino_t ino = 1; ino < EXT2_FIRST_INO(fs->super); ino++) {
		errcode_t r = ext2fs_write_inode_full(fs, ino, (struct ext2_inode *)&zero,
						      sizeof(zero));
		if (r)
			return fs_fail(err, r, "writing reserved inodes");
	}
	return HV_OK;
}

static int make_dirs(ext2_filsys fs, hv_err *err)
{
	errcode_t r = ext2fs_mkdir(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, 0);
	if (r)
		return fs_fail(err, r, "creating the root folder");
	r = ext2fs_mkdir(fs, EXT2_ROOT_INO, 0, "lost+found");
	if (r)
		return fs_fail(err, r, "creating lost+found");
	ext2_ino_t lpf;
	r = ext2fs_lookup(fs, EXT2_ROOT_INO, "lost+found", 10, 0, &lpf);
	if (r)
		return fs_fail(err, r, "looking up lost+found");
	/* e2fsck wants room in lost+found without allocating: 16 KiB. */
	for (unsigned size = fs->blocksize; size < 16384; size += fs->blocksize) {
		r = ext2fs_expand_dir(fs, lpf);
		if (r)
			return fs_fail(err, r, "growing lost+found");
	}
	for (ext2_ino_t i = EXT2_ROOT_INO + 1; i < EXT2_FIRST_INODE(fs->super); i++)
		ext2fs_inode_alloc_stats2(fs, i, +1, 0);
	ext2fs_mark_inode_bitmap2(fs->inode_map, EXT2_BAD_INO);
	ext2fs_inode_alloc_stats2(fs, EXT2_BAD_INO, +1, 0);
	ext2fs_mark_ib_dirty(fs);
	r = ext2fs_update_bb_inode(fs, NULL);
	if (r)
		return fs_fail(err, r, "writing the bad-blocks inode");
	return HV_OK;
}

int ext4_mkfs(xts_volume *v, const char *label, hv_err *err)
{
	uint64_t blocks = xts_volume_size(v) / EXT4_MKFS_BLOCK_SIZE;
	if (blocks < 2048)
		return hv_fail(err, HV_EUSAGE,
			       "the stick's data segment holds %llu KiB: ext4 needs at least 8 MiB "
			       "(use a larger device or --size)",
			       (unsigned long long)(xts_volume_size(v) / 1024));
	initialize_ext2_error_table();
	char name[64];
	if (xts_io_register(v, name, sizeof(name)))
		return hv_fail(err, HV_EINTERNAL, "too many open sticks");

	struct ext2_super_block param;
	set_params(&param, blocks);
	ext2_filsys fs = NULL;
	int rc = HV_OK;
	errcode_t r = ext2fs_initialize(name, EXT2_FLAG_64BITS, &param, xts_io_manager, &fs);
	if (r) {
		rc = fs_fail(err, r, "initializing");
		goto out;
	}
	if (random_bytes(fs->super->s_uuid, 16) || random_bytes(fs->super->s_hash_seed, 16)) {
		rc = hv_fail(err, HV_EIO, "no randomness for the filesystem UUID");
		goto out;
	}
	fs->super->s_uuid[6] = (uint8_t)((fs->super->s_uuid[6] & 0x0f) | 0x40);
	fs->super->s_uuid[8] = (uint8_t)((fs->super->s_uuid[8] & 0x3f) | 0x80);
	fs->super->s_checksum_type = EXT2_CRC32C_CHKSUM;
	ext2fs_init_csum_seed(fs);
	fs->super->s_def_hash_version = EXT2_HASH_HALF_MD4;
	fs->super->s_flags |= ((char)-1 < 0) ? EXT2_FLAGS_SIGNED_HASH : EXT2_FLAGS_UNSIGNED_HASH;
	fs->super->s_max_mnt_count = (__s16)-1;
	fs->super->s_checkinterval = 0;
	if (label)
		strncpy((char *)fs->super->s_volume_name, label, sizeof(fs->super->s_volume_name));

	r = ext2fs_allocate_tables(fs);
	if (r) {
		rc = fs_fail(err, r, "placing group tables");
		goto out;
	}
	/* Old signatures in the boot area would decrypt to noise anyway;
	 * zero it as mke2fs does so that probes of the plaintext see ext4 only. */
	if ((rc = xts_write_zeros(v, 0, 1024, NULL, NULL, err)))
		goto out;
	if ((rc = zero_inode_tables(fs, err)) || (rc = make_dirs(fs, err)))
		goto out;

	struct ext2fs_journal_params jp;
	r = ext2fs_get_journal_params(&jp, fs);
	if (!r)
		/* flags 0: the journal is written as zeros, not left lazy. */
		r = ext2fs_add_journal_inode3(fs, &jp, ~0ULL, 0);
	if (r) {
		rc = fs_fail(err, r, "creating the journal");
		goto out;
	}
	r = ext2fs_close_free(&fs);
	if (r)
		rc = fs_fail(err, r, "writing the filesystem metadata");
out:
	if (fs)
		ext2fs_free(fs);
	xts_io_unregister(v);
	return rc;
}
