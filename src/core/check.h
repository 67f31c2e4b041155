/* check.h -- what `faqbot check` adds to loading: the FAQ judged as a whole.
 *
 * faq_load already refused anything malformed. Here every example goes
 * through the real classifier (so an entry that steals another's example is
 * caught, whichever file it is in), every pattern is run on hostile input
 * to find the ones that hit PCRE2's limits, and old review dates are
 * flagged. The same check runs before a reload is accepted. */
#ifndef FAQBOT_CHECK_H
#define FAQBOT_CHECK_H

#include "err.h"
#include "faq.h"

struct check_opts {
	const char *seeds_dir; /* when set, every source must be a file there */
	int max_age_days;      /* warn when reviewed/verified is older; 0: never */
};

/* check_faq appends its findings to d. Returns ERR_NOMEM only. */
enum err check_faq(const struct faq *faq, const struct check_opts *opts, struct faq_diags *d);

/* check_due counts the entries reviewed, and the crisis lines verified,
 * more than max_age_days ago (what check_faq warns about), for !stats. */
void check_due(const struct faq *faq, int max_age_days, size_t *entries, size_t *lines);

#endif
