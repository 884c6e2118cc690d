/* Helpers shared by the vault tests: temporary folders and plain file
 * access that bypasses the code under test. */
#ifndef HV_TEST_VAULT_TESTUTIL_H
#define HV_TEST_VAULT_TESTUTIL_H

#include <stddef.h>

/* A new empty folder under $TMPDIR (or /tmp); malloc'd path. */
char *tu_mkdtemp(void);
/* Removes a tree without following links. */
void tu_rmrf(const char *path);
/* dir/rel in a static buffer (two rotating buffers). */
const char *tu_path(const char *dir, const char *rel);
/* Whole file into a malloc'd, NUL-terminated buffer; NULL if absent. */
char *tu_read(const char *path, size_t *len);
/* Creates or truncates path with data (mode 0600). */
void tu_write(const char *path, const void *data, size_t len);
/* cp -R src dst (dst must not exist). */
void tu_copy_tree(const char *src, const char *dst);
/* An environment variable meson sets for the test; fails the test if unset. */
const char *tu_env(const char *name);
/* Runs argv (argv[0] a path), stdout/stderr into malloc'd strings; returns
 * the exit status, or -1 when it did not exit normally. */
int tu_run(char *const argv[], char **out, char **errout);

#endif
