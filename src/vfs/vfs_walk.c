#include "vfs/vfs_walk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vfs_is_temp_name(const char *base)
{
	size_t n = strlen(base);
	return base[0] == '.' && n > 5 && !strcmp(base + n - 4, ".tmp");
}

static int walk(vfs *v, const char *dir, int depth, int max_depth, vfs_visit_fn visit,
		void *ctx, hv_err *err)
{
	char **names;
	size_t count;
	int rc = vfs_list(v, dir, &names, &count, err);
	if (rc != HV_OK)
		return rc;
	for (size_t i = 0; i < count && rc == HV_OK; i++) {
		if (!*dir && !strcmp(names[i], "lost+found"))
			continue;
		size_t need = strlen(dir) + strlen(names[i]) + 2;
		char *path = malloc(need);
		if (!path) {
			rc = hv_fail(err, HV_ENOMEM, "out of memory listing %s", v->where);
			break;
		}
		snprintf(path, need, "%s%s%s", dir, *dir ? "/" : "", names[i]);
		char **sub;
		size_t subn;
		hv_err ignored;
		int is_dir = vfs_list(v, path, &sub, &subn, &ignored) == HV_OK;
		if (is_dir)
			vfs_names_free(sub, subn);
		if (is_dir && depth >= max_depth)
			rc = hv_fail(err, HV_EUSAGE, "%s: %s is nested deeper than %d folders: name "
				     "a stick or folder that holds only the backup", v->where, path,
				     max_depth);
		if (rc == HV_OK)
			rc = visit(ctx, path, is_dir, err);
		if (rc == HV_OK && is_dir)
			rc = walk(v, path, depth + 1, max_depth, visit, ctx, err);
		free(path);
	}
	vfs_names_free(names, count);
	return rc;
}

int vfs_walk(vfs *v, int max_depth, vfs_visit_fn visit, void *ctx, hv_err *err)
{
	return walk(v, "", 0, max_depth, visit, ctx, err);
}
