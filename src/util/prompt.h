/* Secrets from people and from scripts. Interactive prompts read the
 * controlling terminal with echo off; batch mode reads a file descriptor.
 * Never argv, never the environment. */
#ifndef HV_UTIL_PROMPT_H
#define HV_UTIL_PROMPT_H

#include <stddef.h>

#include "util/err.h"
#include "util/secbuf.h"

/* Asks once on /dev/tty without echo; the answer (no newline, at most max
 * bytes) is returned in a new secbuf. */
int prompt_secret(const char *prompt, size_t max, secbuf **out, hv_err *err);

/* Asks for a new secret twice ("what" names it: "password for share 1");
 * re-asks on mismatch or when shorter than min_len, instead of aborting. */
int prompt_new_secret(const char *what, size_t min_len, size_t max,
		      secbuf **out, hv_err *err);

/* Reads one line (without its newline) from fd, byte by byte so that the
 * next secret on the same descriptor stays unread. EOF before any byte is
 * an error naming the descriptor, as are a closed descriptor, a directory
 * and one open for writing only. */
int secret_from_fd(int fd, size_t max, secbuf **out, hv_err *err);

/* A new secret from fd: one line, optionally followed by a confirmation
 * line that must repeat it (a difference is HV_EUSAGE, as the terminal's
 * "differ"); shorter than min_len is HV_EUSAGE. The confirmation line is
 * read only when it is there: EOF after the first line means none. */
int new_secret_from_fd(int fd, const char *what, size_t min_len, size_t max, secbuf **out,
		       hv_err *err);

/* Asks a yes/no or typed confirmation on the terminal (echo on); returns 0
 * when the answer equals expect exactly. */
int prompt_confirm(const char *question, const char *expect, hv_err *err);

#endif
