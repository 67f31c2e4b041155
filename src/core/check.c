/* check.c -- examples, limits and freshness of a loaded FAQ (check.h). */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "classify.h"
#include "match.h"
#include "text.h"

#define CHECK_HOSTILE_N 5

/* fill repeats unit into buf until TEXT_CLASSIFY_MAX bytes. */
static void fill(char *buf, const char *unit)
{
	size_t n = strlen(unit), o = 0;

	if (n == 0)
		unit = "a", n = 1;
	while (o + n <= TEXT_CLASSIFY_MAX) {
		memcpy(buf + o, unit, n);
		o += n;
	}
	buf[o] = '\0';
}

/* letters_of keeps the letters, spaces and apostrophes of a pattern: run
 * back to back, they are the input most likely to make it backtrack. */
static void letters_of(const char *src, char *out, size_t n)
{
	size_t o = 0;

	for (; *src && o + 2 < n; src++)
		if ((*src >= 'a' && *src <= 'z') || *src == ' ' || *src == '\'')
			out[o++] = *src;
	out[o++] = ' ';
	out[o] = '\0';
}

static int hits_limit(struct match_ctx *ctx, const struct faq_pattern *p,
		      char hostile[][TEXT_CLASSIFY_MAX + 1], size_t nh)
{
	char own[TEXT_CLASSIFY_MAX + 1], unit[512];
	size_t i, s, n;
	int found;

	for (i = 0; i < nh; i++)
		if (match_find(ctx, p->re, hostile[i], strlen(hostile[i]), 0, &found, &s, &n) ==
		    ERR_LIMIT)
			return 1;
	letters_of(p->expanded ? p->expanded : p->src, unit, sizeof(unit));
	fill(own, unit);
	if (match_find(ctx, p->re, own, strlen(own), 0, &found, &s, &n) == ERR_LIMIT)
		return 1;
	own[strlen(own) - 1] = '!'; /* a near miss at the very end */
	return match_find(ctx, p->re, own, strlen(own), 0, &found, &s, &n) == ERR_LIMIT;
}

static void check_limits(const struct faq *faq, struct faq_diags *d)
{
	static char hostile[CHECK_HOSTILE_N][TEXT_CLASSIFY_MAX + 1];
	char all[2048] = "";
	size_t i, j, o = 0;

	/* every example, run together, then plain runs of letters and spaces */
	for (i = 0; i < faq->nentries && o < sizeof(all) - 1; i++)
		for (j = 0; j < faq->entries[i].nexamples && o < sizeof(all) - 1; j++)
			o += (size_t)snprintf(all + o, sizeof(all) - o, "%s ",
					      faq->entries[i].examples[j].text);
	fill(hostile[0], all);
	fill(hostile[1], "a");
	fill(hostile[2], "a ");
	fill(hostile[3], "i want to ");
	fill(hostile[4], "ketamine is ");
	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *e = &faq->entries[i];

		for (j = 0; j < e->npatterns + e->nnegations; j++) {
			const struct faq_pattern *p = j < e->npatterns
							      ? &e->patterns[j]
							      : &e->negations[j - e->npatterns];

			if (hits_limit(faq->mctx, p, hostile, CHECK_HOSTILE_N))
				faq_diag_add(
					d, e->file, p->line, p->col, 0,
					"pattern hits the PCRE2 match limit on a long message: "
					"avoid nested repeats like (a+)+ or (.*)* and "
					"unbounded '.*' next to each other");
		}
	}
}

/* describe names the entry that answered, and where its pattern is: a
 * volunteer looks there, and a regular expression of a thousand characters
 * printed here would tell them nothing. */
static void describe(const struct classify_result *r, char *buf, size_t n)
{
	if (!r->matched)
		snprintf(buf, n, "no entry");
	else if (r->cls == FAQ_CLASS_CRISIS) /* crisis entries go in file order */
		snprintf(buf, n, "'%s' (its pattern at %s:%u)", r->entry->id, r->entry->file,
			 r->pattern->line);
	else
		snprintf(buf, n, "'%s' (its pattern at %s:%u, priority %d)", r->entry->id,
			 r->entry->file, r->pattern->line, r->entry->priority);
}

/* A new entry whose pattern is broad takes the examples of many others:
 * reported once, in its own file, rather than once in each of theirs. */
#define CHECK_BROAD_MIN 3

struct taken {
	const struct faq_entry *by;
	size_t n;
	const char *ids[4]; /* the first few entries it took from */
	size_t nids;
};

/* example_answer classifies an example's text by the patterns alone. */
static enum err example_answer(const struct faq *faq, const char *text, struct classify_result *r)
{
	char *norm = NULL;
	size_t len;
	enum err x = text_normalise(text, strlen(text), &norm, &len);

	if (x != ERR_OK)
		return x;
	x = classify_patterns(faq, norm, len, r);
	free(norm);
	return x;
}

/* count_taken fills taken[i] with how many examples of other FAQ and
 * advice entries faq->entries[i] answers instead of their own. */
static enum err count_taken(const struct faq *faq, struct taken *taken)
{
	size_t i, j, k;

	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *e = &faq->entries[i];

		if (e->cls == FAQ_CLASS_QUESTION || e->cls == FAQ_CLASS_CRISIS)
			continue;
		for (j = 0; j < e->nexamples; j++) {
			struct classify_result r;
			enum err x = example_answer(faq, e->examples[j].text, &r);
			struct taken *t;

			if (x != ERR_OK)
				return x;
			if (!r.matched || r.entry == e || r.cls == FAQ_CLASS_CRISIS)
				continue;
			t = &taken[r.entry - faq->entries];
			t->by = r.entry;
			t->n++;
			for (k = 0; k < t->nids && strcmp(t->ids[k], e->id); k++)
				;
			if (k == t->nids && t->nids < 4)
				t->ids[t->nids++] = e->id;
		}
	}
	return ERR_OK;
}

static void report_broad(const struct faq *faq, const struct taken *taken, struct faq_diags *d)
{
	size_t i;

	for (i = 0; i < faq->nentries; i++) {
		const struct taken *t = &taken[i];
		const struct faq_entry *e = &faq->entries[i];

		if (t->n < CHECK_BROAD_MIN)
			continue;
		faq_diag_add(
			d, e->file, e->npatterns ? e->patterns[0].line : e->line, 1, 0,
			"'%s' (priority %d) answers %zu examples of other entries (%s%s%s%s%s%s%s)"
			" instead of them: its patterns are too broad; make them more "
			"specific, or lower its priority",
			e->id, e->priority, t->n, t->ids[0], t->nids > 1 ? ", " : "",
			t->nids > 1 ? t->ids[1] : "", t->nids > 2 ? ", " : "",
			t->nids > 2 ? t->ids[2] : "", t->nids > 3 ? ", " : "",
			t->nids > 3 ? "..." : "");
	}
}

/* judge_missed reports an example s of e that another entry, or none,
 * answers (r); who names what answered it. */
static void judge_missed(const struct faq *faq, const struct taken *taken,
			 const struct faq_entry *e, const struct faq_sample *s,
			 const struct classify_result *r, const char *who, struct faq_diags *d)
{
	if (!r->matched && e->only_questions && !r->question)
		/* its pattern may well match: what stops it is that the entry
		 * answers questions only */
		faq_diag_add(d, e->file, s->line, s->col, 0,
			     "example '%s' gets no answer: it does not read "
			     "as a question, and '%s' answers questions only "
			     "(end it with '?' or start it with a question "
			     "word, or add its opening to question.yml)",
			     s->text, e->id);
	else if (!r->matched)
		faq_diag_add(d, e->file, s->line, s->col, 0,
			     "example '%s' gets no answer: no pattern of '%s' "
			     "matches it",
			     s->text, e->id);
	else if (r->cls == FAQ_CLASS_CRISIS)
		faq_diag_add(d, e->file, s->line, s->col, 0,
			     "example '%s' is answered by %s instead of '%s': "
			     "crisis always wins; reword the example or narrow "
			     "the crisis pattern",
			     s->text, who, e->id);
	else if (taken[r->entry - faq->entries].n >= CHECK_BROAD_MIN)
		; /* reported once, in the broad entry's file */
	else
		faq_diag_add(d, e->file, s->line, s->col, 0,
			     "example '%s' is answered by %s instead of '%s' "
			     "(priority %d)%s",
			     s->text, who, e->id, e->priority,
			     r->entry->priority > e->priority
				     ? ": the higher priority wins"
				     : ": the same priority, and its match is longer; "
				       "make this entry's pattern more specific or "
				       "raise its priority");
}

/* judge_sample reports what is wrong with the answer r that s, an example
 * of e when positive, else a not_example, gets, if anything. */
static void judge_sample(const struct faq *faq, const struct taken *taken,
			 const struct faq_entry *e, const struct faq_sample *s, int positive,
			 const struct classify_result *r, struct faq_diags *d)
{
	char who[768];

	describe(r, who, sizeof(who));
	if (e->cls == FAQ_CLASS_QUESTION) {
		if (positive != r->question)
			faq_diag_add(
				d, e->file, s->line, s->col, 0,
				positive
					? "example '%s' does not read as a question: no pattern of "
					  "the question entries matches it"
					: "not_example '%s' reads as a question; narrow the pattern "
					  "that matches it",
				s->text);
		return;
	}
	if (positive && r->matched && r->entry != e && e->cls == FAQ_CLASS_CRISIS &&
	    r->cls == FAQ_CLASS_CRISIS) {
		/* Still a crisis, with lines and an alert: only the wording of
		 * the reply differs, so a warning, not an error. */
		faq_diag_add(d, e->file, s->line, s->col, 1,
			     "crisis example '%s' gets the reply of %s instead of "
			     "'%s' (crisis entries are tried in file order)",
			     s->text, who, e->id);
	} else if (positive && (!r->matched || r->entry != e)) {
		judge_missed(faq, taken, e, s, r, who, d);
	} else if (!positive && r->matched && r->entry == e) {
		faq_diag_add(d, e->file, s->line, s->col, 0,
			     "not_example '%s' is answered by this entry (pattern "
			     "at line %u); narrow that pattern",
			     s->text, r->pattern->line);
	}
}

static enum err check_examples(const struct faq *faq, struct faq_diags *d)
{
	struct taken *taken = calloc(faq->nentries + 1, sizeof(*taken));
	enum err x = taken ? count_taken(faq, taken) : ERR_NOMEM;
	size_t i, j;

	if (x != ERR_OK) {
		free(taken);
		return x;
	}
	report_broad(faq, taken, d);
	for (i = 0; i < faq->nentries && x == ERR_OK; i++) {
		const struct faq_entry *e = &faq->entries[i];

		for (j = 0; j < e->nexamples + e->ncounter && x == ERR_OK; j++) {
			int positive = j < e->nexamples;
			const struct faq_sample *s =
				positive ? &e->examples[j] : &e->counter[j - e->nexamples];
			struct classify_result r;

			x = example_answer(faq, s->text, &r);
			if (x == ERR_OK)
				judge_sample(faq, taken, e, s, positive, &r, d);
		}
	}
	free(taken);
	return x;
}

/* days_since returns whole days from a YYYY-MM-DD date to today (UTC). */
static long days_since(const char *date)
{
	struct tm tm;
	time_t then;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(date, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	then = timegm(&tm);
	return (long)((time(NULL) - then) / 86400);
}

static void check_fresh(const struct faq *faq, const struct check_opts *o, struct faq_diags *d)
{
	size_t i, j;

	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *e = &faq->entries[i];
		long age = e->reviewed ? days_since(e->reviewed) : 0;

		if (age > o->max_age_days)
			faq_diag_add(d, e->file, e->line, 1, 1,
				     "'%s' was last reviewed %ld days ago (%s): read it again "
				     "and update 'reviewed'",
				     e->id, age, e->reviewed);
	}
	for (i = 0; i < faq->nregions; i++)
		for (j = 0; j < faq->regions[i].nlines; j++) {
			const struct faq_helpline *h = &faq->regions[i].lines[j];
			long age = h->verified ? days_since(h->verified) : 0;

			if (age > o->max_age_days)
				faq_diag_add(d, faq->lines_file, h->line, 1, 1,
					     "crisis line '%s' was last verified %ld days ago: "
					     "check it against %s",
					     h->name, age, h->source);
			else if (h->seen_in)
				faq_diag_add(d, faq->lines_file, h->line, 1, 1,
					     "crisis line '%s' was read second hand (%s), not at "
					     "%s: check it there, then remove 'seen_in'",
					     h->name, h->seen_in, h->source);
		}
}

void check_due(const struct faq *faq, int max_age_days, size_t *entries, size_t *lines)
{
	size_t i, j;

	*entries = *lines = 0;
	if (max_age_days <= 0)
		return;
	for (i = 0; i < faq->nentries; i++)
		if (faq->entries[i].reviewed && days_since(faq->entries[i].reviewed) > max_age_days)
			(*entries)++;
	for (i = 0; i < faq->nregions; i++)
		for (j = 0; j < faq->regions[i].nlines; j++)
			if (faq->regions[i].lines[j].seen_in ||
			    (faq->regions[i].lines[j].verified &&
			     days_since(faq->regions[i].lines[j].verified) > max_age_days))
				(*lines)++;
}

static void check_sources(const struct faq *faq, const char *dir, struct faq_diags *d)
{
	size_t i, j;

	for (i = 0; i < faq->nentries; i++)
		for (j = 0; j < faq->entries[i].nsources; j++) {
			char path[4096];
			struct stat st;

			snprintf(path, sizeof(path), "%s/%s", dir, faq->entries[i].sources[j]);
			if (stat(path, &st) != 0)
				faq_diag_add(d, faq->entries[i].file, faq->entries[i].line, 1, 0,
					     "source '%s' is not an article in %s",
					     faq->entries[i].sources[j], dir);
		}
}

enum err check_faq(const struct faq *faq, const struct check_opts *opts, struct faq_diags *d)
{
	enum err e = check_examples(faq, d);

	if (e != ERR_OK)
		return e;
	check_limits(faq, d);
	if (opts && opts->max_age_days > 0)
		check_fresh(faq, opts, d);
	if (opts && opts->seeds_dir)
		check_sources(faq, opts->seeds_dir, d);
	return ERR_OK;
}
