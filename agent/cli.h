/* cli.h - subcommand table and shared exit codes (documented in README.md). */
#ifndef PG_CLI_H
#define PG_CLI_H

/* Exit codes of `plcguard verify` and friends. */
#define PG_EXIT_OK        0  /* verified / success */
#define PG_EXIT_DIFFERS   1  /* content differs from the signed baseline */
#define PG_EXIT_TRUST     2  /* signature or trust failure (bad, untrusted, expired, revoked, ...) */
#define PG_EXIT_UNSIGNED  3  /* no baseline registered for this project */
#define PG_EXIT_USAGE     64 /* usage error */
#define PG_EXIT_IO        74 /* I/O or input error */

int pg_cli_main(int argc, char **argv);

int cmd_register(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_sniff(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_rules(int argc, char **argv);

/* Default --jobs: online CPUs, at most 8. */
int pg_default_jobs(void);

#endif
