#include "flows/secrets.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/prompt.h"

enum source_kind { SRC_TERMINAL, SRC_FD, SRC_MEMORY };

#define SECRETS_MAX 64
#define SECRET_NAME_MAX 96
#define SECRET_VALUE_MAX 256
/* A whole batch input: 64 lines of at most ~350 bytes. */
#define SECRETS_INPUT_MAX (SECRETS_MAX * (SECRET_NAME_MAX + SECRET_VALUE_MAX + 2))

struct secret_entry {
	char name[SECRET_NAME_MAX + 1];
	secbuf *value;
	int used;
	unsigned line;
};

struct flow_secrets {
	enum source_kind kind;
	int reveal_fd;
	struct secret_entry e[SECRETS_MAX];
	size_t n;
};

static int name_char_ok(int c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_';
}

/* Holder names are compared ignoring ASCII case (policy.h), so names are
 * kept lowercase; spaces in them become '_'. */
static int normalize_name(const char *in, size_t len, char out[SECRET_NAME_MAX + 1])
{
	if (len == 0 || len > SECRET_NAME_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		/* "Erin Smith" may hold a share (policy.h); a batch line's name
		 * ends at its first space, so a space is written '_'. */
		int c = in[i] == ' ' ? '_' : (unsigned char)in[i];
		if (!name_char_ok(c))
			return -1;
		out[i] = (char)tolower(c);
	}
	out[len] = '\0';
	return 0;
}

static struct secret_entry *find(const flow_secrets *s, const char *name)
{
	char key[SECRET_NAME_MAX + 1];
	if (normalize_name(name, strlen(name), key) != 0)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->e[i].name, key))
			return (struct secret_entry *)&s->e[i];
	return NULL;
}

static int new_source(enum source_kind kind, flow_secrets **out, hv_err *err)
{
	flow_secrets *s = calloc(1, sizeof(*s));
	if (!s)
		return hv_fail(err, HV_ENOMEM, "out of memory");
	s->kind = kind;
	s->reveal_fd = -1;
	*out = s;
	return HV_OK;
}

int flow_secrets_terminal(flow_secrets **out, hv_err *err)
{
	return new_source(SRC_TERMINAL, out, err);
}

int flow_secrets_memory(flow_secrets **out, hv_err *err)
{
	return new_source(SRC_MEMORY, out, err);
}

/* What a value must look like, by the kind of secret its name says it is;
 * checked when a batch line is read, so a malformed PIN never reaches a
 * card (a PIN try) and a malformed password never reaches a KDF. */
enum secret_kind { KIND_OTHER, KIND_PIN, KIND_SO_PIN, KIND_PASSWORD, KIND_PART };

/* How many of the first len bytes of p are in set (p need not end in NUL). */
static size_t span(const void *p, size_t len, const char *set)
{
	const unsigned char *c = p;
	size_t i = 0;
	while (i < len && c[i] && strchr(set, c[i]))
		i++;
	return i;
}

static int all_digits(const char *p, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)p[i]))
			return 0;
	return 1;
}

/* key: a normalized name (lowercase). */
static enum secret_kind kind_of(const char *key)
{
	if (!strcmp(key, "pin"))
		return KIND_PIN;
	if (!strcmp(key, "so-pin") || !strcmp(key, "current-so-pin"))
		return KIND_SO_PIN;
	const char *n = NULL;
	if (!strncmp(key, "new-share-", 10))
		n = key + 10;
	else if (!strncmp(key, "share-", 6))
		n = key + 6;
	if (!n)
		return KIND_OTHER;
	size_t digits = strspn(n, "0123456789");
	if (digits == 0)
		return KIND_OTHER;
	if (n[digits] == '\0')
		return KIND_PASSWORD;
	return n == key + 6 && n[digits] == '-' && n[digits + 1] ? KIND_PART : KIND_OTHER;
}

/* "PRIME ID VALUE": hex (optionally with ':'), decimal, hex; one space
 * between the fields. */
static int part_ok(const unsigned char *v, size_t len)
{
	size_t field = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && v[i] != ' ')
			continue;
		const char *f = (const char *)v + start;
		size_t flen = i - start;
		if (flen == 0 || field > 2)
			return 0;
		if (field == 1 ? !all_digits(f, flen)
			       : span(f, flen, "0123456789abcdefABCDEF:") < flen)
			return 0;
		field++;
		start = i + 1;
	}
	return field == 3;
}

int flow_secret_check(const char *name, const void *value, size_t len, hv_err *err)
{
	char key[SECRET_NAME_MAX + 1];
	if (normalize_name(name, strlen(name), key) != 0)
		return hv_fail(err, HV_EUSAGE, "secret name '%.40s' is not valid", name);
	const unsigned char *v = value;
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '\0')
			return hv_fail(err, HV_EUSAGE, "secret %s holds a NUL byte: give the value "
				       "as text", key);
		if (v[i] == '\r')
			return hv_fail(err, HV_EUSAGE, "secret %s holds a carriage return (CR): "
				       "write the value on one line", key);
		if (v[i] < 0x20 || v[i] == 0x7f)
			return hv_fail(err, HV_EUSAGE, "secret %s holds a control character "
				       "(byte %zu): give printable text", key, i + 1);
	}
	if (len && (v[0] == ' ' || v[len - 1] == ' '))
		return hv_fail(err, HV_EUSAGE, "secret %s starts or ends with a space: remove "
			       "it (spaces at the edges are never part of a secret)", key);
	switch (kind_of(key)) {
	case KIND_PIN:
		if (len < SECRET_PIN_MIN || len > SECRET_PIN_MAX)
			return hv_fail(err, HV_EUSAGE, "secret pin must be %d to %d characters "
				       "long, %zu were given", SECRET_PIN_MIN, SECRET_PIN_MAX, len);
		for (size_t i = 0; i < len; i++)
			if (v[i] > 0x7e)
				return hv_fail(err, HV_EUSAGE, "secret pin holds a character that is "
					       "not printable ASCII (byte %zu)", i + 1);
		return HV_OK;
	case KIND_SO_PIN:
		if (len != SECRET_SO_PIN_LEN ||
		    span(v, len, "0123456789abcdefABCDEF") < len)
			return hv_fail(err, HV_EUSAGE, "secret %s must be exactly %d hex digits "
				       "(0-9, a-f)", key, SECRET_SO_PIN_LEN);
		return HV_OK;
	case KIND_PART:
		if (!part_ok(v, len))
			return hv_fail(err, HV_EUSAGE, "secret %s must be 'PRIME ID VALUE' with "
				       "one space between the fields (prime and value in hex, ID "
				       "decimal), as sc-hsm-tool prints them", key);
		return HV_OK;
	case KIND_PASSWORD:
	case KIND_OTHER:
		return HV_OK;
	}
	return HV_OK;
}

static int put(flow_secrets *s, const char *name, size_t name_len, const void *value,
	       size_t len, unsigned line, int replace, hv_err *err)
{
	char key[SECRET_NAME_MAX + 1];
	if (normalize_name(name, name_len, key) != 0)
		return hv_fail(err, HV_EUSAGE,
			       "secret name '%.*s'%s is not valid: use names such as share-1, "
			       "share-2-bob, pin, so-pin", (int)(name_len > 40 ? 40 : name_len),
			       name, line ? " on a --secrets-fd line" : "");
	if (len == 0)
		return hv_fail(err, HV_EUSAGE, "secret %s is empty: give a value after the name",
			       key);
	if (len > SECRET_VALUE_MAX)
		return hv_fail(err, HV_EUSAGE, "secret %s is longer than %d bytes", key,
			       SECRET_VALUE_MAX);
	/* Batch lines come from people's scripts and files: checked here,
	 * before any flow asks. Memory tables hold what flows made. */
	int rc = s->kind == SRC_FD ? flow_secret_check(key, value, len, err) : HV_OK;
	if (rc != HV_OK)
		return rc;
	struct secret_entry *e = find(s, key);
	if (e && !replace)
		return hv_fail(err, HV_EUSAGE,
			       "secret %s is given twice on --secrets-fd (lines %u and %u): "
			       "keep one", key, e->line, line);
	if (!e) {
		if (s->n == SECRETS_MAX)
			return hv_fail(err, HV_EUSAGE, "more than %d secrets given", SECRETS_MAX);
		e = &s->e[s->n++];
		memcpy(e->name, key, sizeof(key));
	}
	secbuf *v = secbuf_dup(value, len);
	if (!v)
		return hv_fail(err, HV_ENOMEM, "out of memory for a secret");
	secbuf_free(e->value);
	e->value = v;
	e->used = 0;
	e->line = line;
	return HV_OK;
}

int flow_secrets_put(flow_secrets *s, const char *name, const void *value, size_t len,
		     hv_err *err)
{
	return put(s, name, strlen(name), value, len, 0, 1, err);
}

/* Splits the whole input into "NAME VALUE" lines; the input buffer is a
 * secbuf and is wiped by the caller. */
static int parse_lines(flow_secrets *s, const secbuf *in, hv_err *err)
{
	size_t pos = 0;
	unsigned line = 0;
	while (pos < in->len) {
		line++;
		const char *start = (const char *)in->data + pos;
		const char *nl = memchr(start, '\n', in->len - pos);
		size_t len = nl ? (size_t)(nl - start) : in->len - pos;
		pos += len + (nl ? 1 : 0);
		if (len && start[len - 1] == '\r')
			len--;
		if (len == 0)
			continue; /* blank lines separate groups in a script */
		const char *sp = memchr(start, ' ', len);
		if (!sp)
			return hv_fail(err, HV_EUSAGE,
				       "line %u of --secrets-fd has no value: write 'NAME VALUE' "
				       "(for example 'pin 123456')", line);
		int rc = put(s, start, (size_t)(sp - start), sp + 1, len - (size_t)(sp - start) - 1,
			     line, 0, err);
		if (rc != HV_OK)
			return rc;
	}
	return HV_OK;
}

int flow_secrets_from_fd(int fd, int reveal_fd, flow_secrets **out, hv_err *err)
{
	flow_secrets *s = NULL;
	int rc = new_source(SRC_FD, &s, err);
	if (rc != HV_OK)
		return rc;
	s->reveal_fd = reveal_fd;
	secbuf *in = secbuf_new(SECRETS_INPUT_MAX + 1);
	if (!in) {
		free(s);
		return hv_fail(err, HV_ENOMEM, "out of memory for secrets");
	}
	for (;;) {
		if (in->len > SECRETS_INPUT_MAX) {
			rc = hv_fail(err, HV_EUSAGE, "--secrets-fd gives more than %d bytes",
				     SECRETS_INPUT_MAX);
			break;
		}
		ssize_t r = read(fd, in->data + in->len, in->cap - in->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EBADF || errno == EISDIR)) {
			rc = hv_fail(err, HV_EUSAGE, "--secrets-fd %d %s: give a file or a pipe "
				     "with 'NAME VALUE' lines", fd,
				     errno == EBADF ? "is not open for reading" : "is a directory");
			break;
		}
		if (r < 0) {
			rc = hv_fail(err, HV_EIO, "reading --secrets-fd %d: %s", fd, strerror(errno));
			break;
		}
		if (r == 0) {
			rc = parse_lines(s, in, err);
			break;
		}
		in->len += (size_t)r;
	}
	secbuf_free(in);
	if (rc != HV_OK) {
		flow_secrets_free(s);
		return rc;
	}
	*out = s;
	return HV_OK;
}

void flow_secrets_free(flow_secrets *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		secbuf_free(s->e[i].value);
	free(s);
}

int flow_secrets_interactive(const flow_secrets *s)
{
	return s && s->kind == SRC_TERMINAL;
}

static int from_table(flow_secrets *s, const char *name, size_t min, size_t max,
		      secbuf **out, hv_err *err)
{
	struct secret_entry *e = find(s, name);
	if (!e)
		return hv_fail(err, HV_EUSAGE,
			       "secret %s is missing%s: add a line '%s VALUE'", name,
			       s->kind == SRC_FD ? " from --secrets-fd" : "", name);
	e->used = 1;
	if (e->value->len < min || e->value->len > max)
		return hv_fail(err, HV_EUSAGE, "secret %s must be %zu to %zu characters long",
			       name, min, max);
	*out = secbuf_dup(e->value->data, e->value->len);
	return *out ? HV_OK : hv_fail(err, HV_ENOMEM, "out of memory for a secret");
}

int flow_secret_get(flow_secrets *s, const char *name, const char *prompt, size_t min,
		    size_t max, secbuf **out, hv_err *err)
{
	if (s->kind != SRC_TERMINAL)
		return from_table(s, name, min, max, out, err);
	for (;;) {
		int rc = prompt_secret(prompt, max, out, err);
		if (rc != HV_OK)
			return rc;
		hv_err why;
		hv_err_clear(&why);
		if ((*out)->len >= min &&
		    ((*out)->len == 0 ||
		     flow_secret_check(name, (*out)->data, (*out)->len, &why) == HV_OK))
			return HV_OK;
		secbuf_free(*out);
		*out = NULL;
		if (why.msg[0])
			fprintf(stderr, "%s; try again\n", why.msg);
		else
			fprintf(stderr, "too short: at least %zu characters\n", min);
	}
}

int flow_secret_has(const flow_secrets *s, const char *name)
{
	return s->kind != SRC_TERMINAL && find(s, name) != NULL;
}

int flow_secret_new(flow_secrets *s, const char *name, const char *prompt, size_t min,
		    size_t max, secbuf **out, hv_err *err)
{
	if (s->kind != SRC_TERMINAL)
		return from_table(s, name, min, max, out, err);
	for (;;) {
		int rc = prompt_new_secret(prompt, min, max, out, err);
		if (rc != HV_OK)
			return rc;
		hv_err why;
		hv_err_clear(&why);
		if (flow_secret_check(name, (*out)->data, (*out)->len, &why) == HV_OK)
			return HV_OK;
		secbuf_free(*out);
		*out = NULL;
		fprintf(stderr, "%s; try again\n", why.msg);
	}
}

static int write_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	while (len) {
		ssize_t r = write(fd, c, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		len -= (size_t)r;
	}
	return 0;
}

int flow_secret_show(flow_secrets *s, const char *name, const char *holder, const char *text,
		     hv_err *err)
{
	if (s->kind == SRC_MEMORY)
		return put(s, name, strlen(name), text, strlen(text), 0, 1, err);
	if (s->kind == SRC_FD) {
		if (s->reveal_fd < 0)
			return hv_fail(err, HV_EUSAGE,
				       "%s's part (%s) must be shown to them: in batch mode give "
				       "--reveal-fd N to receive the parts", holder, name);
		char key[SECRET_NAME_MAX + 1];
		if (normalize_name(name, strlen(name), key) != 0)
			return hv_fail(err, HV_EINTERNAL, "bad secret name %s", name);
		if (write_all(s->reveal_fd, key, strlen(key)) || write_all(s->reveal_fd, " ", 1) ||
		    write_all(s->reveal_fd, text, strlen(text)) || write_all(s->reveal_fd, "\n", 1))
			return hv_fail(err, HV_EIO, "writing to --reveal-fd %d: %s", s->reveal_fd,
				       strerror(errno));
		return HV_OK;
	}
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return hv_fail(err, HV_EUSAGE,
			       "no terminal to show %s's part on: run at a terminal, or use "
			       "--secrets-fd with --reveal-fd", holder);
	/* Each holder sees only their own part: clear before and after. */
	char head[256];
	snprintf(head, sizeof(head),
		 "\033[H\033[2JOnly %s may look at the screen now.\n\n%s, your part is:\n\n    ",
		 holder, holder);
	int bad = write_all(fd, head, strlen(head)) || write_all(fd, text, strlen(text));
	const char *tail = "\n\nWrite it down, then press Enter to clear the screen.";
	bad = bad || write_all(fd, tail, strlen(tail));
	char c = 0;
	while (!bad) {
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR) {
			write_all(fd, "\033[H\033[2J", 7);
			close(fd);
			return hv_fail(err, HV_ECANCEL, "interrupted while showing %s's part", holder);
		}
		if (r <= 0 || c == '\n')
			break;
	}
	bad = bad || write_all(fd, "\033[H\033[2J", 7);
	close(fd);
	if (bad)
		return hv_fail(err, HV_EIO, "could not write to the terminal");
	return HV_OK;
}

int flow_secrets_check_unused(const flow_secrets *s, hv_err *err)
{
	if (!s || s->kind != SRC_FD)
		return HV_OK;
	for (size_t i = 0; i < s->n; i++)
		if (!s->e[i].used)
			return hv_fail(err, HV_EUSAGE,
				       "secret %s (line %u of --secrets-fd) is not one this command "
				       "uses: check its name (see --help)",
				       s->e[i].name, s->e[i].line);
	return HV_OK;
}
