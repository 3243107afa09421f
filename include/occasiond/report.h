/*
 * report: what people and scripts read: the plan and the dispatch log as an aligned
 * table, CSV, JSON, or (plan) an RFC 5545 calendar.
 */
#ifndef OCCASIOND_REPORT_H
#define OCCASIOND_REPORT_H

#include <stdio.h>

#include "occasiond/config.h"
#include "occasiond/model.h"
#include "occasiond/planner.h"

enum report_format { FMT_TABLE, FMT_CSV, FMT_JSON, FMT_ICS, FMT_HTML };
/* report_format_parse: "table", "csv", "json", "ics", "html" -> the enum, -1 when unknown. */
int report_format_parse(const char *s);

/* report_plan: the plan in fmt (table, csv, json, ics) to fp. now stamps the calendar. 0 or -1. */
int report_plan(FILE *fp, const struct config *cfg, const struct plan_list *pl, enum report_format fmt,
                int64_t now);
/* plan_row_fn: fills row with dispatch i of a plan (its strings valid until the next call). */
typedef void (*plan_row_fn)(void *arg, size_t i, struct plan_row *row);
/*
 * report_plan_rows: n dispatches in fire order, fetched one at a time with get (table
 * fetches each twice: widths, then lines), so that no format holds the plan as text.
 */
int report_plan_rows(FILE *fp, enum report_format fmt, int64_t now, size_t n, plan_row_fn get, void *arg);
/*
 * report_plan_streamed: `plan`: the plan of fire dates [from, to) of every stakeholder in st,
 * read one at a time (store_scan, plan_stream) rather than loaded, printed in fmt. The
 * same output as planner_range and report_plan. 0, or -1 with err and nothing printed.
 */
struct store;
int report_plan_streamed(FILE *fp, const struct config *cfg, const struct ruleset *rs, struct store *st, day_t from,
                         day_t to, enum report_format fmt, int64_t now, char err[ERR_LEN]);
/* report_log: dispatch records in fmt (table, csv, json) to fp; times in the config's zone. 0 or -1. */
int report_log(FILE *fp, const struct config *cfg, const struct dispatch_rec *v, size_t n, enum report_format fmt);


#endif
