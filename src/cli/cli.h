/* Command registry of the `equivar` tool. Each command lives in its own
 * cmd_<name>.c and registers itself with EQ_CLI_COMMAND, so adding a command
 * touches no shared table. */
#ifndef EQ_CLI_H
#define EQ_CLI_H

typedef int (*eq_cli_fn)(int argc, char **argv); /* argv[0] is the command name */

typedef struct eq_cli_command {
  const char *name;
  const char *summary; /* one line for `equivar --help` */
  eq_cli_fn run;
} eq_cli_command;

void eq_cli_register(const eq_cli_command *cmd);

#define EQ_CLI_COMMAND(ident, name_str, summary_str, fn)                        \
  static const eq_cli_command eq_cli_cmd_##ident = {name_str, summary_str, fn}; \
  __attribute__((constructor)) static void eq_cli_register_##ident(void) {     \
    eq_cli_register(&eq_cli_cmd_##ident);                                       \
  }

/* True when argv holds -h or --help. */
int eq_cli_wants_help(int argc, char **argv);

#endif
