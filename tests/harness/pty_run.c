/* hv-pty: runs a command on a terminal of its own and plays a scripted
 * operator at it, for the tests of terminal questions.
 *
 *   hv-pty [-t SECONDS] STEP... -- COMMAND ARGS...
 *
 * Steps, in order:
 *   -e TEXT   wait until the output (since the last match) contains TEXT
 *   -s TEXT   type TEXT; escapes \n \r \t \\ \NNN (octal, \003 = Ctrl-C)
 *             and \xHH
 *   -k SIG    send signal SIG (number, or INT, TERM, HUP, KILL, QUIT, USR1,
 *             USR2) to the command
 *
 * The command is the session leader of a new pty (its controlling
 * terminal, stdin, stdout and stderr); other descriptors are inherited as
 * they are (3<<<"secret" reaches it). Everything it prints is copied to
 * stdout as it arrives. -t limits the whole run (default 120 s).
 *
 * Exit status: the command's; 128+N when it was killed by signal N; 124 on
 * timeout; 125 when the command ended before every step was done (or the
 * pty could not be made); the reason is printed on stderr.
 *
 * Where /dev/ptmx or /dev/pts cannot be used (seen in CI containers) and
 * hv-pty runs as root, it makes a private mount namespace with a devpts
 * instance of its own and tries again. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define EXIT_TIMEOUT 124
#define EXIT_STEPS 125

enum step_kind { STEP_EXPECT, STEP_SEND, STEP_KILL };

struct step {
	enum step_kind kind;
	const char *arg;     /* as given, for messages */
	char *text;          /* EXPECT: literal; SEND: escapes decoded */
	size_t len;
	int sig;
};

static pid_t child = -1;
/* File-level so that every exit path, early ones included, leaves them
 * reachable (LeakSanitizer builds run this too). */
static struct step *volatile steps;

static void usage(void)
{
	fprintf(stderr, "usage: hv-pty [-t SECONDS] [-e TEXT | -s TEXT | -k SIG]... -- "
			"COMMAND [ARGS...]\n");
	exit(EXIT_STEPS);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("hv-pty: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (child > 0) {
		kill(-child, SIGKILL);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	exit(EXIT_STEPS);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the -s escapes; an unknown or broken escape is a usage error
 * (a test typing the wrong bytes would fail for the wrong reason). */
static char *unescape(const char *in, size_t *len)
{
	char *out = malloc(strlen(in) + 1);
	if (!out)
		die("out of memory");
	size_t n = 0;
	for (const char *p = in; *p; p++) {
		if (*p != '\\') {
			out[n++] = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		case '\\': out[n++] = '\\'; break;
		case 'x': {
			int h = hexval(p[1]), l = h >= 0 ? hexval(p[2]) : -1;
			if (h < 0 || l < 0)
				die("bad escape in -s '%s': \\x needs two hex digits", in);
			out[n++] = (char)(h * 16 + l);
			p += 2;
			break;
		}
		default:
			if (*p >= '0' && *p <= '7') {
				int v = 0, k;
				for (k = 0; k < 3 && p[k] >= '0' && p[k] <= '7'; k++)
					v = v * 8 + (p[k] - '0');
				if (v > 255)
					die("bad escape in -s '%s': octal above \\377", in);
				out[n++] = (char)v;
				p += k - 1;
				break;
			}
			die("bad escape in -s '%s': use \\n \\r \\t \\\\ \\NNN or \\xHH", in);
		}
	}
	*len = n;
	return out;
}

static int parse_signal(const char *s)
{
	static const struct { const char *name; int sig; } names[] = {
		{ "INT", SIGINT }, { "TERM", SIGTERM }, { "HUP", SIGHUP }, { "KILL", SIGKILL },
		{ "QUIT", SIGQUIT }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
	};
	if (!strncmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i].name))
			return names[i].sig;
	char *end;
	long v = strtol(s, &end, 10);
	if (*s && !*end && v > 0 && v < NSIG)
		return (int)v;
	die("-k %s: not a signal (give a number or INT, TERM, HUP, KILL, QUIT, USR1, USR2)", s);
}

/* ---- the pty ---- */

struct pty_try {
	int master, slave;
	char failed[160];    /* "posix_openpt: No such file or directory" */
};

static int try_open_pty(struct pty_try *t)
{
	t->master = t->slave = -1;
	t->failed[0] = '\0';
	const char *what = "posix_openpt";
	t->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (t->master >= 0) {
		what = "grantpt";
		if (grantpt(t->master) == 0) {
			what = "unlockpt";
			if (unlockpt(t->master) == 0) {
				what = "ptsname";
				const char *name = ptsname(t->master);
				if (name) {
					t->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
					if (t->slave >= 0)
						return 0;
					snprintf(t->failed, sizeof(t->failed), "open(%s): %s", name,
						 strerror(errno));
				}
			}
		}
	}
	if (!t->failed[0])
		snprintf(t->failed, sizeof(t->failed), "%s: %s", what, strerror(errno));
	if (t->master >= 0)
		close(t->master);
	t->master = -1;
	return -1;
}

/* A devpts of our own, seen only by this process and the command. */
static int private_devpts(char *failed, size_t cap)
{
	if (unshare(CLONE_NEWNS) != 0) {
		snprintf(failed, cap, "unshare(CLONE_NEWNS): %s", strerror(errno));
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		snprintf(failed, cap, "mount(/, MS_REC|MS_PRIVATE): %s", strerror(errno));
		return -1;
	}
	if (mount("devpts", "/dev/pts", "devpts", 0, "newinstance,ptmxmode=0666,mode=0620") != 0) {
		snprintf(failed, cap, "mount(devpts on /dev/pts, newinstance): %s", strerror(errno));
		return -1;
	}
	if (mount("/dev/pts/ptmx", "/dev/ptmx", NULL, MS_BIND, NULL) != 0) {
		snprintf(failed, cap, "mount(/dev/pts/ptmx bind on /dev/ptmx): %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void open_pty(int *master, int *slave)
{
	struct pty_try t;
	if (try_open_pty(&t) != 0) {
		char first[160], again[160];
		snprintf(first, sizeof(first), "%s", t.failed);
		if (geteuid() != 0)
			die("cannot make a pty: %s (not root: no private devpts to fall back on)",
			    first);
		fprintf(stderr, "hv-pty: %s; trying a private devpts instance\n", first);
		if (private_devpts(again, sizeof(again)) != 0)
			die("cannot make a pty: %s; then %s", first, again);
		if (try_open_pty(&t) != 0)
			die("cannot make a pty: %s; in a private devpts: %s", first, t.failed);
	}
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	ioctl(t.slave, TIOCSWINSZ, &ws);
	*master = t.master;
	*slave = t.slave;
}

/* ---- the command ---- */

static void start_child(int master, int slave, char **argv)
{
	pid_t parent = getpid();
	child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (child > 0)
		return;
	/* The command must not outlive hv-pty when a test runner kills it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(EXIT_STEPS);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	close(master);
	if (setsid() < 0) {
		dprintf(slave, "hv-pty: setsid: %s\n", strerror(errno));
		_exit(EXIT_STEPS);
	}
	if (ioctl(slave, TIOCSCTTY, 0) != 0) {
		dprintf(slave, "hv-pty: ioctl(TIOCSCTTY): %s\n", strerror(errno));
		_exit(EXIT_STEPS);
	}
	for (int fd = 0; fd < 3; fd++)
		if (dup2(slave, fd) < 0)
			_exit(EXIT_STEPS);
	if (slave > 2)
		close(slave);
	execvp(argv[0], argv);
	fprintf(stderr, "hv-pty: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static void on_fatal_signal(int sig)
{
	/* The command is in a session of its own: a kill of our process
	 * group does not reach it. */
	if (child > 0) {
		kill(-child, SIGKILL);
		kill(child, SIGKILL);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void write_all(int fd, const char *p, size_t n, const char *what)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("writing %s: %s", what, strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* Output since the last match, searched by -e. */
struct seen {
	char *buf;
	size_t len, cap;
};

static void seen_add(struct seen *s, const char *p, size_t n)
{
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + n + 1)
			cap *= 2;
		char *b = realloc(s->buf, cap);
		if (!b)
			die("out of memory");
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

enum { PTY_GONE, PTY_QUIET, PTY_DATA };

/* Copies what the master has to the transcript. PTY_GONE when every slave
 * descriptor is closed (EIO) and all output was read. */
static int pump(int master, struct seen *s)
{
	char b[4096];
	ssize_t r = read(master, b, sizeof(b));
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return PTY_QUIET;
	if (r <= 0)
		return PTY_GONE;
	write_all(STDOUT_FILENO, b, (size_t)r, "the transcript");
	seen_add(s, b, (size_t)r);
	return PTY_DATA;
}

/* Runs the steps that need no output; returns when one needs some. */
static void run_ready_steps(struct step *st, size_t nst, size_t *cur, struct seen *s, int master)
{
	while (*cur < nst) {
		struct step *p = &st[*cur];
		if (p->kind == STEP_EXPECT) {
			char *hit = s->len ? memmem(s->buf, s->len, p->text, p->len) : NULL;
			if (!hit)
				return;
			size_t used = (size_t)(hit - s->buf) + p->len;
			memmove(s->buf, s->buf + used, s->len - used);
			s->len -= used;
		} else if (p->kind == STEP_SEND) {
			write_all(master, p->text, p->len, "to the terminal");
		} else {
			if (kill(child, p->sig) != 0)
				die("-k %s: kill: %s", p->arg, strerror(errno));
		}
		(*cur)++;
	}
}

static const char *step_text(const struct step *p, char *buf, size_t cap)
{
	switch (p->kind) {
	case STEP_EXPECT: snprintf(buf, cap, "waiting for '%s'", p->arg); break;
	case STEP_SEND: snprintf(buf, cap, "to type '%s'", p->arg); break;
	default: snprintf(buf, cap, "to send signal %s", p->arg); break;
	}
	return buf;
}

int main(int argc, char **argv)
{
	double limit = 120;
	struct step *st = steps = calloc((size_t)argc, sizeof(*st));
	size_t nst = 0;
	int a = 1;
	if (!st)
		die("out of memory");
	for (; a < argc; a++) {
		const char *o = argv[a];
		if (!strcmp(o, "--")) {
			a++;
			break;
		}
		if (a + 1 >= argc || o[0] != '-' || !o[1] || o[2])
			usage();
		const char *v = argv[++a];
		switch (o[1]) {
		case 't': {
			char *end;
			limit = strtod(v, &end);
			if (*end || !(limit > 0))
				die("-t %s: give the time limit in seconds", v);
			break;
		}
		case 'e':
			if (!*v)
				die("-e needs a text to wait for");
			st[nst++] = (struct step){ STEP_EXPECT, v, (char *)v, strlen(v), 0 };
			break;
		case 's': {
			size_t n;
			char *t = unescape(v, &n);
			st[nst++] = (struct step){ STEP_SEND, v, t, n, 0 };
			break;
		}
		case 'k':
			st[nst++] = (struct step){ STEP_KILL, v, NULL, 0, parse_signal(v) };
			break;
		default:
			usage();
		}
	}
	if (a >= argc)
		usage();

	int master, slave;
	open_pty(&master, &slave);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	start_child(master, slave, argv + a);
	close(slave);
	fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);

	double deadline = now() + limit;
	static struct seen s;
	size_t cur = 0;
	int open_pty_side = 1, status = 0, exited = 0;
	for (;;) {
		run_ready_steps(st, nst, &cur, &s, master);
		if (!exited) {
			pid_t w = waitpid(child, &status, WNOHANG);
			if (w == child)
				exited = 1;
			else if (w < 0 && errno != EINTR)
				die("waitpid: %s", strerror(errno));
		}
		if (exited) {
			/* Take what is left in the pty, then judge. Something
			 * the command started may still hold the terminal: stop
			 * after a quiet 100 ms then. */
			while (open_pty_side) {
				int p = pump(master, &s);
				if (p == PTY_GONE)
					break;
				if (p == PTY_QUIET) {
					struct pollfd q = { .fd = master, .events = POLLIN };
					if (poll(&q, 1, 100) <= 0)
						break;
				}
			}
			run_ready_steps(st, nst, &cur, &s, master);
			break;
		}
		double left = deadline - now();
		if (left <= 0) {
			char b[300];
			fprintf(stderr, "\nhv-pty: timed out after %g s %s\n", limit,
				cur < nst ? step_text(&st[cur], b, sizeof(b))
					  : "waiting for the command to end");
			kill(-child, SIGKILL);
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
			free(s.buf);
			return EXIT_TIMEOUT;
		}
		/* Poll briefly even with the pty open: the command may end
		 * while something it started keeps the terminal. */
		struct pollfd pfd = { .fd = master, .events = POLLIN };
		int ms = left > 0.05 ? 50 : (int)(left * 1000) + 1;
		int pr = poll(&pfd, open_pty_side ? 1 : 0, ms);
		if (pr < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (pr > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
			if (pump(master, &s) == PTY_GONE)
				open_pty_side = 0;
		}
	}
	close(master);
	free(s.buf);
	for (size_t i = 0; i < nst; i++)
		if (st[i].kind == STEP_SEND)
			free(st[i].text);
	int rc = WIFEXITED(status) ? WEXITSTATUS(status)
		 : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : EXIT_STEPS;
	if (cur < nst) {
		char b[300];
		fprintf(stderr, "\nhv-pty: the command ended (exit status %d) before the step %s\n",
			rc, step_text(&st[cur], b, sizeof(b)));
		rc = EXIT_STEPS;
	}
	free(st);
	steps = NULL;
	return rc;
}
