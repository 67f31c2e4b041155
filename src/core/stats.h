/* stats.h -- what the bot did, counted per UTC day, never what was said.
 *
 * A count has a kind and a key: answers by "class:entry" ("faq:tms",
 * "crisis:crisis-self"), questions nobody answered by room, messages an
 * entry matched that the bot left alone by "class:entry". Each count goes
 * to its day and to the since-start tally. No message text, sender or
 * event id is ever kept here: keys are entry ids and room ids only.
 *
 * Persistence is JSON text in, JSON text out (serve.c writes it with
 * state_write); days older than the retention are dropped on the way out.
 * O(n) lookups over today's records: a few hundred keys a day. */
#ifndef FAQBOT_STATS_H
#define FAQBOT_STATS_H

#include <stddef.h>
#include <time.h>

#include "err.h"

#define STATS_KEY_MAX     256   /* bytes of a key; longer keys are cut */
#define STATS_RECORDS_MAX 50000 /* more are not counted (logged once) */

enum stats_kind {
	STATS_ANSWER,     /* a reply was posted; key "class:entry" */
	STATS_UNANSWERED, /* a question no entry matched; key: the room */
	STATS_QUIET,      /* an entry matched, the bot stayed quiet; "class:entry" */
	STATS_KINDS
};

struct stats;

struct stats_count {
	const char *key; /* borrowed from the stats */
	long n;
};

/* stats_day: the day number (days since 1970-01-01, UTC) of t. */
long stats_day(time_t t);

/* stats_day_parse: the day number of a "YYYY-MM-DD" date, or -1 when s is
 * not one (nothing may follow the date). */
long stats_day_parse(const char *s);

struct stats *stats_new(void);
void stats_free(struct stats *st);

/* stats_add counts one event of kind with key on day (and since start). */
enum err stats_add(struct stats *st, long day, enum stats_kind kind, const char *key);

/* stats_collect sums the counts of kind over days [from, to] (both
 * inclusive), or since start when from < 0, into a new array sorted by
 * count, highest first (*out, the caller frees it; keys are borrowed and
 * valid until the next stats_add or stats_free). Returns how many keys. */
size_t stats_collect(const struct stats *st, enum stats_kind kind, long from, long to,
		     struct stats_count **out);

/* stats_total sums stats_collect's counts whose key starts with prefix
 * ("" for all). */
long stats_total(const struct stats *st, enum stats_kind kind, long from, long to,
		 const char *prefix);

/* stats_to_json returns new JSON text of every day from keep_from on (not
 * the since-start tally), or NULL when out of memory. */
char *stats_to_json(const struct stats *st, long keep_from);

/* stats_from_json adds the days of text (as stats_to_json wrote it) to st.
 * ERR_PARSE when text is not a JSON object with a "days" object (st is then
 * unchanged); otherwise a day or a count that is not what stats_to_json
 * writes is skipped and counted in *skipped (which may be NULL), and the
 * rest is added: one bad item costs that item. */
enum err stats_from_json(struct stats *st, const char *text, size_t len, size_t *skipped);

#endif
