/* cli_keys.c -- `faqbot keys` (cli_keys.h). */
#include "cli_keys.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "matrix.h"

int cli_keys(int argc, char **argv)
{
	struct matrix_identity id;
	struct config *cfg = NULL;
	const char *path = NULL;
	char err[1024], master[128], mfp[64];
	int i, rc = CLI_EXIT_CONFIG, uploaded = 0;
	enum err e;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[++i];
		else
			return cli_usage_error("keys: unexpected '%s' (keys --config FILE)",
					       argv[i]);
	}
	if (!path)
		return cli_usage_error("%s", "keys: give --config FILE: the bot whose device "
					     "identity to show");
	/* not config_load: the Matrix password or token is not needed here,
	 * and may be in a variable this shell does not have */
	if (config_read(path, &cfg, err, sizeof(err)) != ERR_OK) {
		fprintf(stderr, "faqbot: %s\n", err);
		return CLI_EXIT_CONFIG;
	}
	if (!cfg->has_matrix || !cfg->encryption) {
		fprintf(stderr,
			"faqbot: %s: %s: the bot has no device identity to show (set "
			"encryption = true and pickle_key_file in [matrix])\n",
			path,
			cfg->has_matrix ? "[matrix] encryption is not on" : "no [matrix] section");
		goto out;
	}
	if (!cfg->state_dir || !*cfg->state_dir) {
		fprintf(stderr,
			"faqbot: %s: [matrix] has no state_dir, where the device's "
			"identity is kept\n",
			path);
		goto out;
	}
	if (config_load_pickle_key(cfg, err, sizeof(err)) != ERR_OK) {
		fprintf(stderr, "faqbot: %s\n", err);
		goto out;
	}
	e = matrix_identity_read(cfg->state_dir, cfg->pickle_key, &id, err, sizeof(err));
	if (e != ERR_OK) {
		fprintf(stderr, "faqbot: %s\n", err);
		rc = e == ERR_NOTFOUND ? CLI_EXIT_RUNTIME : CLI_EXIT_CONFIG;
		goto out;
	}
	printf("user        %s\ndevice      %s\ned25519     %s\nfingerprint %s\n"
	       "curve25519  %s\n",
	       id.user_id, id.device_id, id.ed25519, id.fingerprint, id.curve25519);
	/* the master key: what a moderator's client shows once the bot's
	 * identity is verified (and what signs, through the self-signing key,
	 * the device above) */
	e = matrix_xsign_master(cfg->state_dir, cfg->pickle_key, master, sizeof(master), mfp,
				sizeof(mfp), &uploaded, err, sizeof(err));
	if (e == ERR_OK) {
		printf("master      %s\nmaster fingerprint %s\n", master, mfp);
		if (!uploaded) /* the bot's log at start says why */
			printf("cross-signed no: the homeserver does not have these keys and the "
			       "device's signature yet (see the bot's log at start)\n");
	} else if (e == ERR_NOTFOUND) {
		printf("master      none yet (made at the bot's next start)\n");
	} else {
		fprintf(stderr, "faqbot: %s\n", err);
		goto out;
	}
	rc = 0;
out:
	config_free(cfg);
	return rc;
}
