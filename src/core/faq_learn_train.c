/* faq_learn_train.c -- the learned stage trained (faq_learn_int.h): the
 * features a model reads of a message (its folded view, and the concepts
 * it names as tags), the kind and entry models trained and
 * cross-validated, and the thresholds chosen from what cross-validation
 * saw. */
#include "faq_learn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learn.h"
#include "match.h"
#include "negate.h"
#include "text.h"
#include "views.h"

static void stage_tags(const struct faq_stage *st, struct match_ctx *ctx, const char *folded,
		       size_t len, char *buf, size_t buflen)
{
	size_t i, o = 0, s, n;
	int found;

	if (buflen == 0)
		return;
	buf[0] = '\0';
	if (!st)
		return;
	if (len > LEARN_MAX_TEXT)
		len = LEARN_MAX_TEXT;
	for (i = 0; i < st->ntags; i++) {
		size_t nl = strlen(st->tag_name[i]);

		if (!st->tag_re[i] || o + nl + 2 > buflen)
			continue;
		if (match_find(ctx, st->tag_re[i], folded, len, 0, &found, &s, &n) != ERR_OK ||
		    !found)
			continue;
		if (o)
			buf[o++] = ' ';
		memcpy(buf + o, st->tag_name[i], nl + 1);
		o += nl;
	}
}

void faq_stage_tags(const struct faq *faq, const char *masked, size_t len, char *buf, size_t buflen)
{
	stage_tags(faq->stage, faq->mctx, masked, len, buf, buflen);
}

/* made_of_others: every phrase of c is another concept ({name} alone).
 * Such a concept is a name for its parts, which are tags of their own: as
 * one more tag it would weigh an ordinary day word ("today") as heavily as
 * a chosen date, the very thing the parts keep apart. */
static int made_of_others(const struct concept *c)
{
	const char *p = c->phrases;
	size_t i;

	if (!p || c->nphrases == 0)
		return 0;
	for (i = 0; i < c->nphrases; i++, p += strlen(p) + 1) {
		size_t l = strlen(p);

		if (l < 3 || p[0] != '{' || p[l - 1] != '}' || !concept_name_ok(p + 1, l - 2))
			return 0;
	}
	return 1;
}

enum err faq_learn_tags_compile(struct faq_stage *st, const struct faq *faq)
{
	size_t i;

	st->tag_re = calloc(faq->concepts.n + 1, sizeof(*st->tag_re));
	st->tag_name = calloc(faq->concepts.n + 1, sizeof(*st->tag_name));
	if (!st->tag_re || !st->tag_name)
		return ERR_NOMEM;
	for (i = 0; i < faq->concepts.n; i++) {
		char src[CONCEPT_NAME_MAX + 16], msg[256], *out = NULL;
		size_t off;
		enum err e;

		/* "i", "me", "my": in nearly every message, advice and chat as
		 * much as crisis; its words are features already, and as one
		 * heavy tag it made short first-person questions look like a
		 * crisis. risk-now likewise: the negations' guard ("again",
		 * "last night", "same here", "i want"), no signal of risk by
		 * itself, and as a tag it raised "same here" and "anyone watch
		 * the match last night?" */
		if (!strcmp(faq->concepts.v[i].name, "self") ||
		    !strcmp(faq->concepts.v[i].name, "risk-now") ||
		    made_of_others(&faq->concepts.v[i]))
			continue;
		snprintf(src, sizeof(src), "\\b{%s}\\b", faq->concepts.v[i].name);
		e = concept_expand(&faq->concepts, src, &out, msg, sizeof(msg), &off);
		if (e == ERR_NOMEM)
			return e;
		if (e == ERR_OK && out)
			match_compile(out, &st->tag_re[st->ntags], msg, sizeof(msg), &off);
		free(out);
		if (st->tag_re[st->ntags])
			st->tag_name[st->ntags++] = faq->concepts.v[i].name;
	}
	return ERR_OK;
}

/* view_of: text as the models read it (normalised and folded, as
 * classify does) into *seen, its tags (taken once the negations are
 * blanked) into *tags, and its accented words into *marks (text_marks). */
static enum err view_of(const struct faq *faq, const struct faq_stage *st, const char *text,
			char **seen, char **tags, char **marks)
{
	char *norm = NULL, *masked;
	size_t nlen = 0, flen = 0;
	int changed, limited = 0;

	*seen = NULL;
	*tags = malloc(FAQ_LEARN_TAGS_MAX);
	if (!*tags)
		return ERR_NOMEM;
	(*tags)[0] = '\0';
	if (text_marks(text, strlen(text), marks) != ERR_OK)
		return ERR_NOMEM;
	if (text_normalise(text, strlen(text), &norm, &nlen) != ERR_OK)
		return ERR_NOMEM;
	if (views_fold(norm, nlen, seen, &flen, &changed) != ERR_OK) {
		free(norm);
		return ERR_NOMEM;
	}
	free(norm);
	masked = strndup(*seen, flen);
	if (!masked)
		return ERR_NOMEM;
	negate_mask(faq, masked, flen, &limited);
	stage_tags(st, faq->mctx, masked, flen, *tags, FAQ_LEARN_TAGS_MAX);
	free(masked);
	return ERR_OK;
}

enum err faq_learn_stage_entries(struct faq_stage *st, const struct faq *faq)
{
	size_t i;

	st->entries = calloc(faq->nentries + 1, sizeof(*st->entries));
	if (!st->entries || faq_learn_tags_compile(st, faq) != ERR_OK)
		return ERR_NOMEM;
	for (i = 0; i < faq->nentries; i++)
		if (faq->entries[i].cls == FAQ_CLASS_FAQ || faq->entries[i].cls == FAQ_CLASS_ADVICE)
			st->entries[st->nentries++] = &faq->entries[i];
	return ERR_OK;
}

/* sets_views: each message as the models read it, and its tags: costly
 * (every message folded, its negations run, its concepts looked for), so
 * done only to train, never to find a stage in the cache. */
static enum err sets_views(const struct faq *faq, const struct faq_stage *st,
			   struct faq_learn_sets *s)
{
	size_t i;

	if (s->seen)
		return ERR_OK;
	s->tags = calloc(s->n + 1, sizeof(*s->tags));
	s->seen = calloc(s->n + 1, sizeof(*s->seen));
	s->marks = calloc(s->n + 1, sizeof(*s->marks));
	if (!s->tags || !s->seen || !s->marks)
		return ERR_NOMEM;
	for (i = 0; i < s->n; i++)
		if (view_of(faq, st, s->texts[i], &s->seen[i], &s->tags[i], &s->marks[i]) != ERR_OK)
			return ERR_NOMEM;
	return ERR_OK;
}

static int cmp_float_desc(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x < y) - (x > y);
}

/* choose_over: the lowest threshold at which the advice and FAQ messages
 * the model calls advice (over FAQ, and at least that sure) are
 * FAQ_LEARN_OVER_PRECISION advice. */
static void choose_over(struct faq_stage *st, const struct faq_learn_sets *s, const float *pk)
{
	struct faq_learn_figures *f = &st->cv;
	float t;
	size_t i;

	st->t_over = 1.01f;
	f->over_recall = f->over_precision = 0;
	for (t = 0.30f; t < 1.0f; t += 0.05f) {
		size_t turned = 0, right = 0;

		for (i = 0; i < s->n; i++) {
			const float *p = pk + i * FAQ_KINDS;

			if (s->kind[i] != FAQ_KIND_ADVICE && s->kind[i] != FAQ_KIND_FAQ)
				continue;
			if (p[FAQ_KIND_ADVICE] <= p[FAQ_KIND_FAQ] || p[FAQ_KIND_ADVICE] < t)
				continue;
			turned++;
			right += s->kind[i] == FAQ_KIND_ADVICE;
		}
		if (turned && (double)right / (double)turned >= FAQ_LEARN_OVER_PRECISION) {
			st->t_over = t;
			f->over_recall = f->nadvice ? (double)right / (double)f->nadvice : 0;
			f->over_precision = (double)right / (double)turned;
			return;
		}
	}
}

/* within_budget: the lowest threshold at which at most budget of the n
 * negatives' scores (neg, highest first) would pass. */
static float within_budget(const float *neg, size_t n, double budget)
{
	size_t allowed = (size_t)(budget * (double)n);

	return allowed < n ? neg[allowed] + 1e-6f : 0;
}

/* The commonest words of English chat, in the folded view (an apostrophe
 * splits a word: "don't" is "don" and "t"), sorted for bsearch. */
static const char *const common_english[] = {
	"a",    "about",   "after",  "all",  "am",    "and",  "anyone", "are",   "at",    "back",
	"be",   "because", "been",   "but",  "can",   "cant", "day",    "do",    "don",   "dont",
	"feel", "for",     "from",   "get",  "going", "have", "he",     "her",   "how",   "i",
	"if",   "im",      "in",     "is",   "it",    "its",  "just",   "know",  "like",  "ll",
	"m",    "me",      "much",   "my",   "no",    "not",  "now",    "of",    "on",    "one",
	"or",   "out",     "really", "s",    "she",   "so",   "still",  "t",     "that",  "the",
	"them", "then",    "there",  "they", "think", "this", "time",   "to",    "today", "tonight",
	"ve",   "want",    "was",    "we",   "what",  "when", "with",   "would", "you",
};

static int cmp_word(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* in_english: whether seen (a folded view) reads as English chat: a quarter
 * of its words or more are among the commonest English words, and it has
 * almost no letters outside ASCII. A rough reading, used for one thing:
 * which examples the false-alarm budget counts (choose_crisis). */
static int in_english(const char *seen)
{
	size_t words = 0, common = 0, other = 0;
	const char *p = seen;

	while (*p) {
		const char *key;
		char w[16];
		size_t n = 0;

		if ((unsigned char)*p >= 0x80) {
			other += ((unsigned char)*p & 0xc0) != 0x80; /* a character's first byte */
			p++;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) {
			p++;
			continue;
		}
		for (; (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'); p++)
			if (n + 1 < sizeof(w))
				w[n++] = (char)(*p | 0x20);
		w[n] = '\0';
		key = w;
		words++;
		common += bsearch(&key, common_english,
				  sizeof(common_english) / sizeof(common_english[0]),
				  sizeof(common_english[0]), cmp_word) != NULL;
	}
	return words > 0 && other < 3 && common * 4 >= words;
}

/* choose_crisis: the crisis thresholds, at which at most
 * FAQ_LEARN_FALSE_ALARM of the messages in English that are not a crisis
 * would be raised (FAQ_LEARN_FALSE_ALARM_OVER over a pattern's answer),
 * and the figures at the first (pk: n x FAQ_KINDS).
 *
 * Why English only: the examples in other languages are few for each
 * language and mostly hard twins (a crisis and a safe line in the same
 * words), and the model tells them apart less well; counted in the budget,
 * they set the threshold for every message. Round 29, 48,665 examples
 * (13,594 in other languages): over all of them the threshold rose to 0.59,
 * and crisis recall fell in every language (in English 0.904 -> 0.888
 * against the English budget's 0.50: 0.917; in the others 0.773 -> 0.732,
 * at 0.50: 0.796). A crisis in any language is read at the threshold set
 * this way; the false alarms of all are printed beside. */
static void choose_crisis(struct faq_stage *st, const struct faq_learn_sets *s, const float *pk)
{
	struct faq_learn_figures *f = &st->cv;
	float *neg = malloc((s->n + 1) * sizeof(float)), t;
	unsigned char *en = malloc(s->n + 1);
	size_t i, nneg = 0, hit = 0, fa = 0, fa_en = 0, nneg_all = 0;

	st->t_crisis = st->t_crisis_over = 1.01f; /* never, unless set below */
	if (neg && en) {
		for (i = 0; i < s->n; i++) {
			en[i] = (unsigned char)in_english(s->seen[i]);
			if (s->kind[i] != FAQ_KIND_CRISIS && en[i])
				neg[nneg++] = pk[i * FAQ_KINDS + FAQ_KIND_CRISIS];
		}
		qsort(neg, nneg, sizeof(float), cmp_float_desc);
		t = within_budget(neg, nneg, FAQ_LEARN_FALSE_ALARM);
		st->t_crisis = t > FAQ_LEARN_CRISIS_MIN ? t : FAQ_LEARN_CRISIS_MIN;
		t = within_budget(neg, nneg, FAQ_LEARN_FALSE_ALARM_OVER);
		st->t_crisis_over = t > st->t_crisis ? t : st->t_crisis;
		for (i = 0; i < s->n; i++) {
			int up = pk[i * FAQ_KINDS + FAQ_KIND_CRISIS] >= st->t_crisis;

			if (s->kind[i] == FAQ_KIND_CRISIS) {
				hit += (size_t)up;
				continue;
			}
			nneg_all++;
			fa += (size_t)up;
			fa_en += (size_t)(up && en[i]);
		}
	}
	free(neg);
	free(en);
	f->crisis_recall = f->ncrisis ? (double)hit / (double)f->ncrisis : 0;
	f->crisis_false_alarm = nneg ? (double)fa_en / (double)nneg : 0;
	f->crisis_false_alarm_all = nneg_all ? (double)fa / (double)nneg_all : 0;
}

/* choose_route: the lowest threshold (in steps of 0.05) that keeps the
 * messages routed to kind (advice or faq) FAQ_LEARN_PRECISION right, and
 * the figures there; pk, guess and sure as choose's. */
static void choose_route(struct faq_stage *st, const struct faq_learn_sets *s, const float *pk,
			 const int *guess, const float *sure, int kind)
{
	struct faq_learn_figures *f = &st->cv;
	float *slot = kind == FAQ_KIND_ADVICE ? &st->t_advice : &st->t_faq, t;
	double *rec = kind == FAQ_KIND_ADVICE ? &f->advice_recall : &f->faq_recall;
	double *prec = kind == FAQ_KIND_ADVICE ? &f->advice_precision : &f->faq_precision;
	size_t total = kind == FAQ_KIND_ADVICE ? f->nadvice : f->nfaq, i;

	*slot = 1.01f;
	*rec = *prec = 0;
	/* a FAQ entry is routed to by how sure both models are: that it is a
	 * FAQ question, and which entry's */
	for (t = kind == FAQ_KIND_FAQ ? (float)FAQ_LEARN_FAQ_MIN : 0.30f; t < 1.0f;
	     t += kind == FAQ_KIND_FAQ ? 0.025f : 0.05f) {
		size_t routed = 0, right = 0;

		for (i = 0; i < s->n; i++) {
			const float *p = pk + i * FAQ_KINDS;
			int best = FAQ_KIND_ADVICE, k;
			float conf = kind == FAQ_KIND_FAQ ? p[kind] * sure[i] : p[kind];

			if (p[FAQ_KIND_CRISIS] >= st->t_crisis)
				continue;
			for (k = FAQ_KIND_ADVICE; k <= FAQ_KIND_NONE; k++)
				if (p[k] > p[best])
					best = k;
			if (best != kind || conf < t)
				continue;
			routed++;
			right += s->kind[i] == kind &&
				 (kind != FAQ_KIND_FAQ || guess[i] == s->entry[i]);
		}
		if (routed && (double)right / (double)routed >= FAQ_LEARN_PRECISION) {
			*slot = t;
			*rec = total ? (double)right / (double)total : 0;
			*prec = (double)right / (double)routed;
			return;
		}
	}
}

/* choose: thresholds and figures from the cross-validated probabilities
 * (pk: n x FAQ_KINDS; guess[i]: the entry model's best entry of the
 * message's class, -1 where not scored; sure[i]: its probability for the
 * best FAQ entry, on a model that did not learn from message i). */
static void choose(struct faq_stage *st, const struct faq_learn_sets *s, const float *pk,
		   const int *guess, const float *sure)
{
	struct faq_learn_figures *f = &st->cv;
	size_t i;

	memset(f, 0, sizeof(*f));
	f->n = s->n;
	for (i = 0; i < s->n; i++) {
		f->ncrisis += s->kind[i] == FAQ_KIND_CRISIS;
		f->nadvice += s->kind[i] == FAQ_KIND_ADVICE;
		f->nfaq += s->kind[i] == FAQ_KIND_FAQ;
		f->nnone += s->kind[i] == FAQ_KIND_NONE;
	}
	choose_crisis(st, s, pk);
	choose_over(st, s, pk);
	choose_route(st, s, pk, guess, sure, FAQ_KIND_ADVICE);
	choose_route(st, s, pk, guess, sure, FAQ_KIND_FAQ);
}

/* sure_of_rest sets sure[i], for each message of s with no entry, to the
 * entry model's probability for its best FAQ entry. */
static enum err sure_of_rest(const struct faq_stage *st, const struct faq_learn_sets *s,
			     float *sure)
{
	float *row = malloc((st->nentries + 1) * sizeof(float));
	size_t i;

	if (!row)
		return ERR_NOMEM;
	for (i = 0; i < s->n; i++) {
		int k;

		if (s->entry[i] >= 0)
			continue;
		if (learn_predict_folded(st->entry, s->seen[i], strlen(s->seen[i]), s->tags[i],
					 s->marks[i], row) < 0) {
			free(row);
			return ERR_NOMEM;
		}
		k = faq_stage_best_entry(st, row, FAQ_CLASS_FAQ);
		sure[i] = k >= 0 ? row[k] : 0;
	}
	free(row);
	return ERR_OK;
}

/* train_entry trains the entry model on es, the messages of s that name
 * an entry (eidx[i]: where es's message i is in s), and by
 * cross-validation sets each one's guess (its best entry of its kind) and,
 * for every message, sure (the probability of its best FAQ entry). */
static enum err train_entry(struct faq_stage *st, const struct faq_learn_sets *s,
			    const struct learn_set *es, const size_t *eidx, int *guess, float *sure,
			    char *err, size_t errlen)
{
	float *pe;
	size_t i;
	enum err e;

	pe = malloc(es->n * st->nentries * sizeof(float));
	if (!pe)
		return ERR_NOMEM;
	e = learn_cv(es, FAQ_LEARN_ENTRY_DIM, FAQ_LEARN_C, FAQ_LEARN_ENTRY_FOLDS, pe, &st->entry,
		     err, errlen);
	if (e == ERR_OK) {
		for (i = 0; i < es->n; i++) {
			const float *row = pe + i * st->nentries;
			int k = faq_stage_best_entry(st, row, FAQ_CLASS_FAQ);

			/* as classify does: the best entry of the message's kind */
			guess[eidx[i]] =
				faq_stage_best_entry(st, row, st->entries[es->labels[i]]->cls);
			sure[eidx[i]] = k >= 0 ? row[k] : 0;
		}
		/* the messages the entry model did not learn from (crisis,
		 * none) are scored by the whole model */
		e = sure_of_rest(st, s, sure);
	}
	free(pe);
	return e;
}

enum err faq_learn_train(const struct faq *faq, struct faq_stage *st, struct faq_learn_sets *s,
			 char *err, size_t errlen)
{
	static const double kind_weight[FAQ_KINDS] = {[FAQ_KIND_CRISIS] = FAQ_LEARN_CRISIS_WEIGHT,
						      [FAQ_KIND_ADVICE] = 1,
						      [FAQ_KIND_FAQ] = 1,
						      [FAQ_KIND_NONE] = 1};
	struct learn_set ks = {NULL, s->kind, s->n, FAQ_KINDS, 1, NULL, 1, kind_weight, NULL}, es;
	const char **etexts = NULL, **etags = NULL, **emarks = NULL;
	int *elabels = NULL, *guess = NULL;
	float *pk = NULL, *sure = NULL;
	size_t i, ne = 0, *eidx = NULL;
	enum err e = ERR_NOMEM;

	if (sets_views(faq, st, s) != ERR_OK) {
		snprintf(err, errlen, "out of memory");
		return ERR_NOMEM;
	}
	ks.texts = (const char *const *)s->seen;
	ks.tags = (const char *const *)s->tags;
	ks.marks = (const char *const *)s->marks;
	pk = malloc(s->n * FAQ_KINDS * sizeof(float));
	guess = malloc((s->n + 1) * sizeof(int));
	sure = calloc(s->n + 1, sizeof(float));
	etexts = malloc((s->n + 1) * sizeof(*etexts));
	etags = malloc((s->n + 1) * sizeof(*etags));
	emarks = malloc((s->n + 1) * sizeof(*emarks));
	elabels = malloc((s->n + 1) * sizeof(int));
	eidx = malloc((s->n + 1) * sizeof(size_t));
	if (!pk || !guess || !sure || !etexts || !etags || !emarks || !elabels || !eidx)
		goto out;
	for (i = 0; i < s->n; i++) {
		guess[i] = -1;
		if (s->entry[i] >= 0) {
			etexts[ne] = s->seen[i];
			etags[ne] = s->tags[i];
			emarks[ne] = s->marks[i];
			elabels[ne] = s->entry[i];
			eidx[ne++] = i;
		}
	}
	es.texts = etexts;
	es.labels = elabels;
	es.n = ne;
	es.nlabels = (int)st->nentries;
	es.pieces =
		1; /* pieces of words: right entry 0.47 -> 0.60 (cross-validated) for +10% training */
	es.tags = etags;
	es.marks = emarks;
	es.folded = 1;
	es.weight = NULL;
	e = learn_cv(&ks, FAQ_LEARN_KIND_DIM, FAQ_LEARN_C, FAQ_LEARN_FOLDS, pk, &st->kind, err,
		     errlen);
	if (e == ERR_OK && ne > 0 && st->nentries > 1)
		e = train_entry(st, s, &es, eidx, guess, sure, err, errlen);
	if (e == ERR_OK)
		choose(st, s, pk, guess, sure);
out:
	free(pk);
	free(sure);
	free(guess);
	free(etexts);
	free(etags);
	free(emarks);
	free(elabels);
	free(eidx);
	return e;
}

int faq_stage_best_entry(const struct faq_stage *st, const float *probs, enum faq_class cls)
{
	size_t k;
	int best = -1;

	for (k = 0; k < st->nentries; k++)
		if (st->entries[k] && st->entries[k]->cls == cls &&
		    (best < 0 || probs[k] > probs[best]))
			best = (int)k;
	return best;
}
