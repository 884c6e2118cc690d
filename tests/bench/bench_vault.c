/* How fast a vault reads as it ages and grows: builds vaults in a
 * temporary folder, then times, in a fresh process each (so that peak RSS
 * is the reader's alone), what every command starts with: both hash
 * chains checked and the current version loaded with its files
 * (vault_history_load, as log does), by hashes (the default) and with
 * every version parsed (--full).
 *
 *   bench_vault [--quick]     (--quick: the 100,000-key vault is skipped)
 *   bench_vault --load DIR FULL   (internal: one measurement, one line)
 *   bench_vault --make DIR KEYS   (one vault of KEYS keys in one version, kept) 
 *
 * Vaults (keys: EC P-256 entries as backup writes them, 600-byte files):
 *   A  format 2, 1,000 keys, 100 manifest versions + 420 journal entries:
 *      ten years of weekly verifies and 100 changes
 *   A1 the same history written the format-1 way: 520 manifest versions,
 *      420 of them verifications (what a vault of format 1 reads like)
 *   B  10,000 keys in one version
 *   C  100,000 keys in one version (issue: a 100,000-key manifest) */
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/hex.h"
#include "vault/history.h"
#include "vault/journal.h"
#include "vault/manifest.h"
#include "vault/manifest_check.h"
#include "vault/vault.h"
#include "vfs/vfs_dir.h"

#define KCV "DBFFED54BA9E1D5B"
#define T0 1767600000 /* 2026-01-05 */
#define WEEK (7 * 86400)

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const hv_err *err)
{
	fprintf(stderr, "bench_vault: %s: %s\n", what, err ? err->msg : strerror(errno));
	exit(1);
}

/* A key file written plainly (no fsync: setup only), its sha256 kept. */
static void put_key_file(const char *dir, const char *id, char sha[65])
{
	uint8_t data[600];
	RAND_bytes(data, sizeof(data));
	char path[4200];
	snprintf(path, sizeof(path), "%s/keys/" KCV "/%s.wrap", dir, id);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, sizeof(data)) != (ssize_t)sizeof(data) || close(fd) != 0)
		die(path, NULL);
	manifest_sha256_hex(data, sizeof(data), sha);
}

/* Adds n keys (ids from first on) to m, with their files, spread over the
 * cards at 250 per card as far as the cards go. */
static void add_keys(const char *dir, manifest *m, size_t first, size_t n, time_t when)
{
	static const char spki_prefix[] =
		"3059301306072a8648ce3d020106082a8648ce3d03010703420004";
	char t[21];
	manifest_format_time(when, t);
	for (size_t i = first; i < first + n; i++) {
		uint8_t raw[64];
		RAND_bytes(raw, sizeof(raw));
		char id[64], pub[sizeof(spki_prefix) + 128], sha[65], file[128], label[32];
		snprintf(id, sizeof(id), "%08zx%032zx", i, i * 2654435761u);
		memcpy(pub, spki_prefix, sizeof(spki_prefix) - 1);
		hex_encode(raw, sizeof(raw), pub + sizeof(spki_prefix) - 1, 0);
		put_key_file(dir, id, sha);
		snprintf(file, sizeof(file), "keys/" KCV "/%s.wrap", id);
		snprintf(label, sizeof(label), "key-%06zu", i);
		size_t card = i / 250;
		manifest_key k = { .id = id, .label = label, .key_ref = (unsigned)(i % 255) + 1,
				   .algorithm = "EC P-256", .public_key = pub, .kcv = KCV,
				   .file = file, .sha256 = sha, .time = t,
				   .source_card = card < m->card_n ? m->cards[card].id : NULL };
		if (!manifest_add_key(m, &k))
			die("out of memory", NULL);
		if (card < m->card_n && manifest_strlist_add(&m->cards[card].keys, id) != HV_OK)
			die("out of memory", NULL);
	}
}

static void append(vfs *v, manifest *m, const char *change, time_t when)
{
	hv_err err;
	unsigned long w;
	if (manifest_append_at(v, m, change, when, &w, &err) != HV_OK)
		die("manifest_append", &err);
	m->version = w;
}

static void journal(vfs *v, unsigned long version, time_t when, size_t cards)
{
	hv_err err;
	manifest *cur;
	char sha[65];
	if (manifest_read_version(v, version, &cur, sha, &err) != HV_OK)
		die("reading a version", &err);
	journal_entry e = { .manifest_version = version, .kind = "quick", .result = "ok" };
	memcpy(e.manifest_sha256, sha, sizeof(sha));
	for (size_t i = 0; i < cards && i < cur->card_n; i++) {
		journal_card c = { .id = cur->cards[i].id, .result = "ok" };
		if (journal_add_card(&e, &c) != HV_OK)
			die("out of memory", NULL);
	}
	manifest_free(cur);
	if (journal_append(v, &e, when, NULL, &err) != HV_OK)
		die("journal_append", &err);
	for (size_t i = 0; i < e.card_n; i++) {
		free(e.cards[i].id);
		free(e.cards[i].result);
		free(e.cards[i].detail);
	}
	free(e.cards);
}

/* A fresh vault at dir with `cards` cards; m gets its current version. */
static vfs *new_vault(const char *dir, size_t cards, manifest **m)
{
	hv_err err;
	vfs *v;
	char p[4200];
	if (vfs_dir_open(dir, 1, &v, &err) != HV_OK || vault_init(v, "# bench\n", &err) != HV_OK)
		die(dir, &err);
	snprintf(p, sizeof(p), "%s/keys/" KCV, dir);
	if (mkdir(p, 0700) != 0)
		die(p, NULL);
	if (manifest_load_current(v, m, &err) != HV_OK)
		die("load", &err);
	(*m)->share_count = 1;
	manifest_set(&(*m)->dkek_kcv, KCV);
	for (size_t i = 0; i < cards; i++) {
		char serial[32], id[96];
		snprintf(serial, sizeof(serial), "DECC%07zu", i);
		manifest_card_identity(serial, (const uint8_t *)serial, strlen(serial), id, sizeof(id));
		manifest_card c = { .id = id, .serial = serial, .role = i ? "backup" : "primary",
				    .kcv = KCV };
		if (!manifest_add_card(*m, &c))
			die("out of memory", NULL);
	}
	return v;
}

/* A: 1,000 keys; 100 changes and 420 weekly verifications over ten years.
 * format1: the verifications are manifest versions, as format 1 wrote. */
static void build_aged(const char *dir, int format1)
{
	manifest *m;
	vfs *v = new_vault(dir, 4, &m);
	time_t t = T0;
	add_keys(dir, m, 0, 1000, t);
	append(v, m, "backup of card DECC0000000: 1000 keys", t);
	int changes = 0, verifies = 0;
	/* versions 1 and 2 made; 98 more changes among 420 verifications */
	for (int step = 0; step < 518; step++) {
		t += WEEK;
		if ((step % 5 == 0 && changes < 98) || verifies >= 420) {
			/* a change: one key re-wrapped under a new label */
			char label[40];
			snprintf(label, sizeof(label), "renewed-%d", changes);
			manifest_set(&m->keys[(size_t)changes % m->key_n].label, label);
			append(v, m, "backup of card DECC0000001: 1 key", t);
			changes++;
		} else if (format1) {
			char tm[21];
			manifest_format_time(t, tm);
			for (size_t c = 0; c < m->card_n; c++) {
				manifest_verification x = { .time = tm, .card = m->cards[c].id,
							    .kind = "quick", .result = "ok" };
				if (!manifest_add_verification(m, &x))
					die("out of memory", NULL);
			}
			append(v, m, "verify (quick): 4 cards, 0 differences", t);
			verifies++;
		} else {
			journal(v, m->version, t, m->card_n);
			verifies++;
		}
	}
	if (format1) {
		/* the marker a format-1 vault carries */
		static const char marker[] = VAULT_FORMAT_1 "\nbench\n";
		hv_err err;
		if (vfs_write_atomic(v, VAULT_MARKER, marker, sizeof(marker) - 1, &err) != HV_OK)
			die("marker", &err);
	}
	manifest_free(m);
	vfs_close(v);
}

static void build_wide(const char *dir, size_t keys)
{
	manifest *m;
	size_t cards = (keys + 249) / 250;
	vfs *v = new_vault(dir, cards > 64 ? 64 : cards, &m);
	add_keys(dir, m, 0, keys, T0);
	append(v, m, "backup: many keys", T0);
	journal(v, m->version, T0 + 3600, m->card_n);
	manifest_free(m);
	vfs_close(v);
}

/* --load DIR FULL: one measurement in this (fresh) process. */
static double cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3 +
	       (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3;
}

static int load_once(const char *dir, int full)
{
	hv_err err;
	vfs *v;
	double c0 = cpu_ms();
	double t0 = now();
	if (vfs_dir_open(dir, 0, &v, &err) != HV_OK || vault_check(v, &err) != HV_OK)
		die(dir, &err);
	vault_history h;
	int rc = vault_history_load(v, full, 1, &h, &err);
	double t1 = now();
	if (rc != HV_OK)
		die("load", &err);
	double cpu = cpu_ms() - c0;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%.1f %.1f %ld %lu %zu %zu\n", (t1 - t0) * 1000, cpu, ru.ru_maxrss, h.versions,
	       h.entries, h.current->key_n);
	vault_history_free(&h);
	vfs_close(v);
	return 0;
}

struct result {
	double ms;               /* wall clock */
	double cpu_ms;           /* user + system time of the load itself */
	long rss_kib;
	unsigned long versions;
	size_t entries, keys;
};

static struct result measure(const char *self, const char *dir, int full)
{
	char cmd[8500];
	snprintf(cmd, sizeof(cmd), "'%s' --load '%s' %d", self, dir, full);
	struct result best = { .cpu_ms = 1e30 };
	for (int r = 0; r < 3; r++) {
		FILE *p = popen(cmd, "r");
		struct result x = { 0 };
		if (!p || fscanf(p, "%lf %lf %ld %lu %zu %zu", &x.ms, &x.cpu_ms, &x.rss_kib,
				 &x.versions, &x.entries, &x.keys) != 6 || pclose(p) != 0)
			die("a measurement failed", NULL);
		if (x.cpu_ms < best.cpu_ms)
			best = x;
	}
	return best;
}

static unsigned long long tree_bytes(const char *dir)
{
	char cmd[4300];
	snprintf(cmd, sizeof(cmd), "du -sb --apparent-size '%s' 2>/dev/null", dir);
	FILE *p = popen(cmd, "r");
	unsigned long long n = 0;
	if (p) {
		if (fscanf(p, "%llu", &n) != 1)
			n = 0;
		pclose(p);
	}
	return n;
}

static void row(const char *name, const char *self, const char *dir, const char *goal)
{
	struct result q = measure(self, dir, 0), f = measure(self, dir, 1);
	printf("| %-52s | %6zu | %4lu | %4zu | %7.1f MB | %7.0f / %7.0f ms | %6.1f MiB | %7.0f / %7.0f ms | %6.1f MiB | %-20s |\n",
	       name, q.keys, q.versions, q.entries, (double)tree_bytes(dir) / 1e6, q.cpu_ms, q.ms,
	       (double)q.rss_kib / 1024, f.cpu_ms, f.ms, (double)f.rss_kib / 1024, goal);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--load"))
		return load_once(argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "--make")) {
		build_wide(argv[2], strtoul(argv[3], NULL, 10));
		return 0;
	}
	int quick = argc > 1 && !strcmp(argv[1], "--quick");
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		die("/proc/self/exe", NULL);
	self[n] = '\0';
	char tmpl[] = "/tmp/bench_vault.XXXXXX";
	char *top = mkdtemp(tmpl);
	if (!top)
		die("mkdtemp", NULL);
	char a[4200], a1[4200], b[4200], c[4200];
	snprintf(a, sizeof(a), "%s/a", top);
	snprintf(a1, sizeof(a1), "%s/a1", top);
	snprintf(b, sizeof(b), "%s/b", top);
	snprintf(c, sizeof(c), "%s/c", top);

	double t0 = now();
	build_aged(a, 0);
	build_aged(a1, 1);
	build_wide(b, 10000);
	if (!quick)
		build_wide(c, 100000);
	fprintf(stderr, "bench_vault: vaults built in %.1f s under %s\n", now() - t0, top);

	printf("Loading a vault: both hash chains checked, the current version parsed and its\n"
	       "files hashed (what log, show, verify and every flow start with); best of 3, each\n"
	       "in a fresh process. Time: CPU (user + system) / wall clock of the load; peak RSS of\n"
	       "that process (getrusage). On a loaded machine the CPU time is the figure to read.\n\n");
	printf("| %-52s | %6s | %4s | %4s | %-10s | %-20s | %-10s | %-20s | %-10s | %-20s |\n",
	       "vault", "keys", "vers", "jrnl", "size", "default: CPU / wall", "peak RSS",
	       "--full: CPU / wall", "peak RSS", "goal (default)");
	printf("|------------------------------------------------------|--------|------|------|"
	       "------------|----------------------|------------|----------------------|"
	       "------------|----------------------|\n");
	row("A: 1,000 keys, 10 years: 100 changes, 420 verifies", self, a,
	    "<= 150 ms, <= 32 MiB");
	row("A1: the same history in format 1 (520 versions)", self, a1, "(format 1, read as is)");
	row("B: 10,000 keys in one version", self, b, "<= 300 ms, <= 64 MiB");
	if (!quick)
		row("C: 100,000 keys in one version", self, c, "(measured)");

	char cmd[4300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (getenv("BENCH_VAULT_KEEP"))
		fprintf(stderr, "bench_vault: vaults kept in %s\n", top);
	else if (system(cmd) != 0)
		fprintf(stderr, "bench_vault: could not remove %s\n", top);
	return 0;
}
