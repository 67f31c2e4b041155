/* irc_out.c -- the outgoing queue of the IRC transport: see irc_out.h.
 *
 * Shape: three doubly linked lists of replies, urgent and normal (waiting,
 * in push order) and in flight (written, not yet acknowledged). Only the
 * head of a waiting list can have started: a reply is picked from a head,
 * and a new one joins a tail. The lists are short (the flood control lets
 * a line out every second or two), so requeueing by a walk is fine. */
#include "irc_out.h"

#include <stdlib.h>
#include <string.h>

#include "irc_parse.h"

struct out_item {
	struct out_item *prev, *next;
	unsigned long long id, mark;
	char cmd[IRC_OUT_CMD_MAX];
	char *target, *text; /* text: the raw line when raw */
	size_t text_len;
	int urgent, keep, raw;
	long long expires_ms;
	struct irc_lines lines; /* empty: split at its turn */
	size_t line;            /* lines already written */
};

struct out_list {
	struct out_item *head, *tail;
	size_t n;
};

struct irc_out {
	struct out_list urgent, normal, flight;
	size_t max_replies, max_bytes, bytes;
	size_t prefix_len;
	int burst, reserve;
	long interval_ms;
	double tokens;
	long long tokens_ms; /* when tokens was last refilled; -1: not yet */
	struct out_item *peeked;
	irc_out_end_fn on_end;
	void *ctx;
};

static void list_remove(struct out_list *l, struct out_item *it)
{
	if (it->prev)
		it->prev->next = it->next;
	else
		l->head = it->next;
	if (it->next)
		it->next->prev = it->prev;
	else
		l->tail = it->prev;
	it->prev = it->next = NULL;
	l->n--;
}

static void list_append(struct out_list *l, struct out_item *it)
{
	it->next = NULL;
	it->prev = l->tail;
	if (l->tail)
		l->tail->next = it;
	else
		l->head = it;
	l->tail = it;
	l->n++;
}

/* list_insert_by_id puts it before the first reply with a larger id. */
static void list_insert_by_id(struct out_list *l, struct out_item *it)
{
	struct out_item *at = l->head;

	while (at && at->id < it->id)
		at = at->next;
	if (!at) {
		list_append(l, it);
		return;
	}
	it->next = at;
	it->prev = at->prev;
	if (at->prev)
		at->prev->next = it;
	else
		l->head = it;
	at->prev = it;
	l->n++;
}

static void item_free(struct out_item *it)
{
	if (!it)
		return;
	irc_lines_release(&it->lines);
	free(it->target);
	free(it->text);
	free(it);
}

/* drop takes it out of list l, reports how and frees it. */
static void drop(struct irc_out *o, struct out_list *l, struct out_item *it, enum irc_out_end how)
{
	if (o->peeked == it)
		o->peeked = NULL;
	list_remove(l, it);
	o->bytes -= it->text_len;
	if (o->on_end)
		o->on_end(o->ctx, it->id, how);
	item_free(it);
}

static void free_list(struct out_list *l)
{
	while (l->head) {
		struct out_item *it = l->head;

		list_remove(l, it);
		item_free(it);
	}
}

struct irc_out *irc_out_new(const struct irc_out_config *cfg)
{
	struct irc_out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->burst = cfg->burst > 0 ? cfg->burst : 1;
	o->interval_ms = cfg->interval_ms > 0 ? cfg->interval_ms : 1;
	/* with a burst of one there is nothing to keep back: the reserve
	 * would stop ordinary lines for good */
	o->reserve = o->burst - 1 < IRC_OUT_RESERVE ? o->burst - 1 : IRC_OUT_RESERVE;
	o->max_replies = cfg->max_replies ? cfg->max_replies : IRC_OUT_REPLIES_MAX;
	o->max_bytes = cfg->max_bytes ? cfg->max_bytes : IRC_OUT_BYTES_MAX;
	o->on_end = cfg->on_end;
	o->ctx = cfg->ctx;
	o->prefix_len = irc_prefix_len("x", NULL, NULL);
	o->tokens = o->burst;
	o->tokens_ms = -1;
	return o;
}

void irc_out_free(struct irc_out *o)
{
	if (!o)
		return;
	free_list(&o->urgent);
	free_list(&o->normal);
	free_list(&o->flight);
	free(o);
}

void irc_out_set_prefix(struct irc_out *o, size_t prefix_len)
{
	o->prefix_len = prefix_len;
}

/* split fills it->lines for the prefix now set. */
static enum err split(const struct irc_out *o, struct out_item *it)
{
	if (it->raw) {
		struct irc_lines l = IRC_LINES_INIT;

		l.v = malloc(sizeof(*l.v));
		l.len = malloc(sizeof(*l.len));
		if (l.v)
			l.v[0] = strdup(it->text);
		if (!l.v || !l.len || !l.v[0]) {
			if (l.v)
				free(l.v[0]);
			free(l.v);
			free(l.len);
			return ERR_NOMEM;
		}
		l.len[0] = it->text_len;
		l.n = l.cap = 1;
		it->lines = l;
		return ERR_OK;
	}
	return irc_split_text(it->cmd, it->target, it->text, it->text_len, o->prefix_len,
			      &it->lines);
}

/* make_room pushes out the newest ordinary replies until extra bytes and
 * one more reply fit; 0 when they cannot. */
static int make_room(struct irc_out *o, size_t extra, int urgent)
{
	size_t n = o->urgent.n + o->normal.n + o->flight.n;

	while (n + 1 > o->max_replies || o->bytes + extra > o->max_bytes) {
		if (!urgent || !o->normal.tail)
			return 0;
		drop(o, &o->normal, o->normal.tail, IRC_OUT_DROPPED);
		n--;
	}
	return 1;
}

enum err irc_out_push(struct irc_out *o, const struct irc_out_reply *r, size_t *n_lines)
{
	struct out_item *it;
	const char *body = r->raw ? r->raw : r->text;
	enum err e;

	if (n_lines)
		*n_lines = 0;
	if (!r->target || !body || (!r->raw && (!r->cmd || strlen(r->cmd) >= IRC_OUT_CMD_MAX)))
		return ERR_INVALID;
	it = calloc(1, sizeof(*it));
	if (!it)
		return ERR_NOMEM;
	it->id = r->id;
	it->raw = r->raw != NULL;
	if (!it->raw)
		memcpy(it->cmd, r->cmd, strlen(r->cmd) + 1);
	it->text_len = strlen(body);
	it->target = strdup(r->target);
	it->text = strdup(body);
	it->urgent = r->urgent != 0;
	it->keep = r->keep != 0;
	it->expires_ms = r->expires_ms;
	if (!it->target || !it->text) {
		item_free(it);
		return ERR_NOMEM;
	}
	e = split(o, it);
	if (e != ERR_OK) {
		item_free(it);
		return e;
	}
	if (!make_room(o, it->text_len, it->urgent)) {
		item_free(it);
		return ERR_LIMIT;
	}
	if (n_lines)
		*n_lines = it->lines.n;
	o->bytes += it->text_len;
	list_append(it->urgent ? &o->urgent : &o->normal, it);
	return ERR_OK;
}

static void refill(struct irc_out *o, long long now)
{
	if (o->tokens_ms < 0 || now < o->tokens_ms) {
		o->tokens_ms = now;
		return;
	}
	o->tokens += (double)(now - o->tokens_ms) / (double)o->interval_ms;
	o->tokens_ms = now;
	if (o->tokens > o->burst)
		o->tokens = o->burst;
}

static int same_target(const struct out_item *a, const struct out_item *b)
{
	return irc_casecmp(a->target, b->target) == 0;
}

/* pick chooses the reply whose line goes next, or NULL; *need is the
 * tokens it needs in the bucket: 1 on an urgent reply's path, more for an
 * ordinary line, so that a few tokens stay for a crisis. */
static struct out_item *pick(const struct irc_out *o, double *need)
{
	struct out_item *u = o->urgent.head, *n = o->normal.head;

	*need = 1.0;
	if (u) {
		/* an ordinary reply half sent to the same target finishes
		 * first: its lines and the crisis's must not interleave */
		if (n && n->line > 0 && !u->line && same_target(n, u))
			return n;
		return u;
	}
	*need = 1.0 + o->reserve;
	return n;
}

const char *irc_out_peek(struct irc_out *o, long long now, size_t *len)
{
	for (;;) {
		struct out_item *it;
		struct out_list *l;
		double need;

		o->peeked = NULL;
		refill(o, now);
		it = pick(o, &need);
		if (!it)
			return NULL;
		l = it->urgent ? &o->urgent : &o->normal;
		if (!it->lines.n && split(o, it) != ERR_OK) {
			/* split once already: only a prefix grown too long for
			 * the target can refuse it now */
			drop(o, l, it, IRC_OUT_DROPPED);
			continue;
		}
		if (o->tokens < need)
			return NULL;
		o->peeked = it;
		*len = it->lines.len[it->line];
		return it->lines.v[it->line];
	}
}

void irc_out_take(struct irc_out *o, unsigned long long mark)
{
	struct out_item *it = o->peeked;

	if (!it)
		return;
	o->peeked = NULL;
	o->tokens -= 1.0;
	if (++it->line < it->lines.n)
		return;
	list_remove(it->urgent ? &o->urgent : &o->normal, it);
	it->mark = mark;
	list_append(&o->flight, it);
}

void irc_out_acked(struct irc_out *o, unsigned long long acked)
{
	/* marks grow along the flight list: it is in write order */
	while (o->flight.head && o->flight.head->mark <= acked)
		drop(o, &o->flight, o->flight.head, IRC_OUT_SENT);
}

/* restart makes it wait whole again, split anew at its turn. */
static void restart(struct out_item *it)
{
	irc_lines_release(&it->lines);
	it->line = 0;
}

/* sweep readies l for a new connection; the count of replies kept that
 * had started. */
static size_t sweep(struct irc_out *o, struct out_list *l, long long now)
{
	struct out_item *it = l->head, *next;
	size_t again = 0;

	for (; it; it = next) {
		next = it->next;
		if (!it->keep) {
			drop(o, l, it, IRC_OUT_DROPPED);
		} else if (it->expires_ms && now >= it->expires_ms) {
			drop(o, l, it, IRC_OUT_EXPIRED);
		} else {
			again += it->line > 0;
			restart(it);
		}
	}
	return again;
}

size_t irc_out_session(struct irc_out *o, long long now)
{
	size_t again;

	o->peeked = NULL;
	while (o->flight.head) {
		struct out_item *it = o->flight.head;

		list_remove(&o->flight, it);
		list_insert_by_id(it->urgent ? &o->urgent : &o->normal, it);
	}
	/* a half-sent head goes back too: nothing says its lines arrived
	 * (a reply in flight has all its lines written: line > 0) */
	again = sweep(o, &o->urgent, now);
	again += sweep(o, &o->normal, now);
	o->tokens = o->burst;
	o->tokens_ms = now;
	return again;
}

long irc_out_wait_ms(const struct irc_out *o, long long now)
{
	struct out_item *it;
	double need, tokens = o->tokens;

	it = pick(o, &need);
	if (!it)
		return -1;
	if (o->tokens_ms >= 0 && now > o->tokens_ms) {
		tokens += (double)(now - o->tokens_ms) / (double)o->interval_ms;
		if (tokens > o->burst)
			tokens = o->burst;
	}
	if (tokens >= need)
		return 0;
	return (long)((need - tokens) * (double)o->interval_ms) + 1;
}

size_t irc_out_waiting(const struct irc_out *o)
{
	return o->urgent.n + o->normal.n;
}

size_t irc_out_in_flight(const struct irc_out *o)
{
	return o->flight.n;
}
