/* SPDX-License-Identifier: MIT */
/*
 * The `otad` command: private prototypes shared by main.c (argument
 * dispatch), init.c (`otad init DIR`), run.c (`otad run`, the foreground
 * supervisor of the three daemons) and admin.c with askpass.c (`otad
 * admin`, the admins file).
 */
#ifndef OTAD_OTAD_H
#define OTAD_OTAD_H

#include <stddef.h>

/* main.c */
void	 otad_usage(int status) __attribute__((noreturn));

/* init.c */
int	 otad_init(int argc, char **argv);

/* admin.c */
int	 otad_admin(int argc, char **argv);

/* askpass.c */
#define OTAD_PASSWORD_MAX	256	/* bytes */
/* The new password of user into out (OTAD_PASSWORD_MAX + 2 bytes): twice
 * without echo on a terminal, else stdin's first line; -1 (said why). */
int	 otad_askpass(const char *user, char *out, size_t outlen);

/* run.c */
int	 otad_run(int argc, char **argv);

#endif
