/* Command-line parsing: flags override the config file. */
#ifndef VMM_CLI_H
#define VMM_CLI_H

#include "config/config.h"

#include <stdio.h>

#define MVMM_VERSION "0.1.0"

enum cli_result { CLI_RUN, CLI_EXIT_OK, CLI_EXIT_USAGE };

/* Fills cfg from argv (loading --config first, then applying flags).
 * On CLI_EXIT_USAGE, err holds a one-line message. */
enum cli_result cli_parse(int argc, char **argv, struct vm_config *cfg,
			  char *err);
void cli_usage(FILE *out);

#endif
