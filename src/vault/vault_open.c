/* Which storage a --vault argument names. */
#include "vault/vault.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "stick/stick.h"
#include "vfs/vfs_dir.h"

/* ---- STICK BRANCH: the stick layer (src/stick) plugs in here. ----
 * spec is an image file or a block device (or a link to one, such as
 * /dev/disk/by-id/...): open its LUKS2 volume and ext4 filesystem and
 * return them as a vfs. */
static int open_stick(const char *spec, int create, vfs **out, hv_err *err)
{
	(void)create; /* a stick is made by 'hsmvault stick prepare', never here */
	return stick_open_vault(spec, out, err);
}
/* ---- end of the stick branch ---- */

int vault_open(const char *spec, int create, vfs **out, hv_err *err)
{
	*out = NULL;
	if (!spec || !*spec)
		return hv_fail(err, HV_EUSAGE, "no vault given: use --vault FOLDER|IMAGE|DEVICE");
	struct stat st;
	if (stat(spec, &st) != 0) {
		if (errno == ENOENT && create)
			return vfs_dir_open(spec, 1, out, err);
		return hv_fail(err, HV_EUSAGE, "no vault at %s: %s: check the path (a vault folder, "
			       "an image file or the stick's device)", spec,
			       errno == ENOENT ? "it does not exist" : strerror(errno));
	}
	/* A folder reached through a link is refused by vfs_dir_open itself;
	 * links to devices are normal (/dev/disk/by-id) and go to the stick. */
	if (S_ISDIR(st.st_mode))
		return vfs_dir_open(spec, create, out, err);
	return open_stick(spec, create, out, err);
}

int vault_open_existing(const char *spec, vfs **out, hv_err *err)
{
	int rc = vault_open(spec, 0, out, err);
	if (rc != HV_OK)
		return rc;
	if ((rc = vault_check(*out, err)) != HV_OK) {
		vfs_close(*out);
		*out = NULL;
	}
	return rc;
}
