#include "cli/cli.h"

/* Placeholder until the work that owns this command lands. */
int cmd_card(int argc, char **argv, hv_err *err)
{
	(void)argc;
	(void)argv;
	return hv_fail(err, HV_EINTERNAL, "'card' is not built yet");
}
