/* report: plan and log output in table, CSV, JSON and iCalendar form. */
#include "occasiond/report.h"
#include "occasiond/table.h"

#include <stdlib.h>
#include <string.h>

#include "occasiond/store.h"

int report_format_parse(const char *s)
{
	static const char *const names[] = {"table", "csv", "json", "ics", "html"};
	for (int i = 0; i < 5; i++)
		if (util_streq(s, names[i]))
			return i;
	return -1;
}

static void csv_row(FILE *fp, char **row, size_t n)
{
	struct strbuf sb = {0};
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_addc(&sb, ',');
		sb_add_csv_field(&sb, row[i]);
	}
	sb_adds(&sb, "\r\n");
	fputs(sb.s, fp);
	sb_free(&sb);
}

static void json_kv_str(struct strbuf *sb, const char *k, const char *v, int comma)
{
	sb_addf(sb, "%s\"%s\": ", comma ? ", " : "", k);
	if (v && *v)
		sb_add_json_str(sb, v);
	else
		sb_adds(sb, "null");
}

/* iCalendar text: escape \ ; , and newlines (RFC 5545 3.3.11). */
static void ics_text(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == ';' || *s == ',')
			sb_addc(sb, '\\'), sb_addc(sb, *s);
		else if (*s == '\n')
			sb_adds(sb, "\\n");
		else if ((unsigned char)*s >= 0x20)
			sb_addc(sb, *s);
	}
}

/* ics_line: one content line folded at 75 octets, never inside a UTF-8 sequence. */
static void ics_line(FILE *fp, const char *s)
{
	size_t len = strlen(s), col = 0;
	for (size_t i = 0; i < len;) {
		size_t n = 1;
		unsigned char c = (unsigned char)s[i];
		if (c >= 0xF0)
			n = 4;
		else if (c >= 0xE0)
			n = 3;
		else if (c >= 0xC0)
			n = 2;
		if (col + n > 75) {
			fputs("\r\n ", fp);
			col = 1;
		}
		fwrite(s + i, 1, n, fp);
		col += n;
		i += n;
	}
	fputs("\r\n", fp);
}

static void ics_utc(int64_t t, char *buf, size_t size)
{
	day_t d = (day_t)(t >= 0 ? t / 86400 : (t - 86399) / 86400);
	int64_t s = t - (int64_t)d * 86400;
	int y, m, dd;
	dates_to_ymd(d, &y, &m, &dd);
	snprintf(buf, size, "%04d%02d%02dT%02d%02d%02dZ", y, m, dd, (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
}

/* A dispatch of the plan as text, as `plan` prints it. */
struct plan_row {
	int64_t fire_at;              /* UTC seconds */
	const char *at;               /* the fire time in its zone, "2026-12-01T09:00:00+01:00" */
	const char *occasion;         /* YYYY-MM-DD */
	const char *rule, *rule_name, *stakeholder, *name, *channel, *template_name, *signer;
	const char *cost;             /* "3.50" */
	const char *note;             /* for people, "" when none */
	const char *reason;           /* skipped: the record's reason, else NULL */
	const char *mail_by;          /* cards: YYYY-MM-DD, else NULL */
	int skipped;
	long years;                   /* -1 unknown */
};

struct plan_rows;
static void plan_row_of(struct plan_rows *pr, size_t i, struct plan_row *r);

/* plan_note: the NOTE column: the note, and why a dispatch is skipped. */
static void plan_note(const struct plan_row *r, char *buf, size_t size)
{
	if (!r->skipped)   /* most rows: no formatting */
		util_strlcpy(buf, r->note, size);
	else
		snprintf(buf, size, "skipped: %s%s", r->note, !r->note[0] && r->reason ? r->reason : "");
}

static void plan_ics_row(FILE *fp, const struct plan_row *r, const char *stamp, struct strbuf *sb)
{
	char at[32], end[32];
	ics_line(fp, "BEGIN:VEVENT");
	sb_reset(sb);
	sb_addf(sb, "UID:%s-", r->rule);
	ics_text(sb, r->stakeholder);
	sb_addf(sb, "-%s@occasiond", r->occasion);
	ics_line(fp, sb->s);
	sb_reset(sb);
	sb_addf(sb, "DTSTAMP:%s", stamp);
	ics_line(fp, sb->s);
	ics_utc(r->fire_at, at, sizeof at);
	ics_utc(r->fire_at + 1800, end, sizeof end);
	sb_reset(sb);
	sb_addf(sb, "DTSTART:%s", at);
	ics_line(fp, sb->s);
	sb_reset(sb);
	sb_addf(sb, "DTEND:%s", end);
	ics_line(fp, sb->s);
	sb_reset(sb);
	sb_adds(sb, "SUMMARY:");
	ics_text(sb, r->rule_name);
	sb_adds(sb, " (");
	sb_adds(sb, r->channel);
	sb_adds(sb, "): ");
	ics_text(sb, r->name);
	if (r->skipped) {
		sb_adds(sb, " [skipped: ");
		ics_text(sb, r->reason ? r->reason : "");
		sb_adds(sb, "]");
	}
	ics_line(fp, sb->s);
	sb_reset(sb);
	sb_addf(sb, "DESCRIPTION:occasion %s\\, rule %s\\, template ", r->occasion, r->rule);
	ics_text(sb, r->template_name);
	sb_adds(sb, "\\, signer ");
	ics_text(sb, r->signer);
	sb_addf(sb, "\\, cost %s", r->cost);
	if (r->mail_by)
		sb_addf(sb, "\\, mail by %s", r->mail_by);
	if (r->note[0]) {
		sb_adds(sb, "\\n");
		ics_text(sb, r->note);
	}
	ics_line(fp, sb->s);
	sb_reset(sb);
	sb_addf(sb, "CATEGORIES:%s", r->channel);
	ics_line(fp, sb->s);
	ics_line(fp, r->skipped ? "STATUS:CANCELLED" : "STATUS:CONFIRMED");
	ics_line(fp, "TRANSP:TRANSPARENT");
	ics_line(fp, "END:VEVENT");
}

static void plan_json_row(struct strbuf *js, const struct plan_row *r, const char *note, int first)
{
	sb_adds(js, first ? "\n  {" : ",\n  {");
	json_kv_str(js, "fire_at", r->at, 0);
	json_kv_str(js, "occasion_date", r->occasion, 1);
	json_kv_str(js, "rule", r->rule, 1);
	json_kv_str(js, "stakeholder", r->stakeholder, 1);
	json_kv_str(js, "name", r->name, 1);
	json_kv_str(js, "channel", r->channel, 1);
	json_kv_str(js, "template", r->template_name, 1);
	json_kv_str(js, "signer", r->signer, 1);
	sb_addf(js, ", \"cost\": %s", r->cost);
	json_kv_str(js, "note", note, 1);
	if (r->mail_by)
		json_kv_str(js, "mail_by", r->mail_by, 1);
	json_kv_str(js, "state", r->skipped ? "skipped" : "planned", 1);
	json_kv_str(js, "reason", r->reason, 1);
	if (r->years >= 0)
		sb_addf(js, ", \"years\": %ld", r->years);
	sb_adds(js, "}");
}

/* csv_cell: sb_add_csv_field in one pass over the common cell that needs no quotes. */
static void csv_cell(struct strbuf *sb, const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (s[n] == ',' || s[n] == '"' || s[n] == '\r' || s[n] == '\n') {
			sb_add_csv_field(sb, s);
			return;
		}
	if (n && (s[0] == ' ' || s[n - 1] == ' ' || util_csv_formula_start(s)))
		sb_add_csv_field(sb, s);
	else
		sb_addn(sb, s, n);
}

/* plan_cells: the ten columns of table and csv. */
static void plan_cells(const struct plan_row *r, const char *note, char *cell[10])
{
	cell[0] = (char *)r->at, cell[1] = (char *)r->occasion, cell[2] = (char *)r->rule;
	cell[3] = (char *)r->stakeholder, cell[4] = (char *)r->name, cell[5] = (char *)r->channel;
	cell[6] = (char *)r->template_name, cell[7] = (char *)r->signer, cell[8] = (char *)r->cost;
	cell[9] = (char *)note;
}

/*
 * plan_rows: n dispatches in fire order, formatted one at a time (table formats each twice:
 * widths, then lines), so that no format holds the plan as text.
 */
static int plan_rows(FILE *fp, enum report_format fmt, int64_t now, size_t n, struct plan_rows *pr)
{
	static const char *const head[] = {
		"FIRE_AT", "OCCASION", "RULE", "STAKEHOLDER", "NAME", "CHANNEL", "TEMPLATE", "SIGNER", "COST", "NOTE"
	};
	struct strbuf sb = {0};
	struct plan_row r;
	char note[256], *cell[10];
	size_t w[10];

	if (fmt == FMT_ICS) {
		char stamp[32];
		ics_utc(now, stamp, sizeof stamp);
		ics_line(fp, "BEGIN:VCALENDAR");
		ics_line(fp, "VERSION:2.0");
		ics_line(fp, "PRODID:-//occasiond//occasiond " OCCASIOND_VERSION "//EN");
		ics_line(fp, "CALSCALE:GREGORIAN");
		for (size_t i = 0; i < n; i++) {
			plan_row_of(pr, i, &r);
			plan_ics_row(fp, &r, stamp, &sb);
		}
		ics_line(fp, "END:VCALENDAR");
	} else if (fmt == FMT_CSV) {
		csv_row(fp, (char **)head, 10);
		for (size_t i = 0; i < n; i++) {
			plan_row_of(pr, i, &r);
			plan_note(&r, note, sizeof note);
			plan_cells(&r, note, cell);
			if (sb.len > 60000) {   /* written in blocks of rows */
				fwrite(sb.s, 1, sb.len, fp);
				sb_reset(&sb);
			}
			for (size_t c = 0; c < 10; c++) {
				if (c)
					sb_addc(&sb, ',');
				csv_cell(&sb, cell[c]);
			}
			sb_adds(&sb, "\r\n");
		}
		fwrite(sb.s ? sb.s : "", 1, sb.len, fp);
	} else if (fmt == FMT_JSON) {
		fputs("[", fp);
		for (size_t i = 0; i < n; i++) {
			plan_row_of(pr, i, &r);
			plan_note(&r, note, sizeof note);
			sb_reset(&sb);
			plan_json_row(&sb, &r, note, i == 0);
			fputs(sb.s, fp);
		}
		fputs(n ? "\n]\n" : "]\n", fp);
	} else if (n == 0) {
		fprintf(fp, "nothing to dispatch in this period\n");
	} else {
		/* Two passes over the rows, so a long plan is never held as text: widths, then lines. */
		for (size_t c = 0; c < 10; c++)
			w[c] = tbl_width(head[c]);
		for (size_t i = 0; i < n; i++) {
			plan_row_of(pr, i, &r);
			plan_note(&r, note, sizeof note);
			plan_cells(&r, note, cell);
			for (size_t c = 0; c < 10; c++)
				if (tbl_width(cell[c]) > w[c])
					w[c] = tbl_width(cell[c]);
		}
		for (size_t i = 0; i <= n; i++) {
			if (i == 0) {
				for (size_t c = 0; c < 10; c++)
					cell[c] = (char *)head[c];
			} else {
				plan_row_of(pr, i - 1, &r);
				plan_note(&r, note, sizeof note);
				plan_cells(&r, note, cell);
			}
			sb_reset(&sb);
			for (size_t c = 0; c < 10; c++) {
				sb_adds(&sb, cell[c]);
				if (c + 1 < 10)
					for (size_t k = tbl_width(cell[c]); k < w[c] + 2; k++)
						sb_addc(&sb, ' ');
			}
			while (sb.len && sb.s[sb.len - 1] == ' ')
				sb.s[--sb.len] = '\0';
			fprintf(fp, "%s\n", sb.s);
		}
	}
	sb_free(&sb);
	return 0;
}

/* The plan as rows: each item formatted on demand (fire times memoized: items come in fire order). */
struct plan_rows {
	const struct planner *pl;
	struct plan_item it;
	char at[40], occ[11], cost[32], mail_by[11];
	int64_t at_t;
	const char *at_zone;
};

static void plan_row_of(struct plan_rows *pr, size_t i, struct plan_row *r)
{
	struct plan_item *it = &pr->it;
	planner_item(pr->pl, i, it);
	if (!pr->at_zone || it->fire_at != pr->at_t || strcmp(it->zone, pr->at_zone) != 0) {
		dates_format_instant(it->fire_at, it->zone, pr->at, sizeof pr->at);
		pr->at_t = it->fire_at;
		pr->at_zone = it->zone;
	}
	dates_format_iso(it->occasion, pr->occ);
	util_format_money(it->cost_cents, pr->cost, sizeof pr->cost);
	if (it->mail_by != DAY_NONE)
		dates_format_iso(it->mail_by, pr->mail_by);
	memset(r, 0, sizeof *r);
	r->fire_at = it->fire_at;
	r->at = pr->at;
	r->occasion = pr->occ;
	r->rule = it->rule->id;
	r->rule_name = it->rule->name;
	r->stakeholder = it->sh_id;
	r->name = it->name;
	r->channel = channel_names[it->channel];
	r->template_name = it->template_name;
	r->signer = it->signer;
	r->cost = pr->cost;
	r->note = it->note;
	r->skipped = it->state == PS_SKIPPED;
	r->reason = it->reason;
	r->mail_by = it->mail_by != DAY_NONE ? pr->mail_by : NULL;
	r->years = it->years;
}

int report_plan(FILE *fp, const struct planner *pl, enum report_format fmt, int64_t now)
{
	struct plan_rows pr;
	memset(&pr, 0, sizeof pr);
	pr.pl = pl;
	return plan_rows(fp, fmt, now, planner_count(pl), &pr);
}

int report_log(FILE *fp, const struct config *cfg, const struct dispatch_rec *v, size_t n, enum report_format fmt)
{
	static const char *const head[] = {
		"ID", "FIRE_AT", "OCCASION", "RULE", "STAKEHOLDER", "CHANNEL", "STATUS", "REASON", "ATTEMPTS",
		"ARTIFACT", "PAGE", "SIGNER", "COST", "HANDLED_BY", "ERROR"
	};
	struct table t;
	tbl_init(&t, 15);
	struct strbuf js = {0};

	if (fmt == FMT_TABLE)
		tbl_add(&t, head);
	else if (fmt == FMT_CSV)
		csv_row(fp, (char **)head, 15);
	else
		sb_adds(&js, "[");
	for (size_t i = 0; i < n; i++) {
		const struct dispatch_rec *r = &v[i];
		char id[24], at[40], upd[40], att[16], page[16], cost[32], next[40];
		char *row[15];
		snprintf(id, sizeof id, "%lld", (long long)r->id);
		dates_format_instant(r->fire_at, cfg->timezone, at, sizeof at);
		dates_format_instant(r->updated_at, cfg->timezone, upd, sizeof upd);
		snprintf(att, sizeof att, "%d", r->attempts);
		snprintf(page, sizeof page, "%d", r->page);
		util_format_money(r->cost_cents, cost, sizeof cost);
		row[0] = id, row[1] = at, row[2] = r->occasion_date, row[3] = r->rule, row[4] = r->stakeholder;
		row[5] = (char *)channel_names[r->channel], row[6] = (char *)dispatch_status_names[r->status];
		row[7] = r->reason, row[8] = att, row[9] = r->artifact, row[10] = r->page ? page : "";
		row[11] = r->signer, row[12] = cost, row[13] = r->handled_by ? r->handled_by : "", row[14] = r->error;
		if (fmt == FMT_TABLE) {
			tbl_add(&t, (const char *const *)row);
		} else if (fmt == FMT_CSV) {
			csv_row(fp, row, 15);
		} else {
			sb_adds(&js, i ? ",\n  {" : "\n  {");
			sb_addf(&js, "\"id\": %lld", (long long)r->id);
			json_kv_str(&js, "rule", r->rule, 1);
			json_kv_str(&js, "stakeholder", r->stakeholder, 1);
			json_kv_str(&js, "occasion_date", r->occasion_date, 1);
			json_kv_str(&js, "fire_date", r->fire_date, 1);
			json_kv_str(&js, "fire_at", at, 1);
			json_kv_str(&js, "channel", channel_names[r->channel], 1);
			json_kv_str(&js, "status", dispatch_status_names[r->status], 1);
			json_kv_str(&js, "reason", r->reason, 1);
			sb_addf(&js, ", \"attempts\": %d", r->attempts);
			json_kv_str(&js, "error", r->error, 1);
			json_kv_str(&js, "artifact", r->artifact, 1);
			if (r->page)
				sb_addf(&js, ", \"page\": %d", r->page);
			else
				sb_adds(&js, ", \"page\": null");
			json_kv_str(&js, "message_id", r->message_id, 1);
			json_kv_str(&js, "signer", r->signer, 1);
			sb_addf(&js, ", \"cost\": %s", cost);
			json_kv_str(&js, "template", r->template_name, 1);
			if (r->next_attempt_at) {
				dates_format_instant(r->next_attempt_at, cfg->timezone, next, sizeof next);
				json_kv_str(&js, "next_attempt_at", next, 1);
			}
			json_kv_str(&js, "last_reply", r->last_reply, 1);
			json_kv_str(&js, "updated_at", upd, 1);
			json_kv_str(&js, "handled_by", r->handled_by ? r->handled_by : "", 1);
			sb_adds(&js, "}");
		}
	}
	if (fmt == FMT_TABLE) {
		if (n == 0)
			fprintf(fp, "no dispatch records\n");
		else
			tbl_print(fp, &t);
		tbl_free(&t);
	} else if (fmt == FMT_JSON) {
		sb_adds(&js, n ? "\n]\n" : "]\n");
		fputs(js.s, fp);
		sb_free(&js);
	}
	return 0;
}

