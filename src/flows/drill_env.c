#include "flows/drill_env.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "card/pcsc.h"

#define VPCD_DRIVER "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"

struct drill_room {
	char work[512];
	char sim[512];
	int base_port;
	pid_t pcscd;
	pid_t sims[DRILL_ROOM_READERS];
	int stats_seq;
	unsigned long apdus_done;    /* of simulators already stopped */
	char stats[DRILL_ROOM_READERS][600];
	char readers[DRILL_ROOM_READERS][64];
};

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int port_free(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return 0;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	int ok = bind(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

static int copy_file(const char *from, const char *to, hv_err *err)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return hv_fail(err, HV_EUSAGE, "the vpcd reader driver %s is missing: install the "
			       "Debian package vsmartcard-vpcd", from);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0) {
		close(in);
		return hv_fail(err, HV_EIO, "cannot create %s: %s", to, strerror(errno));
	}
	char buf[65536];
	ssize_t n;
	int rc = HV_OK;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = hv_fail(err, HV_EIO, "writing %s: %s", to, strerror(errno));
			break;
		}
	close(in);
	if (close(out) != 0 && rc == HV_OK)
		rc = hv_fail(err, HV_EIO, "writing %s", to);
	return rc;
}

/* A child that dies with this process, whatever ends it. */
static pid_t spawn(char *const argv[], const char *log)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int null = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	if (null >= 0)
		dup2(null, 0);
	execv(argv[0], argv);
	_exit(127);
}

int drill_sim_print_root(const char *sim_path, const char *out_path, hv_err *err)
{
	int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return hv_fail(err, HV_EIO, "cannot create %s: %s", out_path, strerror(errno));
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(fd, 1);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 2);
		}
		char *argv[] = { (char *)sim_path, "--print-root", NULL };
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd);
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return hv_fail(err, HV_EIO, "running %s --print-root: %s", sim_path,
			       strerror(errno));
	struct stat st;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || stat(out_path, &st) != 0 ||
	    st.st_size == 0)
		return hv_fail(err, HV_EUSAGE, "%s --print-root gave no test root: is it the "
			       "simulator of this hsmvault?", sim_path);
	return HV_OK;
}

static void stop_pid(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(*pid, NULL, WNOHANG) == *pid) {
			*pid = 0;
			return;
		}
		usleep(100000);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

static const char *find_pcscd(void)
{
	static const char *places[] = { "/usr/sbin/pcscd", "/sbin/pcscd", "/usr/bin/pcscd" };
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++)
		if (access(places[i], X_OK) == 0)
			return places[i];
	return NULL;
}

/* Whether reader i shows a card (want = 1) or none (want = 0). */
static int wait_reader(drill_room *r, size_t i, int want, long ms, hv_err *err)
{
	long end = now_ms() + ms;
	do {
		pcsc_ctx *ctx;
		hv_err e;
		if (pcsc_open(&ctx, &e) == HV_OK) {
			pcsc_reader *rd;
			size_t n;
			int seen = -1;
			if (pcsc_list_readers(ctx, &rd, &n, &e) == HV_OK) {
				for (size_t k = 0; k < n; k++)
					if (!strcmp(rd[k].name, r->readers[i]))
						seen = rd[k].card_present;
				pcsc_readers_free(rd, n);
			}
			pcsc_close(ctx);
			if (seen == want)
				return HV_OK;
		}
		usleep(100000);
	} while (now_ms() < end);
	return hv_fail(err, HV_ECARD, "the drill's reader %s did not %s in time", r->readers[i],
		       want ? "see its simulated card" : "become empty");
}

/* A private view of /run/pcscd, so the drill's pcscd serves only us. */
static int private_pcsc_socket_dir(hv_err *err)
{
	if (geteuid() != 0)
		return hv_fail(err, HV_ESAFETY,
			       "the drill needs root: it starts its own pcscd in a private mount "
			       "namespace (run it as root, e.g. sudo hsmvault drill)");
	if (unshare(CLONE_NEWNS) != 0)
		return hv_fail(err, HV_EIO, "cannot make a private mount namespace: %s",
			       strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return hv_fail(err, HV_EIO, "cannot make mounts private: %s", strerror(errno));
	mkdir("/run/pcscd", 0755);
	if (mount("tmpfs", "/run/pcscd", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
		return hv_fail(err, HV_EIO, "cannot mount a private /run/pcscd: %s",
			       strerror(errno));
	return HV_OK;
}

int drill_room_start(const char *workdir, const char *sim_path, drill_room **out,
		     hv_err *err)
{
	*out = NULL;
	const char *pcscd = find_pcscd();
	if (!pcscd)
		return hv_fail(err, HV_EUSAGE, "pcscd is not installed: install the Debian package "
			       "pcscd (and vsmartcard-vpcd)");
	if (access(sim_path, X_OK) != 0)
		return hv_fail(err, HV_EUSAGE, "the simulator %s is missing: install the Debian "
			       "package hsmvault-sim (in a source tree: ninja -C build), or give "
			       "--sim PATH", sim_path);
	int rc = private_pcsc_socket_dir(err);
	if (rc != HV_OK)
		return rc;
	drill_room *r = calloc(1, sizeof(*r));
	if (!r)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	snprintf(r->work, sizeof(r->work), "%s", workdir);
	snprintf(r->sim, sizeof(r->sim), "%s", sim_path);
	char conf[600], drv[600], entry[700], log[600];
	snprintf(conf, sizeof(conf), "%s/reader.conf.d", workdir);
	snprintf(drv, sizeof(drv), "%s/libifdvpcd-0.so", workdir);
	snprintf(log, sizeof(log), "%s/pcscd.log", workdir);
	mkdir(conf, 0700);
	if ((rc = copy_file(VPCD_DRIVER, drv, err)) != HV_OK)
		goto fail;
	for (int attempt = 0; attempt < 5 && !r->pcscd; attempt++) {
		unsigned seed = (unsigned)(getpid() * 7919 + attempt * 104729 + now_ms());
		int base = 20000 + (int)(seed % 20000) * 2;
		if (!port_free(base) || !port_free(base + 1))
			continue;
		snprintf(entry, sizeof(entry), "%s/hsmvault-drill", conf);
		FILE *f = fopen(entry, "w");
		if (!f) {
			rc = hv_fail(err, HV_EIO, "cannot write %s", entry);
			goto fail;
		}
		fprintf(f, "FRIENDLYNAME \"HV Drill\"\nDEVICENAME /dev/null:0x%04X\nLIBPATH %s\n"
			   "CHANNELID 0x%04X\n", base, drv, base);
		fclose(f);
		char *argv[] = { (char *)pcscd, "-f", "-c", conf, NULL };
		r->pcscd = spawn(argv, log);
		r->base_port = base;
		for (size_t i = 0; i < DRILL_ROOM_READERS; i++)
			snprintf(r->readers[i], sizeof(r->readers[i]), "HV Drill 00 %02zu", i);
		if (wait_reader(r, DRILL_ROOM_READERS - 1, 0, 8000, err) != HV_OK) {
			stop_pid(&r->pcscd);
			continue;
		}
	}
	if (!r->pcscd) {
		rc = hv_fail(err, HV_ECARD, "pcscd did not come up with the drill's readers (see "
			     "%s)", log);
		goto fail;
	}
	*out = r;
	return HV_OK;
fail:
	drill_room_stop(r);
	return rc;
}

static unsigned long read_apdus(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[128];
	unsigned long n = 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "apdus=", 6))
			n = strtoul(line + 6, NULL, 10);
	fclose(f);
	return n;
}

int drill_room_insert(drill_room *r, size_t i, const char *serial, const char *profile,
		      int blank, hv_err *err)
{
	if (i >= DRILL_ROOM_READERS || r->sims[i])
		return hv_fail(err, HV_EINTERNAL, "reader %zu is not free", i);
	char port[16], state[600], log[600];
	snprintf(port, sizeof(port), "%d", r->base_port + (int)i);
	snprintf(state, sizeof(state), "%s/card-%s.state", r->work, serial);
	snprintf(log, sizeof(log), "%s/sim-%s.log", r->work, serial);
	int seq = r->stats_seq++;
	char stats[sizeof(r->stats[i])];
	snprintf(stats, sizeof(stats), "%s/stats-%d", r->work, seq);
	memcpy(r->stats[i], stats, sizeof(stats));
	char *argv[13] = { r->sim, "--port", port, "--state", state, "--serial", (char *)serial,
			   "--stats", r->stats[i] };
	size_t n = 9;
	if (profile) {
		argv[n++] = "--profile";
		argv[n++] = (char *)profile;
	}
	if (blank)
		argv[n++] = "--blank";
	argv[n] = NULL;
	r->sims[i] = spawn(argv, log);
	return wait_reader(r, i, 1, 10000, err);
}

int drill_room_pull(drill_room *r, size_t i, hv_err *err)
{
	if (i >= DRILL_ROOM_READERS)
		return hv_fail(err, HV_EINTERNAL, "no reader %zu", i);
	stop_pid(&r->sims[i]);
	r->apdus_done += read_apdus(r->stats[i]);
	r->stats[i][0] = '\0';
	return wait_reader(r, i, 0, 10000, err);
}

const char *drill_room_reader(const drill_room *r, size_t i)
{
	return r->readers[i];
}

unsigned long drill_room_apdus(drill_room *r)
{
	unsigned long n = r->apdus_done;
	for (size_t i = 0; i < DRILL_ROOM_READERS; i++)
		if (r->sims[i] && r->stats[i][0])
			n += read_apdus(r->stats[i]);
	return n;
}

void drill_room_stop(drill_room *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < DRILL_ROOM_READERS; i++)
		stop_pid(&r->sims[i]);
	stop_pid(&r->pcscd);
	free(r);
}
