/* `equivar <command> [options]`: dispatch to the registered commands. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EQ_CLI_MAX_COMMANDS 64

static const eq_cli_command *commands[EQ_CLI_MAX_COMMANDS];
static int command_count = 0;

void eq_cli_register(const eq_cli_command *cmd) {
  if (command_count < EQ_CLI_MAX_COMMANDS) commands[command_count++] = cmd;
}

int eq_cli_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp((*(const eq_cli_command *const *)a)->name, (*(const eq_cli_command *const *)b)->name);
}

static void usage(FILE *out) {
  fprintf(out, "usage: equivar <command> [options]\n\n"
               "Self-supervised invariant + equivariant feature learning, "
               "distributed arrays and their algorithms.\n\ncommands:\n");
  for (int i = 0; i < command_count; i++)
    fprintf(out, "  %-14s %s\n", commands[i]->name, commands[i]->summary);
  fprintf(out, "\n`equivar <command> --help` describes a command's options.\n");
}

int main(int argc, char **argv) {
  qsort(commands, command_count, sizeof commands[0], by_name);
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    usage(stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("equivar 0.1.0\n");
    return 0;
  }
  for (int i = 0; i < command_count; i++)
    if (!strcmp(argv[1], commands[i]->name)) return commands[i]->run(argc - 1, argv + 1);
  fprintf(stderr, "equivar: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
