/* libFuzzer harness: the batch secrets lines (--secrets-fd), read from an
 * anonymous memory file, then looked up by the names flows ask for. */
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "flows/secrets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-secrets", 0);
	if (fd < 0)
		return 0;
	if ((size && write(fd, data, size) != (ssize_t)size) || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return 0;
	}
	flow_secrets *s = NULL;
	hv_err err;
	if (flow_secrets_from_fd(fd, -1, &s, &err) == HV_OK) {
		static const char *const names[] = { "pin", "so-pin", "share-1", "share-2-erin_smith" };
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			secbuf *v = NULL;
			if (flow_secret_has(s, names[i]) &&
			    flow_secret_get(s, names[i], "fuzz", 0, 4096, &v, &err) == HV_OK)
				secbuf_free(v);
		}
		(void)flow_secrets_check_unused(s, &err);
		flow_secrets_free(s);
	}
	close(fd);
	return 0;
}
