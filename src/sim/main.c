/* hsmvault-sim: a SmartCard-HSM in software, plugged into pcscd through a
 * vsmartcard vpcd reader. See README.md in this folder. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim/card.h"
#include "sim/devid.h"
#include "sim/profile.h"
#include "sim/state.h"
#include "sim/vpcd.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/hex.h"

#define MAX_SW_AT 32
#define CONNECT_WAIT_MS 10000
#define RETRY_MS 100

typedef struct options {
	const char *host;
	int port;
	const char *state;
	const char *serial;        /* NULL: the profile's default */
	const sim_profile *profile;
	int profile_given;
	int forge;
	int print_root;
	int blank;
	unsigned long drop_after;
	unsigned long sw_at_n[MAX_SW_AT];
	uint16_t sw_at_sw[MAX_SW_AT];
	size_t n_sw_at;
	const char *stats;
	int reconnect;
} options;

typedef struct stats {
	unsigned long apdus;
	unsigned long long bytes_in, bytes_out;
} stats;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hsmvault-sim --port N [--host 127.0.0.1] --state FILE [--profile P]\n"
		"                    [--serial SERIAL] [--blank] [--forge-devaut] [--drop-after N]\n"
		"                    [--sw-at N:SW] [--stats FILE] [--reconnect]\n"
		"       hsmvault-sim --print-root\n"
		"A simulated SmartCard-HSM family card that connects to the vpcd reader at HOST:PORT.\n"
		"  --state FILE     card state; created blank when missing\n"
		"  --profile P      card family of a new card: smartcard-hsm (default),\n"
		"                   nitrokey-hsm2, pico-hsm; must match an existing FILE\n"
		"  --serial S       serial of a new card (3-11 letters/digits; default by family:\n"
		"                   DECM0190001, DENK0490001, ESPICOHSMTR)\n"
		"  --blank          start from a factory-fresh card even if FILE exists\n"
		"  --forge-devaut   a new card whose device certificate signature does not verify\n"
		"  --print-root     write the simulator's test root CVC (binary) to stdout, exit\n"
		"  --drop-after N   pull the card when APDU number N arrives (exit 0)\n"
		"  --sw-at N:SW     answer APDU number N with status word SW (hex), repeatable\n"
		"  --stats FILE     write apdus=, bytes_in=, bytes_out= after every APDU\n"
		"  --reconnect      when the reader closes the connection, connect again\n");
}

static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *v)
{
	char *end;
	errno = 0;
	unsigned long x = strtoul(s, &end, 10);
	if (*s == 0 || *s == '-' || *end || errno || x < min || x > max)
		return -1;
	*v = x;
	return 0;
}

static int parse_args(int argc, char **argv, options *o, hv_err *err)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "host", required_argument, NULL, 'H' },
		{ "state", required_argument, NULL, 's' },
		{ "serial", required_argument, NULL, 'S' },
		{ "blank", no_argument, NULL, 'b' },
		{ "profile", required_argument, NULL, 'P' },
		{ "forge-devaut", no_argument, NULL, 'F' },
		{ "print-root", no_argument, NULL, 'R' },
		{ "drop-after", required_argument, NULL, 'd' },
		{ "sw-at", required_argument, NULL, 'w' },
		{ "stats", required_argument, NULL, 't' },
		{ "reconnect", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->profile = sim_profile_get(SIM_PROFILE_SMARTCARD_HSM);
	int ch;
	unsigned long v;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (parse_ulong(optarg, 1, 65535, &v))
				return hv_fail(err, HV_EUSAGE, "--port '%s' is not a TCP port (1-65535)", optarg);
			o->port = (int)v;
			break;
		case 'H': o->host = optarg; break;
		case 's': o->state = optarg; break;
		case 'S': o->serial = optarg; break;
		case 'b': o->blank = 1; break;
		case 'P':
			o->profile = sim_profile_find(optarg);
			if (!o->profile)
				return hv_fail(err, HV_EUSAGE, "--profile '%s' is not a card family: choose %s",
					       optarg, sim_profile_names());
			o->profile_given = 1;
			break;
		case 'F': o->forge = 1; break;
		case 'R': o->print_root = 1; break;
		case 'd':
			if (parse_ulong(optarg, 1, ~0UL, &o->drop_after))
				return hv_fail(err, HV_EUSAGE, "--drop-after '%s' is not an APDU number (1, 2, ...)", optarg);
			break;
		case 'w': {
			const char *colon = strchr(optarg, ':');
			uint8_t sw[2];
			char num[32];
			if (!colon || (size_t)(colon - optarg) >= sizeof(num) || o->n_sw_at == MAX_SW_AT)
				return hv_fail(err, HV_EUSAGE, "--sw-at '%s' is not N:SW (e.g. 12:6F00; at most %d)", optarg, MAX_SW_AT);
			memcpy(num, optarg, (size_t)(colon - optarg));
			num[colon - optarg] = 0;
			if (parse_ulong(num, 1, ~0UL, &v) || strlen(colon + 1) != 4 || hex_decode(colon + 1, sw, 2) != 2)
				return hv_fail(err, HV_EUSAGE, "--sw-at '%s' is not N:SW (e.g. 12:6F00)", optarg);
			o->sw_at_n[o->n_sw_at] = v;
			o->sw_at_sw[o->n_sw_at++] = (uint16_t)(sw[0] << 8 | sw[1]);
			break;
		}
		case 't': o->stats = optarg; break;
		case 'r': o->reconnect = 1; break;
		case 'h': usage(stdout); exit(0);
		default: return hv_fail(err, HV_EUSAGE, "unknown option: see hsmvault-sim --help");
		}
	}
	if (optind < argc)
		return hv_fail(err, HV_EUSAGE, "unexpected argument '%s': see hsmvault-sim --help", argv[optind]);
	if (o->print_root)
		return 0;
	if (!o->port || !o->state)
		return hv_fail(err, HV_EUSAGE, "--port and --state are required: see hsmvault-sim --help");
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Waits for vpcd to listen: at most CONNECT_WAIT_MS, or forever when
 * reconnecting, until a stop signal. */
static int connect_reader(const options *o, int forever)
{
	long waited = 0;
	while (!stop_requested) {
		int fd = vpcd_connect(o->host, o->port);
		if (fd >= 0)
			return fd;
		if (errno == EINVAL) {
			fprintf(stderr, "hsmvault-sim: --host '%s' is not an IPv4 address\n", o->host);
			return -1;
		}
		if (!forever && waited >= CONNECT_WAIT_MS) {
			fprintf(stderr, "hsmvault-sim: no vpcd reader listening on %s:%d: start pcscd with a vpcd reader on that port first\n",
				o->host, o->port);
			return -1;
		}
		sleep_ms(RETRY_MS);
		waited += RETRY_MS;
	}
	return -1;
}

/* Statistics go to FILE.tmp, then rename: readers never see half a file.
 * No fsync: they are numbers for benchmarks, not state. */
static void write_stats(const options *o, const stats *st)
{
	if (!o->stats)
		return;
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", o->stats) >= (int)sizeof(tmp))
		return;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "apdus=%lu\nbytes_in=%llu\nbytes_out=%llu\n", st->apdus, st->bytes_in, st->bytes_out);
	if (fclose(f) == 0)
		rename(tmp, o->stats);
	else
		unlink(tmp);
}

static int injected_sw(const options *o, unsigned long n, uint16_t *sw)
{
	for (size_t i = 0; i < o->n_sw_at; i++) {
		if (o->sw_at_n[i] == n) {
			*sw = o->sw_at_sw[i];
			return 1;
		}
	}
	return 0;
}

static int load_or_create(const options *o, sim_state *s, hv_err *err)
{
	if (!o->blank && access(o->state, F_OK) == 0) {
		if (sim_state_load(s, o->state, err))
			return err->code;
		const char *why = NULL;
		if (o->profile_given && s->profile != o->profile)
			why = "holds a card of another --profile";
		else if (o->forge && s->devaut != SIM_DEVAUT_FORGED)
			why = "holds a card whose device chain is not forged (--forge-devaut)";
		if (why) {
			hv_fail(err, HV_EUSAGE, "%s %s (%s, serial %s): add --blank for a new card, or leave the option out",
				o->state, why, s->profile->name, s->serial);
			sim_state_free(s);
			return err->code;
		}
		return 0;
	}
	if (sim_state_blank(s, o->profile, o->serial, o->forge, err))
		return err->code;
	if (sim_state_save(s, o->state, err)) {
		sim_state_free(s);
		return err->code;
	}
	return 0;
}

/* Serves one connection. 0 = reader closed it, 1 = stop (signal or
 * --drop-after), negative = a failure that ends the simulator. */
static int serve(int fd, const options *o, sim_card *card, stats *st, hv_err *err)
{
	static uint8_t msg[VPCD_MSG_MAX];
	for (;;) {
		size_t len = 0;
		int r = vpcd_recv(fd, msg, &len, &stop_requested);
		if (stop_requested)
			return 1;
		if (r <= 0)
			return 0; /* closed, or broken: as if the reader went away */
		if (len == 0)
			continue;
		if (len == 1) {
			switch (msg[0]) {
			case VPCD_CTRL_OFF: case VPCD_CTRL_ON: case VPCD_CTRL_RESET:
				sim_card_reset(card);
				break;
			case VPCD_CTRL_ATR:
				if (vpcd_send(fd, card->st->profile->atr, card->st->profile->atr_len))
					return 0;
				break;
			default:
				break; /* unknown control codes are ignored */
			}
			continue;
		}
		unsigned long n = ++st->apdus;
		st->bytes_in += len;
		if (o->drop_after && n == o->drop_after) {
			st->apdus--; /* never answered: not counted as exchanged */
			st->bytes_in -= len;
			return 1;
		}
		bytebuf resp = { 0 };
		uint16_t sw;
		int changed = 0;
		if (injected_sw(o, n, &sw))
			buf_put_u16be(&resp, sw);
		else
			sim_card_process(card, msg, len, &resp, &changed);
		if (changed && sim_state_save(card->st, o->state, err)) {
			buf_free(&resp);
			return -1;
		}
		if (resp.failed) {
			buf_free(&resp);
			memset(&resp, 0, sizeof(resp));
			buf_put_u16be(&resp, 0x6400);
		}
		/* Statistics first: whoever gets the answer may read them at once. */
		st->bytes_out += resp.len;
		write_stats(o, st);
		int sent = vpcd_send(fd, resp.data, resp.len);
		buf_free(&resp);
		if (sent)
			return 0;
	}
}

int main(int argc, char **argv)
{
	hv_err err;
	hv_err_clear(&err);
	options o;
	if (parse_args(argc, argv, &o, &err)) {
		fprintf(stderr, "hsmvault-sim: %s\n", err.msg);
		return err.code;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: a blocked read returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (o.print_root) {
		bytebuf root = { 0 };
		int bad = sim_root_cert(&root) || root.failed ||
			  fwrite(root.data, 1, root.len, stdout) != root.len || fflush(stdout) != 0;
		buf_free(&root);
		if (bad) {
			fprintf(stderr, "hsmvault-sim: writing the test root certificate failed\n");
			return HV_EIO;
		}
		return 0;
	}
	sim_state state;
	if (load_or_create(&o, &state, &err)) {
		fprintf(stderr, "hsmvault-sim: %s\n", err.msg);
		return err.code;
	}
	sim_card card;
	sim_card_init(&card, &state);
	stats st = { 0, 0, 0 };
	write_stats(&o, &st);

	int rc = 0, first = 1;
	while (!stop_requested) {
		int fd = connect_reader(&o, !first && o.reconnect);
		if (fd < 0) {
			rc = stop_requested ? 0 : HV_ECARD;
			break;
		}
		first = 0;
		sim_card_reset(&card);
		int r = serve(fd, &o, &card, &st, &err);
		close(fd);
		if (r < 0) {
			fprintf(stderr, "hsmvault-sim: %s\n", err.msg);
			rc = err.code;
			break;
		}
		if (r == 1 || !o.reconnect)
			break;
	}
	write_stats(&o, &st);
	if (rc == 0 && sim_state_save(&state, o.state, &err)) {
		fprintf(stderr, "hsmvault-sim: %s\n", err.msg);
		rc = err.code;
	}
	sim_card_free(&card);
	sim_state_free(&state);
	return rc;
}
