/* policy.c -- cooldowns and the sets (see policy.h). */
#include "policy.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct cooldown {
	char *room, *entry, *member, *event; /* event may be NULL */
	time_t at;                           /* of the answer pointed to */
};

struct idset {
	char **v;
	size_t n, cap;
};

struct policy {
	long window;
	struct cooldown cd[POLICY_COOLDOWNS_MAX];
	size_t ncd;
	struct idset sets[POLICY_SETS];
};

static const char *const set_names[POLICY_SETS] = {"muted", "opted_out", "refused"};

struct policy *policy_new(long cooldown_s)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (p)
		p->window = cooldown_s > 0 ? cooldown_s : 0;
	return p;
}

static void cd_release(struct cooldown *c)
{
	free(c->room);
	free(c->entry);
	free(c->member);
	free(c->event);
	memset(c, 0, sizeof(*c));
}

void policy_free(struct policy *p)
{
	size_t i, s;

	if (!p)
		return;
	for (i = 0; i < p->ncd; i++)
		cd_release(&p->cd[i]);
	for (s = 0; s < POLICY_SETS; s++) {
		for (i = 0; i < p->sets[s].n; i++)
			free(p->sets[s].v[i]);
		free(p->sets[s].v);
	}
	free(p);
}

static int live(const struct policy *p, const struct cooldown *c, time_t now)
{
	return now - c->at < p->window && now >= c->at - 5; /* clock steps back */
}

enum policy_repeat policy_repeat(const struct policy *p, const char *room, const char *entry,
				 const char *member, time_t now, const char **earlier)
{
	enum policy_repeat r = POLICY_FRESH;
	size_t i;

	*earlier = NULL;
	if (!p->window)
		return POLICY_FRESH;
	for (i = 0; i < p->ncd; i++) {
		const struct cooldown *c = &p->cd[i];

		if (!live(p, c, now) || strcmp(c->room, room) || strcmp(c->entry, entry))
			continue;
		if (!strcmp(c->member, member))
			return POLICY_SILENT;
		r = POLICY_POINTER;
		if (c->event)
			*earlier = c->event;
	}
	return r;
}

static char *dup_id(const char *s)
{
	return s ? strndup(s, POLICY_ID_MAX) : NULL;
}

/* remember adds a cooldown record, dropping expired ones first and then,
 * when full, the oldest. */
static enum err remember(struct policy *p, const char *room, const char *entry, const char *member,
			 const char *event, time_t at, time_t now)
{
	struct cooldown c = {0};
	size_t i, j;

	if (!p->window)
		return ERR_OK;
	for (i = j = 0; i < p->ncd; i++) {
		if (live(p, &p->cd[i], now))
			p->cd[j++] = p->cd[i];
		else
			cd_release(&p->cd[i]);
	}
	p->ncd = j;
	if (p->ncd == POLICY_COOLDOWNS_MAX) {
		cd_release(&p->cd[0]);
		memmove(&p->cd[0], &p->cd[1], (p->ncd - 1) * sizeof(p->cd[0]));
		p->ncd--;
	}
	c.room = dup_id(room);
	c.entry = dup_id(entry);
	c.member = dup_id(member);
	c.event = dup_id(event);
	c.at = at;
	if (!c.room || !c.entry || !c.member || (event && !c.event)) {
		cd_release(&c);
		return ERR_NOMEM;
	}
	p->cd[p->ncd++] = c;
	return ERR_OK;
}

enum err policy_answered(struct policy *p, const char *room, const char *entry, const char *member,
			 const char *event, time_t now)
{
	return remember(p, room, entry, member, event, now, now);
}

enum err policy_pointed(struct policy *p, const char *room, const char *entry, const char *member,
			time_t now)
{
	time_t at = now;
	size_t i;

	/* the pointer lasts as long as the answer it points to */
	for (i = 0; i < p->ncd; i++)
		if (!strcmp(p->cd[i].room, room) && !strcmp(p->cd[i].entry, entry) &&
		    live(p, &p->cd[i], now) && p->cd[i].at < at)
			at = p->cd[i].at;
	return remember(p, room, entry, member, NULL, at, now);
}

static size_t set_find(const struct idset *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], id))
			return i;
	return (size_t)-1;
}

int policy_has(const struct policy *p, enum policy_set set, const char *id)
{
	return id && set_find(&p->sets[set], id) != (size_t)-1;
}

enum err policy_set(struct policy *p, enum policy_set set, const char *id, int on)
{
	struct idset *s = &p->sets[set];
	size_t i = set_find(s, id);

	if (!on) {
		if (i != (size_t)-1) {
			free(s->v[i]);
			s->v[i] = s->v[--s->n];
		}
		return ERR_OK;
	}
	if (i != (size_t)-1)
		return ERR_OK;
	if (s->n >= POLICY_SET_MAX || strlen(id) >= POLICY_ID_MAX)
		return ERR_LIMIT;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **nv = realloc(s->v, cap * sizeof(*nv));

		if (!nv)
			return ERR_NOMEM;
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n] = strdup(id);
	if (!s->v[s->n])
		return ERR_NOMEM;
	s->n++;
	return ERR_OK;
}

size_t policy_count(const struct policy *p, enum policy_set set)
{
	return p->sets[set].n;
}

enum policy_verdict policy_decide(const struct policy *p, const struct policy_ask *a,
				  const char **why, const char **earlier)
{
	*why = NULL;
	*earlier = NULL;
	if (!a->reply) {
		*why = "not a question, and not addressed to the bot";
		return POLICY_VERDICT_QUIET;
	}
	if (!a->direct && !a->addressed && policy_has(p, POLICY_OPTED_OUT, a->member)) {
		*why = "the member opted out and did not address the bot";
		return POLICY_VERDICT_QUIET;
	}
	if (policy_has(p, POLICY_MUTED, a->room)) {
		*why = "FAQ answers are muted in this room";
		return POLICY_VERDICT_QUIET;
	}
	switch (policy_repeat(p, a->room, a->entry, a->member, a->now, earlier)) {
	case POLICY_SILENT:
		*why = "this member had this answer moments ago";
		return POLICY_VERDICT_SILENT;
	case POLICY_POINTER:
		return POLICY_VERDICT_POINTER;
	case POLICY_FRESH:
		break;
	}
	return POLICY_VERDICT_ANSWER;
}

char *policy_to_json(const struct policy *p)
{
	json_t *root = json_object();
	char *text = NULL;
	int s;
	size_t i;

	if (!root || json_object_set_new(root, "version", json_integer(1)) != 0)
		goto out;
	/* refusals are not worth keeping */
	for (s = 0; s < POLICY_REFUSED; s++) {
		json_t *a = json_array();

		if (!a || json_object_set_new(root, set_names[s], a) != 0)
			goto out;
		for (i = 0; i < p->sets[s].n; i++)
			if (json_array_append_new(a, json_string(p->sets[s].v[i])) != 0)
				goto out;
	}
	text = json_dumps(root, JSON_COMPACT);
out:
	json_decref(root);
	return text;
}

enum err policy_from_json(struct policy *p, const char *text, size_t len, size_t *skipped)
{
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	enum err e = ERR_PARSE;
	size_t i, bad = 0;
	int s;

	if (!json_is_object(root))
		goto out;
	for (s = 0; s < POLICY_REFUSED; s++) {
		json_t *a = json_object_get(root, set_names[s]);

		if (a && !json_is_array(a)) {
			bad++;
			continue;
		}
		for (i = 0; a && i < json_array_size(a); i++) {
			const char *id = json_string_value(json_array_get(a, i));

			if (!id || !*id) {
				bad++;
				continue;
			}
			e = policy_set(p, (enum policy_set)s, id, 1);
			if (e == ERR_NOMEM)
				goto out;
			bad += e != ERR_OK;
		}
	}
	e = ERR_OK;
out:
	if (skipped)
		*skipped = bad;
	json_decref(root);
	return e;
}
