/* libFuzzer harness: a public record file (record_load reads a path, so
 * the input is handed over as an anonymous memory file). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "flows/record.h"
#include "vault/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-record", 0);
	if (fd < 0)
		return 0;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	manifest *m = NULL;
	unsigned days = 0;
	char last[21];
	hv_err err;
	if (record_load(path, &m, &days, last, &err) == HV_OK)
		manifest_free(m);
	close(fd);
	return 0;
}
