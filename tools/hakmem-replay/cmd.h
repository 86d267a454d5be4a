/* cmd.h - the hakmem-replay subcommands (one file each). argv[0] is the
 * command name; each returns the process exit status (util.h EXIT_*). */
#ifndef HKREPLAY_CMD_H
#define HKREPLAY_CMD_H

int cmd_convert(int argc, char **argv);   /* convert.c */
int cmd_info(int argc, char **argv);      /* info.c    */
int cmd_dump(int argc, char **argv);      /* info.c    */
int cmd_run(int argc, char **argv, char **full_argv);  /* run.c */
int cmd_reduce(int argc, char **argv, char **full_argv);  /* reduce.c */

/* run.c: under hakmem without HAKMEM_ARENA_BASE, re-execute this process
 * with it set (serial replays then get the same addresses every time). */
void replay_fix_arena(char **full_argv);

/* run.c: the global stop hook (a named place for a debugger breakpoint). */
void hakmem_replay_stop(unsigned long long index);

#endif
