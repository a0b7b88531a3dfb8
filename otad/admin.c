/* SPDX-License-Identifier: MIT */
/*
 * `otad admin add|passwd|remove|list [USER]`: edits the admins file that
 * otad-admind reads ([admind] admins_file) with yescrypt hashes.  The new
 * text is checked as admind will read it before it replaces the file
 * (temporary file, rename, mode and owner kept); comments and other lines
 * stay as they were.  admind takes it on SIGHUP.  Run by hand as root.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admins.h"
#include "buf.h"
#include "cfg.h"
#include "log.h"
#include "util.h"

#include "otad.h"

#define ADMIN_FILE_MAX		(1024 * 1024)
#define ADMIN_NAME_MAX		64
#define ADMIN_NAME_CHARS	"abcdefghijklmnopqrstuvwxyz" \
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-"
#define ADMIN_HASH_MAX		512

/* The admins file as lines of text, and where USER's line is. */
struct admin_file {
	const char	*path;
	struct buf	 text;
	int		 exists;
	size_t		 user_at;	/* offset of USER's line */
	size_t		 user_len;	/* its length with the newline; 0: none */
};

static int	 admin_list(struct admin_file *);
static int	 admin_add(struct admin_file *, const char *);
static int	 admin_change(struct admin_file *, const char *, int);
static int	 admin_check_name(const char *);
static int	 admin_read(struct admin_file *);
static void	 admin_find(struct admin_file *, const char *);
static int	 admin_hash_line(const char *, struct buf *);
static int	 admin_save(struct admin_file *, struct buf *, const char *,
		    const char *);

int
otad_admin(int argc, char **argv)
{
	struct admin_file	 f = { .text = BUF_INIT };
	struct cfg		 cfg;
	const char		*conf = CFG_DEFAULT_PATH, *verb, *user;
	int			 ch, rc;

	while ((ch = getopt(argc, argv, "+c:h")) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'h':
			otad_usage(0);
		default:
			otad_usage(2);
		}
	}
	verb = optind < argc ? argv[optind] : "";
	user = optind + 1 < argc ? argv[optind + 1] : NULL;
	if (strcmp(verb, "list") == 0 ? argc - optind != 1 :
	    argc - optind != 2)
		otad_usage(2);
	log_init("otad", 0);
	if (cfg_load(&cfg, conf, stderr) != 0) {
		fprintf(stderr, "otad: %s must load to find the admins "
		    "file\n", conf);
		return 1;
	}
	f.path = cfg.admind.admins_file;
	if (user != NULL && admin_check_name(user) == -1)
		rc = 1;
	else if (admin_read(&f) == -1)
		rc = 1;
	else if (strcmp(verb, "list") == 0)
		rc = admin_list(&f);
	else if (strcmp(verb, "add") == 0)
		rc = admin_add(&f, user);
	else if (strcmp(verb, "passwd") == 0)
		rc = admin_change(&f, user, 1);
	else if (strcmp(verb, "remove") == 0)
		rc = admin_change(&f, user, 0);
	else {
		fprintf(stderr, "otad: unknown admin command \"%s\"\n", verb);
		otad_usage(2);
	}
	buf_free(&f.text);
	cfg_free(&cfg);
	return rc;
}

static int
admin_list(struct admin_file *f)
{
	struct admins	*a;
	const char	*user;
	char		 err[512];

	if (!f->exists) {
		fprintf(stderr, "otad: %s does not exist; add an admin with "
		    "otad admin add USER\n", f->path);
		return 1;
	}
	if ((a = admins_parse(f->text.data, f->text.len, f->path, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "otad: %s\n", err);
		return 1;
	}
	for (size_t i = 0; (user = admins_user(a, i)) != NULL; i++)
		printf("%s\n", user);
	admins_free(a);
	return 0;
}

static int
admin_add(struct admin_file *f, const char *user)
{
	struct buf	 text = BUF_INIT;
	int		 rc = 1;

	admin_find(f, user);
	if (f->user_len > 0) {
		fprintf(stderr, "otad: admin %s already exists in %s; change "
		    "the password with otad admin passwd %s\n", user, f->path,
		    user);
		return 1;
	}
	if (buf_add(&text, f->text.data, f->text.len) == -1 ||
	    (text.len > 0 && text.data[text.len - 1] != '\n' &&
	    buf_addc(&text, '\n') == -1))
		fatal("out of memory");
	if (admin_hash_line(user, &text) == 0)
		rc = admin_save(f, &text, user, "added");
	buf_free(&text);
	return rc;
}

/* USER's line replaced with a new password, or removed (password 0). */
static int
admin_change(struct admin_file *f, const char *user, int password)
{
	struct buf	 text = BUF_INIT;
	int		 rc = 1;

	admin_find(f, user);
	if (f->user_len == 0) {
		fprintf(stderr, "otad: no admin %s in %s (otad admin list "
		    "shows them)\n", user, f->path);
		return 1;
	}
	if (buf_add(&text, f->text.data, f->user_at) == -1)
		fatal("out of memory");
	if (!password || admin_hash_line(user, &text) == 0) {
		if (buf_add(&text, f->text.data + f->user_at + f->user_len,
		    f->text.len - f->user_at - f->user_len) == -1)
			fatal("out of memory");
		rc = admin_save(f, &text, user, password ?
		    "changed the password of" : "removed");
	}
	buf_free(&text);
	return rc;
}

/* What admind takes as a user name, made stricter for shells and logs. */
static int
admin_check_name(const char *user)
{
	size_t	 n = strlen(user);

	if (n >= 1 && n <= ADMIN_NAME_MAX && user[0] != '-' &&
	    strspn(user, ADMIN_NAME_CHARS) == n)
		return 0;
	fprintf(stderr, "otad: \"%s\" is not a valid admin name: use 1 to "
	    "%d letters, digits, '.', '_', '@' or '-', not starting with "
	    "'-'\n", user, ADMIN_NAME_MAX);
	return -1;
}

/* The whole file into f->text; a missing file reads as empty. */
static int
admin_read(struct admin_file *f)
{
	char	 chunk[4096];
	FILE	*fp;
	size_t	 n;

	if ((fp = fopen(f->path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "otad: cannot read %s: %s (run as root?)\n",
		    f->path, strerror(errno));
		return -1;
	}
	f->exists = 1;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (f->text.len + n > ADMIN_FILE_MAX) {
			fprintf(stderr, "otad: %s is larger than %d bytes: not "
			    "an admins file\n", f->path, ADMIN_FILE_MAX);
			fclose(fp);
			return -1;
		}
		if (buf_add(&f->text, chunk, n) == -1)
			fatal("out of memory");
	}
	if (ferror(fp)) {
		fprintf(stderr, "otad: cannot read %s: %s\n", f->path,
		    strerror(errno));
		fclose(fp);
		return -1;
	}
	fclose(fp);
	return 0;
}

/* The line "user:..." (leading blanks allowed, as admind reads it). */
static void
admin_find(struct admin_file *f, const char *user)
{
	const char	*p = f->text.data, *end = p + f->text.len, *nl, *name;
	size_t		 ulen = strlen(user);

	f->user_len = 0;
	for (; p < end; p = nl) {
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl == NULL ? end : nl + 1;
		name = p + strspn(p, " \t");
		if (name + ulen < nl && memcmp(name, user, ulen) == 0 &&
		    name[ulen] == ':') {
			f->user_at = (size_t)(p - f->text.data);
			f->user_len = (size_t)(nl - p);
			return;
		}
	}
}

/* Asks for the password and appends "user:hash\n" to text. */
static int
admin_hash_line(const char *user, struct buf *text)
{
	char	 password[OTAD_PASSWORD_MAX + 2], hash[ADMIN_HASH_MAX];
	int	 rc = -1;

	if (otad_askpass(user, password, sizeof(password)) == -1)
		goto out;
	if (password[0] == '\0') {
		fprintf(stderr, "otad: the password is empty; nothing "
		    "changed\n");
		goto out;
	}
	if (admins_hash(password, hash, sizeof(hash)) == -1) {
		fprintf(stderr, "otad: cannot hash the password (yescrypt "
		    "from libcrypt)\n");
		goto out;
	}
	if (buf_printf(text, "%s:%s\n", user, hash) == -1)
		fatal("out of memory");
	rc = 0;
out:
	explicit_bzero(password, sizeof(password));
	return rc;
}

/* Checks text as admind will read it, then replaces the file. */
static int
admin_save(struct admin_file *f, struct buf *text, const char *user,
    const char *done)
{
	struct admins	*a;
	char		 err[512];

	if ((a = admins_parse(text->data, text->len, f->path, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "otad: %s; %s not changed\n", err, f->path);
		return 1;
	}
	admins_free(a);
	if (util_write_file(f->path, text->data, text->len, 0600) == -1) {
		fprintf(stderr, "otad: cannot write %s: %s\n", f->path,
		    strerror(errno));
		return 1;
	}
	printf("otad: %s admin %s in %s; apply it with: systemctl reload "
	    "otad-admind (or send SIGHUP to otad-admind or otad run)\n",
	    done, user, f->path);
	return 0;
}
