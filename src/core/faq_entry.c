/* faq_entry.c -- one FAQ entry read and checked (faq_entry.h). */
#include "faq_entry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

static int id_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

/* starts_item: 1 when the line at p opens a list item ("- ", "* ", "• ",
 * "3. ", "3) ") or is a placeholder on its own ("{crisis_lines}"): kept
 * on a line of its own when an answer is reflowed. */
static int starts_item(const char *p)
{
	if ((p[0] == '-' || p[0] == '*') && p[1] == ' ')
		return 1;
	if (!strncmp(p, "\xe2\x80\xa2 ", 4)) /* U+2022 bullet */
		return 1;
	if (p[0] == '{')
		return 1;
	while (*p >= '0' && *p <= '9')
		p++;
	return (p[0] == '.' || p[0] == ')') && p[1] == ' ' && p[-1] >= '0' && p[-1] <= '9';
}

/* reflow joins the lines of each paragraph of an answer, in place: a line
 * break inside a paragraph becomes a space; a blank line still parts
 * paragraphs, and a list item or a placeholder keeps its own line.
 * Moderators wrap answers to read them in an editor; members should get
 * paragraphs their client wraps, and on IRC, where every line is one
 * message paced by flood control, a paragraph is then one message or
 * two instead of six (issue 13: a burst of questions took minutes). */
static void reflow(char *a)
{
	char *r = a, *w = a;
	int held = *a == '{'; /* the line being copied is a placeholder */

	/* r reads, w writes behind it: what r has passed may be overwritten,
	 * so what matters of a line is noted as it starts */
	while (*r) {
		if (*r == '\n' && r > a && r[-1] != '\n' && !held) {
			char *next = r + 1;

			while (*next == ' ' || *next == '\t')
				next++; /* a deeper indent, for a wrapped item */
			if (*next && *next != '\n' && *next != '\r' && !starts_item(next)) {
				*w++ = ' ';
				r = next;
				continue;
			}
		}
		if (*r == '\n')
			held = r[1] == '{';
		*w++ = *r++;
	}
	*w = '\0';
}

/* compile_patterns turns lines into compiled patterns, reporting a PCRE2
 * error at its exact column. */
static int compile_patterns(struct faq_yfile *yf, yaml_node_t *v, const char *key,
			    const struct concepts *words, struct faq_pattern **out, size_t *nout)
{
	struct faq_yaml_line *items;
	struct faq_pattern *pats;
	size_t n, i, k = 0;

	*out = NULL;
	*nout = 0;
	if (faq_yaml_lines(yf, v, key, 1, 1, &items, &n) < 0)
		return -1;
	pats = calloc(n ? n : 1, sizeof(*pats));
	if (!pats) {
		faq_yaml_lines_free(items, n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		char msg[256];
		size_t off = 0;
		struct match_re *re = NULL;
		char *expanded = NULL;
		enum err e = ERR_OK;

		if (yf->faq)
			e = concept_expand(words, items[i].text, &expanded, msg, sizeof(msg), &off);
		if (e == ERR_OK)
			e = match_compile(expanded ? expanded : items[i].text, &re, msg,
					  sizeof(msg), &off);
		if (e == ERR_NOMEM) {
			free(expanded);
			free(items[i].text);
			continue;
		}
		if (e != ERR_OK) {
			yf->errors++;
			/* an offset inside a written-out concept means nothing in
			 * the line as written: point at the pattern */
			if ((expanded && off > strlen(items[i].text)) || off > items[i].first)
				off = 0;
			faq_diag_add(yf->d, yf->path, items[i].line, items[i].col + (unsigned)off,
				     0, "pattern does not compile: %s (in '%s')", msg,
				     items[i].text);
			free(expanded);
			free(items[i].text);
			continue;
		}
		pats[k].src = items[i].text;
		pats[k].expanded = expanded;
		pats[k].re = re;
		pats[k].line = items[i].line;
		pats[k].col = items[i].col;
		k++;
	}
	free(items);
	*out = pats;
	*nout = k;
	return 0;
}

static int to_samples(struct faq_yfile *yf, yaml_node_t *v, const char *key,
		      struct faq_sample **out, size_t *nout)
{
	struct faq_yaml_line *items;
	size_t n, i;

	if (faq_yaml_lines(yf, v, key, 1, 0, &items, &n) < 0)
		return -1;
	/* struct faq_yaml_line and struct faq_sample have the same members, but
	 * copying keeps the two types free to diverge. */
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out) {
		faq_yaml_lines_free(items, n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		(*out)[i].text = items[i].text;
		(*out)[i].line = items[i].line;
		(*out)[i].col = items[i].col;
	}
	free(items);
	*nout = n;
	return 0;
}

static void free_patterns(struct faq_pattern *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(p[i].src);
		free(p[i].expanded);
		match_free(p[i].re);
	}
	free(p);
}

static void free_samples(struct faq_sample *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(s[i].text);
	free(s);
}

void faq_entry_release(struct faq_entry *e)
{
	size_t i;

	free(e->id);
	free(e->question);
	free(e->answer);
	free(e->short_answer);
	free(e->reviewed);
	for (i = 0; i < e->nsources; i++)
		free(e->sources[i]);
	free(e->sources);
	free_patterns(e->patterns, e->npatterns);
	free_patterns(e->negations, e->nnegations);
	free_samples(e->examples, e->nexamples);
	free_samples(e->counter, e->ncounter);
	concepts_release(&e->words);
	free(e->file);
	memset(e, 0, sizeof(*e));
}

void faq_entry_drop_examples(struct faq_entry *e)
{
	free_samples(e->examples, e->nexamples);
	free_samples(e->counter, e->ncounter);
	e->examples = e->counter = NULL;
	e->nexamples = e->ncounter = 0;
}

/* --- one FAQ entry -------------------------------------------------------- */

/* load_words reads an entry's `words:`, a mapping of name to a block of
 * phrases read exactly as concepts.yml's lists are (concept.h), into
 * e->words, and checks that each list writes out (its {names} known).
 * Returns -1 only when memory ran out. */
static int load_words(struct faq_yfile *yf, yaml_node_t *v, struct faq_entry *e)
{
	yaml_node_pair_t *q;
	size_t i;

	e->words.outer = yf->faq ? &yf->faq->concepts : NULL;
	if (v->type != YAML_MAPPING_NODE) {
		faq_yerr(yf, v,
			 "'words' must be word lists, each 'name: |' and then one word or "
			 "phrase a line, indented under it");
		return 0;
	}
	for (q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
		yaml_node_t *nn = faq_yaml_node(yf, q->key), *lv = faq_yaml_node(yf, q->value);
		const char *name = faq_yaml_scalar(nn);

		if (!name) {
			faq_yerr(yf, nn, "a word list's name must be a word");
			continue;
		}
		if (lv->type == YAML_SCALAR_NODE && !*faq_yaml_scalar(lv)) {
			faq_yerr(yf, nn,
				 "word list '%s' has no words: one word or phrase a line, "
				 "indented under 'name: |'",
				 name);
			continue;
		}
		if (faq_yaml_list(yf, nn, lv, name, &e->words, NULL) < 0)
			return -1;
	}
	if (!yf->faq)
		return 0;
	for (i = 0; i < e->words.n; i++) { /* a list that names an unknown list */
		char src[CONCEPT_NAME_MAX + 3], msg[256], *out = NULL;
		size_t off;
		enum err err;

		snprintf(src, sizeof(src), "{%s}", e->words.v[i].name);
		err = concept_expand(&e->words, src, &out, msg, sizeof(msg), &off);
		free(out);
		if (err == ERR_NOMEM)
			return -1;
		if (err != ERR_OK) {
			yf->errors++;
			faq_diag_add(yf->d, yf->path, e->words.v[i].line,
				     faq_yaml_col(yf, e->words.v[i].line - 1), 0,
				     "in word list '%s': %s", e->words.v[i].name, msg);
		}
	}
	return 0;
}

/* read_text reads v, the text of key (an answer, a short form), into
 * *out, trimmed and reflowed; what is not text is reported, with how to
 * write it ("key: STYLE" then the lines), and leaves *out NULL. -1 only
 * when memory ran out. */
static int read_text(struct faq_yfile *yf, yaml_node_t *v, const char *key, const char *style,
		     char **out)
{
	const char *s = faq_yaml_scalar(v);

	if (!s) {
		faq_yerr(yf, v, "'%s' must be text ('%s: %s' then the lines)", key, key, style);
		return 0;
	}
	*out = faq_yaml_trimmed(s, strlen(s));
	if (!*out)
		return -1;
	reflow(*out);
	return 0;
}

/* check_short reports what is wrong with e's `short:` form, at v. */
static void check_short(struct faq_yfile *yf, yaml_node_t *v, const struct faq_entry *e)
{
	const char *s = e->short_answer;

	if (e->cls != FAQ_CLASS_FAQ) {
		faq_yerr(yf, v, "'short' is for FAQ answers only: %s replies always go out whole",
			 faq_class_name(e->cls));
		return;
	}
	if (!*s)
		faq_yerr(yf, v,
			 "'short' is empty: write the answer in a sentence or two, or leave "
			 "the key out");
	else if (strlen(s) > FAQ_SHORT_MAX)
		faq_yerr(yf, v,
			 "'short' has %zu characters; keep it to %d (one line on IRC, with "
			 "the pointer to the whole answer)",
			 strlen(s), FAQ_SHORT_MAX);
	else if (strchr(s, '\n'))
		faq_yerr(yf, v, "'short' is one paragraph: no blank line inside it");
	else if (strstr(s, FAQ_LINES_PLACEHOLDER))
		faq_yerr(yf, v, "%s only works in crisis answers", FAQ_LINES_PLACEHOLDER);
}

/* What reading one entry keeps at hand, besides the entry: the nodes its
 * last checks point at, once every key is read. */
struct entry_read {
	struct faq_yfile *yf;
	struct faq_entry *e;
	yaml_node_t *answer_node, *short_node;
	int only_q; /* only_questions; -1: not given */
};

/* twice: field, of key k, was given already (and is reported at kn). */
static int twice(struct entry_read *r, yaml_node_t *kn, const char *k, const void *field)
{
	if (!field)
		return 0;
	faq_yerr(r->yf, kn, "'%s' is given twice; keep one", k);
	return 1;
}

/* Each key's reader: v, the value of key k (written at kn), into the
 * entry. -1 only when memory ran out. */

static int key_id(struct entry_read *r, yaml_node_t *kn, yaml_node_t *v, const char *k)
{
	if (twice(r, kn, k, r->e->id))
		return 0;
	r->e->id = faq_yaml_string(r->yf, v, k);
	if (r->e->id && !id_ok(r->e->id))
		faq_yerr(r->yf, v,
			 "id '%s' may use only a-z, 0-9 and '-' (at most 64, not "
			 "starting or ending with '-')",
			 r->e->id);
	return 0;
}

static int key_class(struct entry_read *r, yaml_node_t *kn, yaml_node_t *v, const char *k)
{
	static const struct {
		const char *name;
		enum faq_class cls;
	} classes[] = {
		{"faq", FAQ_CLASS_FAQ},
		{"advice", FAQ_CLASS_ADVICE},
		{"crisis", FAQ_CLASS_CRISIS},
		{"question", FAQ_CLASS_QUESTION},
	};
	const char *s = faq_yaml_scalar(v);
	size_t i;

	(void)kn, (void)k;
	for (i = 0; s && i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strcmp(s, classes[i].name) == 0) {
			r->e->cls = classes[i].cls;
			return 0;
		}
	faq_yerr(r->yf, v, "class must be faq, advice, crisis or question, not '%s'", s ? s : "?");
	return 0;
}

static int key_only_questions(struct entry_read *r, yaml_node_t *kn, yaml_node_t *v, const char *k)
{
	const char *s = faq_yaml_scalar(v);

	(void)kn, (void)k;
	if (s && (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0))
		r->only_q = 1;
	else if (s && (strcmp(s, "false") == 0 || strcmp(s, "no") == 0))
		r->only_q = 0;
	else
		faq_yerr(r->yf, v, "only_questions must be true or false");
	return 0;
}

static int key_question(struct entry_read *r, yaml_node_t *kn, yaml_node_t *v, const char *k)
{
	if (!twice(r, kn, k, r->e->question))
		r->e->question = faq_yaml_string(r->yf, v, k);
	return 0;
}

static int key_reviewed(struct entry_read *r, yaml_node_t *kn, yaml_node_t *v, const char *k)
{
	const char *d;

	if (twice(r, kn, k, r->e->reviewed))
		return 0;
	d = r->e->reviewed = faq_yaml_string(r->yf, v, k);
	if (d && !faq_date_ok(d))
		faq_yerr(r->yf, v,
			 "reviewed must be a date written YYYY-MM-DD, like 2026-11-21, "
			 "not '%s'",
			 d);
	else if (d && faq_yaml_date_future(d))
		faq_yerr(r->yf, v, "reviewed date %s is in the future", d);
	return 0;
}

static int key_priority(struct entry_read *r, yaml_node_t *kn, yaml_node_t *v, const char *k)
{
	const char *s = faq_yaml_scalar(v);
	char *end = NULL;
	long n = s ? strtol(s, &end, 10) : 0;

	(void)kn, (void)k;
	if (!s || !*s || *end || n < -100 || n > 100)
		faq_yerr(r->yf, v, "priority must be a whole number from -100 to 100");
	else
		r->e->priority = (int)n;
	return 0;
}

static int key_sources(struct entry_read *r, yaml_node_t *kn, yaml_node_t *v, const char *k)
{
	struct faq_yaml_line *items;
	size_t n, i;

	if (twice(r, kn, k, r->e->sources))
		return 0;
	if (faq_yaml_lines(r->yf, v, k, 0, 0, &items, &n) < 0)
		return -1;
	r->e->sources = calloc(n ? n : 1, sizeof(char *));
	if (!r->e->sources) {
		faq_yaml_lines_free(items, n);
		return -1;
	}
	for (i = 0; i < n; i++)
		r->e->sources[i] = items[i].text;
	r->e->nsources = n;
	free(items);
	return 0;
}

static int key_patterns(struct entry_read *r, yaml_node_t *kn, yaml_node_t *v, const char *k)
{
	struct faq_entry *e = r->e;

	if (twice(r, kn, k, e->patterns))
		return 0;
	return compile_patterns(r->yf, v, k, &e->words, &e->patterns, &e->npatterns);
}

static int key_negations(struct entry_read *r, yaml_node_t *kn, yaml_node_t *v, const char *k)
{
	struct faq_entry *e = r->e;

	if (twice(r, kn, k, e->negations))
		return 0;
	return compile_patterns(r->yf, v, k, &e->words, &e->negations, &e->nnegations);
}

static int key_answer(struct entry_read *r, yaml_node_t *kn, yaml_node_t *v, const char *k)
{
	if (twice(r, kn, k, r->e->answer))
		return 0;
	r->answer_node = v;
	return read_text(r->yf, v, k, "|", &r->e->answer);
}

static int key_short(struct entry_read *r, yaml_node_t *kn, yaml_node_t *v, const char *k)
{
	if (twice(r, kn, k, r->e->short_answer))
		return 0;
	r->short_node = v;
	return read_text(r->yf, v, k, ">-", &r->e->short_answer);
}

static int key_examples(struct entry_read *r, yaml_node_t *kn, yaml_node_t *v, const char *k)
{
	if (twice(r, kn, k, r->e->examples))
		return 0;
	return to_samples(r->yf, v, k, &r->e->examples, &r->e->nexamples);
}

static int key_not_examples(struct entry_read *r, yaml_node_t *kn, yaml_node_t *v, const char *k)
{
	if (twice(r, kn, k, r->e->counter))
		return 0;
	return to_samples(r->yf, v, k, &r->e->counter, &r->e->ncounter);
}

/* Every key an entry may have, in the order a misspelt key is matched
 * against (the first near one is suggested). */
static const struct entry_key {
	const char *name;
	int (*read)(struct entry_read *r, yaml_node_t *kn, yaml_node_t *v, const char *k);
} entry_keys[] = {
	{"id", key_id},
	{"class", key_class},
	{"question", key_question},
	{"reviewed", key_reviewed},
	{"priority", key_priority},
	{"sources", key_sources},
	{"patterns", key_patterns},
	{"negations", key_negations},
	{"answer", key_answer},
	{"short", key_short},
	{"examples", key_examples},
	{"not_examples", key_not_examples},
	{"only_questions", key_only_questions},
	{"words", NULL}, /* read before the others (read_words) */
};

#define ENTRY_KEYS (sizeof(entry_keys) / sizeof(entry_keys[0]))

/* unknown_key reports k, which is no key of an entry, with the one meant
 * where it is near one. */
static void unknown_key(struct faq_yfile *yf, yaml_node_t *kn, const char *k)
{
	size_t i;

	for (i = 0; i < ENTRY_KEYS; i++)
		if (faq_yaml_near(k, entry_keys[i].name)) {
			faq_yerr(yf, kn, "unknown key '%s' (did you mean '%s'?)", k,
				 entry_keys[i].name);
			return;
		}
	faq_yerr(yf, kn,
		 "unknown key '%s'; an entry has id, class, question, reviewed, "
		 "priority, sources, words, patterns, negations, answer, short, "
		 "examples, not_examples",
		 k);
}

/* read_words reads the entry's own word lists first, wherever they are
 * written: its patterns name them. -1 only when memory ran out. */
static int read_words(struct faq_yfile *yf, yaml_node_t *root, struct faq_entry *e)
{
	yaml_node_pair_t *p;
	yaml_node_t *words_node = NULL;

	e->words.outer = yf->faq ? &yf->faq->concepts : NULL;
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		const char *k = faq_yaml_scalar(faq_yaml_node(yf, p->key));

		if (k && strcmp(k, "words") == 0) {
			if (words_node) {
				faq_yerr(yf, faq_yaml_node(yf, p->key),
					 "'words' is given twice; keep one");
				continue;
			}
			words_node = faq_yaml_node(yf, p->value);
			if (load_words(yf, words_node, e) < 0)
				return -1;
		}
	}
	return 0;
}

/* check_answer: the answer's length for its class, and the crisis lines'
 * placeholder where (and only where) a crisis answer needs it. */
static void check_answer(struct entry_read *r)
{
	const struct faq_entry *e = r->e;
	size_t words = 0;
	const char *s = e->answer;
	int in = 0;

	for (; *s; s++) {
		int sp = *s == ' ' || *s == '\n' || *s == '\t';

		words += !sp && !in;
		in = !sp;
	}
	if (e->cls == FAQ_CLASS_FAQ &&
	    (words < FAQ_ANSWER_MIN_WORDS || words > FAQ_ANSWER_MAX_WORDS))
		faq_yerr(r->yf, r->answer_node,
			 "the answer has %zu words; keep it between %d and %d", words,
			 FAQ_ANSWER_MIN_WORDS, FAQ_ANSWER_MAX_WORDS);
	if (e->cls == FAQ_CLASS_CRISIS) {
		if (!strstr(e->answer, FAQ_LINES_PLACEHOLDER))
			faq_yerr(r->yf, r->answer_node,
				 "a crisis answer must contain %s where the "
				 "crisis lines go",
				 FAQ_LINES_PLACEHOLDER);
		else if (words > FAQ_CRISIS_MAX_WORDS)
			faq_yerr(r->yf, r->answer_node,
				 "the crisis answer has %zu words; keep it "
				 "under %d: short is kinder in a crisis",
				 words, FAQ_CRISIS_MAX_WORDS);
	} else if (strstr(e->answer, FAQ_LINES_PLACEHOLDER)) {
		faq_yerr(r->yf, r->answer_node, "%s only works in crisis answers",
			 FAQ_LINES_PLACEHOLDER);
	}
}

/* check_needs: what every entry needs, said at the entry's first line. */
static void check_needs(struct entry_read *r, yaml_node_t *root)
{
	struct faq_yfile *yf = r->yf;
	const struct faq_entry *e = r->e;

	if (!e->id)
		faq_yerr(yf, root, "the entry has no 'id'");
	if (!e->question)
		faq_yerr(yf, root,
			 "the entry has no 'question' (the question it answers, in plain "
			 "words)");
	if (!e->reviewed)
		faq_yerr(yf, root, "the entry has no 'reviewed' date (YYYY-MM-DD)");
	if (!e->patterns || e->npatterns == 0)
		faq_yerr(yf, root,
			 "the entry has no 'patterns': without one it can never be "
			 "chosen");
	if (!e->examples || e->nexamples == 0)
		faq_yerr(yf, root,
			 "the entry has no 'examples': give at least one message that "
			 "must get this answer");
	if (e->cls == FAQ_CLASS_FAQ && e->nsources == 0 && e->id && strcmp(e->id, "about-bot") != 0)
		faq_yerr(yf, root,
			 "the entry has no 'sources': name the articles the answer comes "
			 "from");
	if (e->nnegations && e->cls != FAQ_CLASS_CRISIS)
		faq_yerr(yf, root, "'negations' only work in crisis entries");
	if (!e->answer || !*e->answer)
		faq_yerr(yf, r->answer_node ? r->answer_node : root, "the entry has no 'answer'");
	else
		check_answer(r);
	if (e->short_answer)
		check_short(yf, r->short_node, e);
}

int faq_entry_load(struct faq_yfile *yf, yaml_node_t *root, struct faq_entry *e)
{
	struct entry_read r = {yf, e, NULL, NULL, -1};
	yaml_node_pair_t *p;

	e->cls = FAQ_CLASS_FAQ;
	e->line = (unsigned)root->start_mark.line + 1;
	if (read_words(yf, root, e) < 0)
		return -1;
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = faq_yaml_node(yf, p->key), *v = faq_yaml_node(yf, p->value);
		const char *k = faq_yaml_scalar(kn);
		size_t i;

		if (!k) {
			faq_yerr(yf, kn, "a key must be a plain word");
			continue;
		}
		for (i = 0; i < ENTRY_KEYS && strcmp(entry_keys[i].name, k) != 0; i++)
			;
		if (i == ENTRY_KEYS)
			unknown_key(yf, kn, k);
		else if (entry_keys[i].read && entry_keys[i].read(&r, kn, v, k) < 0)
			return -1;
	}
	/* faq entries answer questions unless they say otherwise; advice is
	 * given whatever the shape; crisis is never gated. */
	e->only_questions = r.only_q >= 0 ? r.only_q : e->cls == FAQ_CLASS_FAQ;
	if (r.only_q == 1 && (e->cls == FAQ_CLASS_CRISIS || e->cls == FAQ_CLASS_QUESTION))
		faq_yerr(yf, root,
			 "only_questions cannot be used in a %s entry: a crisis is "
			 "answered whatever its shape",
			 faq_class_name(e->cls));
	if (e->cls != FAQ_CLASS_QUESTION) {
		check_needs(&r, root);
		return 0;
	}
	e->only_questions = 0;
	if (!e->id)
		faq_yerr(yf, root, "the entry has no 'id'");
	if (!e->patterns || e->npatterns == 0)
		faq_yerr(yf, root, "the question entry has no 'patterns'");
	if (e->answer)
		faq_yerr(yf, r.answer_node,
			 "a question entry has no answer: it only says which "
			 "messages are questions");
	return 0;
}
