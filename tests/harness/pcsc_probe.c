/* hv-pcsc-probe: the harness's eyes on the private pcscd. Shell code cannot
 * wait on reader events, and polling opensc-tool is slow and racy, so the
 * harness asks this small program instead.
 *
 *   hv-pcsc-probe list                          reader names, one a line
 *   hv-pcsc-probe wait-readers N TIMEOUT_MS     until at least N readers exist
 *   hv-pcsc-probe wait-card READER present|absent TIMEOUT_MS
 *   hv-pcsc-probe free-ports COUNT              a base port B such that
 *                                               B..B+COUNT-1 are all bindable
 *
 * Exit status: 0 done, 1 timed out / not found, 2 usage. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <PCSC/winscard.h>

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Readers as a multi-string; NULL when the service or list is not there. */
static char *list_readers(SCARDCONTEXT *ctx)
{
	DWORD len = 0;
	if (*ctx == 0 && SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, ctx) != SCARD_S_SUCCESS) {
		*ctx = 0;
		return NULL;
	}
	LONG rv = SCardListReaders(*ctx, NULL, NULL, &len);
	if (rv != SCARD_S_SUCCESS || len == 0) {
		if (rv == SCARD_E_NO_SERVICE || rv == SCARD_E_SERVICE_STOPPED) {
			SCardReleaseContext(*ctx);
			*ctx = 0;
		}
		return NULL;
	}
	char *names = calloc(1, len + 1);
	if (!names)
		return NULL;
	if (SCardListReaders(*ctx, NULL, names, &len) != SCARD_S_SUCCESS) {
		free(names);
		return NULL;
	}
	return names;
}

static int count_readers(const char *names)
{
	int n = 0;
	for (const char *p = names; p && *p; p += strlen(p) + 1)
		n++;
	return n;
}

static int cmd_list(void)
{
	SCARDCONTEXT ctx = 0;
	char *names = list_readers(&ctx);
	if (!names) {
		fprintf(stderr, "hv-pcsc-probe: no readers (is pcscd running?)\n");
		return 1;
	}
	for (const char *p = names; *p; p += strlen(p) + 1)
		printf("%s\n", p);
	free(names);
	SCardReleaseContext(ctx);
	return 0;
}

static int cmd_wait_readers(int want, long timeout_ms)
{
	long end = now_ms() + timeout_ms;
	SCARDCONTEXT ctx = 0;
	for (;;) {
		char *names = list_readers(&ctx);
		int n = count_readers(names);
		free(names);
		if (n >= want) {
			SCardReleaseContext(ctx);
			return 0;
		}
		if (now_ms() >= end) {
			fprintf(stderr, "hv-pcsc-probe: %d of %d readers after %ld ms\n", n, want,
				timeout_ms);
			if (ctx)
				SCardReleaseContext(ctx);
			return 1;
		}
		usleep(50 * 1000);
	}
}

static int cmd_wait_card(const char *reader, int want_present, long timeout_ms)
{
	long end = now_ms() + timeout_ms;
	SCARDCONTEXT ctx = 0;
	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) != SCARD_S_SUCCESS) {
		fprintf(stderr, "hv-pcsc-probe: cannot reach pcscd\n");
		return 1;
	}
	SCARD_READERSTATE st;
	memset(&st, 0, sizeof(st));
	st.szReader = reader;
	st.dwCurrentState = SCARD_STATE_UNAWARE;
	for (;;) {
		long left = end - now_ms();
		if (left < 0)
			left = 0;
		LONG rv = SCardGetStatusChange(ctx, (DWORD)(left > 200 ? 200 : left), &st, 1);
		if (rv == SCARD_S_SUCCESS || rv == SCARD_E_TIMEOUT) {
			if (rv == SCARD_S_SUCCESS)
				st.dwCurrentState = st.dwEventState & ~SCARD_STATE_CHANGED;
			DWORD s = st.dwCurrentState;
			if (s & SCARD_STATE_UNKNOWN) {
				fprintf(stderr, "hv-pcsc-probe: no reader named '%s'\n", reader);
				SCardReleaseContext(ctx);
				return 1;
			}
			int present = (s & SCARD_STATE_PRESENT) && !(s & SCARD_STATE_MUTE);
			int absent = (s & SCARD_STATE_EMPTY) != 0;
			if ((want_present && present) || (!want_present && absent)) {
				SCardReleaseContext(ctx);
				return 0;
			}
		} else {
			usleep(50 * 1000);
		}
		if (now_ms() >= end) {
			fprintf(stderr, "hv-pcsc-probe: reader '%s' still %s after %ld ms (state 0x%lx)\n",
				reader, want_present ? "without a card" : "holding a card", timeout_ms,
				(unsigned long)st.dwCurrentState);
			SCardReleaseContext(ctx);
			return 1;
		}
	}
}

static int port_free(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return 0;
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	a.sin_port = htons((unsigned short)port);
	int ok = bind(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

static int cmd_free_ports(int count)
{
	/* Random start so that parallel harnesses rarely pick the same range;
	 * the harness retries if pcscd still fails to bind. */
	srand((unsigned)(now_ms() ^ (getpid() << 8)));
	for (int attempt = 0; attempt < 200; attempt++) {
		int base = 20000 + (rand() % 30000);
		int ok = 1;
		for (int i = 0; i < count && ok; i++)
			ok = port_free(base + i);
		if (ok) {
			printf("%d\n", base);
			return 0;
		}
	}
	fprintf(stderr, "hv-pcsc-probe: no range of %d free TCP ports found\n", count);
	return 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: hv-pcsc-probe list | wait-readers N TIMEOUT_MS |"
			" wait-card READER present|absent TIMEOUT_MS | free-ports COUNT\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "list") && argc == 2)
		return cmd_list();
	if (argc == 4 && !strcmp(argv[1], "wait-readers"))
		return cmd_wait_readers(atoi(argv[2]), atol(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "wait-card")) {
		if (strcmp(argv[3], "present") && strcmp(argv[3], "absent"))
			return usage();
		return cmd_wait_card(argv[2], !strcmp(argv[3], "present"), atol(argv[4]));
	}
	if (argc == 3 && !strcmp(argv[1], "free-ports")) {
		int n = atoi(argv[2]);
		if (n < 1 || n > 64)
			return usage();
		return cmd_free_ports(n);
	}
	return usage();
}
