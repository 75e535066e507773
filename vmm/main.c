/* mvmm: boots one Linux guest on KVM. Exit status: 0 for a guest power-off,
 * reboot or host signal; 1 for a guest crash or KVM/internal error; 2 for a
 * usage or configuration error. */
#include "cli.h"
#include "vm.h"

#include <core/log.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_LEN] = "";

	config_defaults(&cfg);
	switch (cli_parse(argc, argv, &cfg, err)) {
	case CLI_EXIT_OK:
		config_free(&cfg);
		return 0;
	case CLI_EXIT_USAGE:
		fprintf(stderr, "mvmm: %s\n", err);
		config_free(&cfg);
		return 2;
	case CLI_RUN:
		break;
	}

	static struct vm vm;
	int status;
	if (vm_create(&vm, &cfg, err, sizeof(err))) {
		fprintf(stderr, "mvmm: %s\n", err);
		status = 1;
	} else {
		status = vm_run(&vm);
	}
	vm_destroy(&vm);
	config_free(&cfg);
	return status;
}
