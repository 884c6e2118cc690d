/* cli/flow_args.c: the options every flow command shares. Descriptors
 * are strict (a typo must not read nothing), --secrets-fd means batch,
 * --json silences progress, and unused batch secrets fail the command. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/flow_args.h"

static const struct option opts[] = {
	FLOW_ARGS_OPTIONS,
	{ "policy", required_argument, 0, 'p' },
	{ 0, 0, 0, 0 },
};

struct own_seen {
	const char *policy;
	int calls;
};

static int own(int opt, const char *arg, void *ctx, hv_err *err)
{
	struct own_seen *o = ctx;
	o->calls++;
	if (opt != 'p')
		return hv_fail(err, HV_EINTERNAL, "unexpected option %d", opt);
	o->policy = arg;
	return HV_OK;
}

/* Parses a NULL-terminated argument list (argv[0] = "test"). */
static int parse(flow_args *fa, struct own_seen *o, int need_vault, hv_err *err, ...)
{
	static char *argv[32];
	va_list ap;
	int argc = 0;
	argv[argc++] = "test";
	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *)) != NULL;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	hv_err_clear(err);
	return flow_args_parse(argc, argv, "test", opts, own, o, need_vault, fa, err);
}

static int pipe_with(const char *text)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
	close(p[1]);
	return p[0];
}

static void terminal_defaults(void **state)
{
	(void)state;
	flow_args fa;
	struct own_seen o = { 0 };
	hv_err err;
	assert_int_equal(parse(&fa, &o, 1, &err, "--vault", "v", "--policy", "p.yaml", NULL),
			 HV_OK);
	assert_string_equal(fa.vault, "v");
	assert_string_equal(o.policy, "p.yaml");
	assert_int_equal(o.calls, 1);
	assert_int_equal(fa.passphrase_fd, -1);
	assert_int_equal(fa.secrets_fd, -1);
	assert_int_equal(fa.reveal_fd, -1);
	assert_int_equal(fa.fc.batch, 0);
	assert_ptr_equal(fa.fc.out, stdout);
	assert_null(fa.fc.reader);
	assert_int_equal(fa.fc.n_confirmed, 0);
	assert_non_null(fa.fc.secrets);
	assert_int_equal(flow_secrets_interactive(fa.fc.secrets), 1);
	assert_int_equal(flow_args_finish(&fa, HV_OK, &err), HV_OK);
	assert_null(fa.fc.secrets);
}

static void secrets_fd_means_batch(void **state)
{
	(void)state;
	int fd = pipe_with("pin 648219\nso-pin 3537363231383830\n");
	char num[16];
	snprintf(num, sizeof(num), "%d", fd);
	flow_args fa;
	hv_err err;
	assert_int_equal(parse(&fa, NULL, 1, &err, "--vault", "v", "--secrets-fd", num,
			       "--json", "--wipe", "ABC01", "--wipe", "DEF02-0011223344556677",
			       "--reader", "HV Sim 0 00 00", NULL), HV_OK);
	assert_int_equal(fa.secrets_fd, fd);
	assert_int_equal(fa.fc.batch, 1);
	assert_null(fa.fc.out);
	assert_int_equal(fa.json, 1);
	assert_string_equal(fa.fc.reader, "HV Sim 0 00 00");
	assert_int_equal(fa.fc.n_confirmed, 2);
	assert_string_equal(fa.fc.confirmed[0], "ABC01");
	assert_string_equal(fa.fc.confirmed[1], "DEF02-0011223344556677");
	assert_int_equal(flow_secrets_interactive(fa.fc.secrets), 0);
	secbuf *pin = NULL;
	assert_int_equal(flow_secret_get(fa.fc.secrets, "pin", "PIN: ", 6, 16, &pin, &err),
			 HV_OK);
	assert_int_equal(pin->len, 6);
	assert_memory_equal(pin->data, "648219", 6);
	secbuf_free(pin);
	/* so-pin was never asked for: the command must fail on it... */
	assert_int_equal(flow_args_finish(&fa, HV_OK, &err), HV_EUSAGE);
	assert_non_null(strstr(err.msg, "so-pin"));
	close(fd);

	/* ...but an earlier failure keeps its own code. */
	fd = pipe_with("pin 648219\n");
	snprintf(num, sizeof(num), "%d", fd);
	assert_int_equal(parse(&fa, NULL, 1, &err, "--vault", "v", "--secrets-fd", num, NULL),
			 HV_OK);
	hv_fail(&err, HV_ECARD, "card gone");
	assert_int_equal(flow_args_finish(&fa, HV_ECARD, &err), HV_ECARD);
	assert_string_equal(err.msg, "card gone");
	close(fd);
}

static void batch_without_fd_never_asks(void **state)
{
	(void)state;
	flow_args fa;
	hv_err err;
	assert_int_equal(parse(&fa, NULL, 0, &err, "--batch", NULL), HV_OK);
	assert_int_equal(fa.fc.batch, 1);
	assert_int_equal(flow_secrets_interactive(fa.fc.secrets), 0);
	secbuf *pin = NULL;
	assert_int_equal(flow_secret_get(fa.fc.secrets, "pin", "PIN: ", 6, 16, &pin, &err),
			 HV_EUSAGE);
	assert_null(pin);
	assert_non_null(strstr(err.msg, "pin"));
	assert_int_equal(flow_args_finish(&fa, HV_OK, &err), HV_OK);
}

static void expect_usage(const char *want, ...)
{
	static char *argv[32];
	va_list ap;
	int argc = 0;
	argv[argc++] = "test";
	va_start(ap, want);
	for (char *a; (a = va_arg(ap, char *)) != NULL;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	flow_args fa;
	hv_err err;
	hv_err_clear(&err);
	int rc = flow_args_parse(argc, argv, "test", opts, NULL, NULL, 1, &fa, &err);
	if (rc != HV_EUSAGE || !strstr(err.msg, want))
		fail_msg("argv[1]=%s: rc %d, message '%s', wanted usage error with '%s'",
			 argv[1], rc, err.msg, want);
	flow_args_finish(&fa, rc, &err);
}

static void bad_descriptors(void **state)
{
	(void)state;
	int closed = open("/dev/null", O_RDONLY);
	assert_true(closed >= 0);
	close(closed);
	char num[16];
	snprintf(num, sizeof(num), "%d", closed);
	expect_usage("is not open", "--vault", "v", "--secrets-fd", num, NULL);
	expect_usage("is not open", "--vault", "v", "--passphrase-fd", num, NULL);
	expect_usage("is not open", "--vault", "v", "--reveal-fd", num, NULL);
	expect_usage("file descriptor number", "--vault", "v", "--secrets-fd", "3x", NULL);
	expect_usage("file descriptor number", "--vault", "v", "--secrets-fd", "-1", NULL);
	expect_usage("file descriptor number", "--vault", "v", "--secrets-fd", "", NULL);
	expect_usage("file descriptor number", "--vault", "v", "--secrets-fd", " 1", NULL);
	expect_usage("file descriptor number", "--vault", "v", "--secrets-fd",
		     "99999999999999999999", NULL);
	expect_usage("file descriptor number", "--vault", "v", "--passphrase-fd", "0x3", NULL);
	/* one descriptor cannot feed two readers */
	expect_usage("give each its own", "--vault", "v", "--secrets-fd", "0",
		     "--passphrase-fd", "0", NULL);
	expect_usage("batch mode", "--vault", "v", "--reveal-fd", "1", NULL);
}

static void bad_command_lines(void **state)
{
	(void)state;
	expect_usage("which vault", "--json", NULL);
	expect_usage("unexpected argument extra", "--vault", "v", "extra", NULL);
	expect_usage("unknown or incomplete option --nope", "--vault", "v", "--nope", NULL);
	expect_usage("--vault needs a value", "--vault", NULL);
	/* a command's own option without an own() handler */
	expect_usage("unknown or incomplete option", "--vault", "v", "--policy", "p", NULL);
	expect_usage("--wipe needs", "--vault", "v", "--wipe", "", NULL);
	expect_usage("--reader needs", "--vault", "v", "--reader", "", NULL);
}

static void put_file(const char *dir, const char *name, const uint8_t *data, size_t len)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* --trust-dir: each folder's roots join the default anchors (repeatable,
 * a root already trusted is kept once) and the flows get them; a missing
 * folder or a file that is no self-signed root is a usage error naming
 * it. */
static void trust_dirs(void **state)
{
	(void)state;
	const char *vec = getenv("HV_DEVAUT_VECTORS");
	assert_non_null(vec); /* set by meson: tests/vectors/devaut */
	char dir[] = "/tmp/hv-trust-test-XXXXXX", other[] = "/tmp/hv-trust-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	assert_non_null(mkdtemp(other));
	/* the test root UTSRCACC100001, read from the vectors */
	char path[600];
	snprintf(path, sizeof(path), "%s/UTSRCACC100001.cvc", vec);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	uint8_t root[1024];
	size_t n = fread(root, 1, sizeof(root), f);
	fclose(f);
	assert_true(n > 100 && n < sizeof(root));
	put_file(dir, "test-root.cvc", root, n);
	put_file(other, "builtin.cvc", devaut_builtin_root, DEVAUT_BUILTIN_ROOT_LEN);

	flow_args fa;
	hv_err err;
	assert_int_equal(parse(&fa, NULL, 1, &err, "--vault", "v", NULL), HV_OK);
	assert_ptr_equal(fa.fc.anchors, &fa.anchors);
	size_t defaults = fa.anchors.n;
	assert_true(defaults >= 1); /* CardContact's root is built in */
	assert_int_equal(flow_args_finish(&fa, HV_OK, &err), HV_OK);
	assert_null(fa.fc.anchors);

	/* repeatable; the built-in root given again is kept once */
	assert_int_equal(parse(&fa, NULL, 1, &err, "--vault", "v", "--trust-dir", dir,
			       "--trust-dir", other, NULL), HV_OK);
	assert_int_equal(fa.n_trust_dirs, 2);
	assert_int_equal(fa.anchors.n, defaults + 1);
	/* the set the flows get still judges a real Nitrokey HSM 2 genuine */
	devaut_result r;
	uint8_t ef[2048];
	snprintf(path, sizeof(path), "%s/nitrokey-DENK0404144.2f02.bin", vec);
	f = fopen(path, "rb");
	assert_non_null(f);
	size_t efn = fread(ef, 1, sizeof(ef), f);
	fclose(f);
	assert_int_equal(devaut_check(fa.fc.anchors, ef, efn, &r, &err), HV_OK);
	assert_int_equal(r.status, DEVAUT_GENUINE);
	assert_string_equal(r.root_chr, "DESRCACC100001");
	assert_int_equal(flow_args_finish(&fa, HV_OK, &err), HV_OK);

	/* a missing folder, and a file that is not a root, name themselves */
	char missing[700];
	snprintf(missing, sizeof(missing), "%s/nope", dir);
	expect_usage("nope", "--vault", "v", "--trust-dir", missing, NULL);
	expect_usage("--trust-dir needs a folder", "--vault", "v", "--trust-dir", "", NULL);
	put_file(dir, "junk.cvc", (const uint8_t *)"not a certificate", 17);
	expect_usage("junk.cvc", "--vault", "v", "--trust-dir", dir, NULL);

	snprintf(path, sizeof(path), "%s/junk.cvc", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/test-root.cvc", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/builtin.cvc", other);
	unlink(path);
	rmdir(dir);
	rmdir(other);
}

static void help_needs_nothing_else(void **state)
{
	(void)state;
	flow_args fa;
	hv_err err;
	assert_int_equal(parse(&fa, NULL, 1, &err, "--help", NULL), HV_OK);
	assert_int_equal(fa.help, 1);
	assert_int_equal(flow_args_finish(&fa, HV_OK, &err), HV_OK);
}

static void json_error_document(void **state)
{
	(void)state;
	flow_args fa;
	memset(&fa, 0, sizeof(fa));
	fa.json = 1;
	hv_err err;
	hv_fail(&err, HV_ECARD, "card \"X\" gone");
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	dup2(fileno(tmp), STDOUT_FILENO);
	flow_args_json_error(&fa, HV_ECARD, &err);
	fa.json = 0;
	flow_args_json_error(&fa, HV_ECARD, &err); /* no document without --json */
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	char buf[512] = { 0 };
	rewind(tmp);
	size_t n = fread(buf, 1, sizeof(buf) - 1, tmp);
	fclose(tmp);
	buf[n] = '\0';
	char *c = buf;
	int docs = 0;
	while ((c = strstr(c, "\"ok\"")) != NULL) {
		docs++;
		c++;
	}
	if (docs != 1 || !strstr(buf, "false") || !strstr(buf, "\"error\"") ||
	    !strstr(buf, "\"code\"") || !strstr(buf, "\"card\"") ||
	    !strstr(buf, "card \\\"X\\\" gone"))
		fail_msg("unexpected JSON: %s", buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(terminal_defaults),
		cmocka_unit_test(secrets_fd_means_batch),
		cmocka_unit_test(batch_without_fd_never_asks),
		cmocka_unit_test(bad_descriptors),
		cmocka_unit_test(bad_command_lines),
		cmocka_unit_test(trust_dirs),
		cmocka_unit_test(help_needs_nothing_else),
		cmocka_unit_test(json_error_document),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
