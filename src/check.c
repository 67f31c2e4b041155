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
		if (match_find(ctx, p->re, hostile[i], strlen(hostile[i]), 0, &found, &s, &n) == ERR_LIMIT)
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
			const struct faq_pattern *p = j < e->npatterns ? &e->patterns[j]
								       : &e->negations[j - e->npatterns];

			if (hits_limit(faq->mctx, p, hostile, CHECK_HOSTILE_N))
				faq_diag_add(d, e->file, p->line, p->col, 0,
					     "pattern hits the PCRE2 match limit on a long message: "
					     "avoid nested repeats like (a+)+ or (.*)* and "
					     "unbounded '.*' next to each other");
		}
	}
}

static void describe(const struct classify_result *r, char *buf, size_t n)
{
	if (!r->matched)
		snprintf(buf, n, "no entry");
	else
		snprintf(buf, n, "'%s' (%s:%u pattern '%s')", r->entry->id, r->entry->file,
			 r->pattern->line, r->pattern->src);
}

static enum err check_examples(const struct faq *faq, struct faq_diags *d)
{
	size_t i, j;

	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *e = &faq->entries[i];

		for (j = 0; j < e->nexamples + e->ncounter; j++) {
			int positive = j < e->nexamples;
			const struct faq_sample *s = positive ? &e->examples[j]
							      : &e->counter[j - e->nexamples];
			struct classify_result r;
			char *norm = NULL, who[768];
			size_t len;
			enum err x = text_normalise(s->text, strlen(s->text), &norm, &len);

			if (x != ERR_OK)
				return x;
			x = classify_patterns(faq, norm, len, &r);
			free(norm);
			if (x != ERR_OK)
				return x;
			describe(&r, who, sizeof(who));
			if (e->cls == FAQ_CLASS_QUESTION) {
				if (positive != r.question)
					faq_diag_add(d, e->file, s->line, s->col, 0, positive
						? "example '%s' does not read as a question: no pattern of "
						  "the question entries matches it"
						: "not_example '%s' reads as a question; narrow the pattern "
						  "that matches it", s->text);
				continue;
			}
			if (positive && r.matched && r.entry != e && e->cls == FAQ_CLASS_CRISIS &&
			    r.cls == FAQ_CLASS_CRISIS) {
				/* Still a crisis, with lines and an alert: only the wording of
				 * the reply differs, so a warning, not an error. */
				faq_diag_add(d, e->file, s->line, s->col, 1,
					     "crisis example '%s' gets the reply of %s instead of "
					     "'%s' (crisis entries are tried in file order)",
					     s->text, who, e->id);
			} else if (positive && (!r.matched || r.entry != e)) {
				if (!r.matched && e->only_questions && !r.question)
					/* its pattern may well match: what stops it is
					 * that the entry answers questions only */
					faq_diag_add(d, e->file, s->line, s->col, 0,
						     "example '%s' gets no answer: it does not read "
						     "as a question, and '%s' answers questions only "
						     "(end it with '?' or start it with a question "
						     "word, or add its opening to question.yml)",
						     s->text, e->id);
				else if (!r.matched)
					faq_diag_add(d, e->file, s->line, s->col, 0,
						     "example '%s' gets no answer: no pattern of '%s' "
						     "matches it", s->text, e->id);
				else
					faq_diag_add(d, e->file, s->line, s->col, 0,
						     "example '%s' is answered by %s instead of '%s'%s",
						     s->text, who, e->id,
						     r.cls == FAQ_CLASS_CRISIS
							     ? " (crisis always wins: reword the example or the crisis pattern)"
							     : r.entry->priority > e->priority
								       ? " (it has a higher priority)"
								       : " (its match is longer: make this entry's "
									 "pattern more specific or raise its priority)");
			} else if (!positive && r.matched && r.entry == e) {
				faq_diag_add(d, e->file, s->line, s->col, 0,
					     "not_example '%s' is answered by this entry (pattern "
					     "at line %u); narrow that pattern", s->text, r.pattern->line);
			}
		}
	}
	return ERR_OK;
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
				     "and update 'reviewed'", e->id, age, e->reviewed);
	}
	for (i = 0; i < faq->nregions; i++)
		for (j = 0; j < faq->regions[i].nlines; j++) {
			const struct faq_helpline *h = &faq->regions[i].lines[j];
			long age = h->verified ? days_since(h->verified) : 0;

			if (age > o->max_age_days)
				faq_diag_add(d, faq->lines_file, h->line, 1, 1,
					     "crisis line '%s' was last verified %ld days ago: "
					     "check it against %s", h->name, age, h->source);
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
