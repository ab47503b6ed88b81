/* main.c - plcguard: dispatch to one function per subcommand (agent/cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int main(int argc, char **argv)
{
	return pg_cli_main(argc, argv);
}
