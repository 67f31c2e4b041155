/* classify.c -- crisis, then advice, then the best FAQ entry (classify.h). */
#include "classify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "match.h"
#include "negate.h"
#include "faq_learn.h"
#include "prefilter.h"
#include "text.h"
#include "spell.h"
#include "views.h"

/* The prefilter (prefilter.h) says which patterns could match a text; only
 * those run. A scan is kept per view in a slot of its own, with the text it
 * was made for, so that the text every stage reads (a message within one
 * window, in full) is scanned once, and scanned again only where negations
 * blanked some of it. text is only ever the caller's norm or the folded
 * view, which outlive the classification; a scan of a blanked copy is
 * marked with text NULL (never reused). */
enum { SLOT_NORM, SLOT_FOLDED, SLOT_MENDED };

struct scan {
	unsigned slot;
	const char *text;
	size_t len;
};

/* scan_for: the candidates for text[0, len), scanned unless sc holds them */
static void scan_for(const struct faq *faq, struct scan *sc, const char *text, size_t len)
{
	if (!faq->prefilter || (sc->text == text && sc->len == len))
		return;
	prefilter_scan(faq->prefilter, sc->slot, text, len);
	sc->text = text;
	sc->len = len;
}

/* scan_blanked: the candidates for a blanked copy */
static void scan_blanked(const struct faq *faq, struct scan *sc, const char *text, size_t len)
{
	if (!faq->prefilter)
		return;
	prefilter_scan(faq->prefilter, sc->slot, text, len);
	sc->text = NULL;
}

/* may_match: 0 when p cannot match the text sc was last scanned for (sc
 * NULL: no scan to go by, every pattern may) */
static int may_match(const struct faq *faq, const struct scan *sc, const struct faq_pattern *p)
{
	return !faq->prefilter || !sc || prefilter_may(faq->prefilter, sc->slot, p->pf);
}

/* try_pattern matches pattern j of e. A PCRE2 limit is logged, counted in
 * r->limited, and reported as ERR_LIMIT so the caller chooses what a limit
 * means for its class. */
static enum err try_pattern(const struct faq *faq, const struct faq_entry *e, size_t j,
			    const char *text, size_t len, struct classify_result *r, int *found,
			    size_t *s, size_t *n)
{
	enum err x = match_find(faq->mctx, e->patterns[j].re, text, len, 0, found, s, n);

	if (x == ERR_LIMIT) {
		r->limited = 1;
		log_warn("pattern hit the match limit entry=%s file=%s line=%u", e->id, e->file,
			 e->patterns[j].line);
	}
	return x;
}

static void set_result(struct classify_result *r, const struct faq_entry *e, size_t j, size_t s,
		       size_t n)
{
	r->matched = 1;
	r->cls = e->cls;
	r->entry = e;
	r->pattern = &e->patterns[j];
	r->start = s;
	r->len = n;
}

/* The prefilter's part in blanking negations (negate.h): a negation it
 * rules out for the window as it stands does not run, and after a blank
 * the window is scanned again, since the blanks may let a later negation
 * match. */
struct neg_ctx {
	const struct faq *faq;
	struct scan *sc;
};

static int neg_may(void *ctx, const struct faq_pattern *neg)
{
	const struct neg_ctx *c = ctx;

	return may_match(c->faq, c->sc, neg);
}

static void neg_blanked(void *ctx, const char *window, size_t len)
{
	const struct neg_ctx *c = ctx;

	scan_blanked(c->faq, c->sc, window, len);
}

/* find_crisis runs every crisis pattern over buf[from, to). Returns 1 with
 * the result set at the first match, or at a pattern that hit a limit (fail
 * safe: a message a crisis pattern could not read through is a crisis).
 * A pattern the prefilter rules out (sc: the candidates for that text) is
 * known not to match, so it does not run, and cannot hit a limit. */
static int find_crisis(const struct faq *faq, const struct scan *sc, const char *buf, size_t from,
		       size_t to, struct classify_result *r)
{
	size_t i, j;

	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *e = &faq->entries[i];

		if (e->cls != FAQ_CLASS_CRISIS)
			continue;
		for (j = 0; j < e->npatterns; j++) {
			size_t s = 0, n = 0;
			int found;

			if (!may_match(faq, sc, &e->patterns[j]))
				continue;
			if (try_pattern(faq, e, j, buf + from, to - from, r, &found, &s, &n) ==
			    ERR_LIMIT)
				found = 1;
			if (found) {
				set_result(r, e, j, from + s, n);
				return 1;
			}
		}
	}
	return 0;
}

/* asks_in: 1 when a question pattern matches text at an offset in [from,
 * upto] (it reads the whole text from there, so a pattern for a
 * sentence's start sees the stop before), 0 when none does, -1 when the
 * FAQ has no question entry. sc: the prefilter's candidates for text. */
static int asks_in(const struct faq *faq, struct scan *sc, const char *text, size_t len,
		   size_t from, size_t upto)
{
	size_t i, j;
	int any = 0;

	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *e = &faq->entries[i];

		if (e->cls != FAQ_CLASS_QUESTION)
			continue;
		any = 1;
		for (j = 0; j < e->npatterns; j++) {
			size_t s, n;
			int found;

			if (may_match(faq, sc, &e->patterns[j]) &&
			    match_find(faq->mctx, e->patterns[j].re, text, len, from, &found, &s,
				       &n) == ERR_OK &&
			    found && s <= upto)
				return 1;
		}
	}
	return any ? 0 : -1;
}

/* is_stop: a byte that ends a sentence */
static int is_stop(char c)
{
	return c == '.' || c == '!' || c == '?' || c == '\n';
}

/* asks_near: whether text, a question, asks about what ends at offset at.
 * In a message of up to CLASSIFY_ASK_NEAR_MIN bytes, yes. In a longer post
 * a question somewhere ("anyone else find that?", "does that make sense?")
 * does not make every topic it tells of a question to the FAQ: one of the
 * question patterns must match in the sentence that names the topic or in
 * the one after it ("i've had 20 sessions of tms. is it normal to feel
 * worse?"). The window starts at the stop before the sentence, so that a
 * pattern for a sentence's start sees it; the question patterns run over
 * the whole text from there (match_find's from), so the rules for long
 * posts in question.yml stay theirs. */
static int asks_near(const struct faq *faq, struct scan *sc, const char *text, size_t len,
		     size_t at)
{
	size_t ws = at < len ? at : len, we = ws;
	int stops = 0;

	if (len <= CLASSIFY_ASK_NEAR_MIN)
		return 1;
	while (ws > 0 && !is_stop(text[ws - 1]))
		ws--;
	if (ws > 0)
		ws--;
	for (; we < len; we++)
		if (is_stop(text[we]) && ++stops == 2)
			break;
	/* no question entry: the built-in rule judged the whole */
	return asks_in(faq, sc, text, len, ws, we) != 0;
}

/* best_of finds, among entries of class cls, the highest priority match,
 * then the longest. Entries are tried by priority (faq->by_priority), so
 * the search ends at the first match whose priority no other entry of the
 * class shares; among equal priorities the longest match wins, then the
 * earlier file. A pattern that hits a limit is no match here (only crisis
 * fails safe, and crisis is decided before this). sc: the slot whose
 * candidates are for text. */
static void best_of(const struct faq *faq, struct scan *sc, enum faq_class cls, const char *text,
		    size_t len, struct classify_result *r)
{
	size_t i, j;

	scan_for(faq, sc, text, len);
	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *e = faq->by_priority[i];

		if (e->cls != cls || (e->only_questions && !r->question))
			continue;
		if (r->matched && e->priority < r->entry->priority)
			return; /* nothing further can outrank the match */
		for (j = 0; j < e->npatterns; j++) {
			size_t s, n;
			int found;

			if (!may_match(faq, sc, &e->patterns[j]) ||
			    try_pattern(faq, e, j, text, len, r, &found, &s, &n) != ERR_OK ||
			    !found || (e->only_questions && !asks_near(faq, sc, text, len, s + n)))
				continue;
			if (!r->matched || n > r->len)
				set_result(r, e, j, s, n);
			if (!e->shares_priority)
				return; /* alone at the top priority that matched */
		}
	}
}

/* answer_patterns: the advice pattern that answers text, else the FAQ one
 * (advice comes before FAQ), into r; r->matched says whether one did. */
static void answer_patterns(const struct faq *faq, struct scan *sc, const char *text, size_t len,
			    struct classify_result *r)
{
	best_of(faq, sc, FAQ_CLASS_ADVICE, text, len, r);
	if (!r->matched)
		best_of(faq, sc, FAQ_CLASS_FAQ, text, len, r);
}

/* is_question: classify_is_question with the candidates of sc's slot */
static int is_question(const struct faq *faq, struct scan *sc, const char *norm, size_t len)
{
	int q;

	scan_for(faq, sc, norm, len);
	q = asks_in(faq, sc, norm, len, 0, len);
	return q < 0 ? text_is_question(norm) : q;
}

/* count_words: runs of letters or digits in text[0, len) (any byte of a
 * multi-byte character counts as a letter). */
static size_t count_words(const char *text, size_t len)
{
	size_t i, n = 0;
	int in = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		int w = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c >= 0x80;

		n += w && !in;
		in = w;
	}
	return n;
}

int classify_is_question(const struct faq *faq, const char *norm, size_t len)
{
	struct scan sc = {SLOT_NORM, NULL, 0};

	return is_question(faq, &sc, norm, len);
}

/* prefix_len: the first TEXT_CLASSIFY_MAX bytes of norm, cut at a
 * character boundary: what advice, FAQ and question patterns read. */
static size_t prefix_len(const char *norm, size_t len)
{
	size_t n = len;

	if (n <= TEXT_CLASSIFY_MAX)
		return n;
	n = TEXT_CLASSIFY_MAX;
	while (n > 0 && ((unsigned char)norm[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* crisis_in runs the crisis search over text, window by window (text.h):
 * first every negation is blanked (negate.h), so a window boundary cannot
 * leave half of "not suicidal" behind, then the crisis patterns run. Until
 * a negation blanks something the copy reads as text itself, and sc's
 * scans are of text (kept for the stages after: a message within one
 * window is scanned once for all of them). The blanked text is left in
 * *masked (the caller frees it): the concepts the model reads are taken
 * from it, so that a title or a past the negations recognise is no tag. */
static enum err crisis_in(const struct faq *faq, struct scan *sc, const char *text, size_t len,
			  struct classify_result *r, int *crisis, char **masked)
{
	size_t start, end;
	int blanked = 0;

	*crisis = 0;
	*masked = malloc(len + 1);
	if (!*masked)
		return ERR_NOMEM;
	memcpy(*masked, text, len);
	(*masked)[len] = '\0';
	{
		struct neg_ctx nc = {faq, sc};
		struct negate_hooks h = {neg_may, neg_blanked, &nc};

		for (start = 0;; start = text_window_next(*masked, len, start, end)) {
			end = text_window_end(*masked, len, start);
			if (blanked)
				scan_blanked(faq, sc, *masked + start, end - start);
			else
				scan_for(faq, sc, text + start, end - start);
			blanked |= negate_window(faq, *masked, start, end, &h, &r->limited);
			if (end >= len)
				break;
		}
	}
	for (start = 0;; start = text_window_next(*masked, len, start, end)) {
		end = text_window_end(*masked, len, start);
		if (blanked)
			scan_blanked(faq, sc, *masked + start, end - start);
		else
			scan_for(faq, sc, text + start, end - start);
		*crisis = find_crisis(faq, sc, *masked, start, end, r);
		if (*crisis || end >= len)
			break;
	}
	return ERR_OK;
}

/* model_kind: the kind model's probabilities for folded and its tags. */
static enum err model_kind(const struct faq_stage *st, const char *folded, size_t len,
			   const char *tags, const char *marks, float *probs)
{
	return learn_predict_folded(st->kind, folded, len, tags, marks, probs) < 0 ? ERR_NOMEM
										   : ERR_OK;
}

/* model_decides sets r to the learned stage's verdict: class cls, and the
 * entry of that class the entry model ranks first (without one, the entry
 * of that class with the most examples: the most general answer). For a
 * FAQ entry, only when prob times the entry model's probability for it
 * passes the stage's threshold (faq_learn.h): a FAQ question whose entry
 * the model cannot tell gets no answer rather than the wrong one. */
static enum err model_decides(const struct faq_stage *st, const char *folded, size_t len,
			      const char *tags, const char *marks, enum faq_class cls, float prob,
			      struct classify_result *r)
{
	const struct faq_entry *e = NULL;
	int k = -1;

	if (st->entry) {
		float *pe = malloc((size_t)learn_nlabels(st->entry) * sizeof(float));

		if (!pe || learn_predict_folded(st->entry, folded, len, tags, marks, pe) < 0) {
			free(pe);
			return ERR_NOMEM;
		}
		k = faq_stage_best_entry(st, pe, cls);
		if (cls == FAQ_CLASS_FAQ && (k < 0 || prob * pe[k] < st->t_faq)) {
			free(pe);
			return ERR_OK;
		}
		free(pe);
	} else if (cls == FAQ_CLASS_FAQ) {
		return ERR_OK;
	}
	e = k >= 0 ? st->entries[k] : st->general[cls];
	if (!e)
		return ERR_OK; /* no entry of that class: nothing to answer with */
	r->matched = 1;
	r->cls = cls;
	r->entry = e;
	r->pattern = NULL;
	r->start = 0;
	r->len = len;
	r->stage = CLASSIFY_BY_MODEL;
	r->prob = prob;
	return ERR_OK;
}

static enum err classify_with(const struct faq *faq, const struct faq_stage *stage,
			      const char *norm, size_t len, const char *marks,
			      struct classify_result *r);

/* entry_matches: whether a pattern of e matches text (as best_of would let
 * it: a question-only entry only for a question); sets r's match to it. */
static int entry_matches(const struct faq *faq, const struct faq_entry *e, const char *text,
			 size_t len, struct classify_result *r)
{
	size_t j, s, n;
	int found;

	if (e->only_questions && !r->question)
		return 0;
	for (j = 0; j < e->npatterns; j++)
		if (try_pattern(faq, e, j, text, len, r, &found, &s, &n) == ERR_OK && found &&
		    (!e->only_questions || asks_near(faq, NULL, text, len, s + n))) {
			set_result(r, e, j, s, n);
			return 1;
		}
	return 0;
}

/* model_arbiter: among FAQ entries whose patterns match, the one the
 * entry model is sure of, where that is not the one priority chose: two
 * entries' patterns often both fit ("does ketamine work or is it hype"
 * reads as effectiveness and as not-a-cure), and the examples know which
 * answer members meant. The answer stays one a pattern matched. */
static enum err model_arbiter(const struct faq *faq, const struct faq_stage *st, const char *folded,
			      size_t flen, const char *tags, const char *marks, const char *text,
			      size_t len, struct classify_result *r)
{
	float *pe;
	int k, cur = -1;
	size_t i;

	if (!st->entry)
		return ERR_OK;
	pe = malloc((size_t)learn_nlabels(st->entry) * sizeof(float));
	if (!pe || learn_predict_folded(st->entry, folded, flen, tags, marks, pe) < 0) {
		free(pe);
		return ERR_NOMEM;
	}
	k = faq_stage_best_entry(st, pe, FAQ_CLASS_FAQ);
	for (i = 0; i < st->nentries; i++)
		if (st->entries[i] == r->entry)
			cur = (int)i;
	if (k >= 0 && st->entries[k] != r->entry && pe[k] >= FAQ_LEARN_ARBITER_SURE &&
	    (cur < 0 || pe[k] >= FAQ_LEARN_ARBITER_RATIO * pe[cur])) {
		struct classify_result t = *r;

		if (entry_matches(faq, st->entries[k], text, len, &t)) {
			t.over = r->entry;
			*r = t;
		}
	}
	free(pe);
	return ERR_OK;
}

enum err classify(const struct faq *faq, const char *norm, size_t len, const char *marks,
		  struct classify_result *r)
{
	return classify_with(faq, faq->stage, norm, len, marks, r);
}

/* why_quiet writes why the learned stage routed a message no pattern
 * matched nowhere, as model_route decides: most often a FAQ question whose
 * entry the entry model could not tell, which a moderator fixes with an
 * example of that entry. */
static void why_quiet(const struct faq_stage *st, const char *folded, size_t flen, const char *tags,
		      const char *marks, const char *norm, size_t len, const float *p, char *buf,
		      size_t buflen)
{
	int best = p[FAQ_KIND_ADVICE] >= p[FAQ_KIND_FAQ] ? FAQ_KIND_ADVICE : FAQ_KIND_FAQ;
	float *pe = NULL;
	int k;

	snprintf(buf, buflen, "no threshold passed");
	if (p[FAQ_KIND_NONE] > p[best] ||
	    p[best] < (best == FAQ_KIND_FAQ ? st->t_faq : st->t_advice))
		return;
	if (count_words(norm, prefix_len(norm, len)) < CLASSIFY_ROUTE_MIN_WORDS) {
		snprintf(buf, buflen, "too few words to route a question");
		return;
	}
	if (best != FAQ_KIND_FAQ || !st->entry)
		return;
	pe = malloc((size_t)learn_nlabels(st->entry) * sizeof(float));
	if (pe && learn_predict_folded(st->entry, folded, flen, tags, marks, pe) >= 0 &&
	    (k = faq_stage_best_entry(st, pe, FAQ_CLASS_FAQ)) >= 0)
		snprintf(buf, buflen,
			 "a FAQ question, but the entry model could not tell which entry "
			 "(likeliest '%s' at %.2f, and %.2f x %.2f is under %.2f): an "
			 "example of the right entry teaches it",
			 st->entries[k]->id, (double)pe[k], (double)p[FAQ_KIND_FAQ], (double)pe[k],
			 (double)st->t_faq);
	free(pe);
}

/* explain_pattern: where the pattern that decided r is, and the view it
 * was read in */
static void explain_pattern(const struct classify_result *r, char *buf, size_t buflen)
{
	int n = snprintf(
		buf, buflen, "decided by a pattern of '%s' at %s:%u:%u%s", r->entry->id,
		r->entry->file, r->pattern ? r->pattern->line : 0, r->pattern ? r->pattern->col : 0,
		r->view == CLASSIFY_VIEW_FOLDED ? ", read in the folded view (symbols as letters, "
						  "look-alike letters, spaced letters joined)"
		: r->view == CLASSIFY_VIEW_MENDED
			? ", read with misspelt words mended to the FAQ's own "
			  "words ('wnat' as 'want')"
			: "");

	if (r->over && n > 0 && (size_t)n < buflen)
		snprintf(buf + n, buflen - (size_t)n,
			 "; a pattern of '%s' matched too, and the learned stage, from "
			 "the examples, is surer of '%s'",
			 r->over->id, r->entry->id);
}

void classify_explain(const struct faq *faq, const char *norm, size_t len, const char *marks,
		      const struct classify_result *r, char *buf, size_t buflen)
{
	const struct faq_stage *st = faq->stage;
	float p[FAQ_KINDS];
	char words[256] = "", tags[FAQ_LEARN_TAGS_MAX] = "", *folded = NULL;
	size_t flen = 0;
	int changed, ok;

	if (buflen == 0)
		return;
	if (r->matched && r->stage == CLASSIFY_BY_PATTERN) {
		explain_pattern(r, buf, buflen);
		return;
	}
	/* as classify_with: the folded view, and the tags of it once its
	 * negations are blanked */
	ok = st && views_fold(norm, len, &folded, &flen, &changed) == ERR_OK;
	if (ok) {
		char *masked = strndup(folded, flen);
		int limited = 0;

		ok = masked != NULL;
		if (ok) {
			negate_mask(faq, masked, flen, &limited);
			faq_stage_tags(faq, masked, flen, tags, sizeof(tags));
			ok = learn_predict_folded(st->kind, folded, flen, tags, marks, p) >= 0;
		}
		free(masked);
	}
	if (!ok) {
		free(folded);
		snprintf(buf, buflen, "no pattern matched%s",
			 st ? "" : "; the learned stage is off");
		return;
	}
	if (r->matched) {
		enum faq_learn_kind k = r->cls == FAQ_CLASS_CRISIS   ? FAQ_KIND_CRISIS
					: r->cls == FAQ_CLASS_ADVICE ? FAQ_KIND_ADVICE
								     : FAQ_KIND_FAQ;
		float t = k == FAQ_KIND_CRISIS   ? st->t_crisis
			  : k == FAQ_KIND_ADVICE ? st->t_advice
						 : st->t_faq;

		/* the surer threshold that holds where a pattern answered too */
		float over = k == FAQ_KIND_CRISIS   ? st->t_crisis_over
			     : k == FAQ_KIND_ADVICE ? st->t_over
						    : t;
		char also[64] = "";

		if (over > t && over <= 1.0f)
			snprintf(also, sizeof(also), "; %.2f over %s pattern's answer",
				 (double)over, k == FAQ_KIND_ADVICE ? "a FAQ" : "an advice or FAQ");
		learn_explain(st->kind, folded, flen, tags, marks, (int)k, words, sizeof(words));
		snprintf(buf, buflen,
			 "decided by the learned stage: %s with probability %.2f "
			 "(threshold %.2f%s), answered with '%s'; words that weighed "
			 "most: %s",
			 faq_learn_kind_name(k), (double)p[k], (double)t, also, r->entry->id,
			 *words ? words : "none in particular");
		free(folded);
		return;
	}
	why_quiet(st, folded, flen, tags, marks, norm, len, p, words, sizeof(words));
	free(folded);
	snprintf(buf, buflen,
		 "no pattern matched; the learned stage: crisis %.2f (raised at "
		 "%.2f), advice %.2f, faq %.2f, none %.2f: %s",
		 (double)p[FAQ_KIND_CRISIS], (double)st->t_crisis, (double)p[FAQ_KIND_ADVICE],
		 (double)p[FAQ_KIND_FAQ], (double)p[FAQ_KIND_NONE], words);
}

enum err classify_patterns(const struct faq *faq, const char *norm, size_t len,
			   struct classify_result *r)
{
	return classify_with(faq, NULL, norm, len, NULL, r);
}

/* The views of one message, as classify_with reads them: the normalised
 * text, the folded view where it differs (views.h), each with the copy its
 * negations blanked, and the prefilter's scans of them. */
struct views {
	const char *norm;
	size_t len, plen;
	const char *marks;            /* the accented words (text_marks), for the model */
	char *folded, *mnorm, *mfold; /* owned */
	size_t flen;
	int changed;
	struct scan sn, sf;
};

static void views_free(struct views *v)
{
	free(v->mnorm);
	free(v->mfold);
	free(v->folded);
}

/* mended_crisis: the mended view (spell.h), for a crisis only: typed in a
 * hurry, "wnat to die" is still a crisis; a question misspelt is left to
 * the model, whose pieces of words read past typos. */
static enum err mended_crisis(const struct faq *faq, struct views *v, struct classify_result *r,
			      int *crisis)
{
	char *mended = NULL, *mmend = NULL;
	unsigned char *mask = NULL;
	size_t mlen = 0;
	struct scan sm = {SLOT_MENDED, NULL, 0};
	struct classify_result before = *r;
	enum err e = spell_mend(faq->spell, v->folded, v->flen, &mended, &mlen, &mask);

	if (e == ERR_OK && mask) {
		e = crisis_in(faq, &sm, mended, mlen, r, crisis, &mmend);
		/* only a match over a mended word: a mend elsewhere may have
		 * undone a safe reading ("diving board" mended to "driving
		 * board" is no longer a diving board) */
		if (*crisis && !memchr(mask + r->start, 1, r->len)) {
			*crisis = 0;
			*r = before;
		}
		if (*crisis)
			r->view = CLASSIFY_VIEW_MENDED;
	}
	free(mask);
	free(mmend);
	free(mended);
	return e;
}

/* crisis_views: the crisis search in each view in turn, the normalised,
 * the folded (only where it differs: most messages hide nothing, and cost
 * nothing more), then the mended. */
static enum err crisis_views(const struct faq *faq, struct views *v, struct classify_result *r,
			     int *crisis)
{
	enum err e = crisis_in(faq, &v->sn, v->norm, v->len, r, crisis, &v->mnorm);

	if (e != ERR_OK || *crisis)
		return e;
	e = views_fold(v->norm, v->len, &v->folded, &v->flen, &v->changed);
	if (e != ERR_OK)
		return e;
	if (v->changed) {
		e = crisis_in(faq, &v->sf, v->folded, v->flen, r, crisis, &v->mfold);
		r->view = *crisis ? CLASSIFY_VIEW_FOLDED : CLASSIFY_VIEW_NORM;
	}
	if (!*crisis && e == ERR_OK && faq->spell)
		e = mended_crisis(faq, v, r, crisis);
	return e;
}

/* model_crisis: the learned stage's kind probabilities, and a crisis it
 * raises (*decided). The model reads the folded view (views.h), and the
 * concepts named in it once negations are blanked (a title or a past they
 * recognise names none), as it learnt. The words themselves stay: a
 * negation is a pattern's reading, and the model's own reading of them
 * caught more at risk. A question an advice or FAQ pattern answers is
 * raised only at the surer threshold: the patterns are read here, once
 * (*read_norm). */
static enum err model_crisis(const struct faq *faq, const struct faq_stage *stage, struct views *v,
			     char *tags, float *probs, struct classify_result *r, int *read_norm,
			     int *decided)
{
	enum err e;

	if (v->changed)
		faq_stage_tags(faq, v->mfold, v->flen, tags, FAQ_LEARN_TAGS_MAX);
	else
		faq_stage_tags(faq, v->mnorm, v->len, tags, FAQ_LEARN_TAGS_MAX);
	e = model_kind(stage, v->folded, v->flen, tags, v->marks, probs);
	if (e != ERR_OK)
		return e;
	r->prob = probs[FAQ_KIND_CRISIS];
	if (probs[FAQ_KIND_CRISIS] >= stage->t_crisis &&
	    probs[FAQ_KIND_CRISIS] < stage->t_crisis_over) {
		answer_patterns(faq, &v->sn, v->norm, v->plen, r);
		*read_norm = 1;
	}
	if (probs[FAQ_KIND_CRISIS] >= stage->t_crisis && !(*read_norm && r->matched)) {
		*decided = 1;
		return model_decides(stage, v->folded, v->flen, tags, v->marks, FAQ_CLASS_CRISIS,
				     probs[FAQ_KIND_CRISIS], r);
	}
	return ERR_OK;
}

/* model_route: a question no pattern matched, routed to advice or a FAQ
 * entry when the model is sure enough. */
static enum err model_route(const struct faq_stage *st, const struct views *v, const char *tags,
			    const float *probs, struct classify_result *r)
{
	int best = probs[FAQ_KIND_ADVICE] >= probs[FAQ_KIND_FAQ] ? FAQ_KIND_ADVICE : FAQ_KIND_FAQ;

	if (probs[FAQ_KIND_NONE] > probs[best])
		return ERR_OK;
	/* a word or two ("ok", "same") is no question to route: the model
	 * has nothing to read there but its own bias */
	if (count_words(v->norm, v->plen) < CLASSIFY_ROUTE_MIN_WORDS)
		return ERR_OK;
	if (best == FAQ_KIND_ADVICE && probs[best] >= st->t_advice)
		return model_decides(st, v->folded, v->flen, tags, v->marks, FAQ_CLASS_ADVICE,
				     probs[best], r);
	if (best == FAQ_KIND_FAQ)
		return model_decides(st, v->folded, v->flen, tags, v->marks, FAQ_CLASS_FAQ,
				     probs[best], r);
	return ERR_OK;
}

/* model_over_faq: a FAQ pattern's answer, weighed by the model: another
 * entry it is surer of (model_arbiter), or advice where it reads a request
 * for personal direction (advice comes before FAQ). */
static enum err model_over_faq(const struct faq *faq, const struct faq_stage *stage,
			       struct views *v, const char *tags, const float *probs,
			       struct classify_result *r)
{
	int fv = r->view == CLASSIFY_VIEW_FOLDED;
	enum err e = model_arbiter(faq, stage, v->folded, v->flen, tags, v->marks,
				   fv ? v->folded : v->norm,
				   fv ? prefix_len(v->folded, v->flen) : v->plen, r);

	if (e != ERR_OK || !r->matched || r->cls != FAQ_CLASS_FAQ)
		return e;
	if (probs[FAQ_KIND_ADVICE] > probs[FAQ_KIND_FAQ] && probs[FAQ_KIND_ADVICE] >= stage->t_over)
		return model_decides(stage, v->folded, v->flen, tags, v->marks, FAQ_CLASS_ADVICE,
				     probs[FAQ_KIND_ADVICE], r);
	return ERR_OK;
}

static enum err classify_with(const struct faq *faq, const struct faq_stage *stage,
			      const char *norm, size_t len, const char *marks,
			      struct classify_result *r)
{
	struct views v = {norm,
			  len,
			  prefix_len(norm, len),
			  marks,
			  NULL,
			  NULL,
			  NULL,
			  0,
			  0,
			  {SLOT_NORM, NULL, 0},
			  {SLOT_FOLDED, NULL, 0}};
	float probs[FAQ_KINDS] = {0};
	char tags[FAQ_LEARN_TAGS_MAX] = "";
	int crisis = 0, read_norm = 0, decided = 0; /* read_norm: answer_patterns ran on norm */
	enum err e;

	memset(r, 0, sizeof(*r));
	e = crisis_views(faq, &v, r, &crisis);
	r->question = is_question(faq, &v.sn, norm, v.plen);
	r->prob = -1;
	if (crisis || e != ERR_OK)
		goto out;
	if (stage) {
		e = model_crisis(faq, stage, &v, tags, probs, r, &read_norm, &decided);
		if (e != ERR_OK || decided)
			goto out;
	}
	if (!read_norm)
		answer_patterns(faq, &v.sn, norm, v.plen, r);
	if (!r->matched && v.changed) {
		answer_patterns(faq, &v.sf, v.folded, prefix_len(v.folded, v.flen), r);
		if (r->matched)
			r->view = CLASSIFY_VIEW_FOLDED;
	}
	if (r->matched && r->cls == FAQ_CLASS_FAQ && stage)
		e = model_over_faq(faq, stage, &v, tags, probs, r);
	else if (!r->matched && stage)
		e = model_route(stage, &v, tags, probs, r);
out:
	views_free(&v);
	return e;
}
