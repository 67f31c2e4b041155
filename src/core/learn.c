/* learn.c -- hashed n-gram features and liblinear's logistic regression
 * (learn.h).
 *
 * liblinear trains in doubles and keeps one weight a feature a class; once
 * trained, the weights are copied into floats laid out label by label and
 * liblinear's model is freed, so a running bot holds dim * nlabels floats
 * and nothing else. Prediction is computed here from those floats with
 * liblinear's own formulas (one-vs-rest logistic, normalised).
 *
 * liblinear itself is loaded with dlopen() when a model is to be trained,
 * not linked: it brings the C++ runtime and BLAS, ~1.5 MB of resident
 * memory in every run, while a bot that finds its trained stage in the
 * cache (faq_learn.h) only predicts. */
#include "learn.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linear.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "text.h"
#include "views.h"

/* Tags of one message read, at most */
#define LEARN_MAX_TAGS         64
/* Features of one message: words, word pairs, 3 sizes of pieces, tags. */
#define LEARN_MAX_FEATURES     (LEARN_MAX_WORDS * 17 + LEARN_MAX_TAGS)
#define LEARN_FILE_MAGIC       "faqbot-learn-4\n"
/* liblinear's solver visits examples in an order drawn from rand(): every
 * training starts from this seed, so that a model depends on its examples
 * alone, not on what was trained before it in the process (or in which
 * process: learn_cv trains its folds side by side) */
#define LEARN_SEED             1u
/* Debian's liblinear4 */
#define LEARN_LIBLINEAR_SONAME "liblinear.so.4"

/* The part of liblinear's API used here, bound by ll_load. */
static struct {
	void *h;
	struct model *(*train)(const struct problem *, const struct parameter *);
	const char *(*check_parameter)(const struct problem *, const struct parameter *);
	void (*free_and_destroy_model)(struct model **);
	void (*set_print_string_function)(void (*)(const char *));
	int (*get_nr_class)(const struct model *);
} ll;

/* ll_load binds liblinear once; 0 when it cannot be had. */
static int ll_load(void)
{
	if (ll.h)
		return 1;
	ll.h = dlopen(LEARN_LIBLINEAR_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!ll.h)
		return 0;
	/* POSIX's way from void * to a function pointer */
	*(void **)&ll.train = dlsym(ll.h, "train");
	*(void **)&ll.check_parameter = dlsym(ll.h, "check_parameter");
	*(void **)&ll.free_and_destroy_model = dlsym(ll.h, "free_and_destroy_model");
	*(void **)&ll.set_print_string_function = dlsym(ll.h, "set_print_string_function");
	*(void **)&ll.get_nr_class = dlsym(ll.h, "get_nr_class");
	if (!ll.train || !ll.check_parameter || !ll.free_and_destroy_model ||
	    !ll.set_print_string_function || !ll.get_nr_class) {
		dlclose(ll.h);
		ll.h = NULL;
		return 0;
	}
	return 1;
}

struct learn_model {
	unsigned dim;
	int pieces; /* learn_set.pieces */
	int nlabels;
	/* weight of feature f for label: w[label * (dim + 1) + f] * scale[label]
	 * (f == dim is the bias). Kept in 16 bits, each label to its own
	 * largest weight: half the memory of floats in every running bot, and
	 * a probability moves by less than 0.001. */
	int16_t *w;
	float *scale;
	int *present; /* present[label]: the label had examples */
};

uint64_t learn_hash(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

int learn_nlabels(const struct learn_model *m)
{
	return m->nlabels;
}

/* collides: whether word, a contraction with its apostrophe dropped, is
 * another word: "she'll" is not "shell" (a shotgun's, in the crisis
 * examples), nor "he'll" "hell", "she'd" "shed" (where a rifle is kept),
 * "we'd" "wed", "we're" "were", "we'll" "well". Those keep their
 * apostrophe; every other contraction is one word with and without it
 * ("i'm" and "im", "i'll" and "ill", as members type them). */
static int collides(const char *word)
{
	static const char *const words[] = {"hell", "shed", "shell", "wed", "well", "were"};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(word, words[i]))
			return 1;
	return 0;
}

/* words_of splits the folded view of text into words of letters, digits
 * and apostrophes (apostrophes dropped: "i'm" and "im" are one word,
 * unless that makes another word: collides).
 * Returns a new buffer holding the words one after another, NUL-separated,
 * and their count in *n. */
static char *words_of(const char *text, size_t len, int folded, size_t *n)
{
	char *norm = NULL, *fold = NULL, *out;
	size_t nlen = 0, flen = 0, i, o = 0;
	int changed;

	*n = 0;
	if (folded) {
		flen = len > LEARN_MAX_TEXT ? LEARN_MAX_TEXT : len;
		fold = malloc(flen + 1);
		if (!fold)
			return NULL;
		memcpy(fold, text, flen);
		fold[flen] = '\0';
	} else {
		if (text_normalise(text, len, &norm, &nlen) != ERR_OK)
			return NULL;
		if (nlen > LEARN_MAX_TEXT)
			nlen = LEARN_MAX_TEXT;
		if (views_fold(norm, nlen, &fold, &flen, &changed) != ERR_OK) {
			free(norm);
			return NULL;
		}
		free(norm);
	}
	out = malloc(flen + 2);
	if (!out) {
		free(fold);
		return NULL;
	}
	for (i = 0; i < flen && *n < LEARN_MAX_WORDS;) {
		unsigned char c = (unsigned char)fold[i];
		size_t start = o, apos = 0;

		if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c < 0x80) {
			i++;
			continue;
		}
		while (i < flen) {
			c = (unsigned char)fold[i];
			if (c == '\'') {
				apos = o;
				i++;
				continue;
			}
			if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c < 0x80)
				break;
			out[o++] = (char)c;
			i++;
		}
		if (o > start) {
			out[o] = '\0';
			if (apos > start && collides(out + start)) {
				memmove(out + apos + 1, out + apos, o - apos);
				out[apos] = '\'';
				o++;
			}
			out[o++] = '\0';
			(*n)++;
		}
	}
	out[o] = '\0';
	free(fold);
	return out;
}

static int cmp_node(const void *a, const void *b)
{
	int x = ((const struct feature_node *)a)->index,
	    y = ((const struct feature_node *)b)->index;

	return (x > y) - (x < y);
}

static void add(struct feature_node *v, size_t *nv, unsigned dim, uint64_t h)
{
	if (*nv < LEARN_MAX_FEATURES)
		v[(*nv)++].index = (int)(h & (dim - 1)) + 1;
}

/* list_hash: the feature of item s[0..n) of a caller's list, in the
 * namespace ns ("t": a tag; "m": a word as written with its accents, not
 * the word's own feature, so that "gün" (Turkish: day) weighs apart from
 * the "gun" it folds to) */
static uint64_t list_hash(const char *ns, const char *s, size_t n)
{
	return learn_hash(learn_hash(LEARN_HASH_INIT, ns, 1), s, n);
}

/* add_list adds a feature in namespace ns for each space-separated item of
 * list (NULL: none), at most max. */
static void add_list(struct feature_node *v, size_t *nv, unsigned dim, const char *list,
		     const char *ns, size_t max)
{
	size_t k = 0;

	while (list && *list && k < max) {
		size_t n = strcspn(list, " ");

		if (n) {
			add(v, nv, dim, list_hash(ns, list, n));
			k++;
		}
		list += n;
		list += strspn(list, " ");
	}
}

/* features_of fills v (room for LEARN_MAX_FEATURES + 2) with the unique,
 * length-1 feature vector of text, its tags and its marked words, the bias feature last and
 * a terminator (index -1). Sorted by index (as liblinear trains on) when
 * seen is NULL; else seen, a zeroed bitmap of dim bits, finds the repeats
 * in one pass instead (a prediction needs no order: a long message has
 * thousands of features, and sorting them was a third of its cost), and
 * is left zeroed. Returns the count without the terminator, or -1 when
 * memory ran out. */
static long features_of(const char *text, size_t len, const char *tags, const char *marks,
			unsigned dim, int pieces, int folded, unsigned char *seen,
			struct feature_node *v)
{
	size_t nw = 0, nv = 0, i, o;
	char *words = words_of(text, len, folded, &nw);
	const char *w, *prev = NULL;
	double norm;

	if (!words)
		return -1;
	for (w = words, i = 0; i < nw; i++, w += strlen(w) + 1) {
		size_t wl = strlen(w), k, g;
		char padded[LEARN_MAX_TEXT + 3];

		add(v, &nv, dim, learn_hash(learn_hash(LEARN_HASH_INIT, "w", 1), w, wl));
		if (prev) {
			uint64_t h =
				learn_hash(learn_hash(LEARN_HASH_INIT, "b", 1), prev, strlen(prev));

			add(v, &nv, dim, learn_hash(learn_hash(h, " ", 1), w, wl));
		}
		prev = w;
		/* pieces of " word ": what survives a typo or an ending */
		if (!pieces || wl + 2 >= sizeof(padded))
			continue;
		padded[0] = ' ';
		memcpy(padded + 1, w, wl);
		padded[wl + 1] = ' ';
		for (g = 3; g <= 5; g++)
			for (k = 0; k + g <= wl + 2; k++)
				add(v, &nv, dim,
				    learn_hash(learn_hash(LEARN_HASH_INIT, "c", 1), padded + k, g));
	}
	free(words);
	add_list(v, &nv, dim, tags, "t", LEARN_MAX_TAGS);
	add_list(v, &nv, dim, marks, "m", LEARN_MAX_WORDS);
	if (seen) {
		for (i = 0, o = 0; i < nv; i++) {
			unsigned x = (unsigned)v[i].index - 1;

			if (seen[x >> 3] & (1u << (x & 7)))
				continue;
			seen[x >> 3] |= (unsigned char)(1u << (x & 7));
			v[o++].index = v[i].index;
		}
		for (i = 0; i < o; i++) {
			unsigned x = (unsigned)v[i].index - 1;

			seen[x >> 3] = 0;
		}
	} else {
		qsort(v, nv, sizeof(*v), cmp_node);
		for (i = 0, o = 0; i < nv; i++)
			if (o == 0 || v[o - 1].index != v[i].index)
				v[o++].index = v[i].index;
	}
	nv = o;
	norm = nv ? 1.0 / sqrt((double)nv) : 0;
	for (i = 0; i < nv; i++)
		v[i].value = norm;
	v[nv].index = (int)dim + 1; /* the bias */
	v[nv].value = 1;
	v[nv + 1].index = -1;
	return (long)nv + 1;
}

static void quiet(const char *s)
{
	(void)s;
}

/* problem_of builds liblinear's problem over the rows of set that keep
 * says to (keep may be NULL: all). The nodes of all rows are in one
 * buffer, *nodes, which the caller frees with prob->x and prob->y. */
static enum err problem_of(const struct learn_set *set, const unsigned char *keep, unsigned dim,
			   struct problem *prob, struct feature_node **nodes)
{
	struct feature_node *v = malloc((LEARN_MAX_FEATURES + 2) * sizeof(*v)), *all = NULL;
	size_t i, used = 0, cap = 0, *start = NULL;
	int l = 0;

	memset(prob, 0, sizeof(*prob));
	*nodes = NULL;
	start = malloc((set->n + 1) * sizeof(*start));
	prob->y = malloc((set->n + 1) * sizeof(double));
	prob->x = malloc((set->n + 1) * sizeof(struct feature_node *));
	if (!v || !start || !prob->y || !prob->x)
		goto nomem;
	for (i = 0; i < set->n; i++) {
		long k;

		if (keep && !keep[i])
			continue;
		k = features_of(set->texts[i], strlen(set->texts[i]),
				set->tags ? set->tags[i] : NULL, set->marks ? set->marks[i] : NULL,
				dim, set->pieces, set->folded, NULL, v);
		if (k < 0)
			goto nomem;
		if (used + (size_t)k + 1 > cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			struct feature_node *na;

			while (ncap < used + (size_t)k + 1)
				ncap *= 2;
			na = realloc(all, ncap * sizeof(*na));
			if (!na)
				goto nomem;
			all = na;
			cap = ncap;
		}
		memcpy(all + used, v, ((size_t)k + 1) * sizeof(*v));
		start[l] = used;
		prob->y[l] = set->labels[i];
		used += (size_t)k + 1;
		l++;
	}
	for (i = 0; i < (size_t)l; i++)
		prob->x[i] = all + start[i];
	prob->l = l;
	prob->n = (int)dim + 1;
	prob->bias = 1;
	free(v);
	free(start);
	*nodes = all;
	return ERR_OK;
nomem:
	free(v);
	free(start);
	free(all);
	free(prob->y);
	free(prob->x);
	memset(prob, 0, sizeof(*prob));
	return ERR_NOMEM;
}

/* ll_weight: liblinear's weight of feature f for its class c of nc (two
 * classes: one vector, for the first; the second's is its negation) */
static double ll_weight(const struct model *lm, int nc, int c, size_t f)
{
	if (nc == 2)
		return c == 0 ? lm->w[f] : -lm->w[f];
	return lm->w[f * (size_t)nc + (size_t)c];
}

/* from_liblinear copies lm's weights into a model of set->nlabels labels. */
static struct learn_model *from_liblinear(const struct model *lm, unsigned dim, int nlabels,
					  int pieces)
{
	struct learn_model *m = calloc(1, sizeof(*m));
	int c, nc = ll.get_nr_class(lm);
	size_t f, stride = (size_t)dim + 1;

	if (!m)
		return NULL;
	m->dim = dim;
	m->pieces = pieces;
	m->nlabels = nlabels;
	m->w = calloc(stride * (size_t)nlabels, sizeof(*m->w));
	m->scale = calloc((size_t)nlabels, sizeof(*m->scale));
	m->present = calloc((size_t)nlabels, sizeof(int));
	if (!m->w || !m->scale || !m->present) {
		learn_free(m);
		return NULL;
	}
	for (c = 0; c < nc; c++) {
		int label = lm->label[c];
		double top = 0;

		if (label < 0 || label >= nlabels)
			continue;
		m->present[label] = 1;
		for (f = 0; f < stride; f++)
			top = fmax(top, fabs(ll_weight(lm, nc, c, f)));
		m->scale[label] = top > 0 ? (float)(top / INT16_MAX) : 1;
		for (f = 0; f < stride; f++)
			m->w[(size_t)label * stride + f] =
				(int16_t)lround(ll_weight(lm, nc, c, f) / m->scale[label]);
	}
	return m;
}

/* ll_ready: liblinear bound, else ERR_IO with a sentence in err */
static enum err ll_ready(char *err, size_t errlen)
{
	if (ll_load())
		return ERR_OK;
	snprintf(err, errlen, "cannot load %s (Debian's liblinear4)", LEARN_LIBLINEAR_SONAME);
	return ERR_IO;
}

static enum err train_problem(const struct problem *prob, unsigned dim, double C, int nlabels,
			      int pieces, const double *factor, struct learn_model **out, char *err,
			      size_t errlen)
{
	struct parameter param;
	struct model *lm;
	const char *bad;
	double *counts = NULL, *weights = NULL;
	int *wlabels = NULL;

	if (ll_ready(err, errlen) != ERR_OK)
		return ERR_IO;
	memset(&param, 0, sizeof(param));
	param.solver_type = L2R_LR_DUAL;
	param.C = C;
	param.eps = 0.1;
	/* Balanced: each label weighs as much in all as any other, however
	 * many examples it has. Without it the label with the most examples
	 * (crisis, in a FAQ) pulls every short first-person message its way. */
	{
		int l, present = 0;
		size_t i;

		counts = calloc((size_t)nlabels, sizeof(double));
		wlabels = calloc((size_t)nlabels, sizeof(int));
		weights = calloc((size_t)nlabels, sizeof(double));
		if (!counts || !wlabels || !weights) {
			free(counts);
			free(wlabels);
			free(weights);
			snprintf(err, errlen, "out of memory");
			return ERR_NOMEM;
		}
		for (i = 0; i < (size_t)prob->l; i++) {
			l = (int)prob->y[i];
			if (l >= 0 && l < nlabels)
				counts[l]++;
		}
		for (l = 0; l < nlabels; l++)
			present += counts[l] > 0;
		for (l = 0; l < nlabels; l++) {
			if (counts[l] == 0)
				continue;
			wlabels[param.nr_weight] = l;
			weights[param.nr_weight++] = (double)prob->l / (present * counts[l]) *
						     (factor ? factor[l] : 1.0);
		}
		param.weight_label = wlabels;
		param.weight = weights;
	}
	ll.set_print_string_function(quiet);
	srand(LEARN_SEED);
	bad = ll.check_parameter(prob, &param);
	if (bad) {
		snprintf(err, errlen, "liblinear: %s", bad);
		free(counts);
		free(wlabels);
		free(weights);
		return ERR_INVALID;
	}
	lm = ll.train(prob, &param);
	free(counts);
	free(wlabels);
	free(weights);
	if (!lm) {
		snprintf(err, errlen, "out of memory");
		return ERR_NOMEM;
	}
	*out = from_liblinear(lm, dim, nlabels, pieces);
	ll.free_and_destroy_model(&lm);
	return *out ? ERR_OK : ERR_NOMEM;
}

static int distinct_labels(const struct learn_set *set, const unsigned char *keep)
{
	int first = -1;
	size_t i;

	for (i = 0; i < set->n; i++) {
		if (keep && !keep[i])
			continue;
		if (first < 0)
			first = set->labels[i];
		else if (set->labels[i] != first)
			return 2;
	}
	return first < 0 ? 0 : 1;
}

/* set_learnable: ERR_INVALID with a sentence in err when set cannot be
 * learnt from in dim buckets */
static enum err set_learnable(const struct learn_set *set, unsigned dim, char *err, size_t errlen)
{
	if (dim == 0 || (dim & (dim - 1))) {
		snprintf(err, errlen, "the feature space must be a power of two");
		return ERR_INVALID;
	}
	if (distinct_labels(set, NULL) < 2) {
		snprintf(err, errlen, "nothing to learn: the examples need two labels or more");
		return ERR_INVALID;
	}
	return ERR_OK;
}

enum err learn_train(const struct learn_set *set, unsigned dim, double C, struct learn_model **out,
		     char *err, size_t errlen)
{
	struct problem prob;
	struct feature_node *nodes;
	enum err e;

	*out = NULL;
	e = set_learnable(set, dim, err, errlen);
	if (e != ERR_OK)
		return e;
	e = problem_of(set, NULL, dim, &prob, &nodes);
	if (e != ERR_OK) {
		snprintf(err, errlen, "out of memory");
		return e;
	}
	e = train_problem(&prob, dim, C, set->nlabels, set->pieces, set->weight, out, err, errlen);
	free(prob.x);
	free(prob.y);
	free(nodes);
	return e;
}

/* predict_nodes: liblinear's probability for one-vs-rest logistic models:
 * each label's sigmoid, normalised to sum 1 (two labels: the sigmoid and
 * its complement). */
static int predict_nodes(const struct learn_model *m, const struct feature_node *v, float *probs)
{
	size_t stride = (size_t)m->dim + 1;
	double sum = 0, p[256];
	int c, best = 0, n = m->nlabels, npresent = 0;

	for (c = 0; c < n && c < 256; c++) {
		const int16_t *w = m->w + (size_t)c * stride;
		const struct feature_node *x;
		double dec = 0;

		p[c] = 0;
		if (!m->present[c])
			continue;
		npresent++;
		for (x = v; x->index != -1; x++)
			dec += w[x->index - 1] * x->value;
		dec *= m->scale[c];
		p[c] = 1 / (1 + exp(-dec));
	}
	if (npresent == 2) { /* liblinear's binary model: p and 1 - p */
		int a = -1, b = -1;

		for (c = 0; c < n; c++)
			if (m->present[c]) {
				if (a < 0)
					a = c;
				else
					b = c;
			}
		p[b] = 1 - p[a];
	}
	for (c = 0; c < n && c < 256; c++)
		sum += p[c];
	for (c = 0; c < n && c < 256; c++) {
		probs[c] = sum > 0 ? (float)(p[c] / sum) : 0;
		if (probs[c] > probs[best])
			best = c;
	}
	return best;
}

static int predict_text(const struct learn_model *m, const char *text, size_t len, const char *tags,
			const char *marks, int folded, float *probs)
{
	struct feature_node *v = malloc((LEARN_MAX_FEATURES + 2) * sizeof(*v));
	unsigned char *seen = calloc(m->dim / 8 + 1, 1);
	int best;

	if (!v || !seen ||
	    features_of(text, len, tags, marks, m->dim, m->pieces, folded, seen, v) < 0) {
		free(v);
		free(seen);
		return -1;
	}
	best = predict_nodes(m, v, probs);
	free(v);
	free(seen);
	return best;
}

int learn_predict(const struct learn_model *m, const char *text, size_t len, float *probs)
{
	return predict_text(m, text, len, NULL, NULL, 0, probs);
}

int learn_predict_folded(const struct learn_model *m, const char *folded, size_t len,
			 const char *tags, const char *marks, float *probs)
{
	return predict_text(m, folded, len, tags, marks, 1, probs);
}

/* train_fold trains on every text of all but those of fold (position modulo
 * k) and scores those into probs (row i is text i): what one fold of
 * cross-validation does, wherever it runs. */
static enum err train_fold(const struct learn_set *set, const struct problem *all, unsigned dim,
			   double C, unsigned k, unsigned fold, float *probs, char *err,
			   size_t errlen)
{
	struct problem sub;
	struct learn_model *m = NULL;
	unsigned char *keep = malloc(set->n ? set->n : 1);
	enum err e = ERR_NOMEM;
	size_t i;

	memset(&sub, 0, sizeof(sub));
	sub.x = malloc((set->n + 1) * sizeof(*sub.x));
	sub.y = malloc((set->n + 1) * sizeof(*sub.y));
	if (!keep || !sub.x || !sub.y) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	sub.n = all->n;
	sub.bias = all->bias;
	for (i = 0; i < set->n; i++) {
		keep[i] = i % k != fold;
		if (keep[i]) {
			sub.x[sub.l] = all->x[i];
			sub.y[sub.l++] = all->y[i];
		}
	}
	e = ERR_OK;
	if (distinct_labels(set, keep) < 2)
		goto out; /* nothing to learn without it: its rows stay 0 */
	e = train_problem(&sub, dim, C, set->nlabels, set->pieces, set->weight, &m, err, errlen);
	if (e != ERR_OK)
		goto out;
	for (i = fold; i < set->n; i += k)
		predict_nodes(m, all->x[i], probs + i * (size_t)set->nlabels);
	learn_free(m);
out:
	free(sub.x);
	free(sub.y);
	free(keep);
	return e;
}

/* Folds trained at once: one a processor the machine has. */
static unsigned fold_jobs(unsigned k)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return (unsigned)n < k ? (unsigned)n : k;
}

/* The folds side by side, each in a child process that writes its rows
 * into memory shared with this one (liblinear trains in one thread, and
 * its rand() is one state a process: processes keep each training's order
 * its own). The caller trains its own model meanwhile (full): it is one
 * more job. A fold whose child could not be had or did not finish is
 * trained here afterwards, so a refused fork costs time, never a result.
 * done[fold] is set by the child as its last act. */
struct fold_run {
	pid_t *pid;         /* pid[fold], 0: not started or reaped */
	volatile int *done; /* shared: done[fold] */
	float *rows;        /* shared: n * nlabels */
};

static void fold_start(const struct learn_set *set, const struct problem *all, unsigned dim,
		       double C, unsigned k, unsigned fold, struct fold_run *r)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		char err[256];

		if (train_fold(set, all, dim, C, k, fold, r->rows, err, sizeof(err)) != ERR_OK)
			_exit(1);
		r->done[fold] = 1;
		_exit(0);
	}
	r->pid[fold] = pid > 0 ? pid : 0;
}

static void fold_reap(struct fold_run *r, unsigned fold)
{
	int status;

	if (!r->pid[fold])
		return;
	while (waitpid(r->pid[fold], &status, 0) < 0 && errno == EINTR)
		;
	r->pid[fold] = 0;
}

/* cv_apart: 0 when the shared memory could not be had (nothing done: the
 * caller trains one by one); else 1, with the result in *e */
static int cv_apart(const struct learn_set *set, const struct problem *all, unsigned dim, double C,
		    unsigned k, unsigned jobs, float *probs, struct learn_model **full, enum err *e,
		    char *err, size_t errlen)
{
	size_t rowsz = set->n * (size_t)set->nlabels * sizeof(float);
	size_t size = rowsz + k * sizeof(int);
	struct fold_run r;
	unsigned fold, next = 0, oldest = 0;
	void *shm;

	shm = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	r.pid = calloc(k, sizeof(pid_t));
	if (shm == MAP_FAILED || !r.pid) {
		if (shm != MAP_FAILED)
			munmap(shm, size);
		free(r.pid);
		return 0;
	}
	r.rows = shm;
	r.done = (volatile int *)((char *)shm + rowsz);
	memset(shm, 0, size);
	/* the caller's own model is a job too: one process fewer for folds
	 * until it is trained; then as many as jobs, a new one started as
	 * the oldest ends (folds take about as long as each other) */
	for (; next < k && next - oldest < (full ? jobs - 1 : jobs); next++)
		fold_start(set, all, dim, C, k, next, &r);
	*e = ERR_OK;
	if (full)
		*e = train_problem(all, dim, C, set->nlabels, set->pieces, set->weight, full, err,
				   errlen);
	for (; next < k && next - oldest < jobs; next++)
		fold_start(set, all, dim, C, k, next, &r);
	for (; oldest < k; oldest++) {
		fold_reap(&r, oldest);
		if (next < k)
			fold_start(set, all, dim, C, k, next++, &r);
	}
	for (fold = 0; fold < k && *e == ERR_OK; fold++)
		if (!r.done[fold])
			*e = train_fold(set, all, dim, C, k, fold, r.rows, err, errlen);
	if (*e == ERR_OK)
		memcpy(probs, r.rows, rowsz);
	munmap(shm, size);
	free(r.pid);
	return 1;
}

enum err learn_cv(const struct learn_set *set, unsigned dim, double C, unsigned k, float *probs,
		  struct learn_model **full, char *err, size_t errlen)
{
	struct problem all;
	struct feature_node *nodes = NULL;
	unsigned jobs = fold_jobs(k + (full != NULL));
	enum err e;
	unsigned fold;

	if (full)
		*full = NULL;
	e = set_learnable(set, dim, err, errlen);
	if (e == ERR_OK)
		e = ll_ready(err, errlen); /* here, once, not in every child */
	if (e != ERR_OK)
		return e;
	/* every text's features once; a fold's problem points into them */
	e = problem_of(set, NULL, dim, &all, &nodes);
	if (e != ERR_OK) {
		snprintf(err, errlen, "out of memory");
		return e;
	}
	memset(probs, 0, set->n * (size_t)set->nlabels * sizeof(float));
	if (jobs < 2 || !cv_apart(set, &all, dim, C, k, jobs, probs, full, &e, err, errlen)) {
		/* one by one, here */
		if (full)
			e = train_problem(&all, dim, C, set->nlabels, set->pieces, set->weight,
					  full, err, errlen);
		for (fold = 0; fold < k && e == ERR_OK; fold++)
			e = train_fold(set, &all, dim, C, k, fold, probs, err, errlen);
	}
	if (e != ERR_OK && full) {
		learn_free(*full);
		*full = NULL;
	}
	free(all.x);
	free(all.y);
	free(nodes);
	return e;
}

/* The features' names are gone once hashed; explain names the words and
 * tags of the text whose weights pushed hardest towards label. */
#define EXPLAIN_TOP 5

struct top_feature {
	char name[64];
	float x;
};

/* consider puts name (n bytes, shown as fmt says) among top when its
 * weight x is positive and among the strongest, once. */
static void consider(struct top_feature *top, const char *fmt, const char *name, size_t n, float x)
{
	char shown[64];
	int j, k;

	if (x <= 0)
		return;
	snprintf(shown, sizeof(shown), fmt, (int)(n < 48 ? n : 48), name);
	for (j = 0; j < EXPLAIN_TOP; j++)
		if (top[j].name[0] && !strcmp(top[j].name, shown))
			return;
	for (j = 0; j < EXPLAIN_TOP && top[j].name[0] && top[j].x >= x; j++)
		;
	if (j == EXPLAIN_TOP)
		return;
	for (k = EXPLAIN_TOP - 1; k > j; k--)
		top[k] = top[k - 1];
	memcpy(top[j].name, shown, sizeof(shown));
	top[j].x = x;
}

/* consider_list considers each space-separated item of list (NULL: none),
 * its feature in namespace ns weighed by w. */
static void consider_list(struct top_feature *top, const char *fmt, const char *list,
			  const char *ns, const int16_t *w, unsigned dim, float scale)
{
	while (list && *list) {
		size_t n = strcspn(list, " ");

		if (n)
			consider(top, fmt, list, n, w[list_hash(ns, list, n) & (dim - 1)] * scale);
		list += n;
		list += strspn(list, " ");
	}
}

void learn_explain(const struct learn_model *m, const char *text, size_t len, const char *tags,
		   const char *marks, int label, char *buf, size_t buflen)
{
	size_t nw = 0, i, o = 0, stride = (size_t)m->dim + 1;
	char *words = words_of(text, len, 0, &nw);
	const int16_t *w;
	float scale;
	struct top_feature top[EXPLAIN_TOP];
	const char *p;

	memset(top, 0, sizeof(top));
	if (buflen)
		buf[0] = '\0';
	if (!words || label < 0 || label >= m->nlabels) {
		free(words);
		return;
	}
	w = m->w + (size_t)label * stride;
	scale = m->scale[label];
	for (p = words, i = 0; i < nw; i++, p += strlen(p) + 1) {
		uint64_t h = learn_hash(learn_hash(LEARN_HASH_INIT, "w", 1), p, strlen(p));

		consider(top, "%.*s", p, strlen(p), w[h & (m->dim - 1)] * scale);
	}
	consider_list(top, "{%.*s}", tags, "t", w, m->dim, scale);
	consider_list(top, "%.*s", marks, "m", w, m->dim, scale);
	for (i = 0; i < EXPLAIN_TOP && top[i].name[0] && o + 1 < buflen; i++) {
		int n = snprintf(buf + o, buflen - o, "%s%s (%.2f)", i ? ", " : "", top[i].name,
				 (double)top[i].x);

		if (n < 0 || (size_t)n >= buflen - o)
			break;
		o += (size_t)n;
	}
	free(words);
}

enum err learn_save(const struct learn_model *m, const char *path, uint64_t key)
{
	char tmp[4096];
	size_t stride = (size_t)m->dim + 1, nw = stride * (size_t)m->nlabels;
	FILE *f;
	int ok;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
		return ERR_LIMIT;
	f = fopen(tmp, "wb");
	if (!f)
		return ERR_IO;
	ok = fwrite(LEARN_FILE_MAGIC, 1, sizeof(LEARN_FILE_MAGIC) - 1, f) ==
		     sizeof(LEARN_FILE_MAGIC) - 1 &&
	     fwrite(&key, sizeof(key), 1, f) == 1 && fwrite(&m->dim, sizeof(m->dim), 1, f) == 1 &&
	     fwrite(&m->pieces, sizeof(m->pieces), 1, f) == 1 &&
	     fwrite(&m->nlabels, sizeof(m->nlabels), 1, f) == 1 &&
	     fwrite(m->present, sizeof(int), (size_t)m->nlabels, f) == (size_t)m->nlabels &&
	     fwrite(m->scale, sizeof(float), (size_t)m->nlabels, f) == (size_t)m->nlabels &&
	     fwrite(m->w, sizeof(*m->w), nw, f) == nw;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return ERR_IO;
	}
	return ERR_OK;
}

enum err learn_load(const char *path, uint64_t key, struct learn_model **out)
{
	char magic[sizeof(LEARN_FILE_MAGIC)];
	struct learn_model *m = NULL;
	uint64_t k;
	unsigned dim;
	int nl, pieces, c;
	size_t nw;
	FILE *f = fopen(path, "rb");
	enum err e = ERR_NOTFOUND;

	*out = NULL;
	if (!f)
		return ERR_NOTFOUND;
	if (fread(magic, 1, sizeof(magic) - 1, f) != sizeof(magic) - 1 ||
	    memcmp(magic, LEARN_FILE_MAGIC, sizeof(magic) - 1) != 0 ||
	    fread(&k, sizeof(k), 1, f) != 1 || k != key || fread(&dim, sizeof(dim), 1, f) != 1 ||
	    fread(&pieces, sizeof(pieces), 1, f) != 1 || (pieces != 0 && pieces != 1) ||
	    fread(&nl, sizeof(nl), 1, f) != 1 || dim == 0 || (dim & (dim - 1)) ||
	    dim > (1u << 24) || nl <= 0 || nl > 256)
		goto out;
	nw = ((size_t)dim + 1) * (size_t)nl;
	e = ERR_NOMEM;
	m = calloc(1, sizeof(*m));
	if (!m)
		goto out;
	m->dim = dim;
	m->pieces = pieces;
	m->nlabels = nl;
	m->present = calloc((size_t)nl, sizeof(int));
	m->scale = calloc((size_t)nl, sizeof(float));
	m->w = malloc(nw * sizeof(*m->w));
	if (!m->present || !m->scale || !m->w)
		goto out;
	e = ERR_NOTFOUND;
	if (fread(m->present, sizeof(int), (size_t)nl, f) != (size_t)nl ||
	    fread(m->scale, sizeof(float), (size_t)nl, f) != (size_t)nl ||
	    fread(m->w, sizeof(*m->w), nw, f) != nw || fgetc(f) != EOF)
		goto out;
	for (c = 0; c < nl; c++)
		if (!isfinite(m->scale[c]) || m->scale[c] <= 0)
			goto out;
	*out = m;
	m = NULL;
	e = ERR_OK;
out:
	fclose(f);
	learn_free(m);
	return e;
}

struct learn_model *learn_copy(const struct learn_model *m)
{
	struct learn_model *c = calloc(1, sizeof(*c));
	size_t nw = ((size_t)m->dim + 1) * (size_t)m->nlabels;

	if (!c)
		return NULL;
	*c = *m;
	c->w = malloc(nw * sizeof(*c->w));
	c->scale = malloc((size_t)m->nlabels * sizeof(float));
	c->present = malloc((size_t)m->nlabels * sizeof(int));
	if (!c->w || !c->scale || !c->present) {
		free(c->w);
		free(c->scale);
		free(c->present);
		free(c);
		return NULL;
	}
	memcpy(c->w, m->w, nw * sizeof(*c->w));
	memcpy(c->scale, m->scale, (size_t)m->nlabels * sizeof(float));
	memcpy(c->present, m->present, (size_t)m->nlabels * sizeof(int));
	return c;
}

void learn_free(struct learn_model *m)
{
	if (!m)
		return;
	free(m->w);
	free(m->scale);
	free(m->present);
	free(m);
}
