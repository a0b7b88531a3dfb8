/* SPDX-License-Identifier: MIT */
/* Unit test: the configuration file (common/cfg.c). */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "check.h"

static int
load(const char *text, struct cfg *cfg, char *errs, size_t errlen)
{
	char	 path[] = "/tmp/otad-test-cfg-XXXXXX";
	int	 fd = mkstemp(path), problems;
	FILE	*err = fmemopen(errs, errlen, "w");

	write(fd, text, strlen(text));
	close(fd);
	problems = cfg_load(cfg, path, err);
	fclose(err);
	unlink(path);
	return problems;
}

int
main(void)
{
	struct cfg	 cfg;
	char		 errs[2048];
	uint64_t	 v;

	/* Every key has a default. */
	CHECK(load("", &cfg, errs, sizeof(errs)) == 0);
	CHECK(strcmp(cfg.hwd.listen, "[::]:8442") == 0);
	CHECK(strcmp(cfg.admind.listen, "[::]:9443") == 0);
	CHECK(strcmp(cfg.fwstore.listen, "[::]:8080") == 0);
	CHECK(strcmp(cfg.state_dir, "/var/lib/otad") == 0);
	CHECK(cfg.admind.max_firmware_size == 16 * 1024 * 1024);
	CHECK(cfg.fwstore.max_downloads == 1000);
	CHECK(cfg.admind.head_timeout == 30 && cfg.fwstore.head_timeout == 10);
	CHECK(cfg_fwstore_port(&cfg) == 8080);
	cfg_free(&cfg);

	CHECK(load("[otad]\nstate_dir = /srv/otad\n[fwstore]\n"
	    "listen = 127.0.0.1:18080\npublic_url = http://ota.example.com:8080"
	    "\n[admind]\nmax_firmware_size = 512K\n", &cfg, errs,
	    sizeof(errs)) == 0);
	CHECK(strcmp(cfg.state_dir, "/srv/otad") == 0);
	CHECK(cfg_fwstore_port(&cfg) == 18080);
	CHECK(cfg.admind.max_firmware_size == 512 * 1024);
	char *fw = cfg_firmware_dir(&cfg);
	CHECK(strcmp(fw, "/srv/otad/firmware") == 0);
	free(fw);
	cfg_free(&cfg);

	/* One line per problem, naming the key and the fix. */
	CHECK(load("[hwd]\nlisten = 8442\nmax_connections = lots\nbogus = 1\n"
	    "[admind]\nallowed_ips = 10.0.0.0/40\n[fwstore]\npublic_url = "
	    "ota.example.com\n", &cfg, errs, sizeof(errs)) == 5);
	CHECK(strstr(errs, "[hwd] listen: \"8442\" is not an address:port") !=
	    NULL);
	CHECK(strstr(errs, "[hwd] max_connections: \"lots\" is not a whole "
	    "number") != NULL);
	CHECK(strstr(errs, "unknown key \"bogus\" in section [hwd]") != NULL);
	CHECK(strstr(errs, "[admind] allowed_ips:") != NULL);
	CHECK(strstr(errs, "must start with http://") != NULL);
	cfg_free(&cfg);
	CHECK(load("[fwstore]\nhead_timeout = 0\n", &cfg, errs,
	    sizeof(errs)) == 1);
	CHECK(strstr(errs, "[fwstore] head_timeout: must be at least 1 "
	    "(seconds)") != NULL);
	cfg_free(&cfg);

	CHECK(load("", &cfg, errs, sizeof(errs)) == 0);
	CHECK(cfg.admind.consent_pin == 127 &&
	    cfg.admind.consent_defer_max == 1440);
	cfg_free(&cfg);
	CHECK(load("[admind]\nconsent_pin = 255\nconsent_defer_max = 5\n",
	    &cfg, errs, sizeof(errs)) == 0);
	CHECK(cfg.admind.consent_pin == 255 &&
	    cfg.admind.consent_defer_max == 5);
	cfg_free(&cfg);
	CHECK(load("[admind]\nconsent_pin = 256\nconsent_defer_max = 0\n",
	    &cfg, errs, sizeof(errs)) == 2);
	CHECK(strstr(errs, "[admind] consent_pin: must be a virtual pin from "
	    "0 to 255") != NULL);
	CHECK(strstr(errs, "[admind] consent_defer_max: must be at least 1 "
	    "(minutes)") != NULL);
	cfg_free(&cfg);

	/* trusted_proxies: empty by default, a CIDR list like allowed_ips */
	CHECK(load("", &cfg, errs, sizeof(errs)) == 0);
	CHECK(*cfg.admind.trusted_proxies == '\0');
	cfg_free(&cfg);
	CHECK(load("[admind]\ntrusted_proxies = 127.0.0.1, 10.0.0.0/8 fd00::/8\n",
	    &cfg, errs, sizeof(errs)) == 0);
	CHECK(strcmp(cfg.admind.trusted_proxies,
	    "127.0.0.1, 10.0.0.0/8 fd00::/8") == 0);
	cfg_free(&cfg);
	CHECK(load("[admind]\ntrusted_proxies = nginx\n", &cfg, errs,
	    sizeof(errs)) == 1);
	CHECK(strstr(errs, "[admind] trusted_proxies: \"nginx\" is not an IPv4 "
	    "or IPv6 address or CIDR block") != NULL);
	cfg_free(&cfg);

	CHECK(load("[hwd]\ntls_listen = [::]:8441\n", &cfg, errs,
	    sizeof(errs)) == 1);
	CHECK(strstr(errs, "tls_listen needs tls_cert and tls_key") != NULL);
	cfg_free(&cfg);

	/* Webhooks: URLs, a secret when there is one, known kinds. */
	CHECK(load("", &cfg, errs, sizeof(errs)) == 0);
	CHECK(*cfg.admind.webhook_url == '\0' &&
	    cfg.admind.webhook_queue_max == 10000);
	cfg_free(&cfg);
	CHECK(load("[admind]\nwebhook_url = http://127.0.0.1:9/a "
	    "https://hooks.example.com/otad\nwebhook_secret = s3cret\n"
	    "webhook_events = delivery device.online job\n"
	    "webhook_queue_max = 5\n", &cfg, errs, sizeof(errs)) == 0);
	CHECK(cfg.admind.webhook_queue_max == 5);
	CHECK(strcmp(cfg.admind.webhook_events,
	    "delivery device.online job") == 0);
	cfg_free(&cfg);
	/* the kinds may be separated by commas too, as webhook.c reads them */
	CHECK(load("[admind]\nwebhook_events = delivery, job\n", &cfg, errs,
	    sizeof(errs)) == 0);
	cfg_free(&cfg);
	CHECK(load("[admind]\nwebhook_url = http://127.0.0.1:9/a\n", &cfg,
	    errs, sizeof(errs)) == 1);
	CHECK(strstr(errs, "webhook_url needs webhook_secret") != NULL);
	cfg_free(&cfg);
	CHECK(load("[admind]\nwebhook_url = ftp://x/ http://\nwebhook_secret"
	    " = s3cret\nwebhook_events = delivery devices device.\n"
	    "webhook_queue_max = 0\n", &cfg, errs, sizeof(errs)) == 3);
	CHECK(strstr(errs, "[admind] webhook_url: \"ftp://x/\" is no http://")
	    != NULL);
	CHECK(strstr(errs, "[admind] webhook_events: \"devices\" is no event "
	    "kind") != NULL);
	CHECK(strstr(errs, "[admind] webhook_queue_max: must be at least 1")
	    != NULL);
	CHECK(strstr(errs, "s3cret") == NULL);
	cfg_free(&cfg);

	/* [otad] database: empty (SQLite) or a PostgreSQL URI; node: the
	 * host name unless set, a short name of [A-Za-z0-9._-]. */
	char	 host[256] = "";
	gethostname(host, sizeof(host) - 1);
	CHECK(load("", &cfg, errs, sizeof(errs)) == 0);
	CHECK(*cfg.database == '\0' && strcmp(cfg.node, host) == 0);
	cfg_free(&cfg);
	CHECK(load("[otad]\ndatabase = postgresql://otad@db.example:5432/otad"
	    "\nnode = ota-1.example_2\n", &cfg, errs, sizeof(errs)) == 0);
	CHECK(strcmp(cfg.database, "postgresql://otad@db.example:5432/otad")
	    == 0 && strcmp(cfg.node, "ota-1.example_2") == 0);
	cfg_free(&cfg);
	CHECK(load("[otad]\ndatabase = postgres:///otad?host=/run/pg\n"
	    "node = 012345678901234567890123456789012345678901234567890123456789"
	    "012\n", &cfg, errs, sizeof(errs)) == 0);
	CHECK(strlen(cfg.node) == 63);
	cfg_free(&cfg);
	CHECK(load("[otad]\ndatabase = mysql://otad:s3cret@db/otad\n"
	    "node = ota 1\n", &cfg, errs, sizeof(errs)) == 2);
	CHECK(strstr(errs, "[otad] database: must be a PostgreSQL connection "
	    "URI starting with postgresql:// or postgres:// (e.g. "
	    "postgresql://otad@db.example:5432/otad)") != NULL);
	CHECK(strstr(errs, "s3cret") == NULL);
	CHECK(strstr(errs, "[otad] node: \"ota 1\" is no node name: at most 63 "
	    "letters, digits") != NULL);
	cfg_free(&cfg);
	CHECK(load("[otad]\ndatabase = postgresql://otad@db/otad x\n"
	    "node = 012345678901234567890123456789012345678901234567890123456789"
	    "0123\n", &cfg, errs, sizeof(errs)) == 2);
	CHECK(strstr(errs, "[otad] database: must be") != NULL);
	CHECK(strstr(errs, "[otad] node: \"0123") != NULL);
	cfg_free(&cfg);
	CHECK(load("[otad]\nnode = a/b\nnode = .hidden\nnode = -x\n", &cfg,
	    errs, sizeof(errs)) == 3);
	CHECK(strstr(errs, "[otad] node: \"a/b\" is no node name") != NULL);
	CHECK(strstr(errs, "[otad] node: \".hidden\" is no node name") != NULL);
	CHECK(strstr(errs, "starting with a letter or digit") != NULL);
	cfg_free(&cfg);

	CHECK(cfg_load(&cfg, "/nonexistent/otad.conf", fmemopen(errs,
	    sizeof(errs), "w")) == 1);
	cfg_free(&cfg);

	CHECK(cfg_parse_size("16M", &v) == 0 && v == 16777216);
	CHECK(cfg_parse_size("1g", &v) == 0 && v == 1073741824);
	CHECK(cfg_parse_size("12", &v) == 0 && v == 12);
	CHECK(cfg_parse_size("M", &v) == -1);
	CHECK(cfg_parse_size("12Q", &v) == -1);

	/* A host name that is no node name: a problem only with a database.
	 * Needs a UTS namespace of its own (root); the rest of this program
	 * runs in it. */
	if (unshare(CLONE_NEWUTS) == 0 && sethostname("bad host!", 9) == 0) {
		CHECK(load("", &cfg, errs, sizeof(errs)) == 0);
		CHECK(*cfg.node == '\0');
		cfg_free(&cfg);
		CHECK(load("[otad]\ndatabase = postgresql://otad@db/otad\n", &cfg,
		    errs, sizeof(errs)) == 1);
		CHECK(strstr(errs, "[otad] node: the host name \"bad host!\" is "
		    "no node name") != NULL);
		cfg_free(&cfg);
		CHECK(load("[otad]\ndatabase = postgresql://otad@db/otad\n"
		    "node = ota-2\n", &cfg, errs, sizeof(errs)) == 0);
		CHECK(strcmp(cfg.node, "ota-2") == 0);
		cfg_free(&cfg);
	} else
		printf("test_cfg: no UTS namespace (not root?): the host name "
		    "fallback is not checked\n");
	return check_exit("test_cfg");
}
