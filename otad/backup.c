/* SPDX-License-Identifier: MIT */
/*
 * `otad backup DIR` and `otad restore BACKUP STATE_DIR`.  A backup is a
 * consistent copy taken while otad runs: the database through SQLite's
 * online backup (store_backup.c: one snapshot, read in steps, admind not
 * held), then each firmware file that snapshot names, its SHA-256 checked
 * against its name while it is copied, then a MANIFEST (JSON: otad and
 * schema version, time, every file with its size and SHA-256), written
 * last, so a backup without one is incomplete.  A restore checks every
 * file against the MANIFEST before it writes anything, then copies them
 * into a new, empty state directory owned by the daemon's user.  Run by
 * hand (or cron) as root or otad-admin, never by a daemon.
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cfg.h"
#include "sandbox.h"
#include "store.h"
#include "util.h"

#include "otad.h"

#define BACKUP_MANIFEST		"MANIFEST"
#define BACKUP_DB		"otad.db"
#define BACKUP_FIRMWARE		"firmware"
#define BACKUP_MAX_MANIFEST	(16 * 1024 * 1024)
#define BACKUP_CHUNK		(64 * 1024)

struct backup {
	const char	*state_dir;
	const char	*dir;
	struct buf	 files;		/* the MANIFEST's "files" entries */
	size_t		 nfirmware;
	uint64_t	 bytes;
};

/* Who gets the restored files: the database is the owner's, the
 * firmware also readable by the group of otad-fwstore when it exists (as
 * the package's tmpfiles.d makes it). */
struct restore_owner {
	int		 set;
	uid_t		 uid;
	gid_t		 gid;
	gid_t		 firmware_gid;
};

static void	 backup_die(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
static void	 backup_empty_dir(const char *dir, mode_t mode);
static int	 backup_copy(const char *src, const char *dst, mode_t mode,
		    char *sha256, uint64_t *size);
static int	 backup_hash(const char *path, char *sha256, uint64_t *size);
static int	 backup_firmware(void *, const char *sha256, uint64_t size);
static void	 backup_entry(struct backup *, const char *path,
		    uint64_t size, const char *sha256);
static void	 backup_manifest(struct backup *, int schema_version);
static void	 backup_sync_dir(const char *);
static struct json_value *restore_manifest(const char *backup);
static void	 restore_check(const char *backup,
		    const struct json_value *files);
static int	 restore_path_ok(const char *);
static void	 restore_owner(const char *user, const char *state_dir,
		    struct restore_owner *);
static void	 restore_copy(const char *backup, const char *state_dir,
		    const struct json_value *files,
		    const struct restore_owner *);

static const struct option backup_options[] = {
	{ "config",	required_argument,	NULL, 'c' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL,		0,			NULL, 0 }
};

static const struct option restore_options[] = {
	{ "owner",	required_argument,	NULL, 'o' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL,		0,			NULL, 0 }
};

int
otad_backup(int argc, char **argv)
{
	struct backup	 b = { .files = BUF_INIT };
	struct cfg	 cfg;
	const char	*conf = CFG_DEFAULT_PATH;
	char		 src[PATH_MAX], dst[PATH_MAX], sha[65], err[512];
	uint64_t	 size;
	int		 ch, schema;

	while ((ch = getopt_long(argc, argv, "c:h", backup_options,
	    NULL)) != -1) {
		if (ch == 'c')
			conf = optarg;
		else
			otad_usage(ch == 'h' ? 0 : OTAD_EXIT_USAGE);
	}
	if (argc - optind != 1)
		otad_usage(OTAD_EXIT_USAGE);
	if (cfg_load(&cfg, conf, stderr) == -1)
		backup_die("%s: fix the lines above, or name the right file "
		    "with -c", conf);
	if (*cfg.database)
		backup_die("%s keeps otad's state in PostgreSQL ([otad] "
		    "database), firmware included: back it up with PostgreSQL's "
		    "tools, e.g. pg_dump -Fc -f otad.dump DBNAME (README: "
		    "Running several nodes)", conf);
	b.state_dir = cfg.state_dir;
	b.dir = argv[optind];
	backup_empty_dir(b.dir, 0700);
	snprintf(dst, sizeof(dst), "%s/%s", b.dir, BACKUP_FIRMWARE);
	if (mkdir(dst, 0700) == -1)
		backup_die("cannot create %s: %s", dst, strerror(errno));
	snprintf(src, sizeof(src), "%s/%s", b.state_dir, BACKUP_DB);
	snprintf(dst, sizeof(dst), "%s/%s", b.dir, BACKUP_DB);
	if (access(src, R_OK) == -1)
		backup_die("cannot read %s: %s (run otad backup as root or "
		    "as the user of otad-admind)", src, strerror(errno));
	/* the copy holds token hashes: for its owner only */
	if ((ch = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1 || close(ch) == -1)
		backup_die("cannot create %s: %s", dst, strerror(errno));
	if (store_backup(src, dst, err, sizeof(err)) == -1 ||
	    store_backup_check(dst, &schema, backup_firmware, &b, err,
	    sizeof(err)) == -1)
		backup_die("%s", err);
	if (backup_hash(dst, sha, &size) == -1)
		backup_die("cannot read %s: %s", dst, strerror(errno));
	backup_entry(&b, BACKUP_DB, size, sha);
	b.bytes += size;
	backup_manifest(&b, schema);
	printf("backup of %s in %s: the database (schema version %d) and "
	    "%zu firmware file%s, %" PRIu64 " bytes, each in %s/%s with its "
	    "SHA-256\n", b.state_dir, b.dir, schema, b.nfirmware,
	    b.nfirmware == 1 ? "" : "s", b.bytes, b.dir, BACKUP_MANIFEST);
	buf_free(&b.files);
	cfg_free(&cfg);
	return OTAD_EXIT_OK;
}

int
otad_restore(int argc, char **argv)
{
	struct restore_owner owner = { 0 };
	struct json_value *manifest;
	const char	*user = NULL, *backup, *state_dir;
	int		 ch;

	while ((ch = getopt_long(argc, argv, "o:h", restore_options,
	    NULL)) != -1) {
		if (ch == 'o')
			user = optarg;
		else
			otad_usage(ch == 'h' ? 0 : OTAD_EXIT_USAGE);
	}
	if (argc - optind != 2)
		otad_usage(OTAD_EXIT_USAGE);
	backup = argv[optind];
	state_dir = argv[optind + 1];
	manifest = restore_manifest(backup);
	restore_check(backup, json_get(manifest, "files"));
	restore_owner(user, state_dir, &owner);
	backup_empty_dir(state_dir, 0750);
	restore_copy(backup, state_dir, json_get(manifest, "files"), &owner);
	printf("restored %s into %s; every file matched its SHA-256.\n"
	    "Next: point state_dir in otad.conf at %s (or move it to the "
	    "state_dir there), then start otad.\n", backup, state_dir,
	    state_dir);
	json_free(manifest);
	return OTAD_EXIT_OK;
}

static void
backup_die(const char *fmt, ...)
{
	va_list	 ap;

	fputs("otad: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(OTAD_EXIT_USAGE);
}

/* dir exists empty or is made with mode; never a place with files. */
static void
backup_empty_dir(const char *dir, mode_t mode)
{
	DIR	*d;
	struct dirent *e;

	if (util_mkdirs(dir, (int)mode) == -1)
		backup_die("cannot create %s: %s", dir, strerror(errno));
	if ((d = opendir(dir)) == NULL)
		backup_die("cannot read %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			closedir(d);
			backup_die("%s is not empty; give a new or empty "
			    "directory", dir);
		}
	closedir(d);
}

/* src to the new file dst (fsync'd), its SHA-256 and size. */
static int
backup_copy(const char *src, const char *dst, mode_t mode, char *sha256,
    uint64_t *size)
{
	EVP_MD_CTX	*md = EVP_MD_CTX_new();
	unsigned char	 chunk[BACKUP_CHUNK], digest[EVP_MAX_MD_SIZE];
	unsigned int	 dlen = 0;
	ssize_t		 n = 0;
	int		 in, out = -1, rc = -1;

	*size = 0;
	if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
	    (in = open(src, O_RDONLY | O_CLOEXEC)) == -1) {
		EVP_MD_CTX_free(md);
		return -1;
	}
	if (dst != NULL && (out = open(dst, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC, mode)) == -1)
		goto out;
	while ((n = read(in, chunk, sizeof(chunk))) > 0) {
		EVP_DigestUpdate(md, chunk, (size_t)n);
		*size += (uint64_t)n;
		if (out != -1 && write(out, chunk, (size_t)n) != n)
			goto out;
	}
	if (n == 0 && (out == -1 || fsync(out) == 0) &&
	    EVP_DigestFinal_ex(md, digest, &dlen)) {
		util_hex(digest, dlen, sha256);
		rc = 0;
	}
out:
	if (out != -1 && close(out) == -1)
		rc = -1;
	close(in);
	EVP_MD_CTX_free(md);
	return rc;
}

static int
backup_hash(const char *path, char *sha256, uint64_t *size)
{
	return backup_copy(path, NULL, 0, sha256, size);
}

/* One image the snapshot names: copied, its SHA-256 checked. */
static int
backup_firmware(void *arg, const char *sha256, uint64_t size)
{
	struct backup	*b = arg;
	char		 src[PATH_MAX], dst[PATH_MAX], got[65], rel[128];
	uint64_t	 got_size;

	snprintf(src, sizeof(src), "%s/%s/%s", b->state_dir, BACKUP_FIRMWARE,
	    sha256);
	snprintf(dst, sizeof(dst), "%s/%s/%s", b->dir, BACKUP_FIRMWARE, sha256);
	if (backup_copy(src, dst, 0600, got, &got_size) == -1) {
		fprintf(stderr, "otad: cannot copy %s: %s (deleted while the "
		    "backup ran? run otad backup again)\n", src,
		    strerror(errno));
		return -1;
	}
	if (strcmp(got, sha256) != 0 || got_size != size) {
		fprintf(stderr, "otad: %s is damaged: its SHA-256 is %s and "
		    "%" PRIu64 " bytes, the database says %s and %" PRIu64
		    "\n", src, got, got_size, sha256, size);
		return -1;
	}
	snprintf(rel, sizeof(rel), "%s/%s", BACKUP_FIRMWARE, sha256);
	backup_entry(b, rel, size, sha256);
	b->nfirmware++;
	b->bytes += size;
	return 0;
}

static void
backup_entry(struct backup *b, const char *path, uint64_t size,
    const char *sha256)
{
	buf_adds(&b->files, b->files.len ? ",\n  {\"path\":" : "\n  {\"path\":");
	json_str(&b->files, path);
	buf_printf(&b->files, ",\"size\":%" PRIu64 ",\"sha256\":", size);
	json_str(&b->files, sha256);
	buf_addc(&b->files, '}');
}

/* MANIFEST, last: its presence says the backup is whole. */
static void
backup_manifest(struct backup *b, int schema_version)
{
	struct buf	 m = BUF_INIT;
	char		 path[PATH_MAX], now[21];

	util_iso8601(time(NULL), now);
	buf_adds(&m, "{\"otad_version\":");
	json_str(&m, OTAD_VERSION);
	buf_printf(&m, ",\"schema_version\":%d,\"created_at\":",
	    schema_version);
	json_str(&m, now);
	buf_adds(&m, ",\"state_dir\":");
	json_str(&m, b->state_dir);
	buf_printf(&m, ",\"files\":[%s\n]}\n", buf_cstr(&b->files));
	backup_sync_dir(b->dir);
	snprintf(path, sizeof(path), "%s/%s", b->dir, BACKUP_FIRMWARE);
	backup_sync_dir(path);
	snprintf(path, sizeof(path), "%s/%s", b->dir, BACKUP_MANIFEST);
	if (util_write_file(path, m.data, m.len, 0600) == -1)
		backup_die("cannot write %s: %s", path, strerror(errno));
	backup_sync_dir(b->dir);
	buf_free(&m);
}

static void
backup_sync_dir(const char *dir)
{
	int	 fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(fd) == -1)
		backup_die("cannot sync %s: %s", dir, strerror(errno));
	close(fd);
}

static struct json_value *
restore_manifest(const char *backup)
{
	struct json_value *v;
	struct buf	 text = BUF_INIT;
	char		 path[PATH_MAX], chunk[BACKUP_CHUNK], err[200];
	size_t		 n;
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", backup, BACKUP_MANIFEST);
	if ((f = fopen(path, "r")) == NULL)
		backup_die("cannot read %s: %s (a backup without it is "
		    "incomplete)", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 &&
	    text.len < BACKUP_MAX_MANIFEST)
		buf_add(&text, chunk, n);
	fclose(f);
	v = json_parse(buf_cstr(&text), text.len, err, sizeof(err));
	buf_free(&text);
	if (v == NULL || json_get(v, "files") == NULL ||
	    json_get(v, "files")->kind != JSON_ARRAY)
		backup_die("%s is no otad backup MANIFEST%s%s", path,
		    v ? "" : ": ", v ? "" : err);
	return v;
}

/* Every file of the MANIFEST there, whole, before anything is written. */
static void
restore_check(const char *backup, const struct json_value *files)
{
	const struct json_value *f, *size;
	const char	*rel, *want;
	char		 path[PATH_MAX], got[65];
	uint64_t	 got_size;
	int		 db = 0;

	for (size_t i = 0; i < files->n; i++) {
		f = &files->items[i];
		rel = json_get_str(f, "path");
		want = json_get_str(f, "sha256");
		size = json_get(f, "size");
		if (rel == NULL || want == NULL || size == NULL ||
		    !restore_path_ok(rel))
			backup_die("%s/%s: entry %zu is not a file of a state "
			    "directory", backup, BACKUP_MANIFEST, i + 1);
		db += strcmp(rel, BACKUP_DB) == 0;
		snprintf(path, sizeof(path), "%s/%s", backup, rel);
		if (backup_hash(path, got, &got_size) == -1)
			backup_die("cannot read %s: %s; nothing was restored",
			    path, strerror(errno));
		if (strcmp(got, want) != 0 || (double)got_size != size->num)
			backup_die("%s does not match the MANIFEST (SHA-256 %s, "
			    "%" PRIu64 " bytes); nothing was restored", path,
			    got, got_size);
	}
	if (db != 1)
		backup_die("%s/%s names no database; nothing was restored",
		    backup, BACKUP_MANIFEST);
}

/* "otad.db" or "firmware/" and 64 lower-case hex digits: nothing else
 * may be written into the state directory. */
static int
restore_path_ok(const char *rel)
{
	const char	*sha = rel + sizeof(BACKUP_FIRMWARE);

	if (strcmp(rel, BACKUP_DB) == 0)
		return 1;
	return strncmp(rel, BACKUP_FIRMWARE "/", sizeof(BACKUP_FIRMWARE)) ==
	    0 && strlen(sha) == 64 && strspn(sha, "0123456789abcdef") == 64;
}

/* --owner USER, else the owner of an existing state_dir; only root
 * changes owners. */
static void
restore_owner(const char *user, const char *state_dir,
    struct restore_owner *o)
{
	struct passwd	*pw;
	struct group	*gr;
	struct stat	 st;

	if (user != NULL) {
		if ((pw = getpwnam(user)) == NULL)
			backup_die("--owner %s: no such user", user);
		o->uid = pw->pw_uid;
		o->gid = pw->pw_gid;
		o->set = 1;
	} else if (stat(state_dir, &st) == 0) {
		o->uid = st.st_uid;
		o->gid = st.st_gid;
		o->set = 1;
	}
	if (o->set && geteuid() != 0 && o->uid != geteuid())
		backup_die("only root can give %s to another user; run otad "
		    "restore as root", state_dir);
	o->firmware_gid = o->gid;
	if (o->set && (gr = getgrnam(SANDBOX_GROUP_FIRMWARE)) != NULL)
		o->firmware_gid = gr->gr_gid;
}

static void
restore_give(const char *path, const struct restore_owner *o,
    int firmware)
{
	if (o->set && chown(path, o->uid, firmware ? o->firmware_gid :
	    o->gid) == -1)
		backup_die("cannot give %s to uid %u: %s", path,
		    (unsigned)o->uid, strerror(errno));
}

static void
restore_copy(const char *backup, const char *state_dir,
    const struct json_value *files, const struct restore_owner *o)
{
	const char	*rel;
	char		 src[PATH_MAX], dst[PATH_MAX], got[65];
	uint64_t	 size;

	snprintf(dst, sizeof(dst), "%s/%s", state_dir, BACKUP_FIRMWARE);
	if (mkdir(dst, 0750) == -1)
		backup_die("cannot create %s: %s", dst, strerror(errno));
	restore_give(state_dir, o, 0);
	restore_give(dst, o, 1);
	if (o->firmware_gid != o->gid && chmod(dst, 02750) == -1)
		backup_die("cannot chmod %s: %s", dst, strerror(errno));
	for (size_t i = 0; i < files->n; i++) {
		rel = json_get_str(&files->items[i], "path");
		snprintf(src, sizeof(src), "%s/%s", backup, rel);
		snprintf(dst, sizeof(dst), "%s/%s", state_dir, rel);
		if (backup_copy(src, dst, strcmp(rel, BACKUP_DB) == 0 ? 0600 :
		    0640, got, &size) == -1)
			backup_die("cannot copy %s to %s: %s", src, dst,
			    strerror(errno));
		if (strcmp(got, json_get_str(&files->items[i], "sha256")) != 0)
			backup_die("%s changed while it was restored", src);
		restore_give(dst, o, strcmp(rel, BACKUP_DB) != 0);
	}
	snprintf(dst, sizeof(dst), "%s/%s", state_dir, BACKUP_FIRMWARE);
	backup_sync_dir(dst);
	backup_sync_dir(state_dir);
}
