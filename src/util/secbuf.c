#include "util/secbuf.h"

#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Each buffer gets its own mapping: page-granular locking and
 * MADV_DONTDUMP cannot leak neighbouring heap data or miss a tail. */
struct secbuf_hdr {
	size_t map_len;
};

static int lock_warned;

static size_t page_round(size_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t p = pg > 0 ? (size_t)pg : 4096;
	return (n + p - 1) / p * p;
}

secbuf *secbuf_new(size_t cap)
{
	if (cap > SIZE_MAX / 2)
		return NULL; /* the header sum below would wrap */
	size_t need = sizeof(secbuf) + sizeof(struct secbuf_hdr) + cap;
	size_t map_len = page_round(need ? need : 1);
	void *m = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (mlock(m, map_len) != 0 && !lock_warned) {
		lock_warned = 1;
		fprintf(stderr, "hsmvault: warning: cannot lock secret memory "
			"(raise RLIMIT_MEMLOCK); secrets may reach swap\n");
	}
	(void)madvise(m, map_len, MADV_DONTDUMP);
	struct secbuf_hdr *h = m;
	h->map_len = map_len;
	secbuf *b = (secbuf *)(h + 1);
	b->data = (uint8_t *)(b + 1);
	b->len = 0;
	b->cap = cap;
	return b;
}

secbuf *secbuf_dup(const void *data, size_t len)
{
	secbuf *b = secbuf_new(len);
	if (!b)
		return NULL;
	if (len)
		memcpy(b->data, data, len);
	b->len = len;
	return b;
}

void secbuf_free(secbuf *b)
{
	if (!b)
		return;
	struct secbuf_hdr *h = (struct secbuf_hdr *)b - 1;
	size_t map_len = h->map_len;
	secure_wipe(h, map_len);
	munlock(h, map_len);
	munmap(h, map_len);
}

void secure_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

int secure_memcmp(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len);
}
