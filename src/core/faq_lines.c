/* faq_lines.c -- the crisis lines file read and checked (faq_lines.h). */
#include "faq_lines.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "helpline.h"

/* Every key a crisis line may have, each text, given once, in the order a
 * misspelt key is matched against (the first near one is suggested). */
static const struct {
	const char *name;
	size_t off; /* of its char * in struct faq_helpline */
} line_keys[] = {
	{"name", offsetof(struct faq_helpline, name)},
	{"kind", offsetof(struct faq_helpline, kind)},
	{"number", offsetof(struct faq_helpline, number)},
	{"keyword", offsetof(struct faq_helpline, keyword)},
	{"url", offsetof(struct faq_helpline, url)},
	{"text", offsetof(struct faq_helpline, text)},
	{"source", offsetof(struct faq_helpline, source)},
	{"verified", offsetof(struct faq_helpline, verified)},
	{"seen_in", offsetof(struct faq_helpline, seen_in)},
};

#define LINE_KEYS (sizeof(line_keys) / sizeof(line_keys[0]))

static void helpline_release(struct faq_helpline *h)
{
	size_t i;

	for (i = 0; i < LINE_KEYS; i++)
		free(*(char **)(void *)((char *)h + line_keys[i].off));
}

void faq_lines_region_release(struct faq_region *r)
{
	size_t i;

	for (i = 0; i < r->nlines; i++)
		helpline_release(&r->lines[i]);
	free(r->lines);
	free(r->code);
	free(r->name);
}

/* line_key reads one key k of a crisis line (written at kn, its value v)
 * into h. */
static void line_key(struct faq_yfile *yf, yaml_node_t *kn, yaml_node_t *v, const char *k,
		     struct faq_helpline *h)
{
	const char *near = NULL;
	char **slot;
	size_t i;

	for (i = 0; i < LINE_KEYS && strcmp(line_keys[i].name, k) != 0; i++)
		if (!near && faq_yaml_near(k, line_keys[i].name))
			near = line_keys[i].name;
	if (i == LINE_KEYS) {
		faq_yerr(yf, kn, "unknown key '%s' in a crisis line%s%s%s", k,
			 near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
		return;
	}
	slot = (char **)(void *)((char *)h + line_keys[i].off);
	if (*slot) {
		faq_yerr(yf, kn, "'%s' is given twice; keep one", k);
		return;
	}
	*slot = faq_yaml_string(yf, v, k);
}

/* load_helpline reads the crisis line m of region into h, and checks it
 * whole. */
static void load_helpline(struct faq_yfile *yf, const char *region, yaml_node_t *m,
			  struct faq_helpline *h)
{
	yaml_node_pair_t *p;
	char why[256];

	h->line = (unsigned)m->start_mark.line + 1;
	if (m->type != YAML_MAPPING_NODE) {
		faq_yerr(yf, m, "each crisis line must be a mapping (name:, kind:, number: ...)");
		return;
	}
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = faq_yaml_node(yf, p->key), *v = faq_yaml_node(yf, p->value);
		const char *k = faq_yaml_scalar(kn);

		if (!k)
			faq_yerr(yf, kn, "a key must be a plain word");
		else
			line_key(yf, kn, v, k, h);
	}
	if (!h->name)
		faq_yerr(yf, m, "the crisis line has no 'name'");
	if (!h->text)
		faq_yerr(yf, m, "the crisis line has no 'text' (what a member reads)");
	if (!h->source)
		faq_yerr(yf, m, "the crisis line has no 'source' (where it was checked)");
	if (!h->verified)
		faq_yerr(yf, m, "the crisis line has no 'verified' date (YYYY-MM-DD)");
	else if (!faq_date_ok(h->verified))
		faq_yerr(yf, m, "verified must be a date written YYYY-MM-DD, not '%s'",
			 h->verified);
	else if (faq_yaml_date_future(h->verified))
		faq_yerr(yf, m, "verified date %s is in the future", h->verified);
	if (!h->kind) {
		faq_yerr(yf, m, "the crisis line has no 'kind' (emergency, phone, sms or web)");
	} else if (helpline_check(region, h->kind, h->number, h->keyword, h->url, h->text, why,
				  sizeof(why)) != ERR_OK) {
		faq_yerr(yf, m, "crisis line '%s': %s", h->name ? h->name : "?", why);
	}
}

/* load_region reads the region rn into r (zeroed): its code, name and
 * lines, in the order written (a line is checked for the code given above
 * it). -1 only when memory ran out. */
static int load_region(struct faq_yfile *yf, yaml_node_t *rn, struct faq_region *r)
{
	yaml_node_pair_t *q;

	r->line = (unsigned)rn->start_mark.line + 1;
	for (q = rn->data.mapping.pairs.start; q < rn->data.mapping.pairs.top; q++) {
		yaml_node_t *qk = faq_yaml_node(yf, q->key), *qv = faq_yaml_node(yf, q->value);
		const char *s = faq_yaml_scalar(qk);

		if (s && strcmp(s, "region") == 0 && !r->code) {
			r->code = faq_yaml_string(yf, qv, s);
		} else if (s && strcmp(s, "name") == 0 && !r->name) {
			r->name = faq_yaml_string(yf, qv, s);
		} else if (s && strcmp(s, "lines") == 0 && !r->lines &&
			   qv->type == YAML_SEQUENCE_NODE) {
			size_t n = (size_t)(qv->data.sequence.items.top -
					    qv->data.sequence.items.start);
			size_t i;

			r->lines = calloc(n ? n : 1, sizeof(*r->lines));
			if (!r->lines)
				return -1;
			for (i = 0; i < n; i++)
				load_helpline(yf, r->code ? r->code : "",
					      faq_yaml_node(yf, qv->data.sequence.items.start[i]),
					      &r->lines[r->nlines++]);
		} else {
			faq_yerr(yf, qk,
				 "unexpected '%s' in a region (it has region, name and "
				 "lines, once each)",
				 s ? s : "?");
		}
	}
	if (!r->code)
		faq_yerr(yf, rn, "the region has no 'region' code (like us or uk)");
	if (!r->lines || r->nlines == 0)
		faq_yerr(yf, rn, "region '%s' has no 'lines'", r->code ? r->code : "?");
	return 0;
}

/* load_regions reads the list v of regions into faq. -1 only when memory
 * ran out. */
static int load_regions(struct faq_yfile *yf, yaml_node_t *v, struct faq *faq)
{
	yaml_node_item_t *it;

	if (v->type != YAML_SEQUENCE_NODE) {
		faq_yerr(yf, v, "'regions' must be a list of regions");
		return 0;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *rn = faq_yaml_node(yf, *it);
		struct faq_region *r, *nr;

		if (rn->type != YAML_MAPPING_NODE) {
			faq_yerr(yf, rn, "each region must be a mapping (region:, name:, lines:)");
			continue;
		}
		nr = realloc(faq->regions, (faq->nregions + 1) * sizeof(*nr));
		if (!nr)
			return -1;
		faq->regions = nr;
		r = &faq->regions[faq->nregions++];
		memset(r, 0, sizeof(*r));
		if (load_region(yf, rn, r) < 0)
			return -1;
	}
	return 0;
}

int faq_lines_load(struct faq_yfile *yf, yaml_node_t *root, struct faq *faq)
{
	yaml_node_pair_t *p;

	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = faq_yaml_node(yf, p->key), *v = faq_yaml_node(yf, p->value);
		const char *k = faq_yaml_scalar(kn);

		if (k && strcmp(k, "default_region") == 0) {
			free(faq->default_region);
			faq->default_region = faq_yaml_string(yf, v, k);
		} else if (k && strcmp(k, "regions") == 0) {
			if (load_regions(yf, v, faq) < 0)
				return -1;
		} else {
			faq_yerr(yf, kn,
				 "unknown key '%s' in the crisis lines file (it has "
				 "default_region and regions)",
				 k ? k : "?");
		}
	}
	if (!faq->default_region)
		faq_yerr(yf, root, "the crisis lines file has no 'default_region'");
	return 0;
}
