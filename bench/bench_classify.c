/* bench_classify.c -- classification speed: every message of a TSV file
 * (text<TAB>label), repeated, through text_normalise() and classify() as
 * the bot runs them. Prints one line of figures for bench/run.sh:
 *   messages=N seconds=S per_sec=R p50_us=A p99_us=B */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify.h"
#include "faq.h"
#include "faq_learn.h"
#include "prefilter.h"
#include "text.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct faq_diags d = {0};
	struct faq *faq = NULL;
	char **msgs = NULL, line[8192];
	size_t n = 0, cap = 0, i, total, k = 0;
	long reps;
	double *lat, t0, sum = 0;
	FILE *f;

	if (argc != 4) {
		fprintf(stderr, "usage: bench_classify FAQ_DIR FILE.tsv REPEATS\n");
		return 2;
	}
	reps = strtol(argv[3], NULL, 10);
	/* every stage on: the patterns, the folded view and the learned stage
	 * (from the cache $FAQBOT_CACHE names, when set) */
	faq_learn_set_cache(getenv("FAQBOT_CACHE"));
	prefilter_set_cache(getenv("FAQBOT_CACHE"));
	if (faq_learn_load(argv[1], &faq, &d) != ERR_OK) {
		fprintf(stderr, "bench: the FAQ does not load\n");
		return 1;
	}
	f = fopen(argv[2], "r");
	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t');

		if (line[0] == '#' || !tab)
			continue;
		*tab = '\0';
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			msgs = realloc(msgs, cap * sizeof(*msgs));
		}
		msgs[n++] = strdup(line);
	}
	fclose(f);
	total = n * (size_t)reps;
	lat = malloc(total * sizeof(*lat));
	t0 = now();
	for (long r = 0; r < reps; r++) {
		for (i = 0; i < n; i++) {
			struct classify_result res;
			char *norm, *marks;
			size_t len;
			double a = now();

			/* as bot.c reads a message: its normalised text, and the
			 * words written with accents for the learned stage */
			if (text_normalise(msgs[i], strlen(msgs[i]), &norm, &len) != ERR_OK ||
			    text_marks(msgs[i], strlen(msgs[i]), &marks) != ERR_OK)
				return 1;
			classify(faq, norm, len, marks, &res);
			free(norm);
			free(marks);
			lat[k++] = now() - a;
		}
	}
	sum = now() - t0;
	qsort(lat, total, sizeof(*lat), cmp_d);
	printf("messages=%zu seconds=%.3f per_sec=%.0f p50_us=%.2f p99_us=%.2f\n", total, sum,
	       (double)total / sum, lat[total / 2] * 1e6, lat[total * 99 / 100] * 1e6);
	for (i = 0; i < n; i++)
		free(msgs[i]);
	free(msgs);
	free(lat);
	faq_free(faq);
	faq_diags_release(&d);
	return 0;
}
