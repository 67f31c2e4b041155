/* matrix_e2ee_check.c -- the check of a room key's sending device (see
 * matrix_int.h): a room key whose Olm event carried no sender_device_keys
 * is kept at once, marked as waiting (mx_crypto_room_check), and its
 * sender's devices are asked of the server (POST /keys/query) on an easy
 * handle in the loop's multi handle, one user at a time: nothing waits,
 * so a server slow to answer holds no other room (a crisis elsewhere is
 * answered meanwhile). The key's messages wait with it.
 *
 * The answer decides each waiting key of that user: a device of theirs
 * with those keys, self-signed, clears it (its messages are answered);
 * none refuses it (forgotten, counted,
 * logged). A server that does not answer (CHECK_TRIES tries) or not
 * readably is taken at its word, as it vouches for the sender of a
 * to-device event and the Olm session for the key: a key refused is lost
 * for good, and a crisis with it. The mark is on disk with the key, so a
 * restart checks a key kept before a crash again, never uses it unchecked. */
#include "matrix_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "metrics.h"
#include "mx_crypto.h"
#include "mx_e2ee.h"

#define CHECK_TRIES   3
#define CHECK_AUTH_MS 3000 /* after a refused token: the re-login's turn */

struct matrix_check {
	/* the one exchange: user's devices asked; "" none */
	char user[MX_ID_MAX + 1];
	char *body;
	struct matrix_xfer x;
	struct matrix_resp r;
	int attempt;
	long long at_ms; /* its next try, mono ms */
};

/* decide settles key d by e, what the server's answer says of its device:
 * ERR_OK one of its user's; ERR_NOTFOUND none; else no answer to read */
static void decide(struct matrix *m, const struct mx_crypto_check *d, enum err e, const char *dev)
{
	struct mx_crypto *c = matrix_keys_crypto(m);

	if (e == ERR_NOTFOUND) {
		(void)mx_crypto_room_check(c, d->session_id, MX_CHECK_REFUSED);
		m->stats.refused_enc++;
		metrics_inc(M_E2EE_REFUSED);
		log_warn("encryption: a room key from %s refused: its keys are no device's of its "
			 "sender (/keys/query)",
			 d->owner);
		return;
	}
	(void)mx_crypto_room_check(c, d->session_id, MX_CHECK_OK);
	if (e == ERR_OK) {
		log_info("encryption: the device %s of %s checked by /keys/query", dev, d->owner);
	} else {
		log_warn("encryption: the devices of %s could not be asked (/keys/query: %s); its "
			 "key taken on the server's word",
			 d->owner, err_str(e));
	}
	matrix_e2ee_checked(m, d->session_id);
}

/* settle decides every waiting key of the exchange's user: by the answer
 * (body, len), or with none (ERR_IO: the server's word) */
static void settle(struct matrix *m, const char *body, size_t len, enum err why)
{
	struct matrix_check *k = m->check;
	struct mx_crypto *c = matrix_keys_crypto(m);
	struct mx_crypto_check d;
	char dev[MX_DEVICE_MAX + 1];
	size_t i = 0;
	enum err e;

	while (c && mx_crypto_room_unchecked(c, i, &d)) {
		if (strcmp(d.owner, k->user)) {
			i++;
			continue;
		}
		dev[0] = '\0';
		e = body ? mx_e2ee_query_check(body, len, d.owner, d.sender_key, d.ed25519,
					       mx_crypto_verify, dev, sizeof(dev))
			 : why;
		decide(m, &d, e, dev);
		if (mx_crypto_room_checking(c, d.session_id))
			i++; /* cannot be: it was settled */
	}
	if (matrix_e2ee_save(m) != ERR_OK)
		log_error("encryption: %s", m->errstr);
	free(k->body);
	k->body = NULL;
	k->user[0] = '\0';
	k->attempt = 0;
	k->at_ms = 0;
}

/* take_end acts on the end of the exchange */
static void take_end(struct matrix *m)
{
	struct matrix_check *k = m->check;
	long long wait = -1;
	char path[] = MATRIX_API "/keys/query";

	k->x.done = 0;
	switch (matrix_judge(m, "POST", path, 0, &k->r, &k->attempt, &wait)) {
	case MATRIX_V_DONE:
		settle(m, k->r.body ? k->r.body : "", k->r.len, ERR_OK);
		break;
	case MATRIX_V_RETRY:
		if (k->attempt >= CHECK_TRIES)
			settle(m, NULL, 0, ERR_IO);
		else
			k->at_ms = clock_mono_ms() + wait;
		break;
	case MATRIX_V_AUTH:
		matrix_login_want(m);
		k->at_ms = clock_mono_ms() + CHECK_AUTH_MS;
		break;
	case MATRIX_V_STOPPED: /* stopping: checked after the restart */
		free(k->body);
		k->body = NULL;
		k->user[0] = '\0';
		break;
	default:
		settle(m, NULL, 0, ERR_INVALID);
		break;
	}
	matrix_resp_release(&k->r);
}

/* begin starts the ask for the first waiting key's user (each key is
 * checked when it comes, as the spec has it: a device may have gone) */
static void begin(struct matrix *m)
{
	struct matrix_check *k = m->check;
	struct mx_crypto *c = matrix_keys_crypto(m);
	struct mx_crypto_check d;
	json_t *q;

	if (!c || !mx_crypto_room_unchecked(c, 0, &d))
		return;
	snprintf(k->user, sizeof(k->user), "%s", d.owner);
	q = json_pack("{s:{s:[]}}", "device_keys", d.owner);
	k->body = q ? json_dumps(q, JSON_COMPACT) : NULL;
	json_decref(q);
	if (!k->body)
		settle(m, NULL, 0, ERR_NOMEM);
}

void matrix_check_run(struct matrix *m)
{
	struct matrix_check *k = m->check;

	if (!k)
		return;
	if (k->user[0] && k->x.done)
		take_end(m);
	if (!k->user[0] && !(m->stop && *m->stop) && !m->fatal)
		begin(m);
	if (k->user[0] && !k->x.busy && !k->x.done && clock_mono_ms() >= k->at_ms) {
		if (matrix_xfer_begin(m, &k->x, "POST", MATRIX_API "/keys/query", k->body, 0,
				      &k->r) != ERR_OK)
			settle(m, NULL, 0, ERR_NOMEM);
		else
			matrix_pump(m);
	}
}

long long matrix_check_want_at(const struct matrix *m)
{
	const struct matrix_check *k = m->check;
	struct mx_crypto_check d;
	long long now = clock_mono_ms();

	if (!k)
		return -1;
	if (k->x.done)
		return now;
	if (k->user[0])
		return k->x.busy ? -1 : (k->at_ms > now ? k->at_ms : now);
	if (!(m->stop && *m->stop) && !m->fatal && matrix_keys_crypto(m) &&
	    mx_crypto_room_unchecked(matrix_keys_crypto(m), 0, &d))
		return now;
	return -1;
}

enum err matrix_check_new(struct matrix *m)
{
	m->check = calloc(1, sizeof(*m->check));
	return m->check ? ERR_OK : ERR_NOMEM;
}

void matrix_check_free(struct matrix *m)
{
	if (!m->check)
		return;
	matrix_xfer_free(m, &m->check->x);
	matrix_resp_release(&m->check->r);
	free(m->check->body);
	free(m->check);
	m->check = NULL;
}
