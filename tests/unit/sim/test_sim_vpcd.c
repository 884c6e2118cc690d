/* hsmvault-sim as a process on the vpcd link: this test plays vpcd (a TCP
 * server speaking 2-byte-length frames), starts the simulator against it
 * and checks the ATR, APDU exchange, statistics, fault injection
 * (--drop-after, --sw-at), reconnecting, SIGTERM and the state file. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/hex.h"

#define SELECT_AID "00A404000BE82B0601040181C31F020100"

typedef struct env {
	char dir[64];
	char state[128];
	char stats[128];
	int listen_fd;
	int port;
	pid_t pid;
	int fd;
} env;

static const char *sim_exe(void)
{
	const char *p = getenv("HV_SIM_EXE");
	assert_non_null(p);
	return p;
}

static int setup(void **state)
{
	env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	strcpy(e->dir, "/tmp/hv-sim-vpcd-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->state, sizeof(e->state), "%s/card.state", e->dir);
	snprintf(e->stats, sizeof(e->stats), "%s/stats", e->dir);
	e->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(e->listen_fd >= 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(e->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(e->listen_fd, 2), 0);
	socklen_t sl = sizeof(sa);
	assert_int_equal(getsockname(e->listen_fd, (struct sockaddr *)&sa, &sl), 0);
	e->port = ntohs(sa.sin_port);
	e->pid = -1;
	e->fd = -1;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	env *e = *state;
	if (e->fd >= 0)
		close(e->fd);
	if (e->pid > 0) {
		kill(e->pid, SIGKILL);
		waitpid(e->pid, NULL, 0);
	}
	close(e->listen_fd);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	assert_int_equal(system(cmd), 0);
	free(e);
	return 0;
}

/* Starts the simulator with extra arguments (NULL-terminated). */
static void start(env *e, ...)
{
	char port[16];
	snprintf(port, sizeof(port), "%d", e->port);
	const char *argv[32] = { sim_exe(), "--port", port, "--state", e->state, "--stats", e->stats };
	int n = 7;
	va_list ap;
	va_start(ap, e);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < 31;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	e->pid = fork();
	assert_true(e->pid >= 0);
	if (e->pid == 0) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
}

static int accept_card(env *e)
{
	struct pollfd p = { e->listen_fd, POLLIN, 0 };
	assert_int_equal(poll(&p, 1, 10000), 1);
	int fd = accept(e->listen_fd, NULL, NULL);
	assert_true(fd >= 0);
	return fd;
}

static void send_frame(int fd, const uint8_t *d, size_t len)
{
	uint8_t h[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	assert_int_equal(write(fd, h, 2), 2);
	if (len)
		assert_int_equal(write(fd, d, len), (ssize_t)len);
}

/* Reads one frame; returns its length, or -1 when the card hung up. */
static long recv_frame(int fd, uint8_t *buf, size_t cap)
{
	struct pollfd p = { fd, POLLIN, 0 };
	assert_int_equal(poll(&p, 1, 30000), 1);
	uint8_t h[2];
	size_t got = 0;
	while (got < 2) {
		ssize_t r = read(fd, h + got, 2 - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	size_t len = (size_t)h[0] << 8 | h[1];
	assert_true(len <= cap);
	got = 0;
	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
	return (long)len;
}

/* One APDU (hex); returns the SW, data (if wanted) into out. */
static uint16_t apdu(int fd, const char *hex, uint8_t *out, size_t *out_len)
{
	uint8_t cmd[600], resp[70000];
	long n = hex_decode(hex, cmd, sizeof(cmd));
	assert_true(n >= 4);
	send_frame(fd, cmd, (size_t)n);
	long r = recv_frame(fd, resp, sizeof(resp));
	assert_true(r >= 2);
	if (out) {
		memcpy(out, resp, (size_t)r - 2);
		*out_len = (size_t)r - 2;
	}
	return (uint16_t)(resp[r - 2] << 8 | resp[r - 1]);
}

static int wait_exit(env *e)
{
	int status;
	for (int i = 0; i < 300; i++) {
		pid_t r = waitpid(e->pid, &status, WNOHANG);
		if (r == e->pid) {
			e->pid = -1;
			assert_true(WIFEXITED(status));
			return WEXITSTATUS(status);
		}
		usleep(20000);
	}
	fail_msg("hsmvault-sim did not exit");
	return -1;
}

static char *slurp(const char *path)
{
	static char text[1 << 20];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	return text;
}

static void test_atr_apdu_stats_sigterm(void **state)
{
	env *e = *state;
	start(e, "--serial", "VPCDT01", (char *)NULL);
	e->fd = accept_card(e);
	uint8_t buf[300];
	size_t len;
	/* Control codes: power on gets no answer, ATR gets the ATR. */
	send_frame(e->fd, (const uint8_t *)"\x01", 1);
	send_frame(e->fd, (const uint8_t *)"\x04", 1);
	long n = recv_frame(e->fd, buf, sizeof(buf));
	assert_int_equal(n, 24);
	char hex[64];
	hex_encode(buf, 24, hex, 1);
	assert_string_equal(hex, "3BFE1800008131FE458031815448534D31738021408107FA");
	assert_int_equal(apdu(e->fd, SELECT_AID, buf, &len), 0x9000);
	assert_int_equal(buf[0], 0x62);
	assert_int_equal(apdu(e->fd, "80500000198002000181063634383231398208353736323138383091010392 0102", NULL, NULL), 0x6700);
	assert_int_equal(apdu(e->fd, "805000001C800200018106363438323139820835373632313838309101039201 02", NULL, NULL), 0x9000);
	/* A reset forgets the selection. */
	send_frame(e->fd, (const uint8_t *)"\x02", 1);
	assert_int_equal(apdu(e->fd, "00200081", NULL, NULL), 0x6D00);
	assert_int_equal(apdu(e->fd, SELECT_AID, NULL, NULL), 0x9000);
	assert_int_equal(apdu(e->fd, "00200081", NULL, NULL), 0x63C3);
	char *st = slurp(e->stats);
	assert_non_null(st);
	assert_non_null(strstr(st, "apdus=6\n"));
	/* bytes in: 17+33+33+4+17+4 = 108; out: 27+2+2+2+27+2 = 62 */
	assert_non_null(strstr(st, "bytes_in=108\n"));
	assert_non_null(strstr(st, "bytes_out=62\n"));
	kill(e->pid, SIGTERM);
	assert_int_equal(wait_exit(e), 0);
	/* The state file holds the initialized card. */
	st = slurp(e->state);
	assert_non_null(st);
	assert_true(strncmp(st, "hsmvault-sim-state 2\nprofile smartcard-hsm\nserial VPCDT01\n", 58) == 0);
	assert_non_null(strstr(st, "\ninitialized 1\n"));
	assert_non_null(strstr(st, "\ndkek 2 2 "));
	close(e->fd);
	e->fd = -1;

	/* Inserted again: same card, without --blank. */
	start(e, (char *)NULL);
	e->fd = accept_card(e);
	assert_int_equal(apdu(e->fd, SELECT_AID, NULL, NULL), 0x9000);
	assert_int_equal(apdu(e->fd, "00200081", NULL, NULL), 0x63C3);
	/* The reader going away ends the simulator (no --reconnect). */
	close(e->fd);
	e->fd = -1;
	assert_int_equal(wait_exit(e), 0);

	/* --blank: a factory-fresh card in the same file. */
	start(e, "--blank", (char *)NULL);
	e->fd = accept_card(e);
	assert_int_equal(apdu(e->fd, SELECT_AID, NULL, NULL), 0x9000);
	assert_int_equal(apdu(e->fd, "00200081", NULL, NULL), 0x6A88);
	kill(e->pid, SIGINT);
	assert_int_equal(wait_exit(e), 0);
}

static void test_fault_injection(void **state)
{
	env *e = *state;
	start(e, "--sw-at", "2:6F00", "--sw-at", "3:6581", "--drop-after", "5", (char *)NULL);
	e->fd = accept_card(e);
	assert_int_equal(apdu(e->fd, SELECT_AID, NULL, NULL), 0x9000);
	assert_int_equal(apdu(e->fd, "805000001C800200018106363438323139820835373632313838309101039201 02", NULL, NULL), 0x6F00);
	assert_int_equal(apdu(e->fd, "00200081", NULL, NULL), 0x6581);
	/* APDU 2 was not executed: the card is still blank. */
	assert_int_equal(apdu(e->fd, "00200081", NULL, NULL), 0x6A88);
	uint8_t cmd[4] = { 0x00, 0x20, 0x00, 0x81 }, buf[16];
	send_frame(e->fd, cmd, 4);
	assert_int_equal(recv_frame(e->fd, buf, sizeof(buf)), -1);
	assert_int_equal(wait_exit(e), 0);
	char *st = slurp(e->stats);
	assert_non_null(strstr(st, "apdus=4\n"));
}

static void test_reconnect(void **state)
{
	env *e = *state;
	start(e, "--reconnect", (char *)NULL);
	e->fd = accept_card(e);
	assert_int_equal(apdu(e->fd, SELECT_AID, NULL, NULL), 0x9000);
	assert_int_equal(apdu(e->fd, "805000001C800200018106363438323139820835373632313838309101039201 02", NULL, NULL), 0x9000);
	assert_int_equal(apdu(e->fd, "0020008106363438323139", NULL, NULL), 0x9000);
	close(e->fd);
	/* The card comes back on its own, reset (not logged in). */
	e->fd = accept_card(e);
	assert_int_equal(apdu(e->fd, SELECT_AID, NULL, NULL), 0x9000);
	assert_int_equal(apdu(e->fd, "00200081", NULL, NULL), 0x63C3);
	kill(e->pid, SIGTERM);
	assert_int_equal(wait_exit(e), 0);
}

static void test_bad_arguments(void **state)
{
	env *e = *state;
	start(e, "--sw-at", "x:6F00", (char *)NULL);
	assert_int_equal(wait_exit(e), 2);
	start(e, "--serial", "AB", (char *)NULL);
	assert_int_equal(wait_exit(e), 2);
	/* A damaged state file is refused, not replaced. */
	FILE *f = fopen(e->state, "w");
	fputs("not a state file\n", f);
	fclose(f);
	start(e, (char *)NULL);
	assert_int_equal(wait_exit(e), 2);
	assert_non_null(strstr(slurp(e->state), "not a state file"));
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_atr_apdu_stats_sigterm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_injection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
