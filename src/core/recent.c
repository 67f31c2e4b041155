/* recent.c -- a member's last messages, in memory only (recent.h). */
#include "recent.h"

#include <stdlib.h>
#include <string.h>

struct slot {
	char *room, *sender;
	char *text[RECENT_PER_MEMBER]; /* oldest first */
	long at[RECENT_PER_MEMBER];
	int n;
	long last; /* when the newest was added: the forgetting order */
};

struct recent {
	struct slot v[RECENT_MEMBERS];
};

/* wipe_free clears a member's words before the memory is given back. */
static void wipe_free(char *s)
{
	if (s) {
		volatile char *p = s;

		while (*p)
			*p++ = 0;
		free(s);
	}
}

static void slot_clear(struct slot *sl)
{
	int i;

	for (i = 0; i < sl->n; i++)
		wipe_free(sl->text[i]);
	free(sl->room);
	free(sl->sender);
	memset(sl, 0, sizeof(*sl));
}

struct recent *recent_new(void)
{
	return calloc(1, sizeof(struct recent));
}

void recent_free(struct recent *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < RECENT_MEMBERS; i++)
		slot_clear(&r->v[i]);
	free(r);
}

static struct slot *find(struct recent *r, const char *room, const char *sender)
{
	size_t i;

	for (i = 0; i < RECENT_MEMBERS; i++)
		if (r->v[i].room && !strcmp(r->v[i].room, room) && !strcmp(r->v[i].sender, sender))
			return &r->v[i];
	return NULL;
}

/* expire drops sl's messages older than RECENT_TTL_S at now. */
static void expire(struct slot *sl, long now)
{
	int i, k = 0;

	for (i = 0; i < sl->n; i++) {
		if (now - sl->at[i] > RECENT_TTL_S) {
			wipe_free(sl->text[i]);
			continue;
		}
		sl->text[k] = sl->text[i];
		sl->at[k++] = sl->at[i];
	}
	sl->n = k;
}

char *recent_joined(struct recent *r, const char *room, const char *sender, long now)
{
	struct slot *sl;
	size_t len = 0;
	char *out;
	int i;

	if (!r || !room || !sender)
		return NULL;
	sl = find(r, room, sender);
	if (!sl)
		return NULL;
	expire(sl, now);
	if (sl->n == 0) {
		slot_clear(sl);
		return NULL;
	}
	for (i = 0; i < sl->n; i++)
		len += strlen(sl->text[i]) + 5;
	out = malloc(len + 1);
	if (!out)
		return NULL;
	len = 0;
	for (i = 0; i < sl->n; i++) {
		size_t k = strlen(sl->text[i]);

		if (i) {
			memcpy(out + len, " ... ", 5);
			len += 5;
		}
		memcpy(out + len, sl->text[i], k);
		len += k;
	}
	out[len] = '\0';
	return out;
}

enum err recent_add(struct recent *r, const char *room, const char *sender, const char *text,
		    long now)
{
	struct slot *sl;
	size_t n = strlen(text);
	char *copy;

	if (!r || !room || !sender)
		return ERR_OK;
	sl = find(r, room, sender);
	if (!sl) {
		size_t i, oldest = 0;

		for (i = 0; i < RECENT_MEMBERS; i++) {
			if (!r->v[i].room) {
				oldest = i;
				break;
			}
			if (r->v[i].last < r->v[oldest].last)
				oldest = i;
		}
		sl = &r->v[oldest];
		slot_clear(sl);
		sl->room = strdup(room);
		sl->sender = strdup(sender);
		if (!sl->room || !sl->sender) {
			slot_clear(sl);
			return ERR_NOMEM;
		}
	}
	expire(sl, now);
	if (n > RECENT_TEXT_MAX)
		n = RECENT_TEXT_MAX;
	copy = malloc(n + 1);
	if (!copy)
		return ERR_NOMEM;
	memcpy(copy, text, n);
	copy[n] = '\0';
	if (sl->n == RECENT_PER_MEMBER) {
		wipe_free(sl->text[0]);
		memmove(sl->text, sl->text + 1, (RECENT_PER_MEMBER - 1) * sizeof(char *));
		memmove(sl->at, sl->at + 1, (RECENT_PER_MEMBER - 1) * sizeof(long));
		sl->n--;
	}
	sl->text[sl->n] = copy;
	sl->at[sl->n++] = now;
	sl->last = now;
	return ERR_OK;
}

void recent_forget(struct recent *r, const char *room, const char *sender)
{
	struct slot *sl;

	if (!r || !room || !sender)
		return;
	sl = find(r, room, sender);
	if (sl)
		slot_clear(sl);
}
