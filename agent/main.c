/* main.c - plcguard: dispatch to one function per subcommand (agent/cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "plcopen.h"

int main(int argc, char **argv)
{
	/* libxml2 must be initialised before the hashing threads start. */
	plcopen_global_init();
	return pg_cli_main(argc, argv);
}
