/*
 * planner_plan: a finished plan read out (planner_item, the count, the next
 * wake-up), and the store's scan as a planner's source (planner_from_store).
 */
#include "planner_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t planner_count(const struct planner *ps)
{
	return ps->n;
}

int64_t planner_next_wake(const struct planner *ps)
{
	return ps->wake;
}

void planner_item(const struct planner *ps, size_t i, struct plan_item *it)
{
	const struct config *cfg = ps->c.cfg;
	const struct ruleset *rs = ps->c.rs;
	const struct pitem *pi = &ps->items[i];
	const struct pgroup *g = &ps->groups[pi->group];
	const struct rule *r = &rs->rules[g->rule];
	const struct variant *v = g->variant >= 0 ? &r->variants[g->variant] : NULL;
	struct ptext_rec tr;
	int state = pi->state & ST_MASK;

	planner_text_get(ps->text, ps->rec[pi->sh] & ~RF_DAYS, &tr);
	memset(it, 0, sizeof *it);
	it->rule = r;
	it->sh_id = tr.id;
	it->name = tr.name;
	it->occasion = g->occasion;
	it->fire_date = g->fire_date;
	it->fire_at = g->fire_at;
	it->deadline = g->deadline;
	it->mail_by = g->mail_by;
	it->channel = g->channel;
	it->zone = ps->zones[g->zone];
	if (pi->state & ST_FALLBACK) {
		uint32_t z = tr.zone;
		it->channel = CH_EMAIL;
		it->zone = ps->zones[z];
		it->mail_by = DAY_NONE;
		it->deadline = planner_fallback_deadline(ps, g, z);
		it->reason = "card too late to post";   /* its email record says why it is not a card */
	}
	it->template_name = v && v->template_name ? v->template_name : r->template_name;
	it->signer = planner_signer(cfg, r, g->variant, tr.owner ? ps->owners[tr.owner - 1] : "", it->name);
	it->cost_cents = v && v->cost_cents >= 0 ? v->cost_cents : r->cost_cents;
	it->years = pi->years;
	it->priority = r->priority;
	it->variant = g->variant;
	it->state = (enum plan_state)state;
	if (pi->note == NOTE_LIMIT) {
		char within[48];
		dates_format_duration(&rs->per_stakeholder_within, within, sizeof within);
		snprintf(it->note, sizeof it->note, "limit: %lu dispatch%s to this stakeholder within %s (max %ld)",
		         (unsigned long)pi->aux, pi->aux == 1 ? "" : "es", within, rs->per_stakeholder_max);
		it->reason = "limit";
	} else if (pi->note == NOTE_BUDGET) {
		char pname[24], a[28], b[28], cost[28];
		planner_budget_key(rs->budget_per, ps->due ? ps->today : g->fire_date, pname, sizeof pname);
		planner_money_grouped(ps->budget_spent[pi->aux], a, sizeof a);
		planner_money_grouped(rs->budget_cents, b, sizeof b);
		planner_money_grouped(it->cost_cents, cost, sizeof cost);
		snprintf(it->note, sizeof it->note, "budget: %s of %s spent %s; this costs %s", a, b, pname, cost);
		it->reason = "budget";
	} else {
		util_strlcpy(it->note, planner_notes[pi->note], sizeof it->note);
		if (state == PS_SKIPPED)
			it->reason = "no-address";
	}
	if (state == PS_MISSED)
		it->reason = "missed";
}

/*
 * planner_from_store: the store's scan as the planner's source. The scan reads the table in
 * storage order first (faster, and id order after a sorted import); an id out of order (rc 2)
 * starts it again in id order with an empty planner.
 */
int planner_from_store(struct planner *pl, struct store *st, struct planner **out, char err[ERR_LEN])
{
	const struct store_sh_row *row;
	int custom, events, rc = 2;
	uint32_t fields = planner_fields(pl->c.rs, &custom, &events);
	char **cols = NULL;
	size_t ncols = 0;

	*out = NULL;
	/* A display_name column, as written, is the name shown: read the custom fields then. */
	if (!custom && store_custom_columns(st, &cols, &ncols, err) == 0) {
		for (size_t i = 0; i < ncols; i++) {
			custom |= strcmp(cols[i], "display_name") == 0;
			free(cols[i]);
		}
		free(cols);
	}
	for (int table_order = 1; rc == 2 && table_order >= 0; table_order--) {
		struct store_scan *sc = NULL;
		if (!table_order) {
			struct planner *fresh = planner_renew(pl);
			planner_free(pl);
			pl = fresh;
		}
		rc = store_scan_open(st, fields, custom, events, table_order, &sc, err);
		while (rc == 0 && (rc = store_scan_next(sc, &row, err)) == 1) {
			planner_add(pl, &row->sh, row->ev, row->nev, row->hist, row->nhist);
			rc = 0;
		}
		store_scan_close(sc);
	}
	if (rc != 0) {
		planner_free(pl);
		return -1;
	}
	planner_finish(pl);
	*out = pl;
	return 0;
}
