/* The vault's view of storage: a tree of small files addressed by
 * '/'-separated relative paths ("manifest/000001.yaml"). Backends: a plain
 * folder (vfs_dir.c) and the ext4 volume inside a LUKS2 stick (src/stick).
 * No backend follows symbolic links. */
#ifndef HV_VAULT_VFS_H
#define HV_VAULT_VFS_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct vfs vfs;

struct vfs_ops {
	/* Whole file into a malloc'd buffer; refuses more than max bytes. */
	int (*read)(vfs *v, const char *path, size_t max, uint8_t **data,
		    size_t *len, hv_err *err);
	/* Names in a folder (no "." or ".."), sorted bytewise; each name and
	 * the array are malloc'd: free with vfs_names_free(). A missing
	 * folder is an empty list. */
	int (*list)(vfs *v, const char *dir, char ***names, size_t *count,
		    hv_err *err);
	/* Create or replace atomically: the old content or the new, never a mix. */
	int (*write_atomic)(vfs *v, const char *path, const void *data,
			    size_t len, hv_err *err);
	/* Creates a folder; an existing folder is fine. */
	int (*mkdir)(vfs *v, const char *path, hv_err *err);
	/* 1 exists, 0 absent, negative on error. */
	int (*exists)(vfs *v, const char *path, hv_err *err);
	/* Makes everything written so far durable. */
	int (*sync)(vfs *v, hv_err *err);
	/* Flushes and releases; wipes any key material. */
	void (*close)(vfs *v);
};

struct vfs {
	const struct vfs_ops *ops;
	void *impl;
	char where[512]; /* for messages: "folder ./v" or "stick /dev/sdb" */
};

static inline int vfs_read(vfs *v, const char *p, size_t max, uint8_t **d,
			   size_t *l, hv_err *e) { return v->ops->read(v, p, max, d, l, e); }
static inline int vfs_list(vfs *v, const char *d, char ***n, size_t *c,
			   hv_err *e) { return v->ops->list(v, d, n, c, e); }
static inline int vfs_write_atomic(vfs *v, const char *p, const void *d,
				   size_t l, hv_err *e) { return v->ops->write_atomic(v, p, d, l, e); }
static inline int vfs_mkdir(vfs *v, const char *p, hv_err *e) { return v->ops->mkdir(v, p, e); }
static inline int vfs_exists(vfs *v, const char *p, hv_err *e) { return v->ops->exists(v, p, e); }
static inline int vfs_sync(vfs *v, hv_err *e) { return v->ops->sync(v, e); }
static inline void vfs_close(vfs *v) { if (v) v->ops->close(v); }

void vfs_names_free(char **names, size_t count);

#endif
