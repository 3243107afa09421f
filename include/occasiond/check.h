/*
 * check: what `occasiond check` finds beyond parsing the config and the rules (CONTRACT §2):
 * templates that do not exist or do not load, date columns no stakeholder has, and with
 * --data the stakeholder problems that would bite. Every finding goes into a diags list
 * ("FILE:LINE:COL: error|warning: MESSAGE", or "DATABASE: warning: ..." for data).
 */
#ifndef OCCASIOND_CHECK_H
#define OCCASIOND_CHECK_H

#include "occasiond/config.h"
#include "occasiond/rules.h"
#include "occasiond/store.h"

/* check_templates: every template a rule, its fallback or a variant names exists and loads. */
void check_templates(const struct config *cfg, const struct ruleset *rs, struct diags *d);
/*
 * check_columns: a warning for each anniversary_of / every-from column that is neither a
 * standard column nor a custom column some stakeholder has. st NULL: nothing to compare with.
 */
void check_columns(const struct ruleset *rs, struct store *st, const char *db_name, struct diags *d);
/*
 * check_template_names: a warning at FILE:LINE:COL for each name a template of a rule (card,
 * email, its HTML part, and the partials they include) uses that no stakeholder column, no
 * custom column of the database (st; NULL before the first import) and no name of the
 * template context provides, with the closest known name when it looks like a typo; and for
 * each partial that does not exist.
 */
void check_template_names(const struct config *cfg, const struct ruleset *rs, struct store *st, struct diags *d);
/*
 * check_data: warnings about the stakeholders: no address for a channel a rule needs, a name
 * a card's fonts cannot print, 29 February dates, birthdays without a year, unknown time
 * zones, two stakeholders with the same email or the same name and birthday.
 */
void check_data(const struct config *cfg, const struct ruleset *rs, struct store *st, struct diags *d);

#endif
