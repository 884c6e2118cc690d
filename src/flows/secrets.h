/* Where flows get secrets: people at the terminal (no echo, new secrets
 * asked twice), a batch file descriptor, or a table filled in memory (the
 * drill). Every secret has a batch NAME:
 *
 *   share-N          password of DKEK share N (scheme "password")
 *   share-N-HOLDER   HOLDER's part of share N's split password (n-of-m;
 *                    HOLDER in lowercase, a space written '_': share-2-erin_smith):
 *                    "PRIME ID VALUE" as sc-hsm-tool prints them (prime and
 *                    value in hex, "f5:56:46:c9:a5:a1:01:87"; ID decimal)
 *   pin              user PIN of the set (6..16 characters)
 *   so-pin           SO-PIN of the set (16 hex digits)
 *   current-so-pin   SO-PIN a card already has, when it differs from so-pin
 *   new-share-N      reshare: new password of share N
 *
 * Batch format (--secrets-fd N): one secret per line, "NAME VALUE", the
 * value being everything after the first space up to the newline. All
 * lines are read at once when the source is made; a name given twice is
 * an error. A flow asks for names in the order it needs them, any order on
 * the descriptor works. Lines a flow never asked for are an error
 * (flow_secrets_check_unused): flows that change cards or the vault check
 * once every secret is gathered, before the first change, so a misspelt
 * name stops the run instead of passing unseen.
 * Values live only in secbufs. */
#ifndef HV_FLOWS_SECRETS_H
#define HV_FLOWS_SECRETS_H

#include <stddef.h>

#include "util/err.h"
#include "util/secbuf.h"

typedef struct flow_secrets flow_secrets;

/* People at the terminal (/dev/tty). */
int flow_secrets_terminal(flow_secrets **out, hv_err *err);
/* Reads every line of fd now (until EOF) and closes nothing. reveal_fd
 * (-1: none) receives what flow_secret_show reveals, as "NAME VALUE"
 * lines. */
int flow_secrets_from_fd(int fd, int reveal_fd, flow_secrets **out, hv_err *err);
/* An empty in-memory table (the drill); show() stores into it. */
int flow_secrets_memory(flow_secrets **out, hv_err *err);
/* Adds (or replaces) NAME in a memory or fd table. */
int flow_secrets_put(flow_secrets *s, const char *name, const void *value,
		     size_t len, hv_err *err);
void flow_secrets_free(flow_secrets *s);

/* 1 for the terminal source: a wrong password can be asked again. */
int flow_secrets_interactive(const flow_secrets *s);

/* Rules every value follows, by its NAME, before any card or KDF sees it:
 * no NUL, CR or other control character, no space at either edge; pin:
 * 6..16 printable ASCII characters; so-pin, current-so-pin: exactly 16 hex
 * digits; share-N-HOLDER: "PRIME ID VALUE". HV_EUSAGE naming the secret
 * (never its value) otherwise. Applied to every batch line as it is read,
 * to every table put, and to terminal answers (which are asked again). */
#define SECRET_PIN_MIN 6
#define SECRET_PIN_MAX 16
#define SECRET_SO_PIN_LEN 16
int flow_secret_check(const char *name, const void *value, size_t len, hv_err *err);

/* An existing secret. Terminal: asks `prompt` once without echo. Table:
 * the value named `name` (HV_EUSAGE "secret NAME is missing from
 * --secrets-fd: add a line 'NAME VALUE'" when absent). Length outside
 * min..max: HV_EUSAGE naming the secret (the terminal re-asks instead). */
int flow_secret_get(flow_secrets *s, const char *name, const char *prompt,
		    size_t min, size_t max, secbuf **out, hv_err *err);

/* 1 when a table source holds NAME (batch: which holders of a split
 * share came); 0 otherwise and always for the terminal. */
int flow_secret_has(const flow_secrets *s, const char *name);

/* A new secret: at the terminal asked twice (re-asked on mismatch or
 * when too short); from a table as flow_secret_get. */
int flow_secret_new(flow_secrets *s, const char *name, const char *prompt,
		    size_t min, size_t max, secbuf **out, hv_err *err);

/* Tells the value to one person only. Terminal: clears the screen, shows
 * "holder, this is your part of share N: ..." and waits for Enter, then
 * clears the screen again. fd source: writes "NAME VALUE" to the reveal
 * fd (HV_EUSAGE when there is none). Memory: stores it under NAME. */
int flow_secret_show(flow_secrets *s, const char *name, const char *holder,
		     const char *text, hv_err *err);

/* After a flow succeeded: HV_EUSAGE naming the first batch line nobody
 * asked for; HV_OK for the terminal and memory sources. */
int flow_secrets_check_unused(const flow_secrets *s, hv_err *err);

#endif
