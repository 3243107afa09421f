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

/*
 * report_plan: the finished plan pl in fmt (table, csv, json, ics) to fp, formatted one
 * dispatch at a time; now stamps the calendar. 0 or -1.
 */
int report_plan(FILE *fp, const struct planner *pl, enum report_format fmt, int64_t now);
/* report_log: dispatch records in fmt (table, csv, json) to fp; times in the config's zone. 0 or -1. */
int report_log(FILE *fp, const struct config *cfg, const struct dispatch_rec *v, size_t n, enum report_format fmt);


#endif
