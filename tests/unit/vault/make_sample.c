/* make-sample DIR DATA_DIR: writes the sample vault. The committed copy
 * (vault/sample) is refreshed with:
 *   rm -rf vault/sample && BUILD/tests/unit/vault/make-sample vault/sample tests/data/sc-hsm-tool
 *   cp vault/sample/manifest/000003.yaml vault/sample-manifest.yaml */
#include <stdio.h>

#include "sample_build.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: make-sample DIR DATA_DIR\n");
		return 2;
	}
	hv_err err;
	hv_err_clear(&err);
	int rc = sample_build(argv[1], argv[2], &err);
	if (rc)
		fprintf(stderr, "make-sample: %s\n", err.msg);
	return rc;
}
