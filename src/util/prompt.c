#include "util/prompt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static int open_tty(hv_err *err)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		hv_fail(err, HV_EUSAGE,
			"no terminal to ask for a secret: run interactively, or pass the "
			"secret on a file descriptor (see --help for the *-fd options)");
	return fd;
}

static void tty_puts(int fd, const char *s)
{
	ssize_t r = write(fd, s, strlen(s));
	(void)r;
}

/* Reads a line into a secbuf one byte at a time; the caller handles echo.
 * live: the signal mask to wait under when the caller blocked SIGINT and
 * SIGTERM (terminal prompts): a Ctrl-C that came while the prompt was
 * being shown is then pending, and ppoll delivers it atomically with the
 * wait instead of the read blocking after the handler already ran. */
static int read_line(int fd, size_t max, secbuf **out, const char *what,
		     const sigset_t *live, hv_err *err)
{
	secbuf *b = secbuf_new(max + 1);
	if (!b)
		return hv_fail(err, HV_ENOMEM, "out of memory for a secret");
	int got_any = 0;
	for (;;) {
		unsigned char c;
		ssize_t r;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (live && ppoll(&pfd, 1, NULL, live) < 0)
			r = -1;
		else
			r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR) {
			secbuf_free(b);
			return hv_fail(err, HV_ECANCEL, "interrupted while reading %s", what);
		}
		if (r <= 0) {
			if (!got_any) {
				secbuf_free(b);
				return hv_fail(err, HV_EUSAGE,
					       "%s ended before a secret was read: give one secret per line",
					       what);
			}
			break;
		}
		got_any = 1;
		if (c == '\n')
			break;
		/* One byte of slack for the '\r' of a CRLF line ending: a secret
		 * of exactly max bytes from a Windows-edited file is fine. */
		if (b->len > max || (b->len == max && c != '\r')) {
			secbuf_free(b);
			return hv_fail(err, HV_EUSAGE, "secret from %s is longer than %zu bytes",
				       what, max);
		}
		b->data[b->len++] = c;
	}
	if (b->len && b->data[b->len - 1] == '\r')
		b->len--;
	if (b->len > max) {
		secbuf_free(b);
		return hv_fail(err, HV_EUSAGE, "secret from %s is longer than %zu bytes", what, max);
	}
	*out = b;
	return HV_OK;
}

/* A descriptor that cannot give lines says so, instead of looking like
 * one that ended before its first line. */
static int fd_readable(int fd, const char *what, hv_err *err)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return hv_fail(err, HV_EUSAGE, "%s is not open: open it in the shell "
			       "(for example '%d<passphrase.txt')", what, fd);
	if (S_ISDIR(st.st_mode))
		return hv_fail(err, HV_EUSAGE, "%s is a directory: give a file or a pipe that "
			       "holds one secret per line", what);
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_ACCMODE) == O_WRONLY)
		return hv_fail(err, HV_EUSAGE, "%s is open for writing only: open it for "
			       "reading (for example '%d<passphrase.txt')", what, fd);
	return HV_OK;
}

int secret_from_fd(int fd, size_t max, secbuf **out, hv_err *err)
{
	char what[48];
	snprintf(what, sizeof(what), "file descriptor %d", fd);
	int rc = fd_readable(fd, what, err);
	if (rc != HV_OK)
		return rc;
	if ((rc = read_line(fd, max, out, what, NULL, err)) != HV_OK)
		return rc;
	/* no terminal can type a NUL: it is a wrong file, not a passphrase
	 * worth a slow KDF try */
	if (memchr((*out)->data, 0, (*out)->len)) {
		secbuf_free(*out);
		*out = NULL;
		return hv_fail(err, HV_EUSAGE, "the secret on %s holds a NUL byte: give it as "
			       "text, one secret per line", what);
	}
	return HV_OK;
}

int new_secret_from_fd(int fd, const char *what, size_t min_len, size_t max, secbuf **out,
		       hv_err *err)
{
	secbuf *a = NULL, *b = NULL;
	int rc = secret_from_fd(fd, max, &a, err);
	if (rc != HV_OK)
		return rc;
	if (a->len < min_len) {
		secbuf_free(a);
		return hv_fail(err, HV_EUSAGE, "the new %s on file descriptor %d is too short: "
			       "at least %zu characters, as at the terminal", what, fd, min_len);
	}
	hv_err none;
	hv_err_clear(&none);
	int same;
	if (read_line(fd, max, &b, "", NULL, &none) != HV_OK) {
		/* EOF: no second line, the descriptor gave the secret once.
		 * Anything else (a line longer than max) cannot repeat it. */
		if (none.code == HV_EUSAGE && strstr(none.msg, "ended before")) {
			*out = a;
			return HV_OK;
		}
		same = 0;
	} else {
		same = a->len == b->len && secure_memcmp(a->data, b->data, a->len) == 0;
		secbuf_free(b);
	}
	if (!same) {
		secbuf_free(a);
		return hv_fail(err, HV_EUSAGE, "the new %s and its confirmation line on file "
			       "descriptor %d differ: nothing was changed", what, fd);
	}
	*out = a;
	return HV_OK;
}

int prompt_secret(const char *prompt, size_t max, secbuf **out, hv_err *err)
{
	int fd = open_tty(err);
	if (fd < 0)
		return err ? err->code : HV_EUSAGE;
	sigset_t stop, live;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, &live);
	struct termios old, quiet;
	int have_termios = tcgetattr(fd, &old) == 0;
	if (have_termios) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	tty_puts(fd, prompt);
	int rc = read_line(fd, max, out, "the terminal", &live, err);
	if (have_termios)
		tcsetattr(fd, TCSAFLUSH, &old);
	tty_puts(fd, "\n");
	close(fd);
	pthread_sigmask(SIG_SETMASK, &live, NULL);
	return rc;
}

int prompt_new_secret(const char *what, size_t min_len, size_t max,
		      secbuf **out, hv_err *err)
{
	char p1[256], p2[256];
	snprintf(p1, sizeof(p1), "New %s: ", what);
	snprintf(p2, sizeof(p2), "Repeat %s: ", what);
	for (;;) {
		secbuf *a = NULL, *b = NULL;
		int rc = prompt_secret(p1, max, &a, err);
		if (rc)
			return rc;
		if (a->len < min_len) {
			fprintf(stderr, "Too short: %s needs at least %zu characters. Try again.\n",
				what, min_len);
			secbuf_free(a);
			continue;
		}
		rc = prompt_secret(p2, max, &b, err);
		if (rc) {
			secbuf_free(a);
			return rc;
		}
		if (a->len == b->len && secure_memcmp(a->data, b->data, a->len) == 0) {
			secbuf_free(b);
			*out = a;
			return HV_OK;
		}
		secbuf_free(a);
		secbuf_free(b);
		fprintf(stderr, "The two entries differ. Try again.\n");
	}
}

int prompt_confirm(const char *question, const char *expect, hv_err *err)
{
	int fd = open_tty(err);
	if (fd < 0)
		return err ? err->code : HV_EUSAGE;
	tty_puts(fd, question);
	char line[512];
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r <= 0 || c == '\n')
			break;
		if (n + 1 < sizeof(line))
			line[n++] = c;
	}
	line[n] = '\0';
	close(fd);
	if (strcmp(line, expect) != 0)
		return hv_fail(err, HV_ECANCEL, "not confirmed (expected \"%s\"); nothing was changed",
			       expect);
	return HV_OK;
}
