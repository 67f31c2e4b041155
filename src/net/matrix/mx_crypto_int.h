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
#include "mx_e2ee_tx.h"

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
	/* mx_crypto_out.c's: the outbound Megolm sessions, a room */
	struct mx_out_set out;
	int out_dirty;
	/* a damaged sessions' file read at load (CRYPTO_ASIDE_*): its bytes,
	 * to be copied beside it before it is first written again, and the
	 * line that says so */
	struct crypto_aside {
		char *text; /* owned; NULL: nothing to copy (or copied) */
		size_t len;
		char warn[1024]; /* "": the file was whole */
	} aside[2];
	long long aside_at; /* wall ms the damage was found: the copies' names */
};

enum { CRYPTO_ASIDE_SESSIONS, CRYPTO_ASIDE_OUT };

/* mx_crypto_aside_keep notes that file which (CRYPTO_ASIDE_*) was damaged:
 * its bytes text[0..len) are kept to be copied beside it (as
 * NAME.damaged-SECONDS, 0600) by mx_crypto_aside_write, and the warning
 * is "DIR/NAME is damaged (damage); its copy is kept as ...: " then
 * what (what it costs, what to do). ERR_NOMEM. */
enum err mx_crypto_aside_keep(struct mx_crypto *c, int which, const char *text, size_t len,
			      const char *damage, const char *what);
/* mx_crypto_aside_write writes which's copy, if one waits: the file may be
 * written over only after ERR_OK (errbuf names both files). */
enum err mx_crypto_aside_write(struct mx_crypto *c, int which, char *errbuf, size_t errlen);

struct OlmSession;

/* The Olm sessions' pieces mx_crypto_in.c lends mx_crypto_out.c (an
 * outbound message goes over the session a device used last): a session
 * made, freed, unpickled from its record (NULL: no memory, or the record
 * does not open), and kept (record i, or -1: a new one). */
struct OlmSession *mx_crypto_olm_obj_new(void);
void mx_crypto_olm_obj_free(struct OlmSession *s);
struct OlmSession *mx_crypto_olm_unpickle(struct mx_crypto *c, const struct mx_olm_rec *r);
enum err mx_crypto_olm_keep(struct mx_crypto *c, struct OlmSession *s, const char *sender_key,
			    long i);
/* mx_crypto_out_load / _save: STATE_DIR/MX_CRYPTO_OUT_FILE (mx_crypto_out.c);
 * no file: none yet; save writes only when something changed. */
enum err mx_crypto_out_load(struct mx_crypto *c, char *errbuf, size_t errlen);
enum err mx_crypto_out_save(struct mx_crypto *c, char *errbuf, size_t errlen);

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
