/* Times the whole DKEK share key derivation at sc-hsm-tool's 10,000,000
 * iterations: hsmvault's kdf_bytes_to_key_md5 against OpenSSL's
 * EVP_BytesToKey (what sc-hsm-tool calls). Three rounds each; the best
 * round counts. Exits non-zero if the two disagree.
 *   bench_kdf [ITERATIONS]   (default 10000000) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "crypto/kdf.h"

#define ROUNDS 3

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long iter = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000000ul;
	if (iter == 0 || iter > 0x7FFFFFFFul) {
		fprintf(stderr, "bench_kdf: iterations must be 1..2147483647\n");
		return 2;
	}
	static const uint8_t pw[] = "TestPassword123";
	static const uint8_t salt[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t k1[32], v1[16], k2[32], v2[16];
	double best_hv = 1e30, best_ossl = 1e30;

	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now();
		kdf_bytes_to_key_md5(pw, sizeof pw - 1, salt, iter, k1, v1);
		double t1 = now();
		if (EVP_BytesToKey(EVP_aes_256_cbc(), EVP_md5(), salt, pw, (int)sizeof pw - 1,
				   (int)iter, k2, v2) != 32) {
			fprintf(stderr, "bench_kdf: EVP_BytesToKey failed\n");
			return 1;
		}
		double t2 = now();
		if (t1 - t0 < best_hv)
			best_hv = t1 - t0;
		if (t2 - t1 < best_ossl)
			best_ossl = t2 - t1;
		fprintf(stderr, "round %d: hsmvault %.3f s, OpenSSL %.3f s\n", r + 1,
			t1 - t0, t2 - t1);
	}
	int same = memcmp(k1, k2, 32) == 0 && memcmp(v1, v2, 16) == 0;
	printf("DKEK share key derivation, %lu iterations (best of %d)\n", iter, ROUNDS);
	printf("%-32s | %9s | %6s\n", "implementation", "seconds", "ratio");
	printf("%-32s | %9.3f | %6.2f\n", "hsmvault kdf_bytes_to_key_md5", best_hv, 1.0);
	printf("%-32s | %9.3f | %6.2f\n", "OpenSSL EVP_BytesToKey", best_ossl,
	       best_ossl / best_hv);
	printf("same key and iv: %s\n", same ? "yes" : "NO");
	return same ? 0 : 1;
}
