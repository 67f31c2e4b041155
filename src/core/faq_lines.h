/* faq_lines.h -- the crisis lines file of a FAQ folder (the one with
 * `regions:`): each region's lines read and checked (helpline.h says what
 * a line of each kind must have), and the default region. Part of loading
 * a FAQ folder (faq.c); no one else includes this. */
#ifndef FAQBOT_FAQ_LINES_H
#define FAQBOT_FAQ_LINES_H

#include <yaml.h>

#include "faq.h"
#include "faq_yaml.h"

/* faq_lines_load reads the mapping root into faq's regions and
 * default_region, reporting every finding in yf. -1 only when memory ran
 * out. */
int faq_lines_load(struct faq_yfile *yf, yaml_node_t *root, struct faq *faq);

/* faq_lines_region_release frees everything r owns. */
void faq_lines_region_release(struct faq_region *r);

#endif
