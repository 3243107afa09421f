/*
 * dates: civil dates as day numbers, the Gregorian calendar, Easter, business days,
 * durations, and time zones. The only module that touches TZ / the tz database.
 * Pure: nothing here reads the clock.
 */
#ifndef OCCASIOND_DATES_H
#define OCCASIOND_DATES_H

#include <stddef.h>
#include <stdint.h>

#include "occasiond/util.h"

/* A civil date: days since 1970-01-01 (negative before). */
typedef int32_t day_t;
#define DAY_NONE INT32_MIN

day_t dates_from_ymd(int y, int m, int d);             /* no validation: use dates_valid_ymd */
void dates_to_ymd(day_t day, int *y, int *m, int *d);
int dates_valid_ymd(int y, int m, int d);              /* 1 when the date exists (years 1..9999) */
int dates_weekday(day_t day);                          /* 0 Sunday .. 6 Saturday */
int dates_is_leap(int y);
int dates_days_in_month(int y, int m);

/* dates_parse_ymd: strict YYYY-MM-DD of a real date (the whole string) into its parts. 0 or -1. */
int dates_parse_ymd(const char *s, int *y, int *m, int *d);

/* dates_parse_iso: strict YYYY-MM-DD of a real date. 0 or -1. */
int dates_parse_iso(const char *s, day_t *out);
/* dates_parse_md: "MM-DD" or "--MM-DD" of a day that exists in a leap year (02-29 allowed). 0 or -1. */
int dates_parse_md(const char *s, int *m, int *d);
void dates_format_iso(day_t day, char buf[11]);
/* dates_format_long: "1 December 2026". */
void dates_format_long(day_t day, char *buf, size_t size);

/* dates_nth_weekday: the nth (1..5, or -1 for the last) weekday wd (0 Sunday) of month m; DAY_NONE when there is none. */
day_t dates_nth_weekday(int y, int m, int n, int wd);
/* dates_easter: Easter Sunday (Gregorian) of year y. */
day_t dates_easter(int y);
/* dates_add_months: the same day k months later (or earlier); past the month's end -> its last day. */
day_t dates_add_months(day_t day, int k);
/* dates_anniversary: month/day in year y; 29 February becomes 28 February in common years. */
day_t dates_anniversary(int y, int m, int d);

/* dates_parse_weekday: "monday".."sunday" (any case) -> 1..6,0; -1 when unknown. */
int dates_parse_weekday(const char *s);
/* dates_parse_month: "january".."december" or 1..12 -> 1..12; -1 when unknown. */
int dates_parse_month(const char *s);
extern const char *const dates_weekday_names[7];       /* "sunday".. */
extern const char *const dates_month_names[13];        /* [1] "January".. */

/* Durations: "3 days", "10d", "2 business days", "5m", "6h", "1 year". */
enum dur_unit { DUR_SECONDS, DUR_MINUTES, DUR_HOURS, DUR_DAYS, DUR_WEEKS, DUR_MONTHS, DUR_YEARS, DUR_BUSINESS_DAYS };
struct duration {
	long n;
	enum dur_unit unit;
};
/* dates_parse_duration: the syntax of CONTRACT §3; writes a one-line reason into err. 0 or -1. */
int dates_parse_duration(const char *s, struct duration *out, char err[ERR_LEN]);
/* dates_duration_secs: seconds of a fixed-length duration (s, m, h, d, w); months/years/business days: -1. */
int64_t dates_duration_secs(const struct duration *d);
/* dates_format_duration: "3 days", "2 business days". */
void dates_format_duration(const struct duration *d, char *buf, size_t size);

/* The business-day calendar of the rules file. */
enum holiday_kind { HOL_YEARLY, HOL_ONCE, HOL_EASTER };
struct holiday {
	enum holiday_kind kind;
	int month, day;      /* HOL_YEARLY */
	day_t date;          /* HOL_ONCE */
	int offset;          /* HOL_EASTER: days from Easter Sunday */
};
struct calendar {
	unsigned weekend;    /* bit wd set (1u << 0 is Sunday) for weekend days */
	struct holiday *holidays;
	size_t nholidays;
};
/* dates_parse_holiday: "12-25", "2027-04-02", "easter", "easter-2", "easter+1". 0 or -1. */
int dates_parse_holiday(const char *s, struct holiday *out);
int calendar_is_business(const struct calendar *cal, day_t day);
/* calendar_prev_business: day itself when it is a business day, else the business day before. */
day_t calendar_prev_business(const struct calendar *cal, day_t day);
/* calendar_sub_business: the date n business days before day (n >= 0); n = 0 gives prev_business(day). */
day_t calendar_sub_business(const struct calendar *cal, day_t day, long n);
/* calendar_next_business: day itself when it is a business day, else the business day after. */
day_t calendar_next_business(const struct calendar *cal, day_t day);
/* calendar_add_business: the date n business days after day (n >= 0); n = 0 gives next_business(day). */
day_t calendar_add_business(const struct calendar *cal, day_t day, long n);
/*
 * The calendar_ functions take cal = NULL as Saturday and Sunday off, no holidays. They give
 * DAY_NONE when there is no business day within about ten years (e.g. all seven days weekend).
 */
/*
 * dates_sub_duration: day minus a duration counted in days, weeks, months, years or business days
 * (seconds, minutes and hours are rounded down to whole days).
 */
day_t dates_sub_duration(const struct calendar *cal, day_t day, const struct duration *d);
day_t dates_add_duration(const struct calendar *cal, day_t day, const struct duration *d);

/* Time zones (IANA names). Instants are UTC seconds. */
/* dates_zone_valid: 1 when zone names a zone of the tz database (and holds no "..", no leading '/'). */
int dates_zone_valid(const char *zone);
/*
 * dates_local_to_utc: the instant of local time day + secs (seconds after midnight) in zone.
 * A local time in a DST gap moves forward by the gap; an ambiguous one takes the first. 0 or -1.
 */
int dates_local_to_utc(const char *zone, day_t day, int secs, int64_t *out);
/* dates_utc_to_local: the local date and seconds after midnight of instant t in zone. 0 or -1. */
int dates_utc_to_local(const char *zone, int64_t t, day_t *day, int *secs);
/*
 * dates_parse_time: the CLI's TIME: YYYY-MM-DD (noon in zone), YYYY-MM-DDTHH:MM[:SS] in zone,
 * or followed by Z or ±HH:MM. 0 or -1 with err.
 */
int dates_parse_time(const char *s, const char *zone, int64_t *out, char err[ERR_LEN]);
/* dates_format_instant: ISO 8601 with offset in zone, "2026-12-01T09:00:00+01:00". */
void dates_format_instant(int64_t t, const char *zone, char *buf, size_t size);
/* dates_format_rfc5322: "Tue, 01 Dec 2026 09:00:00 +0100" in zone. */
void dates_format_rfc5322(int64_t t, const char *zone, char *buf, size_t size);
/* dates_parse_clock: "HH:MM" -> seconds after midnight (24:00 allowed as 86400). 0 or -1. */
int dates_parse_clock(const char *s, int *secs);

#endif
