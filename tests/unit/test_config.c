/* test_config.c -- the configuration file: what an admin writes, and every
 * mistake named with its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "helpers.h"

static const char good[] =
	"# faqbot\n"
	"faq_dir = /srv/faq\n"
	"region = uk\n"
	"log_message_text = no\n"
	"\n"
	"[matrix]\n"
	"homeserver = https://matrix.example.org\n"
	"user_id = @faqbot:example.org\n"
	"access_token_env = FAQBOT_TEST_TOKEN\n"
	"rooms = !abc:example.org, #support:example.org\n"
	"moderators = @mod:example.org @mod2:example.org\n"
	"moderators_room = !mods:example.org\n"
	"sync_timeout_ms = 5000\n"
	"\n"
	"[room !abc:example.org]\n"
	"policy = mentions\n"
	"region = ie\n";

static void test_good(void **state)
{
	struct config *c = NULL;
	char err[512] = "";
	const struct config_room *r;

	(void)state;
	assert_int_equal(config_parse_text("x.ini", good, strlen(good), &c, err, sizeof(err)), ERR_OK);
	assert_string_equal(c->faq_dir, "/srv/faq");
	assert_string_equal(c->region, "uk");
	assert_int_equal(c->log_message_text, 0);
	assert_true(c->has_matrix);
	assert_string_equal(c->homeserver, "https://matrix.example.org");
	assert_int_equal(c->rooms.n, 2);
	assert_string_equal(c->rooms.v[1], "#support:example.org"); /* '#' is not a comment here */
	assert_int_equal(c->moderators.n, 2);
	assert_int_equal(c->sync_timeout_ms, 5000);
	r = config_room(c, "!abc:example.org");
	assert_non_null(r);
	assert_int_equal(r->policy, CONFIG_POLICY_MENTIONS);
	assert_string_equal(r->region, "ie");
	assert_null(config_room(c, "!other:example.org"));
	assert_null(c->access_token); /* secrets are read by config_load only */
	config_free(c);
}

static void expect_error(const char *text, const char *want)
{
	struct config *c = NULL;
	char err[512] = "";

	assert_int_equal(config_parse_text("x.ini", text, strlen(text), &c, err, sizeof(err)),
			 ERR_PARSE);
	assert_null(c);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

static void test_errors_name_the_line(void **state)
{
	(void)state;
	expect_error("faq_dir = x\nfrobnicate = 1\n", "x.ini:2: unknown setting 'frobnicate'");
	expect_error("[matrix]\nhomeserver = x\naccess_token = abc\n",
		     "x.ini:3: 'access_token' may not be written in the config file");
	expect_error("[matrix]\nsync_timeout_ms = soon\n", "x.ini:2: sync_timeout_ms must be a whole number");
	expect_error("\n\n[nope]\na = b\n", "x.ini:4: unknown section [nope]");
	expect_error("[room !a:b]\npolicy = sometimes\n", "x.ini:2: policy must be questions or mentions");
	expect_error("a = b\nthis line has no equals sign\n", "x.ini:1: unknown setting 'a'");
	expect_error("faq_dir = x\nthis line has no equals sign\n", "x.ini:2: cannot read this line");
	expect_error("log_message_text = maybe", "x.ini:1: log_message_text must be true or false");
	/* a setting given twice names both lines (inih kept the last, silently) */
	expect_error("faq_dir = x\nregion = us\nfaq_dir = y\n",
		     "x.ini:3: 'faq_dir' is set twice: here and on line 1; keep one");
	expect_error("[matrix]\nuser_id = @a:b\n[irc]\nnick = n\n[matrix]\nuser_id = @c:d\n",
		     "x.ini:6: 'user_id' is set twice in [matrix]: here and on line 2");
	expect_error("[room !a:b]\npolicy = mentions\n[room !a:b]\npolicy = questions\n",
		     "x.ini:4: 'policy' is set twice in [room !a:b]: here and on line 2");
}

/* where each setting was, and a transport's refusal pointed at its line */
static void test_blame(void **state)
{
	static const char text[] = "# c\nfaq_dir = f\n[matrix]\nuser_id = @a:b\n"
				   "homeserver = http://h.example\n[irc]\nnick = n\n";
	struct config *c = NULL;
	char err[512];

	(void)state;
	assert_int_equal(config_parse_text("x.ini", text, strlen(text), &c, err, sizeof(err)),
			 ERR_OK);
	assert_int_equal(config_key_line(c, "", "faq_dir"), 2);
	assert_int_equal(config_key_line(c, "matrix", "homeserver"), 5);
	assert_int_equal(config_key_line(c, "irc", "nick"), 7);
	assert_int_equal(config_key_line(c, "irc", "host"), 0);
	snprintf(err, sizeof(err), "homeserver URL http://h.example uses plain http");
	config_blame(c, "matrix", err, sizeof(err));
	assert_string_equal(err, "x.ini:5: [matrix] homeserver URL http://h.example uses plain http");
	/* no setting named: the section's first line */
	snprintf(err, sizeof(err), "something else");
	config_blame(c, "matrix", err, sizeof(err));
	assert_string_equal(err, "x.ini:4: [matrix] something else");
	config_free(c);
}

static void test_long_line(void **state)
{
	char *text = malloc(6000);
	struct config *c = NULL;
	char err[256];
	size_t o;

	(void)state;
	o = (size_t)snprintf(text, 6000, "[matrix]\nrooms =");
	while (o < 5000)
		o += (size_t)snprintf(text + o, 6000 - o, " !room%zu:example.org", o);
	snprintf(text + o, 6000 - o, "\nuser_id = @a:b\n");
	assert_int_equal(config_parse_text("x.ini", text, strlen(text), &c, err, sizeof(err)), ERR_OK);
	assert_true(c->rooms.n > 200);
	assert_string_equal(c->user_id, "@a:b");
	config_free(c);
	free(text);
	/* over the limit: which line, how long, what the limit is */
	text = malloc(CONFIG_MAX_LINE * 2);
	o = (size_t)snprintf(text, CONFIG_MAX_LINE * 2, "faq_dir = x\nregion = ");
	memset(text + o, 'u', CONFIG_MAX_LINE);
	text[o + CONFIG_MAX_LINE] = '\0';
	assert_int_equal(config_parse_text("x.ini", text, strlen(text), &c, err, sizeof(err)),
			 ERR_LIMIT);
	assert_null(c);
	if (!strstr(err, "x.ini:2: line too long (8201 bytes, the limit is 8190)"))
		fail_msg("long line: %s", err);
	free(text);
}

static void test_secrets(void **state)
{
	char dir[64], conf[128], secret[128], text[512], err[512];
	struct config *c = NULL;

	(void)state;
	assert_int_equal(th_tmpdir(dir, sizeof(dir), "config"), 0);
	snprintf(conf, sizeof(conf), "%s/faqbot.ini", dir);
	snprintf(secret, sizeof(secret), "%s/password", dir);
	snprintf(text, sizeof(text), "[matrix]\nhomeserver = https://h\nuser_id = @a:h\n"
				     "password_file = %s\n", secret);
	th_write(conf, text, 0644);
	th_write(secret, "hunter2\n", 0600);
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_OK);
	assert_string_equal(c->password, "hunter2");
	config_free(c);
	/* a secret others can read is refused, with the fix */
	assert_int_equal(chmod(secret, 0644), 0);
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_INVALID);
	assert_non_null(strstr(err, "can be read by others"));
	assert_non_null(strstr(err, "chmod 600"));
	assert_non_null(strstr(err, "faqbot.ini:4: [matrix] password_file: "));
	/* a secret file that is a symbolic link is refused, saying why */
	{
		char link[160];

		assert_int_equal(chmod(secret, 0600), 0);
		snprintf(link, sizeof(link), "%s/link", dir);
		assert_int_equal(symlink(secret, link), 0);
		snprintf(text, sizeof(text), "[matrix]\nhomeserver = https://h\nuser_id = @a:h\n"
					     "password_file = %s\n", link);
		th_write(conf, text, 0644);
		assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_INVALID);
		assert_null(c);
		assert_non_null(strstr(err, "faqbot.ini:4: [matrix] password_file: "));
		assert_non_null(strstr(err, "is a symbolic link"));
		assert_non_null(strstr(err, "give the real path"));
		unlink(link);
		snprintf(text, sizeof(text), "[matrix]\nhomeserver = https://h\nuser_id = @a:h\n"
					     "password_file = %s\n", secret);
		th_write(conf, text, 0644);
	}
	/* from the environment */
	th_write(conf, "[matrix]\nhomeserver = https://h\nuser_id = @a:h\n"
			 "access_token_env = FAQBOT_TEST_TOKEN\n", 0644);
	unsetenv("FAQBOT_TEST_TOKEN");
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_NOTFOUND);
	assert_non_null(strstr(err, "FAQBOT_TEST_TOKEN"));
	setenv("FAQBOT_TEST_TOKEN", "syt_abc", 1);
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_OK);
	assert_string_equal(c->access_token, "syt_abc");
	config_free(c);
	/* no secret named at all */
	th_write(conf, "[matrix]\nhomeserver = https://h\n", 0644);
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_INVALID);
	assert_non_null(strstr(err, "needs access_token_file"));
	/* an unreadable config says so in one line */
	unlink(conf);
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_IO);
	assert_non_null(strstr(err, "cannot read the config file"));
	assert_null(strchr(err, '\n'));
	/* IRC channel keys: a 0600 file of "#channel key" lines */
	snprintf(text, sizeof(text), "[irc]\nhost = h\nchannels = #a, #b\n"
				     "channel_keys_file = %s\n", secret);
	th_write(conf, text, 0644);
	th_write(secret, "# our keys\n#b k3y\n", 0600);
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_OK);
	assert_null(c->irc_channel_keys[0]);
	assert_string_equal(c->irc_channel_keys[1], "k3y");
	config_free(c);
	th_write(secret, "#b k3y\n#c other\n", 0600);
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_INVALID);
	assert_non_null(strstr(err, ":2: #c is not in [irc] channels"));
	th_rmtree(dir);
}

/* end-to-end encryption: off unless encryption = true; then the pickle key
 * from a 0600 file or a variable, like the other secrets, and long enough
 * to be one; never written in the config */
static void test_encryption(void **state)
{
	char dir[64], conf[128], pw[128], key[128], text[768];
	char err[512], extra[256];
	struct config *c = NULL;

	(void)state;
	assert_int_equal(th_tmpdir(dir, sizeof(dir), "config"), 0);
	snprintf(conf, sizeof(conf), "%s/faqbot.ini", dir);
	snprintf(pw, sizeof(pw), "%s/password", dir);
	snprintf(key, sizeof(key), "%s/pickle-key", dir);
	th_write(pw, "hunter2\n", 0600);
#define CONF(extra)                                                                            \
	do {                                                                                   \
		snprintf(text, sizeof(text),                                                   \
			 "[matrix]\nhomeserver = https://h\nuser_id = @a:h\npassword_file = %s\n" \
			 "state_dir = %s\n%s",                                                 \
			 pw, dir, extra);                                                       \
		th_write(conf, text, 0644);                                                  \
	} while (0)

	/* off by default: a pickle_key_file named but off is not even read */
	CONF("pickle_key_file = /nonexistent/key\n");
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_OK);
	assert_false(c->encryption);
	assert_null(c->pickle_key);
	config_free(c);

	/* on, from a file */
	th_write(key, "0123456789abcdefXYZ=\n", 0600);
	snprintf(extra, sizeof(extra), "encryption = true\npickle_key_file = %s\n", key);
	CONF(extra);
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_OK);
	assert_true(c->encryption);
	assert_string_equal(c->pickle_key, "0123456789abcdefXYZ=");
	config_free(c);
	/* a key file others can read: refused, with the line */
	assert_int_equal(chmod(key, 0640), 0);
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_INVALID);
	assert_non_null(strstr(err, "faqbot.ini:7: [matrix] pickle_key_file: "));
	assert_non_null(strstr(err, "can be read by others"));
	/* too short to be a key */
	th_write(key, "short\n", 0600);
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_INVALID);
	assert_null(c);
	assert_non_null(strstr(err, "faqbot.ini:7: [matrix] pickle_key_file: the pickle key is 5 "
				    "bytes, and must be 16 at least"));
	/* `faqbot keys` reads the config without secrets, then the key alone */
	th_write(key, "0123456789abcdefXYZ=\n", 0600);
	assert_int_equal(config_read(conf, &c, err, sizeof(err)), ERR_OK);
	assert_null(c->pickle_key);
	assert_null(c->password);
	assert_int_equal(config_load_pickle_key(c, err, sizeof(err)), ERR_OK);
	assert_string_equal(c->pickle_key, "0123456789abcdefXYZ=");
	assert_null(c->password);
	config_free(c);

	/* from the environment */
	CONF("encryption = yes\npickle_key_env = FAQBOT_TEST_PICKLE\n");
	unsetenv("FAQBOT_TEST_PICKLE");
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_NOTFOUND);
	assert_non_null(strstr(err, "FAQBOT_TEST_PICKLE"));
	setenv("FAQBOT_TEST_PICKLE", "an environment key, long enough", 1);
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_OK);
	assert_string_equal(c->pickle_key, "an environment key, long enough");
	config_free(c);
	unsetenv("FAQBOT_TEST_PICKLE");

	/* on without a key, both a file and a variable, not a boolean */
	CONF("encryption = true\n");
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_INVALID);
	assert_non_null(strstr(err, "encryption = true needs pickle_key_file or pickle_key_env"));
	assert_non_null(strstr(err, "faqbot.ini:6: [matrix] "));
	CONF("encryption = true\npickle_key_file = /x\npickle_key_env = X\n");
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_INVALID);
	assert_non_null(strstr(err, "named both as a file and as an environment variable"));
	CONF("encryption = maybe\n");
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_PARSE);
	assert_non_null(strstr(err, "faqbot.ini:6: encryption must be true or false, not 'maybe'"));
	/* the key itself is never written in the file */
	CONF("encryption = true\npickle_key = 0123456789abcdef0123\n");
	assert_int_equal(config_load(conf, &c, err, sizeof(err)), ERR_PARSE);
	assert_non_null(strstr(err, "faqbot.ini:7: 'pickle_key' may not be written in the config "
				    "file: name a file (pickle_key_file) or an environment "
				    "variable (pickle_key_env) instead"));
#undef CONF
	th_rmtree(dir);
}

static void test_irc_section(void **state)
{
	static const char text[] =
		"[irc]\nhost = irc.example.org\nport = 6697\nnick = faqbot\n"
		"alt_nicks = faqbot_, faqbot2\nchannels = #support, #peer\nmoderators = alice\n"
		"sasl_account = faqbot\nsasl_password_env = FAQBOT_TEST_SASL\npm_over_lines = 3\n";
	struct config *c = NULL;
	char err[512];

	(void)state;
	assert_int_equal(config_parse_text("x.ini", text, strlen(text), &c, err, sizeof(err)), ERR_OK);
	assert_true(c->has_irc);
	assert_false(c->has_matrix);
	assert_int_equal(c->irc_tls, 1); /* TLS unless said otherwise */
	assert_int_equal(c->irc_port, 6697);
	assert_int_equal(c->irc_channels.n, 2);
	assert_string_equal(c->irc_channels.v[0], "#support"); /* not a comment */
	assert_int_equal(c->irc_alt_nicks.n, 2);
	assert_int_equal(c->irc_pm_over_lines, 3);
	assert_int_equal(c->irc_short_over_lines, CONFIG_IRC_SHORT_OVER_LINES); /* not set */
	assert_null(c->irc_sasl_password); /* read by config_load only */
	config_free(c);
	assert_int_equal(config_parse_text("x.ini", "[irc]\nshort_over_lines = 0\n", 27, &c, err,
					   sizeof(err)),
			 ERR_OK);
	assert_int_equal(c->irc_short_over_lines, 0);
	config_free(c);
	expect_error("[irc]\nshort_over_lines = -1\n", "x.ini:2: short_over_lines must be a whole "
						      "number, 0 or more");
	expect_error("[irc]\nsasl_password = hunter2\n",
		     "x.ini:2: 'sasl_password' may not be written in the config file");
	expect_error("[irc]\ntls = perhaps\n", "x.ini:2: tls must be true or false");
}

static void test_moderators_settings(void **state)
{
	static const char text[] =
		"cooldown_s = 120\nmoderator_power = 75\nunanswered_log = yes\n"
		"unanswered_days = 7\nfaq_max_age_days = 180\nwatch_faq = off\n"
		"state_dir = /var/lib/faqbot-irc\n[irc]\nhost = irc.example.org\n"
		"moderator_accounts = alice, bob\nsasl_mechanism = EXTERNAL\n"
		"tls_cert_file = /etc/faqbot/c.pem\ntls_key_file = /etc/faqbot/k.pem\n"
		"flood_burst = 8\nflood_interval_ms = 500\n";
	struct config *c = NULL;
	char err[512];

	(void)state;
	/* the defaults, where nothing is said */
	assert_int_equal(config_parse_text("x.ini", "region = us\n", 12, &c, err, sizeof(err)),
			 ERR_OK);
	assert_int_equal(c->cooldown_s, CONFIG_COOLDOWN_S);
	assert_int_equal(c->moderator_power, CONFIG_MODERATOR_POWER);
	assert_int_equal(c->watch_faq, 1);
	assert_int_equal(c->unanswered_log, 0);
	config_free(c);
	assert_int_equal(config_parse_text("x.ini", text, strlen(text), &c, err, sizeof(err)), ERR_OK);
	assert_int_equal(c->cooldown_s, 120);
	assert_int_equal(c->moderator_power, 75);
	assert_int_equal(c->unanswered_log, 1);
	assert_int_equal(c->unanswered_days, 7);
	assert_int_equal(c->faq_max_age_days, 180);
	assert_int_equal(c->watch_faq, 0);
	assert_string_equal(c->state_dir_bot, "/var/lib/faqbot-irc");
	assert_int_equal(c->irc_moderator_accounts.n, 2);
	assert_string_equal(c->irc_moderator_accounts.v[1], "bob");
	assert_string_equal(c->irc_sasl_mechanism, "EXTERNAL");
	assert_string_equal(c->irc_tls_key_file, "/etc/faqbot/k.pem");
	assert_int_equal(c->irc_flood_burst, 8);
	assert_int_equal(c->irc_flood_interval_ms, 500);
	config_free(c);
	expect_error("\ncooldown_s = -5\n", "x.ini:2: cooldown_s must be a whole number from 0 to");
	expect_error("cooldown_s = 99999999\n", "x.ini:1: cooldown_s must be a whole number from 0 to 604800");
	expect_error("unanswered_log = sometimes\n", "x.ini:1: unanswered_log must be true or false");
}

/* The documented example in the repo parses, with what it documents. */
static void test_shipped_example(void **state)
{
	FILE *f = fopen("faqbot.ini.example", "r");
	char *text = malloc(CONFIG_MAX_BYTES), err[512];
	struct config *c = NULL;
	size_t n;

	(void)state;
	assert_non_null(f);
	n = fread(text, 1, CONFIG_MAX_BYTES, f);
	fclose(f);
	assert_int_equal(config_parse_text("faqbot.ini.example", text, n, &c, err, sizeof(err)), ERR_OK);
	assert_true(c->has_matrix);
	assert_non_null(c->password_file);
	assert_null(c->password);
	assert_int_equal(c->rooms.n, 2);
	assert_non_null(config_room(c, "!abcdefghijklmn:example.org"));
	config_free(c);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_errors_name_the_line),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_blame),
		cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_encryption),
		cmocka_unit_test(test_shipped_example),
		cmocka_unit_test(test_irc_section),
		cmocka_unit_test(test_moderators_settings),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
