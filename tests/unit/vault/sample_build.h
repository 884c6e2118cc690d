/* Builds the sample vault (vault/sample in the source tree) from the
 * sc-hsm-tool fixtures, with fixed times, so that a test can rebuild it
 * and compare it byte for byte with the committed copy. */
#ifndef HV_TEST_VAULT_SAMPLE_BUILD_H
#define HV_TEST_VAULT_SAMPLE_BUILD_H

#include <stddef.h>

#include "util/err.h"
#include "vfs/vfs.h"

/* dir must not hold a vault yet; data_dir is tests/data/sc-hsm-tool. */
int sample_build(const char *dir, const char *data_dir, hv_err *err);
/* The same into an open, empty storage (a stick, say). */
int sample_build_vfs(vfs *v, const char *data_dir, hv_err *err);

/* Every file of the sample, relative to its root. */
extern const char *const sample_files[];
extern const size_t sample_file_count;

/* Known values of the sample (from tests/data/sc-hsm-tool/README.md). */
#define SAMPLE_KCV "DBFFED54BA9E1D5B"
#define SAMPLE_KEY_ID "983b725d0c2b612baf11dd142dee092071cafbe5"
#define SAMPLE_SHARE1_CHECK "4B04E61C71416A1A"
#define SAMPLE_SHARE2_CHECK "F955E919E9A7C167"

#endif
