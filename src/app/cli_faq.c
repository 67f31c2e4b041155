/* cli_faq.c -- `faqbot check` and `faqbot topics` (cli_faq.h). */
#include "cli_faq.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "faq_learn.h"
#include "prefilter.h"

/* print_prefilter: what the prefilter is made of, or why there is none */
static void print_prefilter(const struct faq *faq)
{
	struct prefilter_figures f;

	if (!faq->prefilter) {
		printf("prefilter: off (%s): every pattern is tried with PCRE2\n",
		       faq->prefilter_why);
		return;
	}
	prefilter_figures(faq->prefilter, &f);
	printf("prefilter: Vectorscan %.*s, %zu atoms for %zu patterns (%zu always tried), "
	       "%.0f KB, %s\n",
	       f.version_len, f.version, f.atoms, f.patterns, f.always, (double)f.db_bytes / 1024,
	       f.from_cache ? "from the cache" : "compiled");
}

/* print_stage: what the learned stage learnt from and how well it does on
 * messages it did not see (faq_learn.h), for the moderator who just edited
 * an example. */
static void print_stage(const struct faq_stage *st)
{
	const struct faq_learn_figures *f;

	if (!st) {
		printf("learned stage: off (the patterns decide alone)\n");
		return;
	}
	f = &st->cv;
	printf("learned stage: %zu messages (crisis %zu, advice %zu, faq %zu, none %zu), ", f->n,
	       f->ncrisis, f->nadvice, f->nfaq, f->nnone);
	if (st->from_cache)
		printf("loaded from the cache\n");
	else
		printf("trained in %.0f ms\n", st->train_ms);
	printf("  cross-validated (%d folds), on messages each model did not learn from:\n",
	       FAQ_LEARN_FOLDS);
	printf("  crisis: raised at %.2f: recall %.3f, false alarm %.3f in English, %.3f in all\n",
	       (double)st->t_crisis, f->crisis_recall, f->crisis_false_alarm,
	       f->crisis_false_alarm_all);
	if (st->t_crisis_over > st->t_crisis && st->t_crisis_over <= 1.0f)
		printf("  crisis over an advice or FAQ pattern's answer at %.2f\n",
		       (double)st->t_crisis_over);
	if (st->t_advice <= 1.0f)
		printf("  advice: routed at %.2f: recall %.3f, precision %.3f\n",
		       (double)st->t_advice, f->advice_recall, f->advice_precision);
	else
		printf("  advice: never routed (no threshold keeps precision %.2f)\n",
		       FAQ_LEARN_PRECISION);
	if (st->t_over <= 1.0f)
		printf("  advice over a FAQ pattern's answer at %.2f: recall %.3f, precision %.3f\n",
		       (double)st->t_over, f->over_recall, f->over_precision);
	else
		printf("  advice over a FAQ pattern's answer: never (no threshold keeps precision "
		       "%.2f)\n",
		       FAQ_LEARN_OVER_PRECISION);
	if (st->t_faq <= 1.0f)
		printf("  faq:    routed at %.2f: right entry %.3f, precision %.3f\n",
		       (double)st->t_faq, f->faq_recall, f->faq_precision);
	else
		printf("  faq:    never routed (no threshold keeps precision %.2f)\n",
		       FAQ_LEARN_PRECISION);
}

int cli_check(const struct cli_opts *o, int argc, char **argv)
{
	struct check_opts co = {NULL, 365};
	struct faq_diags d = {0};
	struct faq *faq = NULL;
	const char *dir = NULL;
	int i, rc;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
			co.seeds_dir = argv[++i];
		} else if (strcmp(argv[i], "--max-age") == 0 && i + 1 < argc) {
			char *end;
			long n = strtol(argv[++i], &end, 10);

			if (*end || n < 0 || n > 100000)
				return cli_usage_error(
					"check: --max-age takes a number of days, not '%s'",
					argv[i]);
			co.max_age_days = (int)n;
		} else if (argv[i][0] == '-') {
			return cli_usage_error("check: unknown option '%s'", argv[i]);
		} else if (!dir) {
			dir = argv[i];
		} else {
			return cli_usage_error("check: one folder at a time: '%s'", argv[i]);
		}
	}
	if (!dir)
		dir = cli_faq_dir(o);
	if (faq_learn_load(dir, &faq, &d) == ERR_OK && check_faq(faq, &co, &d) != ERR_OK) {
		fprintf(stderr, "faqbot: out of memory\n");
		faq_free(faq);
		faq_diags_release(&d);
		return CLI_EXIT_RUNTIME;
	}
	cli_print_diags(&d);
	if (d.errors == 0 && faq) {
		size_t ex = 0, pats = 0, k;

		for (k = 0; k < faq->nentries; k++) {
			ex += faq->entries[k].nexamples + faq->entries[k].ncounter;
			pats += faq->entries[k].npatterns + faq->entries[k].nnegations;
		}
		printf("%s: ok: %zu entries, %zu patterns, %zu examples, %zu crisis regions, "
		       "%zu warning(s)\n",
		       dir, faq->nentries, pats, ex, faq->nregions, d.warnings);
		print_prefilter(faq);
		print_stage(faq->stage);
		rc = 0;
	} else {
		printf("%s: %zu error(s), %zu warning(s)\n", dir, d.errors, d.warnings);
		rc = CLI_EXIT_FAQ;
	}
	faq_free(faq);
	faq_diags_release(&d);
	return rc;
}

/* TOPICS_WORDS_SHOWN: the first words of a list `topics` shows. */
#define TOPICS_WORDS_SHOWN 5

/* topics_list_json: an entry's patterns (or negations), as written or
 * with their word lists written out (compiled). New reference. */
static json_t *topics_list_json(const struct faq_pattern *p, size_t n, int compiled)
{
	json_t *a = json_array();
	size_t j;

	for (j = 0; j < n; j++)
		json_array_append_new(
			a, json_string(compiled && p[j].expanded ? p[j].expanded : p[j].src));
	return a;
}

/* topics_print_patterns: one pattern a line, for a person. */
static void topics_print_patterns(const char *what, const struct faq_pattern *p, size_t n,
				  int compiled)
{
	size_t j;

	if (n)
		printf("  %s:\n", what);
	for (j = 0; j < n; j++)
		printf("    %u: %s\n", p[j].line,
		       compiled && p[j].expanded ? p[j].expanded : p[j].src);
}

/* cli_topics lists the entries for a person: id, class, question, the
 * entry's word lists (name and first words) and its patterns as written,
 * {names} kept; --compiled shows the patterns PCRE2 runs instead. --json
 * gives one object an entry, with the compiled form only with --compiled. */
int cli_topics(const struct cli_opts *o, int argc, char **argv)
{
	struct faq *faq;
	int json = 0, compiled = 0, i, rc;
	size_t e_i, j, k;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--compiled") == 0)
			compiled = 1;
		else
			return cli_usage_error("topics: unexpected '%s'", argv[i]);
	}
	faq = cli_load_faq(o, &rc);
	if (!faq)
		return rc;
	for (e_i = 0; e_i < faq->nentries; e_i++) {
		const struct faq_entry *e = &faq->entries[e_i];

		if (json) {
			json_t *words = json_object(), *obj;
			char *s;

			for (j = 0; j < e->words.n; j++) {
				json_t *ph = json_array();
				const char *p = e->words.v[j].phrases;

				for (k = 0; k < e->words.v[j].nphrases; k++, p += strlen(p) + 1)
					json_array_append_new(ph, json_string(p));
				json_object_set_new(words, e->words.v[j].name, ph);
			}
			obj = json_pack(
				"{s:s, s:s, s:s?, s:o, s:o, s:o, s:b, s:i}", "id", e->id, "class",
				faq_class_name(e->cls), "question", e->question, "words", words,
				"patterns", topics_list_json(e->patterns, e->npatterns, 0),
				"negations", topics_list_json(e->negations, e->nnegations, 0),
				"only_questions", e->only_questions, "priority", e->priority);
			if (obj && compiled) {
				json_object_set_new(obj, "compiled_patterns",
						    topics_list_json(e->patterns, e->npatterns, 1));
				json_object_set_new(
					obj, "compiled_negations",
					topics_list_json(e->negations, e->nnegations, 1));
			}
			s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
			if (s)
				puts(s);
			free(s);
			json_decref(obj);
			continue;
		}
		printf("%s (%s, priority %d, %s): %s\n", e->id, faq_class_name(e->cls), e->priority,
		       e->file, e->question ? e->question : "");
		if (e->words.n && !compiled)
			printf("  words:\n");
		for (j = 0; j < e->words.n && !compiled; j++) {
			const struct concept *w = &e->words.v[j];
			const char *p = w->phrases;

			printf("    %s:", w->name);
			for (k = 0; k < w->nphrases && k < TOPICS_WORDS_SHOWN;
			     k++, p += strlen(p) + 1)
				printf("%s %s", k ? "," : "", p);
			if (w->nphrases > TOPICS_WORDS_SHOWN)
				printf(", ... (%zu in all)", w->nphrases);
			printf("\n");
		}
		topics_print_patterns("patterns", e->patterns, e->npatterns, compiled);
		topics_print_patterns("negations", e->negations, e->nnegations, compiled);
	}
	faq_free(faq);
	return 0;
}
