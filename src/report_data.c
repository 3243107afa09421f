/* report_data: the measurements of `report` (their table and JSON forms: report_print.c; the page: report_html.c). */
#include "occasiond/report_data.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const int report_coverage_days[REPORT_COVERAGE_WINDOWS] = {30, 60, 90};

int report_went_out(int status)
{
	return status == DS_SENT || status == DS_RENDERED || status == DS_PRINTED || status == DS_SIGNED ||
	       status == DS_MAILED;
}

/* ---- building ---- */

/*
 * The silences can be nearly every stakeholder (a million rows of the table), so each is
 * written to a temporary file as it is found, in id order, and only the bytes per length of
 * silence stays in memory. report_data_end writes them again, longest first, to a second
 * file (a window of it at a time), which the printing reads from the start.
 */
struct silbucket {
	int32_t days;      /* -1 unknown */
	uint64_t bytes;    /* of its silences */
	uint64_t at;       /* its first byte in the sorted file; the next one's while sorting */
};

/* A silence in the files: int32 length of it all, days, last, since, has a last rule; then id, name, type, tier, owner, rule, each NUL-ended. */
#define SIL_HEAD 20
#define SIL_WINDOW (4u << 20)   /* the sorted file is made this much at a time */
#define SIL_READ (64u << 10)

struct report_spill {
	FILE *fp;          /* as found, in id order */
	uint64_t len;
	FILE *sorted;      /* longest first (report_data_end) */
	struct silbucket *bk;
	size_t nbk, capbk;
	uint32_t *slot;    /* days hashed: bucket index + 1 */
	size_t nslot;
	unsigned char *buf;   /* report_data_silence's window of the sorted file: [woff, woff + wlen) */
	size_t bufcap, wlen;
	uint64_t woff;
	size_t next_i;     /* the silence at next_off */
	uint64_t next_off;
	int broken;
	day_t spend_from;  /* the first day of spending shown */
};

static struct report_coverage *cov_get(struct report_data *d, const char *dim, const char *seg)
{
	for (size_t i = 0; i < d->ncov; i++)
		if (strcmp(d->cov[i].dimension, dim) == 0 && strcmp(d->cov[i].segment, seg) == 0)
			return &d->cov[i];
	d->cov = xreallocarray(d->cov, d->ncov + 1, sizeof *d->cov);
	memset(&d->cov[d->ncov], 0, sizeof *d->cov);
	d->cov[d->ncov].dimension = xstrdup(dim);
	d->cov[d->ncov].segment = xstrdup(seg);
	return &d->cov[d->ncov++];
}

static int cov_cmp(const void *a, const void *b)
{
	const struct report_coverage *x = a, *y = b;
	static const char *const order[] = {"all", "type", "tier"};
	int ox = 0, oy = 0;
	for (int i = 0; i < 3; i++) {
		if (strcmp(x->dimension, order[i]) == 0)
			ox = i;
		if (strcmp(y->dimension, order[i]) == 0)
			oy = i;
	}
	if (ox != oy)
		return ox - oy;
	return strcmp(x->segment, y->segment);
}

static size_t sil_hash(int32_t days, size_t n)
{
	return ((uint32_t)days * 2654435761u) & (n - 1);
}

/* bucket_of: the bucket of a length of silence, made on first use. */
static struct silbucket *bucket_of(struct report_spill *sp, int32_t days)
{
	size_t j;
	if (sp->nbk * 2 >= sp->nslot) {
		size_t n = sp->nslot ? 2 * sp->nslot : 1024;
		free(sp->slot);
		sp->slot = xcalloc(n, sizeof *sp->slot);
		sp->nslot = n;
		for (size_t k = 0; k < sp->nbk; k++) {
			for (j = sil_hash(sp->bk[k].days, n); sp->slot[j]; j = (j + 1) & (n - 1))
				;
			sp->slot[j] = (uint32_t)k + 1;
		}
	}
	for (j = sil_hash(days, sp->nslot); sp->slot[j]; j = (j + 1) & (sp->nslot - 1))
		if (sp->bk[sp->slot[j] - 1].days == days)
			return &sp->bk[sp->slot[j] - 1];
	if (sp->nbk == sp->capbk)
		sp->bk = xreallocarray(sp->bk, sp->capbk = sp->capbk ? 2 * sp->capbk : 64, sizeof *sp->bk);
	sp->bk[sp->nbk] = (struct silbucket){days, 0, 0};
	sp->slot[j] = (uint32_t)sp->nbk + 1;
	return &sp->bk[sp->nbk++];
}

/* Longest first; unknown (never contacted, no start date) before all: nobody can say how long. */
static int bucket_cmp(const void *a, const void *b)
{
	const struct silbucket *x = a, *y = b;
	long dx = x->days < 0 ? LONG_MAX : x->days, dy = y->days < 0 ? LONG_MAX : y->days;
	return dx > dy ? -1 : dx < dy;
}

static int tally_cmp(const void *a, const void *b)
{
	const struct report_tally *x = a, *y = b;
	int k = strcmp(x->rule, y->rule);
	if (k)
		return k;
	if (x->channel != y->channel)
		return x->channel - y->channel;
	return x->status - y->status;
}

static int load_cmp(const void *a, const void *b)
{
	return strcmp(((const struct report_load *)a)->signer, ((const struct report_load *)b)->signer);
}

/* period_of: the budget period holding day: its label and first and last day. */
static void period_of(int per, day_t day, struct report_budget *b)
{
	int y, m, d;
	dates_to_ymd(day, &y, &m, &d);
	if (per == PER_YEAR) {
		snprintf(b->label, sizeof b->label, "%04d", y);
		b->start = dates_from_ymd(y, 1, 1);
		b->end = dates_from_ymd(y + 1, 1, 1) - 1;
	} else if (per == PER_QUARTER) {
		int q = (m - 1) / 3;
		snprintf(b->label, sizeof b->label, "%04d-Q%d", y, q + 1);
		b->start = dates_from_ymd(y, q * 3 + 1, 1);
		b->end = dates_add_months(b->start, 3) - 1;
	} else {
		snprintf(b->label, sizeof b->label, "%04d-%02d", y, m);
		b->start = dates_from_ymd(y, m, 1);
		b->end = dates_add_months(b->start, 1) - 1;
	}
}

static struct report_budget *budget_get(struct report_data *d, int per, day_t day, int64_t amount)
{
	struct report_budget b;
	memset(&b, 0, sizeof b);
	period_of(per, day, &b);
	for (size_t i = 0; i < d->nbudget; i++)
		if (d->budget[i].start == b.start)
			return &d->budget[i];
	b.budget_cents = amount;
	d->budget = xreallocarray(d->budget, d->nbudget + 1, sizeof *d->budget);
	d->budget[d->nbudget] = b;
	return &d->budget[d->nbudget++];
}

static int budget_cmp(const void *a, const void *b)
{
	const struct report_budget *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static day_t sh_start(const struct stakeholder *sh)
{
	day_t d;
	if (dates_parse_iso(sh->f[SH_CUSTOMER_SINCE], &d) == 0)
		return d;
	if (dates_parse_iso(sh->f[SH_HIRE_DATE], &d) == 0)
		return d;
	return DAY_NONE;
}

int report_data_begin(const struct report_input *in, struct report_data *d, char err[ERR_LEN])
{
	int ry, rm, rd;
	struct report_budget first;

	memset(d, 0, sizeof *d);
	d->today = in->today;
	d->ref = in->to != DAY_NONE ? in->to : in->today;
	d->from = in->from;
	if (d->from != DAY_NONE && d->from > d->ref)
		return err_set(err, "report: --from is after --to");
	d->silence_weeks = in->silence_weeks;
	d->budget_per = in->rs && in->rs->has_budget ? (int)in->rs->budget_per : -1;
	d->week0 = in->today - (dates_weekday(in->today) + 6) % 7;
	d->rs = in->rs;
	d->plan = in->plan;
	d->spill = xcalloc(1, sizeof *d->spill);
	if (!(d->spill->fp = tmpfile()))
		return err_set(err, "report: cannot make a temporary file: %s", strerror(errno));
	dates_to_ymd(d->ref, &ry, &rm, &rd);
	for (int k = 0; k < REPORT_MONTHS; k++) {
		day_t m1 = dates_add_months(dates_from_ymd(ry, rm, 1), k - (REPORT_MONTHS - 1));
		int dd;
		dates_to_ymd(m1, &d->months[k].year, &d->months[k].month, &dd);
	}
	period_of(d->budget_per >= 0 ? d->budget_per : PER_MONTH, d->from != DAY_NONE ? d->from : d->ref - 365, &first);
	d->spill->spend_from = first.start;
	return 0;
}

/*
 * last_contact: the stakeholder's last contact on or before ref (*rule its rule), DAY_NONE
 * when none; of two on the same day the one first in the log's order (fire_at, id).
 */
static day_t last_contact(const struct report_data *d, const struct dispatch_rec *hist, size_t nhist,
                          const char **rule)
{
	day_t last = DAY_NONE;
	const struct dispatch_rec *best = NULL;
	*rule = NULL;
	for (size_t i = 0; i < nhist; i++) {
		const struct dispatch_rec *r = &hist[i];
		day_t fd;
		if (!report_went_out(r->status) || dates_parse_iso(r->fire_date, &fd) != 0 || fd > d->ref)
			continue;
		if (last == DAY_NONE || fd > last ||
		    (fd == last && (r->fire_at < best->fire_at || (r->fire_at == best->fire_at && r->id < best->id)))) {
			last = fd;
			best = r;
		}
	}
	if (best)
		*rule = best->rule;
	return last;
}

static void put32(struct strbuf *sb, int32_t v)
{
	sb_addn(sb, (const char *)&v, sizeof v);
}

int report_data_add_stakeholder(struct report_data *d, const struct stakeholder *sh, const struct dispatch_rec *hist,
                                size_t nhist, char err[ERR_LEN])
{
	const char *segs[3][2] = {{"all", "all"}, {"type", sh->f[SH_TYPE]}, {"tier", sh->f[SH_TIER]}};
	struct report_spill *sp = d->spill;
	const char *last_rule;
	day_t last = last_contact(d, hist, nhist, &last_rule), since;
	long days;
	struct strbuf rec = {0};
	char *name;
	int ok;

	if (stakeholder_flag(sh, SH_OPTED_OUT)) {
		d->opted_out++;
		return 0;
	}
	d->stakeholders++;
	for (int g = 0; g < 3; g++) {
		struct report_coverage *c = cov_get(d, segs[g][0], *segs[g][1] ? segs[g][1] : "(none)");
		c->total++;
		for (int w = 0; w < REPORT_COVERAGE_WINDOWS; w++)
			if (last != DAY_NONE && d->ref - last < report_coverage_days[w])
				c->reached[w]++;
	}
	since = last != DAY_NONE ? last : sh_start(sh);
	days = since != DAY_NONE ? (long)(d->ref - since) : -1;
	if (days >= 0 && days <= d->silence_weeks * 7)
		return 0;
	put32(&rec, 0);   /* the length, below */
	put32(&rec, (int32_t)days);
	put32(&rec, (int32_t)last);
	put32(&rec, (int32_t)since);
	put32(&rec, last_rule != NULL);
	name = stakeholder_display_name(sh);
	sb_addn(&rec, sh->f[SH_ID], strlen(sh->f[SH_ID]) + 1);
	sb_addn(&rec, name, strlen(name) + 1);
	sb_addn(&rec, sh->f[SH_TYPE], strlen(sh->f[SH_TYPE]) + 1);
	sb_addn(&rec, sh->f[SH_TIER], strlen(sh->f[SH_TIER]) + 1);
	sb_addn(&rec, sh->f[SH_OWNER], strlen(sh->f[SH_OWNER]) + 1);
	sb_addn(&rec, last_rule ? last_rule : "", strlen(last_rule ? last_rule : "") + 1);
	free(name);
	{
		int32_t n = (int32_t)rec.len;
		memcpy(rec.s, &n, sizeof n);
	}
	ok = rec.len < INT32_MAX && fwrite(rec.s, 1, rec.len, sp->fp) == rec.len;
	if (ok) {
		struct silbucket *bk = bucket_of(sp, (int32_t)days);
		bk->bytes += rec.len;
		d->nsil++;
		sp->len += rec.len;
	}
	sb_free(&rec);
	if (!ok)
		return err_set(err, "report: cannot write a temporary file: %s", strerror(errno));
	return 0;
}

static void keep_attention(struct report_data *d, const struct dispatch_rec *r)
{
	struct dispatch_rec *c;
	d->attention = xreallocarray(d->attention, d->nattention + 1, sizeof *d->attention);
	c = &d->attention[d->nattention++];
	memset(c, 0, sizeof *c);
	c->id = r->id;
	c->rule = xstrdup(r->rule);
	c->stakeholder = xstrdup(r->stakeholder);
	c->occasion_date = xstrdup(r->occasion_date);
	c->fire_date = xstrdup(r->fire_date);
	c->channel = r->channel;
	c->status = r->status;
	c->error = r->error ? xstrdup(r->error) : NULL;
}

void report_data_add_record(struct report_data *d, const struct dispatch_rec *r)
{
	day_t fd, od;
	int out = report_went_out(r->status);
	if (r->status == DS_FAILED || r->status == DS_UNKNOWN)
		keep_attention(d, r);
	if (dates_parse_iso(r->fire_date, &fd) != 0 || dates_parse_iso(r->occasion_date, &od) != 0)
		return;
	/* Counts by occasion use the occasion date, as `log --since` and the summary always did. */
	if ((d->from == DAY_NONE || od >= d->from) && od <= d->ref) {
		size_t k;
		for (k = 0; k < d->ntally; k++)
			if (strcmp(d->tally[k].rule, r->rule) == 0 && d->tally[k].channel == (int)r->channel &&
			    d->tally[k].status == (int)r->status)
				break;
		if (k == d->ntally) {
			d->tally = xreallocarray(d->tally, d->ntally + 1, sizeof *d->tally);
			d->tally[k] = (struct report_tally){xstrdup(r->rule), (int)r->channel, (int)r->status, 0, 0};
			d->ntally++;
		}
		d->tally[k].count++;
		d->total++;
		if (out) {
			d->tally[k].cost_cents += r->cost_cents;
			d->total_cost_cents += r->cost_cents;
		}
	}
	if (!out || fd > d->ref)
		return;
	{
		int y, m, dd;
		dates_to_ymd(fd, &y, &m, &dd);
		for (int k = 0; k < REPORT_MONTHS; k++)
			if (d->months[k].year == y && d->months[k].month == m) {
				d->months[k].count[r->channel == CH_CARD ? 0 : 1]++;
				d->months[k].cost_cents += r->cost_cents;
			}
	}
	/* Spending: whole periods, from the one holding the report's start (or a year back). */
	if (fd >= d->spill->spend_from)
		budget_get(d, d->budget_per >= 0 ? d->budget_per : PER_MONTH, fd,
		           d->budget_per >= 0 ? d->rs->budget_cents : -1)->spent_cents += r->cost_cents;
}

/*
 * build_plan: the signing load, the planned cost and the dispatches ahead: the plan's items
 * put in date order (fire date, occasion, stakeholder id, then fire order), those shown one
 * run of them.
 */
static void build_plan(struct report_data *d)
{
	day_t end = d->week0 + 7 * REPORT_WEEKS_AHEAD;
	if (!d->plan)
		return;
	planner_sort_dates(d->plan);
	d->item = xcalloc(1, sizeof *d->item);
	for (size_t i = 0; i < planner_count(d->plan); i++) {
		struct plan_item *it = d->item;
		int skipped;
		planner_item(d->plan, i, it);
		skipped = it->state == PS_SKIPPED || it->state == PS_MISSED;
		if (it->fire_date < d->today) {
			d->up0 = i + 1;
			continue;
		}
		if (it->fire_date >= end)
			break;
		if (!skipped && it->channel == CH_CARD) {
			size_t k;
			for (k = 0; k < d->nload; k++)
				if (strcmp(d->load[k].signer, it->signer) == 0)
					break;
			if (k == d->nload) {
				d->load = xreallocarray(d->load, d->nload + 1, sizeof *d->load);
				memset(&d->load[k], 0, sizeof *d->load);
				d->load[k].signer = xstrdup(it->signer);
				d->nload++;
			}
			d->load[k].cards[(it->fire_date - d->week0) / 7]++;
		}
		if (!skipped)
			budget_get(d, d->budget_per >= 0 ? d->budget_per : PER_MONTH, it->fire_date,
			           d->budget_per >= 0 ? d->rs->budget_cents : -1)->planned_cents += it->cost_cents;
		d->nup++;
	}
	if (d->nload > 1)
		qsort(d->load, d->nload, sizeof *d->load, load_cmp);
}

/*
 * sil_sort: the silences file again, longest first (equals in id order, as found): each
 * length's first byte is known from the counts, so the file found is read through once per
 * window of the sorted one and each record copied where it falls.
 */
static int sil_sort(struct report_spill *sp, char err[ERR_LEN])
{
	unsigned char *win = NULL, *rec = NULL;
	size_t reccap = 0;
	uint64_t at = 0;
	int rc = -1;

	if (sp->nbk > 1)
		qsort(sp->bk, sp->nbk, sizeof *sp->bk, bucket_cmp);
	for (size_t k = 0; k < sp->nslot; k++)   /* the order changed: hashed again */
		sp->slot[k] = 0;
	for (size_t k = 0; k < sp->nbk; k++) {
		size_t j;
		for (j = sil_hash(sp->bk[k].days, sp->nslot); sp->slot[j]; j = (j + 1) & (sp->nslot - 1))
			;
		sp->slot[j] = (uint32_t)k + 1;
	}
	if (!(sp->sorted = tmpfile())) {
		err_set(err, "report: cannot make a temporary file: %s", strerror(errno));
		goto out;
	}
	if (!sp->len)
		return 0;
	win = xmalloc(sp->len < SIL_WINDOW ? (size_t)sp->len : SIL_WINDOW);
	for (uint64_t w0 = 0; w0 < sp->len; w0 += SIL_WINDOW) {
		size_t wl = sp->len - w0 < SIL_WINDOW ? (size_t)(sp->len - w0) : SIL_WINDOW;
		at = 0;
		for (size_t b = 0; b < sp->nbk; b++) {
			sp->bk[b].at = at;
			at += sp->bk[b].bytes;
		}
		/* The file found, read through in chunks (a silence may straddle two: kept whole). */
		size_t have = 0, pos = 0;
		uint64_t rd = 0;
		for (uint64_t done = 0; done < sp->len;) {
			int32_t head[2];
			uint64_t dest;
			struct silbucket *bk = NULL;
			if (have - pos >= sizeof head) {
				memcpy(head, rec + pos, sizeof head);
				if (head[0] < SIL_HEAD)
					goto rerr;
			}
			if (have - pos < sizeof head || have - pos < (size_t)head[0]) {
				size_t need = have - pos < sizeof head ? SIL_READ : (size_t)head[0] > SIL_READ ? (size_t)head[0] : SIL_READ;
				ssize_t got;
				if (have > pos)
					memmove(rec, rec + pos, have - pos);
				have -= pos;
				pos = 0;
				if (reccap < 2 * need)
					rec = xrealloc(rec, reccap = 2 * need);
				got = pread(fileno(sp->fp), rec + have, reccap - have, (off_t)rd);
				if (got <= 0)
					goto rerr;
				have += (size_t)got;
				rd += (uint64_t)got;
				continue;
			}
			for (size_t j = sil_hash(head[1], sp->nslot); sp->slot[j]; j = (j + 1) & (sp->nslot - 1))
				if (sp->bk[sp->slot[j] - 1].days == head[1]) {
					bk = &sp->bk[sp->slot[j] - 1];
					break;
				}
			if (!bk)
				goto rerr;
			dest = bk->at;
			bk->at += (uint64_t)head[0];
			done += (uint64_t)head[0];
			if (dest + (uint64_t)head[0] > w0 && dest < w0 + wl) {
				uint64_t a = dest > w0 ? dest : w0, e = dest + (uint64_t)head[0];
				if (e > w0 + wl)
					e = w0 + wl;
				memcpy(win + (a - w0), rec + pos + (a - dest), (size_t)(e - a));
			}
			pos += (size_t)head[0];
		}
		if (fwrite(win, 1, wl, sp->sorted) != wl) {
			err_set(err, "report: cannot write a temporary file: %s", strerror(errno));
			goto out;
		}
	}
	if (fflush(sp->sorted) != 0) {
		err_set(err, "report: cannot write a temporary file: %s", strerror(errno));
		goto out;
	}
	rc = 0;
	goto out;
rerr:
	err_set(err, "report: cannot read back its temporary file");
out:
	free(win);
	free(rec);
	return rc;
}

int report_data_end(struct report_data *d, char err[ERR_LEN])
{
	if (fflush(d->spill->fp) != 0)
		return err_set(err, "report: cannot write a temporary file: %s", strerror(errno));
	if (d->ncov > 1)
		qsort(d->cov, d->ncov, sizeof *d->cov, cov_cmp);
	if (sil_sort(d->spill, err) != 0)
		return -1;
	if (d->ntally > 1)
		qsort(d->tally, d->ntally, sizeof *d->tally, tally_cmp);
	build_plan(d);
	if (d->nbudget > 1)
		qsort(d->budget, d->nbudget, sizeof *d->budget, budget_cmp);
	return 0;
}

static int add_record(void *arg, const struct dispatch_rec *rec)
{
	report_data_add_record(arg, rec);
	return 0;
}

int report_data_from_store(const struct report_input *in, struct store *st, struct report_data *d, char err[ERR_LEN])
{
	struct store_scan *sc = NULL;
	const struct store_sh_row *row;
	char **cols = NULL;
	size_t ncols = 0;
	int custom = 0, rc;

	if (report_data_begin(in, d, err) != 0)
		return -1;
	/* Custom fields only for a display_name column, the name shown. */
	if (store_custom_columns(st, &cols, &ncols, err) != 0)
		return -1;
	for (size_t i = 0; i < ncols; i++) {
		custom |= strcmp(cols[i], "display_name") == 0;
		free(cols[i]);
	}
	free(cols);
	/* In id order (not quick): a silence's place in the file is its place among equals. */
	rc = store_scan_open(st, (1u << SH_NFIELDS) - 1, custom, 0, 0, &sc, err);
	while (rc == 0 && (rc = store_scan_next(sc, &row, err)) == 1)
		rc = report_data_add_stakeholder(d, &row->sh, row->hist, row->nhist, err);
	store_scan_close(sc);
	if (rc != 0)
		return -1;
	if (store_each_dispatch(st, NULL, add_record, d, err) != 0)
		return -1;
	return report_data_end(d, err);
}

/* sil_at: the silence at off in the sorted file, whole in the window; NULL on error. */
static const unsigned char *sil_at(struct report_spill *sp, uint64_t off)
{
	int32_t len;
	for (int pass = 0; pass < 3; pass++) {   /* in the window; read a window; read the whole of a long one */
		if (off >= sp->woff && off + sizeof len <= sp->woff + sp->wlen) {
			memcpy(&len, sp->buf + (off - sp->woff), sizeof len);
			if (len >= SIL_HEAD && off + (uint64_t)len <= sp->woff + sp->wlen)
				return sp->buf + (off - sp->woff);
			if (len < SIL_HEAD)
				return NULL;
		} else {
			len = 0;
		}
		/* Read from off: a window's worth, or the whole silence when longer. */
		{
			size_t want = (size_t)len > SIL_READ ? (size_t)len : SIL_READ;
			ssize_t got;
			if (sp->bufcap < want)
				sp->buf = xrealloc(sp->buf, sp->bufcap = want);
			got = pread(fileno(sp->sorted), sp->buf, want, (off_t)off);
			if (got < 0)
				return NULL;
			sp->woff = off;
			sp->wlen = (size_t)got;
		}
	}
	return NULL;
}

void report_data_silence(const struct report_data *d, size_t i, struct report_silence *s)
{
	struct report_spill *sp = d->spill;
	const unsigned char *r;
	const char *p;
	int32_t v[SIL_HEAD / 4];

	memset(s, 0, sizeof *s);
	s->id = s->name = s->type = s->tier = s->owner = "";
	s->last = s->since = DAY_NONE;
	s->days = -1;
	if (i < sp->next_i) {   /* read from the start again (the page shows the first, then all) */
		sp->next_i = 0;
		sp->next_off = 0;
	}
	for (;;) {
		if (sp->broken || !sp->sorted || !(r = sil_at(sp, sp->next_off))) {
			sp->broken = 1;
			return;
		}
		memcpy(v, r, sizeof v);
		if (sp->next_i == i)
			break;
		sp->next_i++;
		sp->next_off += (uint64_t)v[0];
	}
	{
		int nul = 0;   /* six strings, each ended, or the file is not what was written */
		for (size_t k = SIL_HEAD; k < (size_t)v[0]; k++)
			nul += r[k] == '\0';
		if (nul != 6 || r[v[0] - 1] != '\0') {
			sp->broken = 1;
			return;
		}
	}
	s->days = v[1];
	s->last = v[2];
	s->since = v[3];
	p = (const char *)r + SIL_HEAD;
	s->id = p;
	p += strlen(p) + 1;
	s->name = p;
	p += strlen(p) + 1;
	s->type = p;
	p += strlen(p) + 1;
	s->tier = p;
	p += strlen(p) + 1;
	s->owner = p;
	p += strlen(p) + 1;
	s->last_rule = v[4] ? p : NULL;
}

int report_data_broken(const struct report_data *d)
{
	return d->spill && d->spill->broken;
}

void report_data_upcoming(const struct report_data *d, size_t i, struct report_upcoming *u)
{
	struct plan_item *it = d->item;
	planner_item(d->plan, d->up0 + i, it);
	memset(u, 0, sizeof *u);
	u->date = it->fire_date;
	u->occasion = it->occasion;
	u->rule = it->rule->id;
	u->rule_name = it->rule->name ? it->rule->name : it->rule->id;
	u->stakeholder = it->sh_id;
	u->name = it->name;
	u->signer = it->signer ? it->signer : "";
	u->channel = it->channel;
	u->skipped = it->state == PS_SKIPPED || it->state == PS_MISSED;
	u->note = it->note;
}

void report_data_free(struct report_data *d)
{
	for (size_t i = 0; i < d->ncov; i++) {
		free(d->cov[i].dimension);
		free(d->cov[i].segment);
	}
	for (size_t i = 0; i < d->ntally; i++)
		free(d->tally[i].rule);
	for (size_t i = 0; i < d->nload; i++)
		free(d->load[i].signer);
	if (d->spill) {
		if (d->spill->fp)
			fclose(d->spill->fp);
		if (d->spill->sorted)
			fclose(d->spill->sorted);
		free(d->spill->bk);
		free(d->spill->slot);
		free(d->spill->buf);
		free(d->spill);
	}
	free(d->cov);
	free(d->tally);
	free(d->budget);
	free(d->load);
	dispatch_recs_free(d->attention, d->nattention);
	free(d->item);
	memset(d, 0, sizeof *d);
}
