/* hsmvault stick: list candidate devices, prepare a vault stick, show its
 * LUKS2 header, open/close it, manage passphrases, back up the header. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/stick_second.h"
#include "stick/kernel_backend.h"
#include "stick/stick.h"
#include "util/json.h"
#include "util/prompt.h"
#include "vault/manifest.h"
#include "vault/vault.h"

#define MIN_PASSPHRASE 8

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hsmvault stick list [--json]\n"
		"       hsmvault stick prepare DEVICE|IMAGE [--size 4G] [--label L] [--sector-size 512|4096|auto]\n"
		"                [--passphrase-fd N] [--batch --confirm-device DEVICE] [--wipe]\n"
		"                [--backend userspace|kernel] [--pbkdf-memory KIB] [--iter-time MS]\n"
		"                [--pbkdf-force-iterations N]\n"
		"       hsmvault stick status DEVICE|IMAGE [--json] [--passphrase-fd N]\n"
		"       hsmvault stick open DEVICE|IMAGE [--backend userspace|kernel] [--passphrase-fd N]\n"
		"       hsmvault stick close MOUNTPOINT|MAPPING\n"
		"       hsmvault stick passphrase add DEVICE|IMAGE [--passphrase-fd N] [--new-passphrase-fd M]\n"
		"       hsmvault stick passphrase remove DEVICE|IMAGE [--passphrase-fd N]\n"
		"       hsmvault stick header-backup DEVICE|IMAGE FILE\n"
		"       hsmvault stick repair DEVICE|IMAGE\n"
		"       hsmvault stick copy FROM TO [--size S] [--label L] [--passphrase-fd N]\n"
		"                [--new-passphrase-fd M] [--batch --confirm-device TO] [prepare's KDF options]\n"
		"       hsmvault stick compare A B [--json] [--passphrase-fd N] [--second-passphrase-fd M]\n"
		"       hsmvault stick sync FROM TO [--passphrase-fd N] [--second-passphrase-fd M]\n"
		"\n"
		"prepare erases the device: it refuses one that is mounted or in use, and one that is not\n"
		"empty (a partition table, a filesystem, a LUKS header, or any data: only a missing image\n"
		"or one of zeros is empty), or is not removable, needs the device path typed again (in\n"
		"batch mode: --confirm-device with the same device). argon2id is benchmarked once for\n"
		"--iter-time (default 2000 ms) within --pbkdf-memory (default 1048576 KiB); the values\n"
		"are shown. status, header-backup, log, show and record export only read: a damaged\n"
		"header copy is reported, and rewritten only by 'stick repair'. Passphrases are asked twice on\n"
		"the terminal, or read one per line from --passphrase-fd: a new passphrase (prepare,\n"
		"passphrase add) is one line, optionally followed by a confirmation line that must\n"
		"repeat it, and has at least 8 characters, as at the terminal. --insecure-fast-kdf-for-tests\n"
		"makes keyslots that are cheap to attack: for tests only.\n"
		"\n"
		"A second stick: FROM, TO, A and B are sticks, image files or vault folders.\n"
		"copy prepares TO as prepare does (the same checks and confirmation; its own\n"
		"LUKS2 header and passphrase, asked twice) and copies every file of FROM's\n"
		"vault byte for byte, then reads the copy back. compare says whether A and B\n"
		"are the same (exit 0), one is k versions ahead, or they diverged (the first\n"
		"differing version and file named, both histories shown): exit 1 unless the\n"
		"same. sync copies the versions TO lacks and the files they name, version by\n"
		"version (a version is written after its files: an interrupted sync leaves TO\n"
		"at an older version, never broken), and FROM's newer journal entries; it is\n"
		"refused with exit 7, nothing written, when the two diverged or FROM is\n"
		"behind TO. Passphrases: FROM's (or A's) from --passphrase-fd, the second\n"
		"stick's from --second-passphrase-fd or the next line of --passphrase-fd; the\n"
		"copy's new one from --new-passphrase-fd or the next line of --passphrase-fd.\n");
}

struct opts {
	int json, batch, wipe, fast_kdf, help;
	uint32_t pbkdf_memory_kb, iter_time_ms, pbkdf_iterations;
	int pass_fd, new_pass_fd, second_pass_fd;
	uint64_t size;
	const char *label, *confirm, *backend;
	unsigned sector_size;
	int npos;
	char *pos[4];
};

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s)
		return -1;
	uint64_t mul = 1;
	switch (*end) {
	case 'k': case 'K': mul = 1ULL << 10; end++; break;
	case 'm': case 'M': mul = 1ULL << 20; end++; break;
	case 'g': case 'G': mul = 1ULL << 30; end++; break;
	case 't': case 'T': mul = 1ULL << 40; end++; break;
	default: break;
	}
	if (mul > 1 && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end || v == 0 || v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static int parse_fd(const char *s, int *fd)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v < 0 || v > 1 << 20)
		return -1;
	*fd = (int)v;
	return 0;
}

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || *end || *s == '-' || v < lo || v > hi)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse(int argc, char **argv, struct opts *o, hv_err *err)
{
	enum { O_SIZE = 256, O_LABEL, O_SECTOR, O_PFD, O_NPFD, O_BATCH, O_CONFIRM, O_BACKEND,
	       O_WIPE, O_FAST, O_JSON, O_PMEM, O_ITIME, O_PITER, O_SPFD };
	static const struct option lo[] = {
		{ "size", required_argument, 0, O_SIZE },
		{ "label", required_argument, 0, O_LABEL },
		{ "sector-size", required_argument, 0, O_SECTOR },
		{ "passphrase-fd", required_argument, 0, O_PFD },
		{ "new-passphrase-fd", required_argument, 0, O_NPFD },
		{ "second-passphrase-fd", required_argument, 0, O_SPFD },
		{ "batch", no_argument, 0, O_BATCH },
		{ "confirm-device", required_argument, 0, O_CONFIRM },
		{ "backend", required_argument, 0, O_BACKEND },
		{ "wipe", no_argument, 0, O_WIPE },
		{ "insecure-fast-kdf-for-tests", no_argument, 0, O_FAST },
		{ "json", no_argument, 0, O_JSON },
		{ "pbkdf-memory", required_argument, 0, O_PMEM },
		{ "iter-time", required_argument, 0, O_ITIME },
		{ "pbkdf-force-iterations", required_argument, 0, O_PITER },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	memset(o, 0, sizeof(*o));
	o->pass_fd = o->new_pass_fd = o->second_pass_fd = -1;
	o->backend = "userspace";
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case O_SIZE:
			if (parse_size(optarg, &o->size))
				return hv_fail(err, HV_EUSAGE, "--size %s: give a size such as 4G or 512M",
					       optarg);
			break;
		case O_LABEL: o->label = optarg; break;
		case O_SECTOR:
			if (!strcmp(optarg, "auto"))
				o->sector_size = 0;
			else if (!strcmp(optarg, "512") || !strcmp(optarg, "4096"))
				o->sector_size = (unsigned)atoi(optarg);
			else
				return hv_fail(err, HV_EUSAGE, "--sector-size %s: use 512, 4096 or auto",
					       optarg);
			break;
		case O_PFD:
		case O_NPFD:
			if (parse_fd(optarg, c == O_PFD ? &o->pass_fd : &o->new_pass_fd))
				return hv_fail(err, HV_EUSAGE, "--%s %s: give a file descriptor number",
					       c == O_PFD ? "passphrase-fd" : "new-passphrase-fd", optarg);
			break;
		case O_SPFD:
			if (parse_fd(optarg, &o->second_pass_fd))
				return hv_fail(err, HV_EUSAGE, "--second-passphrase-fd %s: give a file "
					       "descriptor number", optarg);
			break;
		case O_BATCH: o->batch = 1; break;
		case O_CONFIRM: o->confirm = optarg; break;
		case O_BACKEND:
			if (strcmp(optarg, "userspace") && strcmp(optarg, "kernel"))
				return hv_fail(err, HV_EUSAGE, "--backend %s: use userspace or kernel",
					       optarg);
			o->backend = optarg;
			break;
		case O_WIPE: o->wipe = 1; break;
		case O_FAST: o->fast_kdf = 1; break;
		case O_JSON: o->json = 1; break;
		/* bounds: what libcryptsetup accepts for argon2id (memory up to
		 * 4 GiB, at least 4 iterations) */
		case O_PMEM:
			if (parse_u32(optarg, 32, 4194304, &o->pbkdf_memory_kb))
				return hv_fail(err, HV_EUSAGE, "--pbkdf-memory %s: give KiB between 32 "
					       "and 4194304", optarg);
			break;
		case O_ITIME:
			if (parse_u32(optarg, 1, 3600000, &o->iter_time_ms))
				return hv_fail(err, HV_EUSAGE, "--iter-time %s: give milliseconds (e.g. "
					       "2000)", optarg);
			break;
		case O_PITER:
			if (parse_u32(optarg, 4, UINT32_MAX, &o->pbkdf_iterations))
				return hv_fail(err, HV_EUSAGE, "--pbkdf-force-iterations %s: give a number "
					       "of at least 4", optarg);
			break;
		case 'h': o->help = 1; break;
		default:
			return hv_fail(err, HV_EUSAGE, "unknown or incomplete option '%s': see "
				       "'hsmvault stick --help'", argv[optind - 1]);
		}
	}
	while (optind < argc) {
		if (o->npos == 4)
			return hv_fail(err, HV_EUSAGE, "too many arguments: see 'hsmvault stick --help'");
		o->pos[o->npos++] = argv[optind++];
	}
	return HV_OK;
}

static int need_pos(const struct opts *o, int n, const char *what, hv_err *err)
{
	if (o->npos != n)
		return hv_fail(err, HV_EUSAGE, "expected %s: see 'hsmvault stick --help'", what);
	return HV_OK;
}

/* ---- passphrases ---- */

static int read_pass(int fd, const char *prompt, secbuf **out, hv_err *err)
{
	int rc = fd >= 0 ? secret_from_fd(fd, LUKS_PASSPHRASE_MAX, out, err)
			 : prompt_secret(prompt, LUKS_PASSPHRASE_MAX, out, err);
	if (rc == HV_OK && (*out)->len == 0) {
		secbuf_free(*out);
		*out = NULL;
		return hv_fail(err, HV_EUSAGE, "the passphrase is empty");
	}
	return rc;
}

static int read_new_pass(int fd, secbuf **out, hv_err *err)
{
	if (fd >= 0)
		return new_secret_from_fd(fd, "passphrase", MIN_PASSPHRASE, LUKS_PASSPHRASE_MAX,
					  out, err);
	return prompt_new_secret("passphrase for the stick", MIN_PASSPHRASE, LUKS_PASSPHRASE_MAX,
				 out, err);
}

struct pass_ctx {
	int fd;
	secbuf *pass;
};

static int supply_new_pass(void *ctx, const secbuf **out, hv_err *err)
{
	struct pass_ctx *p = ctx;
	if (!p->pass) {
		int rc = read_new_pass(p->fd, &p->pass, err);
		if (rc)
			return rc;
	}
	*out = p->pass;
	return HV_OK;
}

/* ---- list ---- */

static int run_list(const struct opts *o, hv_err *err)
{
	stick_device *d;
	size_t n;
	int rc = device_list(&d, &n, err);
	if (rc)
		return rc;
	if (o->json) {
		json_out j;
		json_init(&j, stdout);
		json_arr_begin(&j, NULL);
		for (size_t i = 0; i < n; i++) {
			json_obj_begin(&j, NULL);
			json_str(&j, "device", d[i].path);
			json_int(&j, "size", (long long)d[i].size);
			json_bool(&j, "removable", d[i].removable);
			json_str(&j, "vendor", d[i].vendor[0] ? d[i].vendor : NULL);
			json_str(&j, "model", d[i].model[0] ? d[i].model : NULL);
			json_str(&j, "serial", d[i].serial[0] ? d[i].serial : NULL);
			json_str(&j, "type", d[i].type[0] ? d[i].type : NULL);
			json_str(&j, "label", d[i].label[0] ? d[i].label : NULL);
			json_str(&j, "pttype", d[i].pttype[0] ? d[i].pttype : NULL);
			json_str(&j, "partitions", d[i].partitions);
			json_bool(&j, "mounted", d[i].mounted);
			json_str(&j, "mounts", d[i].mounted_what[0] ? d[i].mounted_what : NULL);
			json_bool(&j, "in_use", d[i].held);
			json_str(&j, "in_use_by", d[i].held_by[0] ? d[i].held_by : NULL);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_finish(&j);
	} else {
		printf("%-14s %10s  %-9s %-30s %-20s %-22s %s\n", "DEVICE", "SIZE", "REMOVABLE",
		       "MODEL", "SERIAL", "CONTENTS", "STATE");
		for (size_t i = 0; i < n; i++) {
			char size[32], contents[100], state[300];
			device_format_size(d[i].size, size, sizeof(size));
			snprintf(contents, sizeof(contents), "%s%s%s",
				 d[i].pttype[0] ? d[i].pttype : "", d[i].pttype[0] && d[i].type[0] ? "," : "",
				 d[i].type[0] ? d[i].type : (!d[i].pttype[0] ? "-" : ""));
			snprintf(state, sizeof(state), "%s%s%s",
				 d[i].mounted ? "mounted" : "", d[i].mounted && d[i].held ? ", " : "",
				 d[i].held ? d[i].held_by : (!d[i].mounted ? "free" : ""));
			printf("%-14s %10s  %-9s %-30.30s %-20.20s %-22.22s %s\n", d[i].path, size,
			       d[i].removable ? "yes" : "no", d[i].model[0] ? d[i].model : "-",
			       d[i].serial[0] ? d[i].serial : "-", contents, state);
		}
	}
	free(d);
	return HV_OK;
}

/* ---- prepare ---- */

/* prepare's options, checked; stick copy prepares its target with them. */
static int prepare_opts(const struct opts *o, int kernel, stick_prepare_opts *po, hv_err *err)
{
	if (o->confirm && !o->batch)
		fprintf(stderr, "note: --confirm-device is the batch-mode confirmation\n");
	*po = (stick_prepare_opts){
		.size = o->size, .label = o->label, .sector_size = o->sector_size,
		.insecure_fast_kdf = o->fast_kdf, .wipe = o->wipe, .batch = o->batch,
		.confirm_device = o->confirm, .skip_filesystem = kernel,
		.pbkdf_memory_kb = o->pbkdf_memory_kb, .iter_time_ms = o->iter_time_ms,
		.pbkdf_iterations = o->pbkdf_iterations,
	};
	if (o->fast_kdf && (o->pbkdf_memory_kb || o->iter_time_ms || o->pbkdf_iterations))
		return hv_fail(err, HV_EUSAGE, "--insecure-fast-kdf-for-tests fixes the KDF: drop "
			       "--pbkdf-memory, --iter-time and --pbkdf-force-iterations");
	if (o->fast_kdf)
		fprintf(stderr, "WARNING: --insecure-fast-kdf-for-tests: this stick's passphrase is "
				"cheap to brute-force; never use it for real backups\n");
	return HV_OK;
}

/* ---- a second stick: copy, compare, sync (cli/stick_second.c) ---- */

static int run_second(const char *sub, const struct opts *o, hv_err *err)
{
	int rc = need_pos(o, 2, !strcmp(sub, "compare") ? "A and B" : "FROM and TO", err);
	if (rc)
		return rc;
	struct stick_second_args a = { .a = o->pos[0], .b = o->pos[1], .pass_fd = o->pass_fd,
				       .second_pass_fd = o->second_pass_fd,
				       .new_pass_fd = o->new_pass_fd, .json = o->json };
	if (!strcmp(sub, "compare"))
		return stick_second_compare(&a, err);
	if (o->json)
		return hv_fail(err, HV_EUSAGE, "--json is for 'stick compare': drop it");
	if (!strcmp(sub, "sync"))
		return stick_second_sync(&a, err);
	if (strcmp(o->backend, "userspace"))
		return hv_fail(err, HV_EUSAGE, "stick copy writes in userspace only: drop --backend");
	stick_prepare_opts po;
	if ((rc = prepare_opts(o, 0, &po, err)))
		return rc;
	return stick_second_copy(&a, &po, err);
}

static int run_prepare(const struct opts *o, hv_err *err)
{
	int rc = need_pos(o, 1, "one DEVICE or IMAGE to prepare", err);
	if (rc)
		return rc;
	const char *path = o->pos[0];
	int kernel = !strcmp(o->backend, "kernel");
	if (kernel && (rc = kernel_backend_available(err)))
		return rc;
	stick_prepare_opts po;
	if ((rc = prepare_opts(o, kernel, &po, err)))
		return rc;
	luks_keyslot kdf;
	memset(&kdf, 0, sizeof(kdf));
	po.kdf_out = &kdf;
	struct pass_ctx pc = { o->pass_fd, NULL };
	vfs *v = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = stick_prepare(path, &po, supply_new_pass, &pc, kernel ? NULL : &v, err);
	if (!rc && kernel) {
		rc = kernel_stick_format_fs(path, pc.pass, err);
		if (!rc)
			rc = kernel_vault_open(path, pc.pass, 0, &v, NULL, 0, err);
	}
	secbuf_free(pc.pass);
	if (rc)
		return rc;
	rc = vault_init(v, NULL, err);
	if (!rc)
		rc = vfs_sync(v, err);
	vfs_close(v);
	if (rc)
		return hv_err_prefix(err, "LUKS2 and ext4 are on %s, but writing the vault failed", path);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	luks_info info;
	if ((rc = stick_status(path, &info, err)))
		return rc;
	printf("prepared %s: LUKS2 %s-%s %d-bit, %u-byte sectors, label %s, UUID %s; "
	       "ext4 vault written (%s backend) in %.1f s\n", path, info.cipher, info.mode,
	       info.key_bits, info.sector_size, info.label, info.uuid, o->backend,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	printf("keyslot %d: %s, %u iterations, %u KiB, %u threads (%s)\n", kdf.slot, kdf.pbkdf,
	       kdf.iterations, kdf.memory_kb, kdf.threads,
	       o->fast_kdf ? "INSECURE test settings"
	       : o->pbkdf_iterations ? "iterations forced" : "benchmarked once on this machine");
	return HV_OK;
}

/* ---- status / open ---- */

struct vault_summary {
	int have;
	int marker_ok;
	char marker_msg[HV_ERR_MSG_MAX];
	unsigned long version;
	char time[40], change[200];
	size_t shares, cards, keys;
};

static int summarize(vfs *v, struct vault_summary *s, hv_err *err)
{
	memset(s, 0, sizeof(*s));
	s->have = 1;
	hv_err e;
	hv_err_clear(&e);
	if (vault_check(v, &e) != HV_OK) {
		snprintf(s->marker_msg, sizeof(s->marker_msg), "%s", e.msg);
		return HV_OK;
	}
	s->marker_ok = 1;
	manifest *m = NULL;
	int rc = manifest_load_current(v, &m, err);
	if (rc)
		return rc;
	s->version = m->version;
	snprintf(s->time, sizeof(s->time), "%s", m->time ? m->time : "");
	snprintf(s->change, sizeof(s->change), "%s", m->change ? m->change : "");
	s->shares = m->share_n;
	s->cards = m->card_n;
	s->keys = m->key_n;
	manifest_free(m);
	return HV_OK;
}

static void print_status(const char *path, const luks_info *i, const struct vault_summary *s,
			 int json)
{
	if (json) {
		json_out j;
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		json_str(&j, "stick", path);
		json_str(&j, "format", i->version == 1 ? "LUKS1" : "LUKS2");
		json_str(&j, "label", i->label);
		json_str(&j, "uuid", i->uuid);
		json_str(&j, "cipher", i->cipher);
		json_str(&j, "mode", i->mode);
		json_int(&j, "key_bits", i->key_bits);
		json_int(&j, "sector_size", i->sector_size);
		json_str(&j, "integrity", i->integrity[0] ? i->integrity : NULL);
		char why_not[300];
		int userspace = luks_userspace_can(i, why_not, sizeof(why_not));
		json_str(&j, "backend", userspace ? "userspace" : "kernel");
		json_int(&j, "data_offset", (long long)i->data_offset);
		json_int(&j, "data_size", (long long)i->data_size);
		json_str(&j, "header_damage", i->damage[0] ? i->damage : NULL);
		json_arr_begin(&j, "keyslots");
		for (int k = 0; k < i->nkeyslots; k++) {
			json_obj_begin(&j, NULL);
			json_int(&j, "slot", i->keyslots[k].slot);
			json_str(&j, "pbkdf", i->keyslots[k].pbkdf);
			json_int(&j, "iterations", i->keyslots[k].iterations);
			json_int(&j, "memory_kb", i->keyslots[k].memory_kb);
			json_int(&j, "threads", i->keyslots[k].threads);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		if (s->have) {
			json_obj_begin(&j, "vault");
			json_bool(&j, "marker_ok", s->marker_ok);
			if (s->marker_ok) {
				json_int(&j, "manifest_version", (long long)s->version);
				json_str(&j, "time", s->time);
				json_str(&j, "change", s->change);
				json_int(&j, "shares", (long long)s->shares);
				json_int(&j, "cards", (long long)s->cards);
				json_int(&j, "keys", (long long)s->keys);
			} else
				json_str(&j, "problem", s->marker_msg);
			json_obj_end(&j);
		}
		json_obj_end(&j);
		json_finish(&j);
		return;
	}
	char size[32];
	device_format_size(i->data_size, size, sizeof(size));
	printf("stick:        %s\n", path);
	printf("LUKS%d:        label %s, UUID %s\n", i->version, i->label[0] ? i->label : "(none)",
	       i->uuid);
	printf("cipher:       %s-%s, %d-bit key, %u-byte sectors%s%s\n", i->cipher, i->mode,
	       i->key_bits, i->sector_size, i->integrity[0] ? ", integrity " : "", i->integrity);
	char why_not[300];
	if (!luks_userspace_can(i, why_not, sizeof(why_not)))
		printf("backend:      kernel only (%s)\n", why_not);
	printf("data:         %s from byte %llu\n", size, (unsigned long long)i->data_offset);
	for (int k = 0; k < i->nkeyslots; k++)
		printf("keyslot %-2d    %s, %u iterations, %u KiB, %u threads\n", i->keyslots[k].slot,
		       i->keyslots[k].pbkdf, i->keyslots[k].iterations, i->keyslots[k].memory_kb,
		       i->keyslots[k].threads);
	if (!s->have)
		printf("vault:        locked (give --passphrase-fd or use 'stick open' to read it)\n");
	else if (!s->marker_ok)
		printf("vault:        NOT READABLE: %s\n", s->marker_msg);
	else
		printf("vault:        %s, manifest version %lu (%s, %s): %zu shares, %zu cards, %zu keys\n",
		       VAULT_FORMAT, s->version, s->time, s->change, s->shares, s->cards, s->keys);
}

static int run_status(const struct opts *o, int open_cmd, hv_err *err)
{
	int rc = need_pos(o, 1, "one DEVICE or IMAGE", err);
	if (rc)
		return rc;
	const char *path = o->pos[0];
	if (open_cmd && !strcmp(o->backend, "kernel")) {
		if ((rc = kernel_backend_available(err)))
			return rc;
		secbuf *pass = NULL;
		if ((rc = read_pass(o->pass_fd, "Stick passphrase: ", &pass, err)))
			return rc;
		vfs *v = NULL;
		char mp[512] = "";
		rc = kernel_vault_open(path, pass, 1, &v, mp, sizeof(mp), err);
		secbuf_free(pass);
		if (rc)
			return rc;
		struct vault_summary s;
		rc = summarize(v, &s, err);
		vfs_close(v);
		printf("%s is open and mounted on %s\nclose it with: hsmvault stick close %s\n", path,
		       mp, mp);
		return rc;
	}
	luks_info info;
	if ((rc = stick_status(path, &info, err)))
		return rc;
	stick_warn_damage(path, &info);
	struct vault_summary s = { 0 };
	if (open_cmd || o->pass_fd >= 0) {
		secbuf *pass = NULL;
		if ((rc = read_pass(o->pass_fd, "Stick passphrase: ", &pass, err)))
			return rc;
		vfs *v = NULL;
		rc = stick_open_vfs(path, pass, 0, &v, err);
		secbuf_free(pass);
		if (rc)
			return rc;
		rc = summarize(v, &s, err);
		vfs_close(v);
		if (rc)
			return rc;
	}
	print_status(path, &info, &s, o->json);
	if (open_cmd && !s.marker_ok)
		return hv_fail(err, HV_EINTEGRITY, "%s unlocks but holds no readable vault: %s", path,
			       s.marker_msg);
	return HV_OK;
}

/* ---- passphrases, header ---- */

static int run_passphrase(const struct opts *o, hv_err *err)
{
	if (o->npos != 2 || (strcmp(o->pos[0], "add") && strcmp(o->pos[0], "remove")))
		return hv_fail(err, HV_EUSAGE,
			       "expected 'passphrase add DEVICE' or 'passphrase remove DEVICE'");
	const char *path = o->pos[1];
	secbuf *pass = NULL, *npass = NULL;
	int rc, slot = -1;
	if (!strcmp(o->pos[0], "add")) {
		if ((rc = read_pass(o->pass_fd, "Existing passphrase: ", &pass, err)))
			return rc;
		int nfd = o->new_pass_fd >= 0 ? o->new_pass_fd : o->pass_fd;
		if ((rc = read_new_pass(nfd, &npass, err))) {
			secbuf_free(pass);
			return rc;
		}
		rc = luks_add_passphrase(path, pass, npass, o->fast_kdf, &slot, err);
		if (!rc)
			printf("added a passphrase to %s in keyslot %d\n", path, slot);
	} else {
		if ((rc = read_pass(o->pass_fd, "Passphrase to remove: ", &pass, err)))
			return rc;
		rc = luks_remove_passphrase(path, pass, &slot, err);
		if (!rc)
			printf("removed keyslot %d from %s\n", slot, path);
	}
	secbuf_free(pass);
	secbuf_free(npass);
	return rc;
}

/* ---- repair: the only command that rewrites a header copy ---- */

static int run_repair(const struct opts *o, hv_err *err)
{
	int rc = need_pos(o, 1, "one DEVICE or IMAGE to repair", err);
	if (rc)
		return rc;
	char what[200];
	if ((rc = luks_repair(o->pos[0], what, sizeof(what), err)))
		return rc;
	if (!what[0])
		printf("%s: both LUKS2 header copies are intact; nothing to repair\n", o->pos[0]);
	else
		printf("%s: repaired: %s\n", o->pos[0], what);
	return HV_OK;
}

int cmd_stick(int argc, char **argv, hv_err *err)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? HV_EUSAGE : HV_OK;
	}
	const char *sub = argv[1];
	struct opts o;
	int rc = parse(argc - 1, argv + 1, &o, err);
	if (rc)
		return rc;
	if (o.help) {
		usage(stdout);
		return HV_OK;
	}
	if (!strcmp(sub, "list"))
		return need_pos(&o, 0, "no arguments", err) ?: run_list(&o, err);
	if (!strcmp(sub, "prepare"))
		return run_prepare(&o, err);
	if (!strcmp(sub, "status"))
		return run_status(&o, 0, err);
	if (!strcmp(sub, "open"))
		return run_status(&o, 1, err);
	if (!strcmp(sub, "close")) {
		if ((rc = need_pos(&o, 1, "the MOUNTPOINT or mapping printed by 'stick open'", err)))
			return rc;
		if ((rc = kernel_vault_close(o.pos[0], err)))
			return rc;
		printf("closed %s\n", o.pos[0]);
		return HV_OK;
	}
	if (!strcmp(sub, "passphrase"))
		return run_passphrase(&o, err);
	if (!strcmp(sub, "header-backup")) {
		if ((rc = need_pos(&o, 2, "DEVICE|IMAGE and a new FILE", err)))
			return rc;
		luks_info info;
		if ((rc = stick_status(o.pos[0], &info, err)))
			return rc;
		stick_warn_damage(o.pos[0], &info);
		if ((rc = luks_header_backup(o.pos[0], o.pos[1], err)))
			return rc;
		printf("LUKS2 header of %s saved to %s\n", o.pos[0], o.pos[1]);
		return HV_OK;
	}
	if (!strcmp(sub, "repair"))
		return run_repair(&o, err);
	if (!strcmp(sub, "copy") || !strcmp(sub, "compare") || !strcmp(sub, "sync"))
		return run_second(sub, &o, err);
	return hv_fail(err, HV_EUSAGE, "unknown 'stick %s': see 'hsmvault stick --help'", sub);
}
