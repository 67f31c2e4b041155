/* faq.h -- the FAQ store: load every file of a FAQ folder, validate its
 * structure, compile its patterns. No classification here (classify.h), no
 * network, no global state: a store is built whole or not at all, so a
 * reload can build a new one and swap it in only when it is clean.
 *
 * A store is read-only once built. Every string in it is owned by it. */
#ifndef FAQBOT_FAQ_H
#define FAQBOT_FAQ_H

#include <stddef.h>

#include "concept.h"
#include "err.h"

#define FAQ_MAX_FILES        1000      /* files read from one folder */
#define FAQ_MAX_FILE_BYTES   (1 << 20) /* one FAQ file */
#define FAQ_ANSWER_MIN_WORDS 40        /* faq answers: warm but short */
#define FAQ_SHORT_MAX \
	240 /* bytes of a `short:` form: one IRC line with
                                    * the nick, the pointer and the prefix */
#define FAQ_ANSWER_MAX_WORDS  120
#define FAQ_CRISIS_MAX_WORDS  130 /* crisis text before the lines go in */
#define FAQ_LINES_PLACEHOLDER "{crisis_lines}"

/* FAQ_CLASS_QUESTION entries answer nothing: their patterns define what
 * reads as a question (the rule every entry with only_questions uses, and
 * the rule for answering in a room). */
enum faq_class { FAQ_CLASS_FAQ, FAQ_CLASS_ADVICE, FAQ_CLASS_CRISIS, FAQ_CLASS_QUESTION };

struct match_re;
struct match_ctx;
struct prefilter;
struct spell;

struct faq_pattern {
	char *src;           /* as written */
	char *expanded;      /* with its {concepts} written out, as compiled;
	                      * NULL when it names none */
	struct match_re *re; /* compiled */
	unsigned line, col;  /* where it is written, 1-based */
	size_t pf;           /* its number in the store's prefilter */
};

struct faq_sample { /* an example or a not-example message */
	char *text;
	unsigned line, col;
};

struct faq_entry {
	char *id, *question, *answer, *reviewed;
	/* `short:`: the answer in a sentence or two, or NULL. A network where
	 * the whole answer costs a room many paced lines (IRC) may send this
	 * instead, with its own pointer to `!faq ID`. FAQ entries only: crisis
	 * and advice replies always go out whole. */
	char *short_answer;
	enum faq_class cls;
	int priority;
	int only_questions; /* match only question-shaped messages (faq default) */
	char **sources;
	size_t nsources;
	struct faq_pattern *patterns, *negations;
	size_t npatterns, nnegations;
	struct faq_sample *examples, *counter;
	size_t nexamples, ncounter;
	/* the entry's own word lists (`words:`), named in its patterns as
	 * {name} before concepts.yml's; outer is the store's concepts. Never
	 * the learned stage's tags: those are concepts.yml's alone. */
	struct concepts words;
	char *file; /* path as it was opened */
	unsigned line;
	int shares_priority; /* another entry of its class has the same priority */
};

struct faq_helpline {
	char *name, *kind, *number, *keyword, *url, *text, *source, *verified;
	/* where the line was read second hand, when nobody has yet checked
	 * it at its source: `faqbot check` says it is due until someone does */
	char *seen_in;
	unsigned line;
};

struct faq_region {
	char *code, *name;
	struct faq_helpline *lines;
	size_t nlines;
	unsigned line;
};

struct faq {
	struct faq_entry *entries; /* sorted by file name: the tie-break order */
	size_t nentries;
	/* entries by priority, highest first, file order among equals: the
	 * order the classifier tries them in, so the first match at a priority
	 * no other entry of its class shares ends the search */
	const struct faq_entry **by_priority;
	struct faq_region *regions;
	size_t nregions;
	char *default_region;
	char *lines_file;
	struct concepts concepts; /* from concepts.yml (concept.h) */
	/* The articles answers are drawn from (articles.yml): the file name an
	 * entry's sources list, and the article's own title, which is what
	 * !sources shows a member. */
	struct faq_article *articles;
	size_t narticles;
	struct match_ctx *mctx; /* for classify_*; one store serves one thread */
	/* Which patterns could match a text, in one pass (prefilter.h), or
	 * NULL: every pattern is tried, and prefilter_why says why. Built
	 * with the store, so a reload brings the FAQ's own. */
	struct prefilter *prefilter;
	char prefilter_why[256];
	/* The words members write here, from the examples, for the mended
	 * view (spell.h): built with the store, kept when examples go. */
	struct spell *spell;
	/* The learned stage (faq_learn.h), or NULL: owned, freed by faq_free
	 * through stage_free, so that this module needs no word of it. */
	void *stage;
	void (*stage_free)(void *stage);
	int stage_pending; /* no stage yet: it is being trained (faq_learn.h) */
};

struct faq_article {
	char *file;  /* "002_fd57f2a9e4d88134.txt" */
	char *title; /* "Treatment-Resistant Depression: What It Is and ..." */
	unsigned line;
};

/* faq_article_title: the title of the source article file, or NULL when
 * articles.yml does not name it. */
const char *faq_article_title(const struct faq *faq, const char *file);

/* One finding of a load or a check, to show as "file:line:col: message". */
struct faq_diag {
	char *file;
	unsigned line, col;
	int warning; /* 0: an error (the FAQ is refused), 1: a warning */
	char *msg;
};

struct faq_diags {
	struct faq_diag *v;
	size_t n, cap, errors, warnings;
};

/* faq_load reads every *.yml and *.yaml file of dir (not its sub-folders).
 * Each finding is appended to d. Returns ERR_OK with a new store in *out
 * when there was no error (warnings allowed); otherwise *out is NULL and d
 * says why. A store needs at least one crisis entry and the crisis lines. */
enum err faq_load(const char *dir, struct faq **out, struct faq_diags *d);
void faq_free(struct faq *faq);

/* faq_parse_text parses one file's text as faq_load would (name is used in
 * findings only) and appends the findings to d, keeping nothing else: the
 * parser alone, for fuzzing and tests. Returns ERR_NOMEM only. */
enum err faq_parse_text(const char *name, const char *text, size_t len, struct faq_diags *d);

/* faq_drop_examples frees the examples and not_examples of every entry:
 * only `check` reads them, and a long-running bot need not keep them. */
void faq_drop_examples(struct faq *faq);

/* faq_find returns the entry with that id, or NULL. Borrowed. */
const struct faq_entry *faq_find(const struct faq *faq, const char *id);

/* faq_region returns the region with that code, or the default region when
 * code is NULL, or NULL when there is no such region. Borrowed. */
const struct faq_region *faq_region(const struct faq *faq, const char *code);

const char *faq_class_name(enum faq_class c);

/* faq_diag_add appends a finding (printf-style message). Returns ERR_NOMEM
 * when it could not be kept. */
enum err faq_diag_add(struct faq_diags *d, const char *file, unsigned line, unsigned col,
		      int warning, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 6, 7)))
#endif
	;
void faq_diags_release(struct faq_diags *d);

/* faq_date_ok says whether s is a real calendar date written YYYY-MM-DD. */
int faq_date_ok(const char *s);

#endif
