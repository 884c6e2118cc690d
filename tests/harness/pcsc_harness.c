#include "pcsc_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <PCSC/winscard.h>

#define MAX_READERS 16

static pid_t sim_pids[MAX_READERS];

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

int harness_check_env(void)
{
	if (!env("HV_PCSC_WORK") || !env("HV_READER_COUNT")) {
		fprintf(stderr, "harness: not inside the PC/SC harness: run through "
				"tests/harness/run-in-pcsc-env.sh (meson test does)\n");
		return -1;
	}
	if (!env("HSMVAULT_SIM") || access(env("HSMVAULT_SIM"), X_OK) != 0) {
		fprintf(stderr, "harness: HSMVAULT_SIM does not name the hsmvault-sim executable\n");
		return -1;
	}
	return 0;
}

int harness_reader_count(void)
{
	const char *v = env("HV_READER_COUNT");
	return v ? atoi(v) : 0;
}

const char *harness_reader_name(int idx)
{
	char var[64];
	if (idx < 0 || idx >= harness_reader_count())
		return NULL;
	snprintf(var, sizeof(var), "HV_READER_%d_NAME", idx);
	return env(var);
}

int harness_reader_port(int idx)
{
	char var[64];
	if (idx < 0 || idx >= harness_reader_count())
		return -1;
	snprintf(var, sizeof(var), "HV_READER_%d_PORT", idx);
	const char *v = env(var);
	return v ? atoi(v) : -1;
}

const char *harness_work_dir(void)
{
	return env("HV_PCSC_WORK");
}

const char *harness_work_path(const char *name)
{
	static char path[4096];
	snprintf(path, sizeof(path), "%s/%s", harness_work_dir() ? harness_work_dir() : ".", name);
	return path;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int wait_card(const char *reader, int want_present, long timeout_ms)
{
	SCARDCONTEXT ctx;
	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) != SCARD_S_SUCCESS) {
		fprintf(stderr, "harness: cannot reach pcscd\n");
		return -1;
	}
	SCARD_READERSTATE st;
	memset(&st, 0, sizeof(st));
	st.szReader = reader;
	st.dwCurrentState = SCARD_STATE_UNAWARE;
	long end = now_ms() + timeout_ms;
	for (;;) {
		LONG rv = SCardGetStatusChange(ctx, 200, &st, 1);
		if (rv == SCARD_S_SUCCESS)
			st.dwCurrentState = st.dwEventState & ~SCARD_STATE_CHANGED;
		DWORD s = st.dwCurrentState;
		int present = (s & SCARD_STATE_PRESENT) && !(s & SCARD_STATE_MUTE);
		int absent = (s & SCARD_STATE_EMPTY) != 0;
		if ((want_present && present) || (!want_present && absent)) {
			SCardReleaseContext(ctx);
			return 0;
		}
		if (now_ms() >= end) {
			fprintf(stderr, "harness: reader '%s' still %s after %ld ms\n", reader,
				want_present ? "without a card" : "holding a card", timeout_ms);
			SCardReleaseContext(ctx);
			return -1;
		}
		if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT)
			usleep(50 * 1000);
	}
}

static void record_pid(int idx, pid_t pid)
{
	char name[32];
	snprintf(name, sizeof(name), "pids/sim-%d", idx);
	const char *path = harness_work_path(name);
	if (pid == 0) {
		unlink(path);
		return;
	}
	FILE *f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d\n", (int)pid);
		fclose(f);
	}
}

int harness_sim_insert(int idx, const char *state, const char *const *extra)
{
	if (harness_check_env() != 0)
		return -1;
	const char *reader = harness_reader_name(idx);
	if (!reader || idx >= MAX_READERS) {
		fprintf(stderr, "harness: no reader with index %d\n", idx);
		return -1;
	}
	if (sim_pids[idx] > 0) {
		fprintf(stderr, "harness: reader %d already holds a simulated card\n", idx);
		return -1;
	}
	/* state may point into harness_work_path()'s buffer: copy it first. */
	char state_copy[4096];
	snprintf(state_copy, sizeof(state_copy), "%s", state);
	state = state_copy;
	char port[16];
	snprintf(port, sizeof(port), "%d", harness_reader_port(idx));
	const char *argv[64];
	int n = 0;
	argv[n++] = env("HSMVAULT_SIM");
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--state";
	argv[n++] = state;
	for (int i = 0; extra && extra[i] && n < 62; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;

	char logname[32];
	snprintf(logname, sizeof(logname), "sim-%d.log", idx);
	char logpath[4096];
	snprintf(logpath, sizeof(logpath), "%s/%s", harness_work_dir(), logname);

	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		perror("harness: fork");
		return -1;
	}
	if (pid == 0) {
		/* The sim must not outlive the test, whatever ends the test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0) {
			dup2(nul, 0);
			close(nul);
		}
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "harness: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	sim_pids[idx] = pid;
	record_pid(idx, pid);
	if (wait_card(reader, 1, 10000) != 0) {
		fprintf(stderr, "harness: card in reader %d did not appear; sim log: %s\n", idx, logpath);
		harness_sim_pull(idx);
		return -1;
	}
	return 0;
}

static int reap(pid_t pid, long timeout_ms)
{
	long end = now_ms() + timeout_ms;
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return 0;
		if (now_ms() >= end)
			return -1;
		usleep(20 * 1000);
	}
}

int harness_sim_pull(int idx)
{
	if (idx < 0 || idx >= MAX_READERS || sim_pids[idx] <= 0) {
		fprintf(stderr, "harness: reader %d holds no simulated card\n", idx);
		return -1;
	}
	pid_t pid = sim_pids[idx];
	kill(pid, SIGTERM);
	if (reap(pid, 2000) != 0) {
		kill(pid, SIGKILL);
		reap(pid, 2000);
	}
	sim_pids[idx] = 0;
	record_pid(idx, 0);
	const char *reader = harness_reader_name(idx);
	return reader ? wait_card(reader, 0, 10000) : -1;
}

int harness_sim_wait_gone(int idx, int timeout_ms)
{
	if (idx < 0 || idx >= MAX_READERS || sim_pids[idx] <= 0) {
		fprintf(stderr, "harness: reader %d holds no simulated card\n", idx);
		return -1;
	}
	if (reap(sim_pids[idx], timeout_ms) != 0) {
		fprintf(stderr, "harness: simulator in reader %d still running after %d ms\n", idx,
			timeout_ms);
		return -1;
	}
	sim_pids[idx] = 0;
	record_pid(idx, 0);
	const char *reader = harness_reader_name(idx);
	return reader ? wait_card(reader, 0, 10000) : -1;
}

void harness_sim_pull_all(void)
{
	for (int i = 0; i < MAX_READERS; i++)
		if (sim_pids[i] > 0)
			harness_sim_pull(i);
}
