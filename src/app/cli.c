/* cli.c -- what the commands share (cli.h). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faq_learn.h"
#include "helpline.h"

/* The installed FAQ's place (the Makefile passes it; the fuzz and test
 * builds, which never look there, do not). */
#ifndef FAQBOT_DATADIR
#define FAQBOT_DATADIR "/usr/local/share/faqbot"
#endif

int cli_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "faqbot: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'faqbot --help'.\n");
	return CLI_EXIT_USAGE;
}

const char *cli_faq_dir(const struct cli_opts *o)
{
	const char *env = getenv("FAQBOT_FAQ_DIR");

	if (o->faq_dir)
		return o->faq_dir;
	if (env && *env)
		return env;
	if (access("faq", R_OK | X_OK) == 0)
		return "faq";
	return FAQBOT_DATADIR "/faq";
}

void cli_print_diags(const struct faq_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		const struct faq_diag *g = &d->v[i];

		if (g->line)
			fprintf(stderr, "%s:%u:%u: %s: %s\n", g->file, g->line, g->col,
				g->warning ? "warning" : "error", g->msg);
		else if (g->file[0])
			fprintf(stderr, "%s: %s: %s\n", g->file, g->warning ? "warning" : "error",
				g->msg);
		else
			fprintf(stderr, "faqbot: %s: %s\n", g->warning ? "warning" : "error",
				g->msg);
	}
}

void cli_regions(const struct faq *faq, char *buf, size_t n)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < faq->nregions && o < n; i++)
		if (strcmp(faq->regions[i].code, HELPLINE_INTL))
			o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? ", " : "",
					      faq->regions[i].code);
}

struct faq *cli_load_faq(const struct cli_opts *o, int *rc)
{
	struct faq_diags d = {0};
	struct faq *faq = NULL;
	const char *dir = cli_faq_dir(o);

	if (faq_learn_load(dir, &faq, &d) != ERR_OK) {
		*rc = CLI_EXIT_FAQ;
		cli_print_diags(&d);
		fprintf(stderr, "faqbot: the FAQ in %s has %zu error(s); run 'faqbot check %s'\n",
			dir, d.errors, dir);
	} else if (o->region && !faq_region(faq, o->region)) {
		char list[256];

		cli_regions(faq, list, sizeof(list));
		fprintf(stderr,
			"faqbot: --region '%s': no crisis lines for that region; "
			"the FAQ has %s\nTry 'faqbot --help'.\n",
			o->region, list);
		*rc = CLI_EXIT_USAGE;
		faq_free(faq);
		faq = NULL;
	}
	faq_diags_release(&d);
	return faq;
}
