/*
 * report_html: the report as one self-contained page: inline CSS and SVG charts drawn here,
 * no script, no font or image fetched, so it opens the same offline, in a mail client or
 * from an archive years later. Every piece of data is HTML-escaped.
 */
#include "occasiond/report_data.h"

#include <stdlib.h>
#include <string.h>

static const char *const month_abbr[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const wd_abbr[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

#define COLOR_CARD "#b5523b"
#define COLOR_EMAIL "#2f6f8f"

static void esc(struct strbuf *sb, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': sb_adds(sb, "&amp;"); break;
		case '<': sb_adds(sb, "&lt;"); break;
		case '>': sb_adds(sb, "&gt;"); break;
		case '"': sb_adds(sb, "&quot;"); break;
		case '\'': sb_adds(sb, "&#39;"); break;
		default:
			if ((unsigned char)*s < 0x20 && *s != '\t')
				sb_addc(sb, ' ');
			else
				sb_addc(sb, *s);
		}
	}
}

static void day_short(day_t day, char *buf, size_t size)
{
	int y, m, d;
	dates_to_ymd(day, &y, &m, &d);
	snprintf(buf, size, "%d %s", d, month_abbr[m - 1]);
}

static void day_medium(day_t day, char *buf, size_t size)
{
	int y, m, d;
	if (day == DAY_NONE) {
		snprintf(buf, size, "never");
		return;
	}
	dates_to_ymd(day, &y, &m, &d);
	snprintf(buf, size, "%d %s %d", d, month_abbr[m - 1], y);
}

static long pct(long part, long whole)
{
	return whole > 0 ? (part * 100 + whole / 2) / whole : 0;
}

static const char css[] =
	"*{box-sizing:border-box}"
	"body{margin:0;background:#f4f1ec;color:#2b2622;font:15px/1.45 system-ui,-apple-system,'Segoe UI',"
	"'DejaVu Sans',sans-serif}"
	"main{max-width:1180px;margin:0 auto;padding:28px 28px 40px}"
	"header{display:flex;justify-content:space-between;align-items:flex-end;border-bottom:2px solid #2b2622;"
	"padding-bottom:12px;margin-bottom:22px}"
	"h1{font:600 28px/1.1 Georgia,'DejaVu Serif',serif;margin:0}"
	".sub{color:#6b625a;margin:6px 0 0}"
	".org{font:600 15px/1.2 system-ui,sans-serif;text-align:right;color:#6b625a}"
	".tiles{display:grid;grid-template-columns:repeat(5,1fr);gap:14px;margin-bottom:18px}"
	".tile{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.06)}"
	".tile b{display:block;font:600 26px/1.15 Georgia,'DejaVu Serif',serif}"
	".tile span{color:#6b625a;font-size:13px}"
	".tile.warn b{color:#a8322d}"
	".grid{display:grid;grid-template-columns:1fr 1fr;gap:18px;margin-bottom:18px}"
	".card{background:#fff;border-radius:10px;padding:16px 18px 14px;box-shadow:0 1px 2px rgba(0,0,0,.06);"
	"min-width:0}"
	".card.wide{margin-bottom:18px}"
	"h2{font:600 17px/1.2 Georgia,'DejaVu Serif',serif;margin:0 0 4px}"
	".note{color:#6b625a;font-size:12.5px;margin:0 0 10px}"
	"table{border-collapse:collapse;width:100%;font-size:13.5px}"
	"th{text-align:left;font-weight:600;color:#6b625a;font-size:12px;text-transform:uppercase;"
	"letter-spacing:.03em;border-bottom:1px solid #e2dcd3;padding:4px 6px}"
	"td{border-bottom:1px solid #f0ebe4;padding:5px 6px;vertical-align:top;overflow-wrap:break-word}"
	"td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
	".bar{display:inline-block;height:8px;border-radius:4px;background:#c9a27e;vertical-align:middle}"
	".legend{font-size:12.5px;color:#6b625a;margin-top:4px}"
	".sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px;vertical-align:-1px}"
	".skip{color:#a8322d}"
	".nw{white-space:nowrap}"
	".empty{color:#6b625a;font-style:italic;margin:8px 0}"
	"footer{color:#8a8178;font-size:12px;margin-top:8px}"
	"svg text{font-family:system-ui,'DejaVu Sans',sans-serif}"
	/* A table of many columns scrolls inside its panel when the screen is too narrow for it. */
	".scroll{overflow-x:auto}"
	".scroll td:first-child{min-width:9em}"
	"td.brk{overflow-wrap:anywhere}td.err{min-width:14em}"
	".load th.n,.load td.n{width:3.3em}"
	/* Tablets and phones: one panel a row, tiles two a row, the header stacked. */
	"@media (max-width:900px){.grid{grid-template-columns:1fr}.tiles{grid-template-columns:repeat(2,1fr)}}"
	"@media (max-width:560px){main{padding:16px 12px 28px}header{flex-direction:column;align-items:flex-start}"
	".org{text-align:left;margin-top:8px}.card{padding:14px 12px 12px}td,th{padding:4px 4px}"
	"td{overflow-wrap:anywhere}td.err{min-width:0}}";

static void tiles(struct strbuf *h, const struct report_data *d)
{
	long reached90 = 0, cards = 0, emails = 0;
	char c[32], b[32];
	for (size_t i = 0; i < d->ncov; i++)
		if (strcmp(d->cov[i].dimension, "all") == 0)
			reached90 = d->cov[i].reached[REPORT_COVERAGE_WINDOWS - 1];
	for (int k = 0; k < REPORT_MONTHS; k++)
		cards += d->months[k].count[0], emails += d->months[k].count[1];
	sb_adds(h, "<section class=\"tiles\">");
	sb_addf(h, "<div class=\"tile\"><b>%ld%%</b><span>reached in the last 90 days (%ld of %ld)</span></div>",
	        pct(reached90, d->stakeholders), reached90, d->stakeholders);
	sb_addf(h, "<div class=\"tile\"><b>%ld</b><span>cards and notes in 12 months (%ld %s, %ld %s)</span></div>",
	        cards + emails, cards, util_plural(cards, "card", "cards"), emails, util_plural(emails, "email", "emails"));
	sb_addf(h, "<div class=\"tile%s\"><b>%zu</b><span>silent for more than %ld %s</span></div>",
	        d->nsil ? " warn" : "", d->nsil, d->silence_weeks, util_plural(d->silence_weeks, "week", "weeks"));
	{
		const struct report_budget *cur = NULL;
		for (size_t i = 0; i < d->nbudget; i++)
			if (d->budget[i].start <= d->today && d->today <= d->budget[i].end)
				cur = &d->budget[i];
		if (cur && cur->budget_cents >= 0) {
			util_format_money(cur->spent_cents + cur->planned_cents, c, sizeof c);
			util_format_money(cur->budget_cents, b, sizeof b);
			sb_addf(h, "<div class=\"tile%s\"><b>%s</b><span>spent and planned in %s, of %s budget</span></div>",
			        cur->spent_cents + cur->planned_cents > cur->budget_cents ? " warn" : "", c, cur->label, b);
		} else {
			util_format_money(d->total_cost_cents, c, sizeof c);
			sb_addf(h, "<div class=\"tile\"><b>%s</b><span>spent in the period (no budget set)</span></div>", c);
		}
	}
	sb_addf(h, "<div class=\"tile%s\"><b>%zu</b><span>failed or unknown: need a person</span></div>",
	        d->nattention ? " warn" : "", d->nattention);
	sb_adds(h, "</section>\n");
}

/* A nice step for an axis from 0 to max with about 4 lines. */
static long axis_step(long max)
{
	static const long steps[] = {1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 25000,
	                             50000, 100000};
	for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
		if (max / steps[i] <= 4)
			return steps[i];
	return max / 4 + 1;
}

static void chart_months(struct strbuf *h, const struct report_data *d)
{
	const int W = 520, H = 230, L = 40, R = 10, T = 12, B = 30;
	long max = 1, step;
	double bw = (double)(W - L - R) / REPORT_MONTHS;
	for (int k = 0; k < REPORT_MONTHS; k++)
		if (d->months[k].count[0] + d->months[k].count[1] > max)
			max = d->months[k].count[0] + d->months[k].count[1];
	step = axis_step(max);
	max = (max + step - 1) / step * step;
	sb_adds(h, "<div class=\"card\"><h2>Dispatches per month</h2><p class=\"note\">Cards and emails that went out, "
	           "by fire date, over the last 12 months.</p>");
	sb_addf(h, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" style=\"max-width:100%%;height:auto\" role=\"img\" aria-label=\"Dispatches per month by channel\">",
	        W, H, W);
	for (long v = 0; v <= max; v += step) {
		double y = T + (H - T - B) * (1.0 - (double)v / (double)max);
		sb_addf(h, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ebe5dc\"/>", L, W - R, y, y);
		sb_addf(h, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" fill=\"#8a8178\" text-anchor=\"end\">%ld</text>", L - 6,
		        y + 4, v);
	}
	for (int k = 0; k < REPORT_MONTHS; k++) {
		const struct report_month *m = &d->months[k];
		double x = L + bw * k + bw * 0.18, w = bw * 0.64, base = H - B;
		double hc = (H - T - B) * (double)m->count[0] / (double)max;
		double he = (H - T - B) * (double)m->count[1] / (double)max;
		sb_addf(h, "<g><title>%s %d: %ld %s, %ld %s</title>", month_abbr[m->month - 1], m->year, m->count[0],
		        util_plural(m->count[0], "card", "cards"), m->count[1], util_plural(m->count[1], "email", "emails"));
		if (hc > 0)
			sb_addf(h, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"" COLOR_CARD "\"/>", x,
			        base - hc, w, hc);
		if (he > 0)
			sb_addf(h, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"" COLOR_EMAIL "\"/>", x,
			        base - hc - he, w, he);
		if (m->count[0] + m->count[1] > 0)
			sb_addf(h, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10.5\" fill=\"#4a423b\" text-anchor=\"middle\">%ld</text>",
			        x + w / 2, base - hc - he - 4, m->count[0] + m->count[1]);
		sb_addf(h, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" fill=\"#6b625a\" text-anchor=\"middle\">%s</text>",
		        x + w / 2, H - B + 15, month_abbr[m->month - 1]);
		if (m->month == 1 || k == 0)
			sb_addf(h, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" fill=\"#8a8178\" text-anchor=\"middle\">%d</text>",
			        x + w / 2, H - B + 27, m->year);
		sb_adds(h, "</g>");
	}
	sb_addf(h, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#8a8178\"/>", L, W - R, H - B, H - B);
	sb_adds(h, "</svg><div class=\"legend\"><span class=\"sw\" style=\"background:" COLOR_CARD "\"></span>cards"
	           "<span class=\"sw\" style=\"background:" COLOR_EMAIL "\"></span>emails</div></div>\n");
}

static void chart_coverage(struct strbuf *h, const struct report_data *d)
{
	const int W = 520, L = 150, R = 44, row = 26, T = 8;
	int Hh = T + row * (int)d->ncov + 22;
	static const char *const shade[] = {"#6d3b2a", "#b5523b", "#e3b9a3"};   /* 30, 60, 90 days */
	sb_adds(h, "<div class=\"card\"><h2>Coverage by segment</h2><p class=\"note\">Share of stakeholders reached "
	           "in the last 30, 60 and 90 days (darkest is 30).</p>");
	if (!d->ncov) {
		sb_adds(h, "<p class=\"empty\">No stakeholders.</p></div>\n");
		return;
	}
	sb_addf(h, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" style=\"max-width:100%%;height:auto\" role=\"img\" aria-label=\"Coverage by segment\">", W, Hh, W);
	for (int v = 0; v <= 100; v += 25) {
		double x = L + (W - L - R) * v / 100.0;
		sb_addf(h, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#ebe5dc\"/>", x, x, T, Hh - 18);
		sb_addf(h, "<text x=\"%.1f\" y=\"%d\" font-size=\"10.5\" fill=\"#8a8178\" text-anchor=\"middle\">%d%%</text>", x,
		        Hh - 5, v);
	}
	for (size_t i = 0; i < d->ncov; i++) {
		const struct report_coverage *c = &d->cov[i];
		double y = T + row * (double)i;
		sb_adds(h, "<g><title>");
		esc(h, c->dimension);
		sb_adds(h, " ");
		esc(h, c->segment);
		sb_addf(h, ": %ld %s; 30 days %ld%%, 60 days %ld%%, 90 days %ld%%</title>", c->total,
		        util_plural(c->total, "stakeholder", "stakeholders"), pct(c->reached[0], c->total), pct(c->reached[1], c->total), pct(c->reached[2], c->total));
		sb_addf(h, "<text x=\"%d\" y=\"%.1f\" font-size=\"12\" fill=\"#2b2622\" text-anchor=\"end\"%s>", L - 8,
		        y + 15, strcmp(c->dimension, "all") == 0 ? " font-weight=\"600\"" : "");
		if (strcmp(c->dimension, "all") == 0)
			sb_adds(h, "everyone");
		else
			esc(h, c->segment);
		sb_addf(h, " <tspan fill=\"#8a8178\" font-size=\"10.5\">(%ld)</tspan></text>", c->total);
		for (int w = REPORT_COVERAGE_WINDOWS - 1; w >= 0; w--) {
			double bw = c->total ? (W - L - R) * (double)c->reached[w] / (double)c->total : 0;
			if (bw > 0)
				sb_addf(h, "<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"16\" rx=\"2\" fill=\"%s\"/>", L, y + 4, bw,
				        shade[w]);
		}
		sb_addf(h, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" fill=\"#4a423b\">%ld%%</text>", W - R + 6, y + 16,
		        pct(c->reached[2], c->total));
		sb_adds(h, "</g>");
	}
	sb_adds(h, "</svg><div class=\"legend\"><span class=\"sw\" style=\"background:#6d3b2a\"></span>30 days"
	           "<span class=\"sw\" style=\"background:#b5523b\"></span>60 days"
	           "<span class=\"sw\" style=\"background:#e3b9a3\"></span>90 days (the figure at the right)</div></div>\n");
}

/*
 * calendar: the days ahead. The dispatches are many at scale (every one is named in its day's
 * title), so they are read in order once per pass and what is made so far goes out to fp.
 */
static void calendar(struct strbuf *h, FILE *fp, const struct report_data *d)
{
	const int cell = 56, gap = 6, L = 44, T = 26;
	int counts[REPORT_WEEKS_AHEAD * 7] = {0}, max = 1;
	int W = L + REPORT_WEEKS_AHEAD * (cell + gap), Hh = T + 7 * (cell + gap) + 4;
	size_t next = 0;   /* the first dispatch not yet named: they are in date order */
	struct report_upcoming up;
	for (size_t i = 0; i < d->nup; i++) {
		long k;
		report_data_upcoming(d, i, &up);
		k = up.date - d->week0;
		if (!up.skipped && k >= 0 && k < REPORT_WEEKS_AHEAD * 7 && ++counts[k] > max)
			max = counts[k];
	}
	sb_adds(h, "<div class=\"card wide\"><h2>The next 13 weeks</h2><p class=\"note\">Dispatches that will fire, per "
	           "day (from the plan; what limits would skip is left out). Hover a day for its occasions.</p>");
	sb_addf(h, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" style=\"max-width:100%%;height:auto\" role=\"img\" aria-label=\"Calendar of upcoming dispatches\">",
	        W, Hh, W);
	for (int r = 0; r < 7; r++)
		sb_addf(h, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#8a8178\" text-anchor=\"end\">%s</text>", L - 6,
		        T + r * (cell + gap) + cell / 2 + 4, wd_abbr[r]);
	for (int w = 0; w < REPORT_WEEKS_AHEAD; w++) {
		int y, m, dd;
		dates_to_ymd(d->week0 + 7 * w, &y, &m, &dd);
		if (w == 0 || dd <= 7)
			sb_addf(h, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#4a423b\" font-weight=\"600\">%s</text>",
			        L + w * (cell + gap), T - 8, month_abbr[m - 1]);
		for (int r = 0; r < 7; r++) {
			day_t day = d->week0 + 7 * w + r;
			int n = counts[7 * w + r], x = L + w * (cell + gap), yy = T + r * (cell + gap), cy, cm, cd;
			char lab[24];
			const char *fill = day < d->today ? "#f7f4f0" : "#efe9e1";
			char shade[16];
			if (n > 0) {
				/* From a light to a deep terracotta by the day's share of the busiest day. */
				double f = 0.25 + 0.75 * (double)n / (double)max;
				snprintf(shade, sizeof shade, "#%02x%02x%02x", (int)(0xf3 - (0xf3 - 0xb5) * f),
				         (int)(0xd9 - (0xd9 - 0x52) * f), (int)(0xc9 - (0xc9 - 0x3b) * f));
				fill = shade;
			}
			day_short(day, lab, sizeof lab);
			sb_addf(h, "<g><title>%s: %d dispatch%s", lab, n, n == 1 ? "" : "es");
			for (; next < d->nup; next++) {
				report_data_upcoming(d, next, &up);
				if (up.date > day)
					break;
				if (up.date == day && !up.skipped) {
					sb_adds(h, "\n");
					esc(h, up.rule_name);
					sb_adds(h, ": ");
					esc(h, up.name);
					sb_addf(h, " (%s)", channel_names[up.channel]);
				}
				if (h->len >= 1 << 16) {
					fputs(h->s, fp);
					sb_reset(h);
				}
			}
			sb_addf(h, "</title><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"4\" fill=\"%s\"%s/>", x, yy,
			        cell, cell, fill, day == d->today ? " stroke=\"#2b2622\" stroke-width=\"2\"" : "");
			dates_to_ymd(day, &cy, &cm, &cd);
			sb_addf(h, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"%s\">%d</text>", x + 5, yy + 14,
			        n * 2 > max ? "#fff" : "#8a8178", cd);
			if (n > 0)
				sb_addf(h, "<text x=\"%d\" y=\"%d\" font-size=\"17\" font-weight=\"600\" fill=\"%s\" "
				           "text-anchor=\"middle\">%d</text>",
				        x + cell / 2, yy + cell - 7, n * 2 > max ? "#fff" : "#2b2622", n);
			sb_adds(h, "</g>");
		}
	}
	sb_adds(h, "</svg>");
	/* The first few, for those who read rather than hover. */
	{
		size_t shown = 0;
		sb_adds(h, "<table><tr><th>Fires</th><th>Occasion</th><th>For</th><th>Channel</th><th>Signer</th></tr>");
		for (size_t i = 0; i < d->nup && shown < 12; i++) {
			const struct report_upcoming *u = &up;
			report_data_upcoming(d, i, &up);
			char a[24], b[24];
			day_short(u->date, a, sizeof a);
			day_short(u->occasion, b, sizeof b);
			sb_addf(h, "<tr%s><td>%s</td><td>", u->skipped ? " class=\"skip\"" : "", a);
			esc(h, u->rule_name);
			sb_addf(h, " <span class=\"note\">%s</span></td><td>", b);
			esc(h, u->name);
			sb_addf(h, "</td><td>%s%s</td><td>", channel_names[u->channel], u->skipped ? " (skipped)" : "");
			esc(h, u->signer);
			sb_adds(h, "</td></tr>");
			shown++;
		}
		sb_adds(h, "</table>");
		if (d->nup > shown)
			sb_addf(h, "<p class=\"note\">and %zu more in the 13 weeks: <code>occasiond plan --days 91</code>.</p>",
			        d->nup - shown);
		if (!d->nup)
			sb_adds(h, "<p class=\"empty\">Nothing planned.</p>");
	}
	sb_adds(h, "</div>\n");
}

static void silences(struct strbuf *h, const struct report_data *d)
{
	long max = 1;
	size_t n = d->nsil < 15 ? d->nsil : 15;
	struct report_silence sil;
	for (size_t i = 0; i < n; i++) {
		report_data_silence(d, i, &sil);
		if (sil.days > max)
			max = sil.days;
	}
	sb_addf(h, "<div class=\"card\"><h2>Longest silences</h2><p class=\"note\">%zu stakeholder%s without a word for "
	           "more than %ld %s; after seven to nine weeks people forget you.</p>",
	        d->nsil, d->nsil == 1 ? "" : "s", d->silence_weeks, util_plural(d->silence_weeks, "week", "weeks"));
	if (!d->nsil) {
		sb_adds(h, "<p class=\"empty\">Nobody has been silent that long.</p></div>\n");
		return;
	}
	sb_adds(h, "<table><tr><th>Who</th><th>Owner</th><th>Last contact</th><th class=\"n\">Weeks</th><th></th></tr>");
	for (size_t i = 0; i < n; i++) {
		const struct report_silence *s = &sil;
		char last[64];
		report_data_silence(d, i, &sil);
		day_medium(s->last, last, sizeof last);
		sb_adds(h, "<tr><td>");
		esc(h, s->name);
		sb_adds(h, " <span class=\"note\">");
		esc(h, s->type);
		if (*s->tier) {
			sb_adds(h, ", ");
			esc(h, s->tier);
		}
		sb_adds(h, "</span></td><td>");
		esc(h, s->owner);
		sb_addf(h, "</td><td class=\"nw\">%s</td>", last);
		if (s->days >= 0)
			sb_addf(h, "<td class=\"n\">%ld</td><td><span class=\"bar\" style=\"width:%ldpx\"></span></td></tr>",
			        s->days / 7, 4 + 96 * s->days / max);
		else
			sb_adds(h, "<td class=\"n\">?</td><td></td></tr>");
	}
	sb_adds(h, "</table>");
	if (d->nsil > n)
		sb_addf(h, "<p class=\"note\">and %zu more: <code>occasiond report --format json</code>.</p>", d->nsil - n);
	sb_adds(h, "</div>\n");
}

static void chart_budget(struct strbuf *h, const struct report_data *d)
{
	const int W = 520, L = 62, R = 10, T = 14, B = 30, H = 230;
	int64_t max = 1;
	size_t n = d->nbudget;
	double bw;
	sb_addf(h, "<div class=\"card\"><h2>%s</h2><p class=\"note\">Cost of what went out (solid) and of what the plan "
	           "will send (light)%s.</p>",
	        d->budget_per >= 0 ? "Cost against the budget" : "Cost per month",
	        d->budget_per >= 0 ? "; the line is the budget of the period" : "; no budget is set in the rules");
	if (!n) {
		sb_adds(h, "<p class=\"empty\">No cost recorded or planned.</p></div>\n");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t v = d->budget[i].spent_cents + d->budget[i].planned_cents;
		if (v > max)
			max = v;
		if (d->budget[i].budget_cents > max)
			max = d->budget[i].budget_cents;
	}
	{
		long units = (long)((max + 99) / 100), step = axis_step(units);
		units = (units + step - 1) / step * step;
		max = (int64_t)units * 100;
		bw = (double)(W - L - R) / (double)n;
		sb_addf(h, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" style=\"max-width:100%%;height:auto\" role=\"img\" "
		           "aria-label=\"Cost against budget\">", W, H, W);
		for (long v = 0; v <= units; v += step) {
			double y = T + (H - T - B) * (1.0 - (double)v / (double)units);
			sb_addf(h, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ebe5dc\"/>", L, W - R, y, y);
			sb_addf(h, "<text x=\"%d\" y=\"%.1f\" font-size=\"10.5\" fill=\"#8a8178\" text-anchor=\"end\">%ld</text>",
			        L - 6, y + 4, v);
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct report_budget *b = &d->budget[i];
		double x = L + bw * (double)i + bw * 0.2, w = bw * 0.6, base = H - B;
		double hs = (H - T - B) * (double)b->spent_cents / (double)max;
		double hp = (H - T - B) * (double)b->planned_cents / (double)max;
		char s[32], p[32], bu[32];
		util_format_money(b->spent_cents, s, sizeof s);
		util_format_money(b->planned_cents, p, sizeof p);
		util_format_money(b->budget_cents, bu, sizeof bu);
		sb_addf(h, "<g><title>%s: spent %s, planned %s%s%s</title>", b->label, s, p,
		        b->budget_cents >= 0 ? ", budget " : "", b->budget_cents >= 0 ? bu : "");
		if (hs > 0)
			sb_addf(h, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#8a5a3c\"/>", x, base - hs, w,
			        hs);
		if (hp > 0)
			sb_addf(h, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#d9b99b\"/>", x,
			        base - hs - hp, w, hp);
		if (b->budget_cents >= 0) {
			double y = base - (H - T - B) * (double)b->budget_cents / (double)max;
			sb_addf(h, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#a8322d\" stroke-width=\"2\" "
			           "stroke-dasharray=\"5 3\"/>",
			        x - bw * 0.12, x + w + bw * 0.12, y, y);
		}
		sb_addf(h, "<text x=\"%.1f\" y=\"%d\" font-size=\"%s\" fill=\"#6b625a\" text-anchor=\"middle\">%s</text>",
		        x + w / 2, H - B + 15, n > 8 ? "9.5" : "11", b->label);
		sb_adds(h, "</g>");
	}
	sb_addf(h, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#8a8178\"/>", L, W - R, H - B, H - B);
	sb_adds(h, "</svg><div class=\"legend\"><span class=\"sw\" style=\"background:#8a5a3c\"></span>spent"
	           "<span class=\"sw\" style=\"background:#d9b99b\"></span>planned");
	if (d->budget_per >= 0)
		sb_adds(h, "<span class=\"sw\" style=\"background:#a8322d\"></span>budget");
	sb_adds(h, "</div></div>\n");
}

static void signer_load(struct strbuf *h, const struct report_data *d)
{
	long max = 1;
	sb_adds(h, "<div class=\"card wide\"><h2>Signing load</h2><p class=\"note\">Cards each signer will sign, per week "
	           "(weeks start on Monday).</p>");
	if (!d->nload) {
		sb_adds(h, "<p class=\"empty\">No cards planned in the next 13 weeks.</p></div>\n");
		return;
	}
	for (size_t i = 0; i < d->nload; i++)
		for (int w = 0; w < REPORT_WEEKS_AHEAD; w++)
			if (d->load[i].cards[w] > max)
				max = d->load[i].cards[w];
	sb_adds(h, "<div class=\"scroll\"><table class=\"load\"><tr><th>Signer</th>");
	for (int w = 0; w < REPORT_WEEKS_AHEAD; w++) {
		int y, m, dd;
		dates_to_ymd(d->week0 + 7 * w, &y, &m, &dd);
		sb_addf(h, "<th class=\"n\">%d/%d</th>", dd, m);
	}
	sb_adds(h, "</tr>");
	for (size_t i = 0; i < d->nload; i++) {
		sb_adds(h, "<tr><td>");
		esc(h, d->load[i].signer);
		sb_adds(h, "</td>");
		for (int w = 0; w < REPORT_WEEKS_AHEAD; w++) {
			long n = d->load[i].cards[w];
			if (n)
				sb_addf(h, "<td class=\"n\" style=\"background:rgba(181,82,59,%.2f)\">%ld</td>",
				        0.12 + 0.6 * (double)n / (double)max, n);
			else
				sb_adds(h, "<td class=\"n\" style=\"color:#c9c1b8\">&middot;</td>");
		}
		sb_adds(h, "</tr>");
	}
	sb_adds(h, "</table></div></div>\n");
}

static void attention(struct strbuf *h, const struct report_data *d)
{
	sb_addf(h, "<div class=\"card wide\"><h2>Needs a person</h2><p class=\"note\">Failed dispatches and emails in "
	           "<b>unknown</b> state (the server may have them; occasiond never resends those by itself).</p>");
	if (!d->nattention) {
		sb_adds(h, "<p class=\"empty\">Nothing: every dispatch went out or is on its way.</p></div>\n");
		return;
	}
	sb_adds(h, "<table><tr><th class=\"n\">Id</th><th>Occasion</th><th>Stakeholder</th><th>Status</th>"
	           "<th>Error</th></tr>");
	for (size_t i = 0; i < d->nattention && i < 25; i++) {
		const struct dispatch_rec *r = &d->attention[i];
		sb_addf(h, "<tr><td class=\"n\">%lld</td><td>", (long long)r->id);
		esc(h, r->rule);
		sb_adds(h, " <span class=\"note\">");
		esc(h, r->occasion_date);
		sb_adds(h, "</span></td><td class=\"brk\">");
		esc(h, r->stakeholder);
		sb_addf(h, "</td><td class=\"skip nw\">%s</td><td class=\"brk err\">", dispatch_status_names[r->status]);
		esc(h, r->error);
		sb_adds(h, "</td></tr>");
	}
	sb_adds(h, "</table>");
	if (d->nattention > 25)
		sb_addf(h, "<p class=\"note\">and %zu more: <code>occasiond log --status failed</code>.</p>",
		        d->nattention - 25);
	sb_adds(h, "</div>\n");
}

void report_html(FILE *fp, const struct config *cfg, const struct report_data *d)
{
	struct strbuf h = {0};
	char a[64], b[64], t[64];
	const char *org = cfg && cfg->org_name && *cfg->org_name ? cfg->org_name : "occasiond";

	if (d->from != DAY_NONE)
		dates_format_long(d->from, a, sizeof a);
	else
		snprintf(a, sizeof a, "the first record");
	dates_format_long(d->ref, b, sizeof b);
	dates_format_long(d->today, t, sizeof t);
	sb_adds(&h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	            "<meta name=\"generator\" content=\"occasiond\"><title>Relationship report: ");
	esc(&h, org);
	sb_addf(&h, "</title><style>%s</style></head>\n<body><main>\n<header><div><h1>Relationship report</h1>"
	            "<p class=\"sub\">From %s to %s &middot; made %s</p></div><div class=\"org\">",
	        css, a, b, t);
	esc(&h, org);
	sb_addf(&h, "<br><span style=\"font-weight:400\">%ld %s, %ld opted out</span></div></header>\n",
	        d->stakeholders, util_plural(d->stakeholders, "stakeholder", "stakeholders"), d->opted_out);
	tiles(&h, d);
	sb_adds(&h, "<section class=\"grid\">");
	chart_months(&h, d);
	chart_coverage(&h, d);
	sb_adds(&h, "</section>\n");
	calendar(&h, fp, d);
	sb_adds(&h, "<section class=\"grid\">");
	silences(&h, d);
	chart_budget(&h, d);
	sb_adds(&h, "</section>\n");
	/* Full width: thirteen weeks of columns, and error texts, do not fit half a page. */
	signer_load(&h, d);
	attention(&h, d);
	sb_adds(&h, "<footer>Made by occasiond from its dispatch records and plan. &ldquo;Reached&rdquo; "
	            "counts cards rendered, printed, signed or mailed and emails sent; opted-out stakeholders are left "
	            "out.</footer>\n</main></body></html>\n");
	fputs(h.s, fp);
	sb_free(&h);
}
