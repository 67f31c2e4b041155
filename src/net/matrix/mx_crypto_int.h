/* mx_crypto_int.h -- the inside of the mx_crypto module, shared by its
 * files and by no one else (mx_crypto.h is the contract): mx_crypto.c (the
 * device's account: identity, published keys), mx_crypto_in.c (the
 * sessions it receives with: Olm from members' devices, inbound Megolm
 * a room and sender) and mx_crypto_xsign.c (the cross-signing keys). All
 * call libolm; together they are the one module that does. */
#ifndef FAQBOT_MX_CRYPTO_INT_H
#define FAQBOT_MX_CRYPTO_INT_H

#include "mx_crypto.h"
#include "mx_e2ee.h"

#define CRYPTO_PATH_MAX 4096

struct mx_crypto {
	char *dir;
	char path[CRYPTO_PATH_MAX]; /* dir/olm_account, for messages */
	char *key;                  /* the pickle key, wiped at free */
	size_t keylen;
	void *mem;              /* the account's memory */
	struct OlmAccount *acc; /* NULL: no identity yet (libolm's type) */
	struct mx_store st;     /* its user and device, shared, fallback (no pickle) */
	struct mx_crypto_identity id;
	int pending; /* a body was given out and not confirmed */
	int dirty;   /* keys were made that are not on disk yet: none of them
	              * may go out before they are */
	/* mx_crypto_in.c's: the sessions, pickled (each unpickled for its
	 * use), and what is not on disk yet */
	struct mx_sessions ss;
	int ss_dirty;            /* the sessions' file is behind */
	int acc_dirty;           /* a one-time key was used up: the account is behind */
	struct mx_crypto_xs *xs; /* mx_crypto_xsign.c's keys; NULL: none */
};

/* mx_crypto_random fills buf with n random bytes (getrandom). */
enum err mx_crypto_random(void *buf, size_t n);
/* mx_crypto_wiped_free: a secret's memory cleared, then freed. */
void mx_crypto_wiped_free(void *p, size_t n);
/* mx_crypto_account_save writes the account file (mx_crypto.c). */
enum err mx_crypto_account_save(struct mx_crypto *c, char *errbuf, size_t errlen);
/* mx_crypto_sessions_load reads STATE_DIR/MX_CRYPTO_SESSIONS (none: none
 * yet); an unreadable file is an error naming it (mx_crypto_in.c). */
enum err mx_crypto_sessions_load(struct mx_crypto *c, char *errbuf, size_t errlen);

/* mx_crypto_xsign_release wipes and frees the cross-signing keys
 * (mx_crypto_xsign.c); mx_crypto_xsign_save writes their file. */
void mx_crypto_xsign_release(struct mx_crypto *c);
enum err mx_crypto_xsign_save(struct mx_crypto *c, char *errbuf, size_t errlen);

#endif
