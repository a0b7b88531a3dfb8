/* SPDX-License-Identifier: MIT */
/*
 * The `otad` command: private prototypes shared by main.c (argument
 * dispatch), init.c (`otad init DIR`) and run.c (`otad run`, the
 * foreground supervisor of the three daemons).
 */
#ifndef OTAD_OTAD_H
#define OTAD_OTAD_H

/* main.c */
void	 otad_usage(int status) __attribute__((noreturn));

/* init.c */
int	 otad_init(int argc, char **argv);

/* run.c */
int	 otad_run(int argc, char **argv);

#endif
