/*
 * Unit and golden tests of src/dates.c. Run from the repository root: the golden tables are
 * read from tests/golden/dates/. UPDATE_GOLDEN=1 rewrites them (check the diff before
 * committing: they were validated against ncal -e, cal, GNU date and Python's zoneinfo).
 */
#include "occasiond/dates.h"
#include "occasiond/util.h"

#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#define GOLDEN_DIR "tests/golden/dates"

static day_t ymd(int y, int m, int d)
{
	return dates_from_ymd(y, m, d);
}

static const char *iso(day_t day)
{
	static char bufs[4][11];
	static int next;
	char *b = bufs[next++ % 4];
	dates_format_iso(day, b);
	return b;
}

/* UTC instant as "YYYY-MM-DDTHH:MM:SSZ", computed without the zone code. */
static const char *utc(int64_t t)
{
	static char bufs[4][32];
	static int next;
	char *b = bufs[next++ % 4];
	int64_t d = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	int64_t s = t - d * 86400;
	char day[11];
	dates_format_iso((day_t)d, day);
	snprintf(b, 32, "%sT%02d:%02d:%02dZ", day, (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
	return b;
}

static int64_t at_utc(int y, int mo, int d, int h, int mi, int s)
{
	return (int64_t)ymd(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

/* ---- golden files ---- */

static void golden_easter(void)
{
	struct strbuf sb = {0};
	sb_adds(&sb, "# Easter Sunday (Gregorian), checked against ncal -e\n");
	for (int y = 1900; y <= 2100; y++)
		sb_addf(&sb, "%d %s\n", y, iso(dates_easter(y)));
	golden_file(GOLDEN_DIR, "easter.txt", sb.s);
	sb_free(&sb);
}

static void golden_nth_weekday(void)
{
	struct strbuf sb = {0};
	sb_adds(&sb, "# year, 4th Thursday of November (US Thanksgiving), last Monday of May, checked against cal\n");
	for (int y = 2000; y <= 2100; y++)
		sb_addf(&sb, "%d %s %s\n", y, iso(dates_nth_weekday(y, 11, 4, 4)), iso(dates_nth_weekday(y, 5, -1, 1)));
	sb_adds(&sb, "# months of 2026 and 2027 with their 5th Friday (none when there is none)\n");
	for (int y = 2026; y <= 2027; y++)
		for (int m = 1; m <= 12; m++) {
			day_t d = dates_nth_weekday(y, m, 5, 5);
			sb_addf(&sb, "%d-%02d %s\n", y, m, d == DAY_NONE ? "none" : iso(d));
		}
	golden_file(GOLDEN_DIR, "nth_weekday.txt", sb.s);
	sb_free(&sb);
}

static void golden_add_months(void)
{
	static const int starts[][3] = {
		{ 2023, 1, 31 }, { 2024, 1, 31 }, { 2024, 2, 29 }, { 2024, 3, 31 }, { 2024, 5, 31 },
		{ 2024, 8, 31 }, { 2024, 10, 30 }, { 2024, 12, 31 }, { 2025, 1, 15 }, { 2000, 1, 31 },
		{ 2100, 1, 31 },
	};
	static const int ks[] = { -25, -13, -12, -11, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 24, 48, 1200 };
	struct strbuf sb = {0};
	sb_adds(&sb, "# start, months added, result (a day past the month's end is its last day)\n");
	for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
		for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
			day_t s = ymd(starts[i][0], starts[i][1], starts[i][2]);
			sb_addf(&sb, "%s %+d %s\n", iso(s), ks[j], iso(dates_add_months(s, ks[j])));
		}
	golden_file(GOLDEN_DIR, "add_months.txt", sb.s);
	sb_free(&sb);
}

static void golden_anniversary(void)
{
	static const int mds[][2] = { { 2, 29 }, { 2, 28 }, { 3, 1 }, { 12, 31 } };
	static const int years[] = { 2024, 2025, 2026, 2027, 2028, 2029, 2030, 2096, 2100, 2400 };
	struct strbuf sb = {0};
	sb_adds(&sb, "# month-day, year, anniversary, weekday (29 February -> 28 February in common years)\n");
	for (size_t i = 0; i < sizeof mds / sizeof mds[0]; i++)
		for (size_t j = 0; j < sizeof years / sizeof years[0]; j++) {
			day_t d = dates_anniversary(years[j], mds[i][0], mds[i][1]);
			sb_addf(&sb, "%02d-%02d %d %s %s\n", mds[i][0], mds[i][1], years[j], iso(d),
				dates_weekday_names[dates_weekday(d)]);
		}
	golden_file(GOLDEN_DIR, "anniversary.txt", sb.s);
	sb_free(&sb);
}

/*
 * For each zone, every day of 2026-2027 whose length is not 24 hours is a transition day;
 * the table gives 09:00 local (the default send-window start) on it and the days next to it,
 * and on the transition day the local times around the change.
 */
static void golden_dst(void)
{
	static const char *const zones[] = { "America/New_York", "Europe/Berlin", "Australia/Sydney" };
	static const int around[] = { 0, 3600, 5400, 7200, 9000, 10800, 12600, 14400 };
	struct strbuf sb = {0};
	char loc[40], rfc[40];
	sb_adds(&sb, "# zone, local date and time, UTC instant, ISO 8601 in zone, RFC 5322 in zone\n"
		     "# (gaps move forward by the gap; ambiguous times take the earlier instant)\n");
	for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
		int found = 0;
		for (day_t day = ymd(2026, 1, 1); day <= ymd(2027, 12, 31); day++) {
			int64_t a, b;
			if (dates_local_to_utc(zones[z], day, 0, &a) < 0 || dates_local_to_utc(zones[z], day + 1, 0, &b) < 0)
				break;
			if (b - a == 86400)
				continue;
			found++;
			sb_addf(&sb, "# %s transition day %s (%+lld s)\n", zones[z], iso(day), (long long)(86400 - (b - a)));
			for (day_t d = day - 1; d <= day + 1; d++) {
				int64_t t = 0;
				dates_local_to_utc(zones[z], d, 9 * 3600, &t);
				dates_format_instant(t, zones[z], loc, sizeof loc);
				dates_format_rfc5322(t, zones[z], rfc, sizeof rfc);
				sb_addf(&sb, "%s %s 09:00 %s %s %s\n", zones[z], iso(d), utc(t), loc, rfc);
			}
			for (size_t i = 0; i < sizeof around / sizeof around[0]; i++) {
				int64_t t = 0;
				dates_local_to_utc(zones[z], day, around[i], &t);
				dates_format_instant(t, zones[z], loc, sizeof loc);
				sb_addf(&sb, "%s %s %02d:%02d %s %s\n", zones[z], iso(day), around[i] / 3600,
					around[i] / 60 % 60, utc(t), loc);
			}
		}
		CHECK(found == 4, "%s has 4 transitions in 2026-2027 (%d)", zones[z], found);
	}
	golden_file(GOLDEN_DIR, "dst.txt", sb.s);
	sb_free(&sb);
}

static struct holiday test_holidays[8];
static struct calendar test_cal;

static void setup_calendar(void)
{
	static const char *const hs[] = { "01-01", "12-25", "12-26", "easter-2", "easter+1", "2026-05-25", "--07-03" };
	test_cal.weekend = (1u << 0) | (1u << 6);
	test_cal.holidays = test_holidays;
	test_cal.nholidays = sizeof hs / sizeof hs[0];
	for (size_t i = 0; i < test_cal.nholidays; i++)
		CHECK(dates_parse_holiday(hs[i], &test_holidays[i]) == 0, "holiday %s parses", hs[i]);
}

static void business_rows(struct strbuf *sb, day_t from, day_t to)
{
	static const char *const wd[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	for (day_t d = from; d <= to; d++) {
		sb_addf(sb, "%s %s %c", iso(d), wd[dates_weekday(d)], calendar_is_business(&test_cal, d) ? 'B' : '-');
		for (long n = 0; n <= 5; n++)
			if (n != 4)
				sb_addf(sb, " %ld:%s", n, iso(calendar_sub_business(&test_cal, d, n)));
		sb_addf(sb, " +2:%s\n", iso(calendar_add_business(&test_cal, d, 2)));
	}
}

static void golden_business(void)
{
	struct strbuf sb = {0};
	sb_adds(&sb, "# weekend Sat+Sun; holidays 01-01 12-25 12-26 easter-2 easter+1 2026-05-25 --07-03\n"
		     "# day, weekday, B = business day, then n:day minus n business days (n = 0 1 2 3 5), +2: plus 2\n");
	business_rows(&sb, ymd(2026, 3, 30), ymd(2026, 4, 10));   /* Easter 2026: Good Friday, Easter Monday */
	business_rows(&sb, ymd(2026, 5, 20), ymd(2026, 6, 2));    /* Monday holiday after a weekend */
	business_rows(&sb, ymd(2026, 6, 30), ymd(2026, 7, 7));    /* a Friday holiday */
	business_rows(&sb, ymd(2026, 12, 18), ymd(2027, 1, 8));   /* Christmas and the year boundary */
	golden_file(GOLDEN_DIR, "business.txt", sb.s);
	sb_free(&sb);
}

/* ---- unit tests ---- */

static void test_civil(void)
{
	int y, m, d, ok = 1;
	CHECK(ymd(1970, 1, 1) == 0, "1970-01-01 is day 0");
	CHECK(ymd(1969, 12, 31) == -1, "1969-12-31 is day -1");
	CHECK(ymd(2000, 3, 1) == 11017, "2000-03-01 is day 11017");
	CHECK(ymd(1, 1, 1) == -719162, "0001-01-01 is day -719162");
	CHECK(ymd(9999, 12, 31) == 2932896, "9999-12-31 is day 2932896");
	dates_to_ymd(-1, &y, &m, &d);
	CHECK(y == 1969 && m == 12 && d == 31, "to_ymd(-1)");
	dates_to_ymd(ymd(2024, 2, 29), &y, &m, &d);
	CHECK(y == 2024 && m == 2 && d == 29, "to_ymd round trip 2024-02-29");
	dates_to_ymd(0, NULL, NULL, NULL);
	CHECK(1, "to_ymd accepts NULL outputs");
	/* Every valid date 0001..9999 maps to consecutive day numbers and back. */
	day_t expect = ymd(1, 1, 1);
	for (y = 1; y <= 9999 && ok; y++)
		for (m = 1; m <= 12 && ok; m++)
			for (d = 1; d <= dates_days_in_month(y, m) && ok; d++, expect++) {
				int yy, mm, dd;
				if (ymd(y, m, d) != expect)
					ok = 0;
				dates_to_ymd(expect, &yy, &mm, &dd);
				if (yy != y || mm != m || dd != d)
					ok = 0;
			}
	CHECK(ok, "every date 0001-01-01..9999-12-31 round-trips consecutively");

	CHECK(dates_weekday(0) == 4, "1970-01-01 was a Thursday");
	CHECK(dates_weekday(-1) == 3, "1969-12-31 was a Wednesday");
	CHECK(dates_weekday(ymd(2026, 12, 1)) == 2, "2026-12-01 is a Tuesday");
	CHECK(dates_weekday(ymd(1, 1, 1)) == 1, "0001-01-01 is a Monday (proleptic)");
	CHECK(dates_weekday(DAY_NONE) >= 0 && dates_weekday(DAY_NONE) <= 6, "weekday of DAY_NONE stays in range");

	CHECK(!dates_is_leap(1900) && dates_is_leap(2000) && dates_is_leap(2024) && !dates_is_leap(2023) &&
	      !dates_is_leap(2100) && dates_is_leap(2400), "leap years");
	CHECK(dates_days_in_month(2024, 2) == 29 && dates_days_in_month(2023, 2) == 28 &&
	      dates_days_in_month(2026, 4) == 30 && dates_days_in_month(2026, 12) == 31, "days in month");
	CHECK(dates_days_in_month(2026, 0) == 0 && dates_days_in_month(2026, 13) == 0, "days in month: bad month is 0");

	CHECK(dates_valid_ymd(2024, 2, 29) && !dates_valid_ymd(2023, 2, 29), "valid: 29 February");
	CHECK(!dates_valid_ymd(2026, 4, 31) && !dates_valid_ymd(2026, 13, 1) && !dates_valid_ymd(2026, 0, 1) &&
	      !dates_valid_ymd(2026, 1, 0), "valid: bad month/day");
	CHECK(dates_valid_ymd(1, 1, 1) && dates_valid_ymd(9999, 12, 31) && !dates_valid_ymd(0, 12, 31) &&
	      !dates_valid_ymd(10000, 1, 1), "valid: years 1..9999");
}

static void test_iso(void)
{
	static const char *const bad[] = {
		"2026-2-1", "2026-02-30", "2023-02-29", "2026-13-01", "2026-00-10", "2026-01-00", "0000-01-01",
		"2026/02/01", "2026-02-01x", " 2026-02-01", "2026-02-01 ", "", "20260201", "2026-02-0", "+026-02-01",
		"2026-0a-01",
	};
	day_t d = 123;
	char buf[11], lbuf[40];
	CHECK(dates_parse_iso("2026-12-01", &d) == 0 && d == ymd(2026, 12, 1), "parse_iso 2026-12-01");
	CHECK(dates_parse_iso("2024-02-29", &d) == 0 && d == ymd(2024, 2, 29), "parse_iso 2024-02-29");
	CHECK(dates_parse_iso("0001-01-01", &d) == 0 && d == -719162, "parse_iso 0001-01-01");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		d = 123;
		CHECK(dates_parse_iso(bad[i], &d) == -1 && d == 123, "parse_iso rejects \"%s\"", bad[i]);
	}
	CHECK(dates_parse_iso(NULL, &d) == -1, "parse_iso rejects NULL");
	{
		int y, m, dd;
		CHECK(dates_parse_ymd("2024-02-29", &y, &m, &dd) == 0 && y == 2024 && m == 2 && dd == 29,
		      "parse_ymd 2024-02-29 into its parts");
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
			CHECK(dates_parse_ymd(bad[i], &y, &m, &dd) == -1, "parse_ymd rejects \"%s\"", bad[i]);
		CHECK(dates_parse_ymd(NULL, &y, &m, &dd) == -1, "parse_ymd rejects NULL");
	}

	dates_format_iso(ymd(2026, 3, 5), buf);
	CHECK_STR(buf, "2026-03-05", "format_iso");
	dates_format_iso(ymd(1, 1, 1), buf);
	CHECK_STR(buf, "0001-01-01", "format_iso year 1");
	dates_format_iso(DAY_NONE, buf);
	CHECK_STR(buf, "\?\?\?\?-\?\?-\?\?", "format_iso DAY_NONE");
	dates_format_iso(ymd(12000, 1, 1), buf);
	CHECK_STR(buf, "\?\?\?\?-\?\?-\?\?", "format_iso past 9999");

	dates_format_long(ymd(2026, 12, 1), lbuf, sizeof lbuf);
	CHECK_STR(lbuf, "1 December 2026", "format_long");
	dates_format_long(ymd(2024, 2, 29), lbuf, sizeof lbuf);
	CHECK_STR(lbuf, "29 February 2024", "format_long 29 Feb");
	dates_format_long(ymd(2026, 12, 1), lbuf, 6);
	CHECK_STR(lbuf, "1 Dec", "format_long truncates safely");

	int m = 0, dd = 0;
	CHECK(dates_parse_md("12-25", &m, &dd) == 0 && m == 12 && dd == 25, "parse_md 12-25");
	CHECK(dates_parse_md("--02-29", &m, &dd) == 0 && m == 2 && dd == 29, "parse_md --02-29");
	CHECK(dates_parse_md("01-01", &m, &dd) == 0 && m == 1 && dd == 1, "parse_md 01-01");
	static const char *const badmd[] = { "02-30", "2-29", "12-25x", "13-01", "00-10", "04-31", "-12-25",
					     "--2-29", "", "1225", "12/25", "2026-12-25" };
	for (size_t i = 0; i < sizeof badmd / sizeof badmd[0]; i++)
		CHECK(dates_parse_md(badmd[i], &m, &dd) == -1, "parse_md rejects \"%s\"", badmd[i]);
	CHECK(dates_parse_md(NULL, &m, &dd) == -1, "parse_md rejects NULL");
}

static void test_calendar_funcs(void)
{
	CHECK(dates_nth_weekday(2026, 11, 4, 4) == ymd(2026, 11, 26), "4th Thursday of Nov 2026");
	CHECK(dates_nth_weekday(2026, 5, -1, 1) == ymd(2026, 5, 25), "last Monday of May 2026");
	CHECK(dates_nth_weekday(2026, 3, 1, 0) == ymd(2026, 3, 1), "1st Sunday of Mar 2026 is the 1st");
	CHECK(dates_nth_weekday(2026, 2, 5, 0) == DAY_NONE, "no 5th Sunday in Feb 2026");
	CHECK(dates_nth_weekday(2032, 2, 5, 0) == ymd(2032, 2, 29), "5th Sunday of Feb 2032 is the 29th");
	CHECK(dates_nth_weekday(2026, 8, 5, 1) == ymd(2026, 8, 31), "5th Monday of Aug 2026 is the 31st");
	CHECK(dates_nth_weekday(2026, 2, -1, 6) == ymd(2026, 2, 28), "last Saturday of Feb 2026");
	CHECK(dates_nth_weekday(2026, 1, 0, 1) == DAY_NONE && dates_nth_weekday(2026, 1, 6, 1) == DAY_NONE &&
	      dates_nth_weekday(2026, 1, -2, 1) == DAY_NONE, "nth_weekday: bad n");
	CHECK(dates_nth_weekday(2026, 1, 1, 7) == DAY_NONE && dates_nth_weekday(2026, 1, 1, -1) == DAY_NONE,
	      "nth_weekday: bad weekday");
	CHECK(dates_nth_weekday(2026, 0, 1, 1) == DAY_NONE && dates_nth_weekday(2026, 13, 1, 1) == DAY_NONE &&
	      dates_nth_weekday(0, 1, 1, 1) == DAY_NONE, "nth_weekday: bad month/year");

	CHECK(dates_easter(2026) == ymd(2026, 4, 5), "Easter 2026");
	CHECK(dates_easter(2027) == ymd(2027, 3, 28), "Easter 2027");
	CHECK(dates_easter(1818) == ymd(1818, 3, 22), "Easter 1818: earliest possible");
	CHECK(dates_easter(2038) == ymd(2038, 4, 25), "Easter 2038: latest possible");
	CHECK(dates_easter(0) == DAY_NONE && dates_easter(10000) == DAY_NONE, "Easter outside 1..9999");
	int ok = 1;
	for (int y = 1583; y <= 9999; y++) {
		day_t e = dates_easter(y);
		if (dates_weekday(e) != 0 || e < ymd(y, 3, 22) || e > ymd(y, 4, 25))
			ok = 0;
	}
	CHECK(ok, "Easter 1583..9999 is a Sunday between 22 March and 25 April");

	CHECK(dates_add_months(ymd(2026, 1, 31), 1) == ymd(2026, 2, 28), "31 Jan + 1 month = 28 Feb");
	CHECK(dates_add_months(ymd(2024, 1, 31), 1) == ymd(2024, 2, 29), "31 Jan 2024 + 1 month = 29 Feb");
	CHECK(dates_add_months(ymd(2026, 3, 31), -1) == ymd(2026, 2, 28), "31 Mar - 1 month = 28 Feb");
	CHECK(dates_add_months(ymd(2026, 1, 15), -13) == ymd(2024, 12, 15), "15 Jan 2026 - 13 months");
	CHECK(dates_add_months(ymd(2024, 2, 29), 12) == ymd(2025, 2, 28), "29 Feb + 12 months = 28 Feb");
	CHECK(dates_add_months(ymd(2026, 5, 5), 0) == ymd(2026, 5, 5), "+0 months");
	CHECK(dates_add_months(DAY_NONE, 1) == DAY_NONE, "add_months(DAY_NONE)");
	CHECK(dates_add_months(ymd(2026, 1, 1), INT32_MAX) == DAY_NONE, "add_months out of range");

	CHECK(dates_anniversary(2027, 2, 29) == ymd(2027, 2, 28), "anniversary 02-29 in 2027 is 02-28");
	CHECK(dates_anniversary(2028, 2, 29) == ymd(2028, 2, 29), "anniversary 02-29 in 2028");
	CHECK(dates_anniversary(2026, 12, 1) == ymd(2026, 12, 1), "anniversary 12-01");
	CHECK(dates_anniversary(2026, 4, 31) == DAY_NONE && dates_anniversary(2026, 13, 1) == DAY_NONE &&
	      dates_anniversary(0, 1, 1) == DAY_NONE, "anniversary of a day that does not exist");

	CHECK(dates_parse_weekday("monday") == 1 && dates_parse_weekday("Sunday") == 0 &&
	      dates_parse_weekday("SATURDAY") == 6, "parse_weekday");
	CHECK(dates_parse_weekday("mon") == -1 && dates_parse_weekday("") == -1 && dates_parse_weekday(NULL) == -1 &&
	      dates_parse_weekday("monday ") == -1, "parse_weekday rejects");
	for (int i = 0; i < 7; i++)
		CHECK(dates_parse_weekday(dates_weekday_names[i]) == i, "weekday name %d round-trips", i);
	CHECK(dates_parse_month("january") == 1 && dates_parse_month("December") == 12 &&
	      dates_parse_month("11") == 11 && dates_parse_month("3") == 3 && dates_parse_month("03") == 3,
	      "parse_month");
	CHECK(dates_parse_month("0") == -1 && dates_parse_month("13") == -1 && dates_parse_month("+3") == -1 &&
	      dates_parse_month(" 3") == -1 && dates_parse_month("jan") == -1 && dates_parse_month("") == -1 &&
	      dates_parse_month(NULL) == -1 && dates_parse_month("003") == -1, "parse_month rejects");
	CHECK_STR(dates_month_names[12], "December", "month names");
}

struct dur_case {
	const char *s;
	long n;
	enum dur_unit unit;
};

static void test_durations(void)
{
	static const struct dur_case good[] = {
		{ "3 days", 3, DUR_DAYS }, { "10d", 10, DUR_DAYS }, { "10 d", 10, DUR_DAYS }, { "1 day", 1, DUR_DAYS },
		{ "2 business days", 2, DUR_BUSINESS_DAYS }, { "1 business day", 1, DUR_BUSINESS_DAYS },
		{ "2 Business   Days", 2, DUR_BUSINESS_DAYS }, { "3business days", 3, DUR_BUSINESS_DAYS },
		{ "5m", 5, DUR_MINUTES }, { "6h", 6, DUR_HOURS }, { "30s", 30, DUR_SECONDS }, { "2w", 2, DUR_WEEKS },
		{ "1 year", 1, DUR_YEARS }, { "3 months", 3, DUR_MONTHS }, { "1 month", 1, DUR_MONTHS },
		{ "0 days", 0, DUR_DAYS }, { "  7 days  ", 7, DUR_DAYS }, { "3 Days", 3, DUR_DAYS },
		{ "90 minutes", 90, DUR_MINUTES }, { "1second", 1, DUR_SECONDS }, { "12weeks", 12, DUR_WEEKS },
		{ "1 hour", 1, DUR_HOURS }, { "8 weeks", 8, DUR_WEEKS }, { "007 days", 7, DUR_DAYS },
		{ "1000 years", 1000, DUR_YEARS }, { "366000 days", 366000, DUR_DAYS },
	};
	static const struct { const char *s, *why; } bad[] = {
		{ "", "empty" }, { "   ", "empty" }, { "days", "expected a number" }, { "-3 days", "negative" },
		{ "3", "missing unit" }, { "3 fortnights", "unknown unit \"fortnights\"" }, { "3 M", "unknown unit" },
		{ "1.5 days", "whole" }, { "3 days ago", "unknown unit" }, { "99999999999999999999 days", "too long" },
		{ "366001 days", "too long" }, { "1001 years", "too long" }, { "3 dayss", "unknown unit" },
		{ "+3 days", "expected a number" }, { "3 business", "unknown unit" }, { "3 mins", "unknown unit" },
		{ "3 business daysx", "unknown unit" }, { "3 d d", "unknown unit" }, { "3\n days", "unknown unit" },
	};
	struct duration dur;
	char err[ERR_LEN], buf[64];

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		err[0] = '\0';
		int r = dates_parse_duration(good[i].s, &dur, err);
		CHECK(r == 0 && dur.n == good[i].n && dur.unit == good[i].unit, "duration \"%s\" parses %s", good[i].s, err);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		int r = dates_parse_duration(bad[i].s, &dur, err);
		CHECK(r == -1 && strstr(err, bad[i].why), "duration \"%s\" rejected: %s", bad[i].s, err);
	}
	CHECK(dates_parse_duration(NULL, &dur, err) == -1, "duration NULL rejected");
	CHECK(dates_parse_duration("x", &dur, NULL) == -1, "duration error with err NULL");
	dates_parse_duration("3 fortnights", &dur, err);
	CHECK(strstr(err, "business days") != NULL, "unknown unit error lists the units: %s", err);

	static const struct { struct duration d; int64_t secs; } sec[] = {
		{ { 30, DUR_SECONDS }, 30 }, { { 5, DUR_MINUTES }, 300 }, { { 6, DUR_HOURS }, 21600 },
		{ { 2, DUR_DAYS }, 172800 }, { { 1, DUR_WEEKS }, 604800 }, { { 1, DUR_MONTHS }, -1 },
		{ { 1, DUR_YEARS }, -1 }, { { 1, DUR_BUSINESS_DAYS }, -1 }, { { INT64_MAX / 1000, DUR_WEEKS }, -1 },
	};
	for (size_t i = 0; i < sizeof sec / sizeof sec[0]; i++)
		CHECK(dates_duration_secs(&sec[i].d) == sec[i].secs, "duration_secs case %zu", i);

	static const struct { struct duration d; const char *s; } fmt[] = {
		{ { 3, DUR_DAYS }, "3 days" }, { { 1, DUR_DAYS }, "1 day" }, { { 2, DUR_BUSINESS_DAYS }, "2 business days" },
		{ { 1, DUR_BUSINESS_DAYS }, "1 business day" }, { { 0, DUR_DAYS }, "0 days" }, { { 30, DUR_SECONDS }, "30 seconds" },
		{ { 5, DUR_MINUTES }, "5 minutes" }, { { 1, DUR_HOURS }, "1 hour" }, { { 1, DUR_YEARS }, "1 year" },
		{ { 3, DUR_MONTHS }, "3 months" }, { { 2, DUR_WEEKS }, "2 weeks" },
	};
	for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
		dates_format_duration(&fmt[i].d, buf, sizeof buf);
		CHECK_STR(buf, fmt[i].s, "format_duration case %zu", i);
		/* What is formatted parses back. */
		CHECK(dates_parse_duration(buf, &dur, err) == 0 && dur.n == fmt[i].d.n && dur.unit == fmt[i].d.unit,
		      "format_duration %s parses back", fmt[i].s);
	}
	dates_format_duration(&(struct duration){ 3, DUR_DAYS }, buf, 3);
	CHECK_STR(buf, "3 ", "format_duration truncates safely");
}

static void test_holidays_and_business(void)
{
	struct holiday h;
	CHECK(dates_parse_holiday("12-25", &h) == 0 && h.kind == HOL_YEARLY && h.month == 12 && h.day == 25, "holiday 12-25");
	CHECK(dates_parse_holiday("2027-04-02", &h) == 0 && h.kind == HOL_ONCE && h.date == ymd(2027, 4, 2),
	      "holiday 2027-04-02");
	CHECK(dates_parse_holiday("easter", &h) == 0 && h.kind == HOL_EASTER && h.offset == 0, "holiday easter");
	CHECK(dates_parse_holiday("easter-2", &h) == 0 && h.kind == HOL_EASTER && h.offset == -2, "holiday easter-2");
	CHECK(dates_parse_holiday("Easter+49", &h) == 0 && h.kind == HOL_EASTER && h.offset == 49, "holiday Easter+49");
	static const char *const bad[] = { "easter2", "easter+", "easter-x", "easter +1", "easter+400", "02-30",
					   "2027-02-29", "12-25-", "", "christmas", "2027-4-2", "easter+1x" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(dates_parse_holiday(bad[i], &h) == -1, "holiday \"%s\" rejected", bad[i]);
	CHECK(dates_parse_holiday(NULL, &h) == -1, "holiday NULL rejected");

	setup_calendar();
	const struct calendar *c = &test_cal;
	CHECK(calendar_is_business(c, ymd(2026, 4, 2)), "Thu 2026-04-02 is a business day");
	CHECK(!calendar_is_business(c, ymd(2026, 4, 3)), "Good Friday 2026 is a holiday (easter-2)");
	CHECK(!calendar_is_business(c, ymd(2026, 4, 6)), "Easter Monday 2026 is a holiday (easter+1)");
	CHECK(!calendar_is_business(c, ymd(2026, 12, 25)) && !calendar_is_business(c, ymd(2027, 1, 1)),
	      "yearly holidays");
	CHECK(!calendar_is_business(c, ymd(2026, 5, 25)) && calendar_is_business(c, ymd(2027, 5, 25)),
	      "a one-off holiday is only that year");
	CHECK(!calendar_is_business(c, ymd(2026, 5, 23)) && !calendar_is_business(c, ymd(2026, 5, 24)), "weekend");
	CHECK(!calendar_is_business(c, DAY_NONE), "DAY_NONE is no business day");

	CHECK(calendar_prev_business(c, ymd(2026, 5, 25)) == ymd(2026, 5, 22), "prev_business of a Monday holiday");
	CHECK(calendar_prev_business(c, ymd(2026, 5, 26)) == ymd(2026, 5, 26), "prev_business of a business day");
	CHECK(calendar_next_business(c, ymd(2026, 5, 23)) == ymd(2026, 5, 26), "next_business over weekend+holiday");
	CHECK(calendar_sub_business(c, ymd(2026, 5, 26), 1) == ymd(2026, 5, 22), "Tue after Monday holiday - 1");
	CHECK(calendar_sub_business(c, ymd(2026, 5, 24), 3) == ymd(2026, 5, 20), "Sunday - 3 business days");
	CHECK(calendar_sub_business(c, ymd(2027, 1, 4), 3) == ymd(2026, 12, 29), "across the year boundary");
	CHECK(calendar_sub_business(c, ymd(2026, 5, 26), -1) == ymd(2026, 5, 27), "sub negative adds");
	CHECK(calendar_add_business(c, ymd(2026, 5, 22), 1) == ymd(2026, 5, 26), "Fri + 1 over a Monday holiday");
	CHECK(calendar_add_business(c, ymd(2026, 5, 26), -1) == ymd(2026, 5, 22), "add negative subtracts");
	CHECK(calendar_sub_business(c, DAY_NONE, 1) == DAY_NONE && calendar_prev_business(c, DAY_NONE) == DAY_NONE,
	      "DAY_NONE in, DAY_NONE out");

	/* NULL calendar: Saturday and Sunday off. */
	CHECK(calendar_is_business(NULL, ymd(2026, 12, 25)) && !calendar_is_business(NULL, ymd(2026, 12, 26)),
	      "NULL calendar: weekend only");
	struct calendar none = { 0x7f, NULL, 0 };
	CHECK(calendar_prev_business(&none, ymd(2026, 1, 1)) == DAY_NONE &&
	      calendar_sub_business(&none, ymd(2026, 1, 1), 2) == DAY_NONE &&
	      calendar_add_business(&none, ymd(2026, 1, 1), 2) == DAY_NONE, "no business day at all: DAY_NONE");
	struct calendar noweekend = { 0, NULL, 0 };
	CHECK(calendar_sub_business(&noweekend, ymd(2026, 1, 4), 3) == ymd(2026, 1, 1), "no weekend: plain days");
	struct holiday far = { HOL_EASTER, 0, 0, 0, 300 };
	struct calendar farcal = { 0, &far, 1 };
	CHECK(!calendar_is_business(&farcal, dates_easter(2026) + 300), "easter+300 reaches into the next year");

	/* Durations on days. */
	struct duration d;
	day_t base = ymd(2026, 3, 31);
	d = (struct duration){ 10, DUR_DAYS };
	CHECK(dates_sub_duration(c, base, &d) == ymd(2026, 3, 21), "sub 10 days");
	CHECK(dates_add_duration(c, base, &d) == ymd(2026, 4, 10), "add 10 days");
	d = (struct duration){ 2, DUR_WEEKS };
	CHECK(dates_sub_duration(c, base, &d) == ymd(2026, 3, 17), "sub 2 weeks");
	d = (struct duration){ 1, DUR_MONTHS };
	CHECK(dates_sub_duration(c, base, &d) == ymd(2026, 2, 28), "sub 1 month clamps");
	CHECK(dates_add_duration(c, base, &d) == ymd(2026, 4, 30), "add 1 month clamps");
	d = (struct duration){ 1, DUR_YEARS };
	CHECK(dates_sub_duration(c, ymd(2024, 2, 29), &d) == ymd(2023, 2, 28), "sub 1 year from 29 Feb");
	CHECK(dates_add_duration(c, ymd(2024, 2, 29), &d) == ymd(2025, 2, 28), "add 1 year to 29 Feb");
	d = (struct duration){ 36, DUR_HOURS };
	CHECK(dates_sub_duration(c, base, &d) == ymd(2026, 3, 30), "sub 36 hours: 1 whole day");
	d = (struct duration){ 86399, DUR_SECONDS };
	CHECK(dates_sub_duration(c, base, &d) == base, "sub 86399 s: 0 days");
	d = (struct duration){ 2880, DUR_MINUTES };
	CHECK(dates_add_duration(c, base, &d) == ymd(2026, 4, 2), "add 2880 minutes");
	d = (struct duration){ 2, DUR_BUSINESS_DAYS };
	CHECK(dates_sub_duration(c, ymd(2026, 4, 7), &d) == ymd(2026, 4, 1), "sub 2 business days over Easter");
	CHECK(dates_add_duration(c, ymd(2026, 4, 2), &d) == ymd(2026, 4, 8), "add 2 business days over Easter");
	d = (struct duration){ 0, DUR_BUSINESS_DAYS };
	CHECK(dates_sub_duration(c, ymd(2026, 4, 6), &d) == ymd(2026, 4, 2), "sub 0 business days moves back");
	d = (struct duration){ 3, DUR_DAYS };
	CHECK(dates_sub_duration(c, DAY_NONE, &d) == DAY_NONE, "sub from DAY_NONE");
	d = (struct duration){ 3, (enum dur_unit)42 };
	CHECK(dates_sub_duration(c, base, &d) == DAY_NONE, "sub with a bad unit");
	d = (struct duration){ 100000000, DUR_YEARS };
	CHECK(dates_add_duration(c, base, &d) == DAY_NONE, "add out of range");
	d = (struct duration){ 3000000000L, DUR_DAYS };
	CHECK(dates_add_duration(c, base, &d) == DAY_NONE, "add days out of range");
}

static void test_zones(void)
{
	static const char *const good[] = { "Europe/Berlin", "America/New_York", "UTC", "Etc/GMT+5", "Asia/Kolkata",
					    "America/Argentina/Buenos_Aires", "America/Port-au-Prince" };
	static const char *const bad[] = {
		"", "..", "../zoneinfo/UTC", "Europe/../UTC", "/usr/share/zoneinfo/UTC", "/UTC", "Nowhere/City",
		"Europe", "Europe/", "Europe//Berlin", "./UTC", "Europe/./Berlin", "right/UTC", "Europe/Berlin\n",
		"Europe/Berlin ", "zone.tab", "iso3166.tab", "europe/berlin",
		"America/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK(dates_zone_valid(good[i]), "zone %s valid", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(!dates_zone_valid(bad[i]), "zone \"%s\" invalid", bad[i]);
	CHECK(!dates_zone_valid(NULL), "zone NULL invalid");

	int64_t t = 0;
	/* Plain conversions. */
	CHECK(dates_local_to_utc("Europe/Berlin", ymd(2026, 12, 1), 9 * 3600, &t) == 0 &&
	      t == at_utc(2026, 12, 1, 8, 0, 0), "Berlin winter 09:00 = 08:00Z");
	CHECK(dates_local_to_utc("Europe/Berlin", ymd(2026, 7, 1), 9 * 3600, &t) == 0 &&
	      t == at_utc(2026, 7, 1, 7, 0, 0), "Berlin summer 09:00 = 07:00Z");
	CHECK(dates_local_to_utc("America/New_York", ymd(2026, 12, 1), 9 * 3600, &t) == 0 &&
	      t == at_utc(2026, 12, 1, 14, 0, 0), "New York winter 09:00 = 14:00Z");
	CHECK(dates_local_to_utc("UTC", ymd(1969, 12, 31), 0, &t) == 0 && t == -86400, "UTC before 1970");
	CHECK(dates_local_to_utc("Europe/Berlin", ymd(2026, 12, 1), 86400, &t) == 0 &&
	      t == at_utc(2026, 12, 1, 23, 0, 0), "24:00 is the next midnight");
	/* Gaps move forward by the gap. */
	CHECK(dates_local_to_utc("Europe/Berlin", ymd(2026, 3, 29), 2 * 3600 + 1800, &t) == 0 &&
	      t == at_utc(2026, 3, 29, 1, 30, 0), "Berlin 02:30 in the gap -> 03:30 CEST = 01:30Z (%s)", utc(t));
	CHECK(dates_local_to_utc("Europe/Berlin", ymd(2026, 3, 29), 2 * 3600, &t) == 0 &&
	      t == at_utc(2026, 3, 29, 1, 0, 0), "Berlin 02:00 (gap start) -> 03:00 CEST");
	CHECK(dates_local_to_utc("America/New_York", ymd(2026, 3, 8), 2 * 3600 + 1800, &t) == 0 &&
	      t == at_utc(2026, 3, 8, 7, 30, 0), "New York 02:30 in the gap -> 03:30 EDT = 07:30Z (%s)", utc(t));
	CHECK(dates_local_to_utc("Australia/Sydney", ymd(2026, 10, 4), 2 * 3600 + 1800, &t) == 0 &&
	      t == at_utc(2026, 10, 3, 16, 30, 0), "Sydney 02:30 in the gap -> 03:30 AEDT (%s)", utc(t));
	/* Ambiguous times take the first instant. */
	CHECK(dates_local_to_utc("Europe/Berlin", ymd(2026, 10, 25), 2 * 3600 + 1800, &t) == 0 &&
	      t == at_utc(2026, 10, 25, 0, 30, 0), "Berlin 02:30 twice -> 02:30 CEST = 00:30Z (%s)", utc(t));
	CHECK(dates_local_to_utc("America/New_York", ymd(2026, 11, 1), 3600 + 1800, &t) == 0 &&
	      t == at_utc(2026, 11, 1, 5, 30, 0), "New York 01:30 twice -> EDT = 05:30Z (%s)", utc(t));
	CHECK(dates_local_to_utc("Australia/Sydney", ymd(2026, 4, 5), 2 * 3600 + 1800, &t) == 0 &&
	      t == at_utc(2026, 4, 4, 15, 30, 0), "Sydney 02:30 twice -> AEDT = 15:30Z (%s)", utc(t));
	CHECK(dates_local_to_utc("Europe/Berlin", ymd(2026, 10, 25), 3 * 3600, &t) == 0 &&
	      t == at_utc(2026, 10, 25, 2, 0, 0), "Berlin 03:00 after the overlap is CET");
	/* A zone that skipped a whole day: Samoa went from 2011-12-29 to 2011-12-31. */
	CHECK(dates_local_to_utc("Pacific/Apia", ymd(2011, 12, 30), 12 * 3600, &t) == 0 &&
	      t == at_utc(2011, 12, 30, 22, 0, 0), "Apia 2011-12-30 12:00 (skipped day) -> 2011-12-31 12:00 +14 (%s)",
	      utc(t));
	CHECK(dates_local_to_utc("Nowhere/City", ymd(2026, 1, 1), 0, &t) == -1, "local_to_utc: unknown zone");
	CHECK(dates_local_to_utc(NULL, ymd(2026, 1, 1), 0, &t) == -1, "local_to_utc: NULL zone");
	CHECK(dates_local_to_utc("UTC", DAY_NONE, 0, &t) == -1, "local_to_utc: DAY_NONE");

	/* Every 09:00 of 2026 in these zones converts back to 09:00 the same day. */
	static const char *const zs[] = { "America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kathmandu",
					  "America/St_Johns", "Australia/Lord_Howe", "Pacific/Chatham" };
	for (size_t z = 0; z < sizeof zs / sizeof zs[0]; z++) {
		int ok = 1;
		for (day_t day = ymd(2026, 1, 1); day <= ymd(2026, 12, 31); day++) {
			day_t back;
			int secs;
			if (dates_local_to_utc(zs[z], day, 9 * 3600, &t) < 0 || dates_utc_to_local(zs[z], t, &back, &secs) < 0 ||
			    back != day || secs != 9 * 3600)
				ok = 0;
		}
		CHECK(ok, "%s: 09:00 round-trips every day of 2026", zs[z]);
	}

	day_t day;
	int secs;
	CHECK(dates_utc_to_local("Europe/Berlin", at_utc(2026, 3, 29, 1, 0, 0), &day, &secs) == 0 &&
	      day == ymd(2026, 3, 29) && secs == 3 * 3600, "utc_to_local at the spring change: 03:00");
	CHECK(dates_utc_to_local("Europe/Berlin", at_utc(2026, 3, 29, 0, 59, 59), &day, &secs) == 0 &&
	      day == ymd(2026, 3, 29) && secs == 3600 + 3599, "utc_to_local just before: 01:59:59");
	CHECK(dates_utc_to_local("America/New_York", at_utc(2026, 1, 1, 3, 0, 0), &day, &secs) == 0 &&
	      day == ymd(2025, 12, 31) && secs == 22 * 3600, "utc_to_local: previous local day");
	CHECK(dates_utc_to_local("UTC", -1, &day, &secs) == 0 && day == -1 && secs == 86399, "utc_to_local before 1970");
	CHECK(dates_utc_to_local("Mars/Base", 0, &day, &secs) == -1, "utc_to_local: unknown zone");
	/* Switching zones back and forth: the cache must follow. */
	CHECK(dates_utc_to_local("Asia/Tokyo", 0, &day, &secs) == 0 && secs == 9 * 3600 &&
	      dates_utc_to_local("UTC", 0, &day, &secs) == 0 && secs == 0 &&
	      dates_utc_to_local("Asia/Tokyo", 0, &day, &secs) == 0 && secs == 9 * 3600, "zone switches");
	/* Someone else setting TZ does not fool the cache. */
	setenv("TZ", "UTC0", 1);
	CHECK(dates_utc_to_local("Asia/Tokyo", 0, &day, &secs) == 0 && secs == 9 * 3600, "TZ changed behind our back");
}

static void test_parse_time(void)
{
	static const struct { const char *s, *zone, *want; } good[] = {
		{ "2026-12-01", "Europe/Berlin", "2026-12-01T11:00:00Z" },
		{ "2026-07-01", "Europe/Berlin", "2026-07-01T10:00:00Z" },
		{ "2026-12-01T09:00", "Europe/Berlin", "2026-12-01T08:00:00Z" },
		{ "2026-12-01T09:00:30", "Europe/Berlin", "2026-12-01T08:00:30Z" },
		{ "2026-12-01T09:00Z", "Europe/Berlin", "2026-12-01T09:00:00Z" },
		{ "2026-12-01T09:00:00Z", NULL, "2026-12-01T09:00:00Z" },
		{ "2026-12-01T09:00:00+05:30", NULL, "2026-12-01T03:30:00Z" },
		{ "2026-12-01T09:00-05:00", "Nowhere/City", "2026-12-01T14:00:00Z" },
		{ "2026-12-01T00:00+01:00", "UTC", "2026-11-30T23:00:00Z" },
		{ "2026-03-29T02:30", "Europe/Berlin", "2026-03-29T01:30:00Z" },
		{ "2026-10-25T02:30", "Europe/Berlin", "2026-10-25T00:30:00Z" },
		{ "2026-12-31T23:59:59", "America/New_York", "2027-01-01T04:59:59Z" },
		{ "1969-07-20T20:17Z", NULL, "1969-07-20T20:17:00Z" },
	};
	static const struct { const char *s, *zone, *why; } bad[] = {
		{ "2026-12-01T25:00", "UTC", "no such time" }, { "2026-02-30", "UTC", "no such date" },
		{ "2026-12-01 09:00", "UTC", "expected" }, { "2026-12-01T9:00", "UTC", "expected" },
		{ "2026-12-01T09:00+0100", "UTC", "expected" }, { "2026-12-01T09:00+24:00", "UTC", "offset" },
		{ "2026-12-01T09:60", "UTC", "no such time" }, { "2026-12-01T09:00:60", "UTC", "no such time" },
		{ "2026-12-01T09:00Zx", "UTC", "expected" }, { "2026-12-01T09:00:00.5Z", "UTC", "expected" },
		{ "", "UTC", "expected" }, { "2026-12-01T", "UTC", "expected" }, { "2026-12-01T09", "UTC", "expected" },
		{ "2026-12-01T09:0", "UTC", "expected" }, { "2026-12-01T09:00:0", "UTC", "expected" },
		{ "2026-12-01T09:00+01", "UTC", "expected" }, { "2026-12-01T09:00+01:0", "UTC", "expected" },
		{ "2026-12-01t09:00", "UTC", "expected" }, { "2026-12-01T09:00z", "UTC", "expected" },
		{ "2026-12-01", "Mars/Base", "unknown time zone \"Mars/Base\"" },
		{ "2026-12-01T09:00", "Mars/Base", "unknown time zone" },
		{ "2026-12-01T09:00", NULL, "no time zone" }, { "2026-12-01", "", "no time zone" },
		{ "tomorrow", "UTC", "expected" }, { "2026-1-01", "UTC", "expected" },
	};
	int64_t t;
	char err[ERR_LEN];
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		err[0] = '\0';
		t = -1;
		int r = dates_parse_time(good[i].s, good[i].zone, &t, err);
		CHECK(r == 0, "parse_time \"%s\" %s %s", good[i].s, good[i].zone ? good[i].zone : "(no zone)", err);
		CHECK_STR(utc(t), good[i].want, "parse_time \"%s\" instant", good[i].s);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		int r = dates_parse_time(bad[i].s, bad[i].zone, &t, err);
		CHECK(r == -1 && strstr(err, bad[i].why), "parse_time \"%s\" rejected: %s", bad[i].s, err);
	}
	CHECK(dates_parse_time(NULL, "UTC", &t, err) == -1, "parse_time NULL");

	int secs = -1;
	CHECK(dates_parse_clock("09:00", &secs) == 0 && secs == 32400, "clock 09:00");
	CHECK(dates_parse_clock("00:00", &secs) == 0 && secs == 0, "clock 00:00");
	CHECK(dates_parse_clock("23:59", &secs) == 0 && secs == 86340, "clock 23:59");
	CHECK(dates_parse_clock("24:00", &secs) == 0 && secs == 86400, "clock 24:00");
	static const char *const badc[] = { "24:01", "25:00", "9:00", "09:60", "09:00:00", "0900", "09-00", "", " 9:00",
					    "ab:cd", "09:0x" };
	for (size_t i = 0; i < sizeof badc / sizeof badc[0]; i++)
		CHECK(dates_parse_clock(badc[i], &secs) == -1, "clock \"%s\" rejected", badc[i]);
	CHECK(dates_parse_clock(NULL, &secs) == -1, "clock NULL rejected");
}

static void test_format_instant(void)
{
	static const struct { int64_t t; const char *zone, *iso, *rfc; } cases[] = {
		{ 0, "UTC", "1970-01-01T00:00:00+00:00", "Thu, 01 Jan 1970 00:00:00 +0000" },
		{ 1796112000, "Europe/Berlin", "2026-12-01T09:00:00+01:00", "Tue, 01 Dec 2026 09:00:00 +0100" },
		{ 1796112000, "America/New_York", "2026-12-01T03:00:00-05:00", "Tue, 01 Dec 2026 03:00:00 -0500" },
		{ 1796112000, "Asia/Kolkata", "2026-12-01T13:30:00+05:30", "Tue, 01 Dec 2026 13:30:00 +0530" },
		{ 1796112000, "America/St_Johns", "2026-12-01T04:30:00-03:30", "Tue, 01 Dec 2026 04:30:00 -0330" },
		{ 1796112000, "Asia/Kathmandu", "2026-12-01T13:45:00+05:45", "Tue, 01 Dec 2026 13:45:00 +0545" },
		{ 1796112000, "Nowhere/City", "2026-12-01T08:00:00+00:00", "Tue, 01 Dec 2026 08:00:00 +0000" },
		{ 1796112000, NULL, "2026-12-01T08:00:00+00:00", "Tue, 01 Dec 2026 08:00:00 +0000" },
		{ -1, "UTC", "1969-12-31T23:59:59+00:00", "Wed, 31 Dec 1969 23:59:59 +0000" },
		{ 1782896400, "Australia/Sydney", "2026-07-01T19:00:00+10:00", "Wed, 01 Jul 2026 19:00:00 +1000" },
		/* LMT +00:53:28 is shown as +00:53, with the local time to match. */
		{ -2524521600, "Europe/Berlin", "1890-01-01T00:53:00+00:53", "Wed, 01 Jan 1890 00:53:00 +0053" },
		/* LMT -04:56:02 -> -04:56 */
		{ -2840140800, "America/New_York", "1879-12-31T19:04:00-04:56", "Wed, 31 Dec 1879 19:04:00 -0456" },
	};
	char buf[64];
	CHECK(at_utc(2026, 12, 1, 8, 0, 0) == 1796112000 && at_utc(1890, 1, 1, 0, 0, 0) == -2524521600 &&
	      at_utc(1880, 1, 1, 0, 0, 0) == -2840140800 &&
	      at_utc(2026, 7, 1, 9, 0, 0) == 1782896400, "test instants");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		dates_format_instant(cases[i].t, cases[i].zone, buf, sizeof buf);
		CHECK_STR(buf, cases[i].iso, "format_instant %s", cases[i].zone ? cases[i].zone : "(null)");
		dates_format_rfc5322(cases[i].t, cases[i].zone, buf, sizeof buf);
		CHECK_STR(buf, cases[i].rfc, "format_rfc5322 %s", cases[i].zone ? cases[i].zone : "(null)");
	}
	/* What format_instant writes, parse_time reads back to the same instant. */
	int ok = 1;
	for (int64_t t = -2524521600; t < 4102444800; t += 7777777) {
		int64_t back;
		dates_format_instant(t, "Europe/Berlin", buf, sizeof buf);
		if (dates_parse_time(buf, NULL, &back, NULL) < 0 || back != t)
			ok = 0;
	}
	CHECK(ok, "format_instant parses back 1890..2100");
	dates_format_instant(0, "UTC", buf, 5);
	CHECK_STR(buf, "1970", "format_instant truncates safely");
	dates_format_rfc5322(0, "UTC", buf, 4);
	CHECK_STR(buf, "Thu", "format_rfc5322 truncates safely");
}

int main(void)
{
	test_civil();
	test_iso();
	test_calendar_funcs();
	test_durations();
	test_holidays_and_business();
	test_zones();
	test_parse_time();
	test_format_instant();
	golden_easter();
	golden_nth_weekday();
	golden_add_months();
	golden_anniversary();
	golden_dst();
	golden_business();
	return check_done();
}
