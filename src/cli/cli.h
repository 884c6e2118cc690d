/* The hsmvault command line: one file per command (cmd_<name>.c), each
 * parsing its own options and returning an hv_code that becomes the exit
 * status. main.c only dispatches and prints the final error line. */
#ifndef HV_CLI_CLI_H
#define HV_CLI_CLI_H

#include "util/err.h"

typedef int (*cli_run_fn)(int argc, char **argv, hv_err *err);

int cmd_log(int argc, char **argv, hv_err *err);
int cmd_show(int argc, char **argv, hv_err *err);
int cmd_card(int argc, char **argv, hv_err *err);
int cmd_stick(int argc, char **argv, hv_err *err);
int cmd_policy(int argc, char **argv, hv_err *err);
/* part:enroll */
int cmd_enroll(int argc, char **argv, hv_err *err);
/* part:reshare */
int cmd_reshare(int argc, char **argv, hv_err *err);
/* part:backup */
int cmd_backup(int argc, char **argv, hv_err *err);
/* part:verify */
int cmd_verify(int argc, char **argv, hv_err *err);
int cmd_record(int argc, char **argv, hv_err *err);
/* part:restore */
int cmd_restore(int argc, char **argv, hv_err *err);
/* part:adopt */
int cmd_adopt(int argc, char **argv, hv_err *err);
/* part:drill */
int cmd_drill(int argc, char **argv, hv_err *err);

#endif
