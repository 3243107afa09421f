/*
 * dates: civil dates as day numbers (proleptic Gregorian), Easter, the business-day
 * calendar, durations, and time zones through the system tz database.
 * Pure: nothing here reads the clock. The zone conversions set TZ (the program is
 * single-threaded) and use localtime_r only for the zone's UTC offset at an instant.
 */
#include "occasiond/dates.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SECS_PER_DAY 86400
#define ZONE_DIR "/usr/share/zoneinfo"
#define ZONE_MAX 64
/* How far prev/next_business look before deciding the calendar has no business day. */
#define BUSINESS_SEARCH 3700
#define DEFAULT_WEEKEND ((1u << 0) | (1u << 6))

const char *const dates_weekday_names[7] = {
	"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
};
const char *const dates_month_names[13] = {
	"", "January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December",
};
/* RFC 5322 wants English abbreviations whatever the locale. */
static const char *const wday_abbr[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const month_abbr[13] = {
	"", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if (a % b != 0 && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static day_t day_from_i64(int64_t v)
{
	if (v <= (int64_t)INT32_MIN || v > (int64_t)INT32_MAX)
		return DAY_NONE;
	return (day_t)v;
}

/* ---- civil dates ---- */

/* Howard Hinnant's days_from_civil, in 64 bits so any int input is defined behaviour. */
day_t dates_from_ymd(int y, int m, int d)
{
	int64_t yy = (int64_t)y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t mp = ((int64_t)m + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return day_from_i64(era * 146097 + doe - 719468);
}

/* Hinnant's civil_from_days. */
void dates_to_ymd(day_t day, int *y, int *m, int *d)
{
	int64_t z = (int64_t)day + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t dd = doy - (153 * mp + 2) / 5 + 1;
	int64_t mm = mp < 10 ? mp + 3 : mp - 9;
	if (y)
		*y = (int)(yoe + era * 400 + (mm <= 2));
	if (m)
		*m = (int)mm;
	if (d)
		*d = (int)dd;
}

int dates_is_leap(int y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

int dates_days_in_month(int y, int m)
{
	static const int dim[13] = { 0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m < 1 || m > 12)
		return 0;
	return m == 2 && dates_is_leap(y) ? 29 : dim[m];
}

int dates_valid_ymd(int y, int m, int d)
{
	return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= dates_days_in_month(y, m);
}

int dates_weekday(day_t day)
{
	/* 1970-01-01 was a Thursday. */
	int64_t w = ((int64_t)day + 4) % 7;
	return (int)(w < 0 ? w + 7 : w);
}

/* ---- parsing and formatting ---- */

/* Exactly n ASCII digits at s -> value, or -1. */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Strict "YYYY-MM-DD" at the start of s; returns the rest, or NULL. Not validated. */
static const char *scan_ymd(const char *s, int *y, int *m, int *d)
{
	if (!s || strnlen(s, 10) < 10 || s[4] != '-' || s[7] != '-')
		return NULL;
	*y = digits(s, 4);
	*m = digits(s + 5, 2);
	*d = digits(s + 8, 2);
	if (*y < 0 || *m < 0 || *d < 0)
		return NULL;
	return s + 10;
}

int dates_parse_ymd(const char *s, int *y, int *m, int *d)
{
	const char *p = scan_ymd(s, y, m, d);
	return p && *p == '\0' && dates_valid_ymd(*y, *m, *d) ? 0 : -1;
}

int dates_parse_iso(const char *s, day_t *out)
{
	int y, m, d;
	const char *p = scan_ymd(s, &y, &m, &d);
	if (!p || *p || !dates_valid_ymd(y, m, d))
		return -1;
	*out = dates_from_ymd(y, m, d);
	return 0;
}

int dates_parse_md(const char *s, int *m, int *d)
{
	int mm, dd;
	if (!s)
		return -1;
	if (s[0] == '-' && s[1] == '-')
		s += 2;
	if (strlen(s) != 5 || s[2] != '-')
		return -1;
	mm = digits(s, 2);
	dd = digits(s + 3, 2);
	/* 2000 is a leap year, so 02-29 passes. */
	if (mm < 0 || dd < 0 || !dates_valid_ymd(2000, mm, dd))
		return -1;
	*m = mm;
	*d = dd;
	return 0;
}

/* Zero-padded decimal of v (>= 0) in exactly width characters. */
static void put_digits(char *p, int v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

void dates_format_iso(day_t day, char buf[11])
{
	int y, m, d;
	dates_to_ymd(day, &y, &m, &d);
	if (day == DAY_NONE || y < 0 || y > 9999) {
		/* Visible rather than silently wrong. */
		memcpy(buf, "\?\?\?\?-\?\?-\?\?", 11);
		return;
	}
	put_digits(buf, y, 4);
	buf[4] = '-';
	put_digits(buf + 5, m, 2);
	buf[7] = '-';
	put_digits(buf + 8, d, 2);
	buf[10] = '\0';
}

void dates_format_long(day_t day, char *buf, size_t size)
{
	int y, m, d;
	if (!size)
		return;
	dates_to_ymd(day, &y, &m, &d);
	snprintf(buf, size, "%d %s %d", d, dates_month_names[m], y);
}

/* ---- the calendar ---- */

day_t dates_nth_weekday(int y, int m, int n, int wd)
{
	if (y < 1 || y > 9999 || m < 1 || m > 12 || wd < 0 || wd > 6 || !(n == -1 || (n >= 1 && n <= 5)))
		return DAY_NONE;
	if (n == -1) {
		day_t last = dates_from_ymd(y, m, dates_days_in_month(y, m));
		return last - (dates_weekday(last) - wd + 7) % 7;
	}
	day_t first = dates_from_ymd(y, m, 1);
	day_t r = first + (wd - dates_weekday(first) + 7) % 7 + 7 * (n - 1);
	return r - first >= dates_days_in_month(y, m) ? DAY_NONE : r;
}

/* The Anonymous Gregorian algorithm (Meeus/Jones/Butcher). */
day_t dates_easter(int y)
{
	if (y < 1 || y > 9999)
		return DAY_NONE;
	int a = y % 19, b = y / 100, c = y % 100;
	int d = b / 4, e = b % 4, f = (b + 8) / 25, g = (b - f + 1) / 3;
	int h = (19 * a + b - d - g + 15) % 30;
	int i = c / 4, k = c % 4;
	int l = (32 + 2 * e + 2 * i - h - k) % 7;
	int mm = (a + 11 * h + 22 * l) / 451;
	int month = (h + l - 7 * mm + 114) / 31;
	int day = (h + l - 7 * mm + 114) % 31 + 1;
	return dates_from_ymd(y, month, day);
}

day_t dates_add_months(day_t day, int k)
{
	int y, m, d, dim;
	if (day == DAY_NONE)
		return DAY_NONE;
	dates_to_ymd(day, &y, &m, &d);
	int64_t t = (int64_t)y * 12 + (m - 1) + k;
	int64_t ny = floor_div(t, 12);
	if (ny < -5000000 || ny > 5000000)
		return DAY_NONE;
	int nm = (int)(t - ny * 12) + 1;
	dim = dates_days_in_month((int)ny, nm);
	return dates_from_ymd((int)ny, nm, d > dim ? dim : d);
}

day_t dates_anniversary(int y, int m, int d)
{
	if (m == 2 && d == 29 && !dates_is_leap(y))
		d = 28;
	if (!dates_valid_ymd(y, m, d))
		return DAY_NONE;
	return dates_from_ymd(y, m, d);
}

int dates_parse_weekday(const char *s)
{
	if (!s)
		return -1;
	for (int i = 0; i < 7; i++)
		if (util_strcaseeq(s, dates_weekday_names[i]))
			return i;
	return -1;
}

int dates_parse_month(const char *s)
{
	size_t len;
	if (!s)
		return -1;
	for (int i = 1; i <= 12; i++)
		if (util_strcaseeq(s, dates_month_names[i]))
			return i;
	/* Digits only: "+3" or " 3" are not months. */
	len = strlen(s);
	if (len == 0 || len > 2 || digits(s, (int)len) < 1 || digits(s, (int)len) > 12)
		return -1;
	return digits(s, (int)len);
}

/* ---- durations ---- */

struct unit_info {
	const char *one, *many;   /* singular and plural word */
	char letter;              /* short form, '\0' when none */
	int64_t secs;             /* seconds of one unit; 0 when not fixed */
	int64_t max;              /* about 1000 years, so no arithmetic overflows */
};

static const struct unit_info units[] = {
	[DUR_SECONDS] = { "second", "seconds", 's', 1, INT64_C(31622400000) },
	[DUR_MINUTES] = { "minute", "minutes", 'm', 60, INT64_C(527040000) },
	[DUR_HOURS] = { "hour", "hours", 'h', 3600, INT64_C(8784000) },
	[DUR_DAYS] = { "day", "days", 'd', SECS_PER_DAY, 366000 },
	[DUR_WEEKS] = { "week", "weeks", 'w', 7 * SECS_PER_DAY, 52286 },
	[DUR_MONTHS] = { "month", "months", '\0', 0, 12000 },
	[DUR_YEARS] = { "year", "years", '\0', 0, 1000 },
	[DUR_BUSINESS_DAYS] = { "business day", "business days", '\0', 0, 261000 },
};
#define NUNITS (sizeof units / sizeof units[0])
#define UNIT_LIST "s, m, h, d, w, seconds, minutes, hours, days, weeks, months, years or business days"

/* The unit word: a single letter (lower case only: "M" is not "m"), or a word in any case. */
static int find_unit(const char *u, enum dur_unit *out)
{
	char norm[32];
	size_t n = 0;
	if (u[0] && !u[1]) {
		for (size_t i = 0; i < NUNITS; i++)
			if (units[i].letter && units[i].letter == u[0]) {
				*out = (enum dur_unit)i;
				return 0;
			}
		return -1;
	}
	/* Collapse inner runs of blanks so "business   days" is "business days". */
	for (; *u; u++) {
		if (*u == ' ' || *u == '\t') {
			if (n && norm[n - 1] == ' ')
				continue;
			norm[n++] = ' ';
		} else {
			norm[n++] = *u;
		}
		if (n >= sizeof norm - 1)
			return -1;
	}
	norm[n] = '\0';
	for (size_t i = 0; i < NUNITS; i++)
		if (util_strcaseeq(norm, units[i].one) || util_strcaseeq(norm, units[i].many)) {
			*out = (enum dur_unit)i;
			return 0;
		}
	return -1;
}

int dates_parse_duration(const char *s, struct duration *out, char err[ERR_LEN])
{
	const char *p = s, *u;
	int64_t n = 0;
	size_t ulen;
	enum dur_unit unit;
	char ubuf[64];

	if (!s)
		return err_set(err, "missing duration");
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return err_set(err, "empty duration (expected e.g. \"3 days\" or \"10d\")");
	if (*p == '-')
		return err_set(err, "bad duration \"%.60s\": it cannot be negative", s);
	if (*p < '0' || *p > '9')
		return err_set(err, "bad duration \"%.60s\": expected a number then a unit, e.g. \"3 days\" or \"10d\"", s);
	for (; *p >= '0' && *p <= '9'; p++)
		if (n <= INT64_C(1000000000000000))
			n = n * 10 + (*p - '0');
	if (*p == '.' || *p == ',')
		return err_set(err, "bad duration \"%.60s\": the number must be whole", s);
	while (*p == ' ' || *p == '\t')
		p++;
	u = p;
	ulen = strlen(u);
	while (ulen && (u[ulen - 1] == ' ' || u[ulen - 1] == '\t'))
		ulen--;
	if (!ulen)
		return err_set(err, "bad duration \"%.60s\": missing unit (" UNIT_LIST ")", s);
	if (ulen < sizeof ubuf) {
		memcpy(ubuf, u, ulen);
		ubuf[ulen] = '\0';
	}
	if (ulen >= sizeof ubuf || find_unit(ubuf, &unit) < 0)
		return err_set(err, "bad duration \"%.60s\": unknown unit \"%.*s\" (use " UNIT_LIST ")",
			       s, (int)(ulen > 40 ? 40 : ulen), u);
	if (n > units[unit].max || n > LONG_MAX)
		return err_set(err, "bad duration \"%.60s\": too long (at most %lld %s)", s,
			       (long long)units[unit].max, units[unit].many);
	out->n = (long)n;
	out->unit = unit;
	return 0;
}

int64_t dates_duration_secs(const struct duration *d)
{
	if ((unsigned)d->unit >= NUNITS || !units[d->unit].secs)
		return -1;
	int64_t mult = units[d->unit].secs;
	if (d->n > INT64_MAX / mult || d->n < INT64_MIN / mult)
		return -1;
	return (int64_t)d->n * mult;
}

void dates_format_duration(const struct duration *d, char *buf, size_t size)
{
	if (!size)
		return;
	if ((unsigned)d->unit >= NUNITS) {
		util_strlcpy(buf, "?", size);
		return;
	}
	snprintf(buf, size, "%ld %s", d->n, d->n == 1 ? units[d->unit].one : units[d->unit].many);
}

/* ---- the business-day calendar ---- */

int dates_parse_holiday(const char *s, struct holiday *out)
{
	memset(out, 0, sizeof *out);
	if (!s)
		return -1;
	if (strncasecmp(s, "easter", 6) == 0) {
		const char *p = s + 6;
		long off = 0;
		if (*p) {
			/* util_parse_long alone would accept "easter2"; a sign is required. */
			if ((*p != '+' && *p != '-') || p[1] < '0' || p[1] > '9' ||
			    util_parse_long(p, -366, 366, &off) < 0)
				return -1;
		}
		out->kind = HOL_EASTER;
		out->offset = (int)off;
		return 0;
	}
	if (strlen(s) == 10) {
		if (dates_parse_iso(s, &out->date) < 0)
			return -1;
		out->kind = HOL_ONCE;
		return 0;
	}
	if (dates_parse_md(s, &out->month, &out->day) < 0)
		return -1;
	out->kind = HOL_YEARLY;
	return 0;
}

static int is_holiday(const struct calendar *cal, day_t day)
{
	int y, m, d;
	dates_to_ymd(day, &y, &m, &d);
	for (size_t i = 0; i < cal->nholidays; i++) {
		const struct holiday *h = &cal->holidays[i];
		switch (h->kind) {
		case HOL_YEARLY:
			if (h->month == m && h->day == d)
				return 1;
			break;
		case HOL_ONCE:
			if (h->date == day)
				return 1;
			break;
		case HOL_EASTER:
			/* A large offset can reach into the year before or after. */
			for (int yy = y - 1; yy <= y + 1; yy++) {
				day_t e = dates_easter(yy);
				if (e != DAY_NONE && (int64_t)e + h->offset == day)
					return 1;
			}
			break;
		}
	}
	return 0;
}

int calendar_is_business(const struct calendar *cal, day_t day)
{
	unsigned weekend = cal ? cal->weekend : DEFAULT_WEEKEND;
	if (day == DAY_NONE || (weekend & (1u << dates_weekday(day))))
		return 0;
	return cal ? !is_holiday(cal, day) : 1;
}

/* The first business day from day going in direction dir (-1 or +1), day included. */
static day_t seek_business(const struct calendar *cal, day_t day, int dir)
{
	if (day == DAY_NONE)
		return DAY_NONE;
	for (int i = 0; i < BUSINESS_SEARCH; i++) {
		day_t d = day_from_i64((int64_t)day + (int64_t)dir * i);
		if (d == DAY_NONE)
			return DAY_NONE;
		if (calendar_is_business(cal, d))
			return d;
	}
	return DAY_NONE;
}

day_t calendar_prev_business(const struct calendar *cal, day_t day)
{
	return seek_business(cal, day, -1);
}

day_t calendar_next_business(const struct calendar *cal, day_t day)
{
	return seek_business(cal, day, 1);
}

day_t calendar_sub_business(const struct calendar *cal, day_t day, long n)
{
	if (n < 0)
		return calendar_add_business(cal, day, n == LONG_MIN ? LONG_MAX : -n);
	/* n steps back from day itself: day counts as "step 0" only when it is a business day. */
	day_t d = n ? day : seek_business(cal, day, -1);
	for (long i = 0; i < n && d != DAY_NONE; i++)
		d = seek_business(cal, day_from_i64((int64_t)d - 1), -1);
	return d;
}

day_t calendar_add_business(const struct calendar *cal, day_t day, long n)
{
	if (n < 0)
		return calendar_sub_business(cal, day, n == LONG_MIN ? LONG_MAX : -n);
	day_t d = n ? day : seek_business(cal, day, 1);
	for (long i = 0; i < n && d != DAY_NONE; i++)
		d = seek_business(cal, day_from_i64((int64_t)d + 1), 1);
	return d;
}

/* day plus sign * d, for every unit; DAY_NONE when out of range. */
static day_t shift_duration(const struct calendar *cal, day_t day, const struct duration *d, int sign)
{
	int64_t days;
	if (day == DAY_NONE || (unsigned)d->unit >= NUNITS)
		return DAY_NONE;
	switch (d->unit) {
	case DUR_MONTHS:
	case DUR_YEARS: {
		int64_t k = (int64_t)d->n * (d->unit == DUR_YEARS ? 12 : 1);
		if (k > 1200000 || k < -1200000)
			return DAY_NONE;
		return dates_add_months(day, (int)(sign * k));
	}
	case DUR_BUSINESS_DAYS:
		return sign < 0 ? calendar_sub_business(cal, day, d->n) : calendar_add_business(cal, day, d->n);
	default:
		if (d->n > INT64_C(1000000000000) || d->n < -INT64_C(1000000000000))
			return DAY_NONE;
		/* Sub-day units round down to whole days. */
		days = floor_div((int64_t)d->n * units[d->unit].secs, SECS_PER_DAY);
		return day_from_i64((int64_t)day + sign * days);
	}
}

day_t dates_sub_duration(const struct calendar *cal, day_t day, const struct duration *d)
{
	return shift_duration(cal, day, d, -1);
}

day_t dates_add_duration(const struct calendar *cal, day_t day, const struct duration *d)
{
	return shift_duration(cal, day, d, 1);
}

/* ---- time zones ---- */

/*
 * Zones found valid, so that an import of a million rows opens each zone file once, not once a
 * row (a zone file that vanishes while the process runs is not worth a check per row).
 */
#define ZONE_CACHE 32
static char zone_ok[ZONE_CACHE][ZONE_MAX + 1];
static unsigned zone_ok_next;

int dates_zone_valid(const char *zone)
{
	char path[sizeof ZONE_DIR + 1 + ZONE_MAX];
	char magic[4];
	size_t len, got;
	FILE *fp;
	int ok;

	if (!zone)
		return 0;
	len = strlen(zone);
	if (len == 0 || len > ZONE_MAX || zone[0] == '/' || strstr(zone, ".."))
		return 0;
	/* Only canonical names: no "./x", "a//b" or trailing '/', which name the same files. */
	for (const char *p = zone; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("/_-+.", *p))
			return 0;
		if ((*p == '/' || *p == '.') && (p == zone || p[-1] == '/'))
			return 0;
	}
	if (zone[len - 1] == '/')
		return 0;
	/* right/ zones count leap seconds; instants here are POSIX seconds. */
	if (strncmp(zone, "right/", 6) == 0)
		return 0;
	for (unsigned i = 0; i < ZONE_CACHE; i++)
		if (strcmp(zone_ok[i], zone) == 0)
			return 1;
	memcpy(path, ZONE_DIR "/", sizeof ZONE_DIR);
	memcpy(path + sizeof ZONE_DIR, zone, len + 1);
	fp = fopen(path, "rbe");
	if (!fp)
		return 0;
	got = fread(magic, 1, sizeof magic, fp);
	fclose(fp);
	ok = got == sizeof magic && memcmp(magic, "TZif", 4) == 0;
	if (ok)
		memcpy(zone_ok[zone_ok_next++ % ZONE_CACHE], zone, len + 1);
	return ok;
}

/* The zone TZ was last set to here, so each change costs one validation and one tzset. */
static char zone_current[ZONE_MAX + 1];

/*
 * Makes zone the process's TZ. An absolute path in TZ means glibc reads exactly the file
 * dates_zone_valid checked, whatever TZDIR says.
 */
static int zone_use(const char *zone)
{
	char tz[1 + sizeof ZONE_DIR + ZONE_MAX];
	const char *cur;
	size_t len;

	if (!zone || !*zone)
		return -1;
	if (strcmp(zone, zone_current) != 0 && !dates_zone_valid(zone))
		return -1;
	len = strlen(zone);
	tz[0] = ':';
	memcpy(tz + 1, ZONE_DIR "/", sizeof ZONE_DIR);
	memcpy(tz + 1 + sizeof ZONE_DIR, zone, len + 1);
	cur = getenv("TZ");
	if (!cur || strcmp(cur, tz) != 0) {
		if (setenv("TZ", tz, 1) != 0)
			return -1;
		/* localtime_r need not re-read TZ by itself. */
		tzset();
	}
	memcpy(zone_current, zone, len + 1);
	return 0;
}

/* The UTC offset (seconds east) of the current TZ at instant t. */
static int offset_at(int64_t t, long *off)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if ((int64_t)tt != t || !localtime_r(&tt, &tm))
		return -1;
	*off = tm.tm_gmtoff;
	return 0;
}

/*
 * zone_offset: the UTC offset of zone at instant t, remembered: switching TZ re-reads the
 * zone file, and a plan over many stakeholders asks the same few (zone, instant) pairs again
 * and again. Only valid zones are ever remembered.
 */
#define ZCACHE_SIZE 16384
static struct {
	char zone[64];
	int64_t t;
	long off;
} zcache[ZCACHE_SIZE];

static int zone_offset(const char *zone, int64_t t, long *off)
{
	uint64_t h = 1469598103934665603ULL;
	size_t len, slot;
	if (!zone || !*zone)
		return -1;
	for (const char *p = zone; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ (uint64_t)t) * 1099511628211ULL;
	slot = (size_t)(h ^ (h >> 29)) & (ZCACHE_SIZE - 1);
	len = strlen(zone);
	if (len < sizeof zcache[0].zone && zcache[slot].t == t && strcmp(zcache[slot].zone, zone) == 0) {
		*off = zcache[slot].off;
		return 0;
	}
	if (zone_use(zone) < 0 || offset_at(t, off) < 0)
		return -1;
	if (len < sizeof zcache[0].zone) {
		memcpy(zcache[slot].zone, zone, len + 1);
		zcache[slot].t = t;
		zcache[slot].off = *off;
	}
	return 0;
}

static void add_offset(long *set, int *n, long off)
{
	for (int i = 0; i < *n; i++)
		if (set[i] == off)
			return;
	set[(*n)++] = off;
}

/*
 * Not mktime: its handling of tm_isdst = -1 in gaps and overlaps varies. Instead, each
 * offset the zone uses near the local time is tried: an offset o fits when the zone's
 * offset at local - o is o. Two fits: an overlap, the earlier instant wins. None: a gap,
 * and the offset from before the gap moves the time forward by the gap's length.
 */
int dates_local_to_utc(const char *zone, day_t day, int secs, int64_t *out)
{
	long cand[6], off, best_off = 0;
	int n = 0, nprobe, found = 0;
	int64_t local, best = 0;

	if (day == DAY_NONE || !zone || !*zone)
		return -1;
	local = (int64_t)day * SECS_PER_DAY + secs;
	/* Offsets are within a day, so these two bracket every instant local can be. */
	if (zone_offset(zone, local - SECS_PER_DAY, &off) < 0)
		return -1;
	add_offset(cand, &n, off);
	if (zone_offset(zone, local + SECS_PER_DAY, &off) < 0)
		return -1;
	add_offset(cand, &n, off);
	/* And the offsets at the candidate instants, for two transitions within a day. */
	nprobe = n;
	for (int i = 0; i < nprobe; i++)
		if (zone_offset(zone, local - cand[i], &off) == 0)
			add_offset(cand, &n, off);
	for (int i = 0; i < n; i++) {
		if (zone_offset(zone, local - cand[i], &off) < 0 || off != cand[i])
			continue;
		if (!found || local - cand[i] < best)
			best = local - cand[i];
		found = 1;
	}
	if (!found) {
		for (int i = 0; i < n; i++)
			if (i == 0 || cand[i] > best_off)
				best_off = cand[i];
		/* Just before the gap the zone used the offset found at local - (the later offset). */
		if (zone_offset(zone, local - best_off, &off) < 0)
			return -1;
		best = local - off;
	}
	*out = best;
	return 0;
}

/* Local day and seconds of instant t with offset off. */
static int split_local(int64_t t, long off, day_t *day, int *secs)
{
	int64_t local = t + off;
	int64_t d = floor_div(local, SECS_PER_DAY);
	if (day_from_i64(d) == DAY_NONE)
		return -1;
	*day = (day_t)d;
	*secs = (int)(local - d * SECS_PER_DAY);
	return 0;
}

int dates_utc_to_local(const char *zone, int64_t t, day_t *day, int *secs)
{
	long off;
	if (zone_offset(zone, t, &off) < 0)
		return -1;
	return split_local(t, off, day, secs);
}

/* Parses "HH:MM" or "HH:MM:SS" at s; returns the rest or NULL. */
static const char *scan_hms(const char *s, int with_secs, int *h, int *m, int *sec)
{
	if (strnlen(s, 3) < 3 || s[2] != ':')
		return NULL;
	*h = digits(s, 2);
	if (strnlen(s + 3, 2) < 2 || (*m = digits(s + 3, 2)) < 0 || *h < 0)
		return NULL;
	s += 5;
	*sec = 0;
	if (with_secs && *s == ':') {
		if (strnlen(s + 1, 2) < 2 || (*sec = digits(s + 1, 2)) < 0)
			return NULL;
		s += 3;
	}
	return s;
}

int dates_parse_time(const char *s, const char *zone, int64_t *out, char err[ERR_LEN])
{
	static const char *const syntax = "expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], optionally followed by Z or \xc2\xb1HH:MM";
	int y, mo, d, h, mi, sec, oh, om, osec;
	const char *p;
	day_t day;

	if (!s)
		return err_set(err, "missing time");
	p = scan_ymd(s, &y, &mo, &d);
	if (!p)
		return err_set(err, "bad time \"%.60s\": %s", s, syntax);
	if (!dates_valid_ymd(y, mo, d))
		return err_set(err, "bad time \"%.60s\": no such date", s);
	day = dates_from_ymd(y, mo, d);
	if (!*p) {
		if (!zone || !*zone)
			return err_set(err, "bad time \"%.60s\": no offset and no time zone to read it in", s);
		if (dates_local_to_utc(zone, day, 12 * 3600, out) < 0)
			return err_set(err, "bad time \"%.60s\": unknown time zone \"%.64s\"", s, zone ? zone : "");
		return 0;
	}
	if (*p != 'T' || !(p = scan_hms(p + 1, 1, &h, &mi, &sec)))
		return err_set(err, "bad time \"%.60s\": %s", s, syntax);
	if (h > 23 || mi > 59 || sec > 59)
		return err_set(err, "bad time \"%.60s\": no such time of day", s);
	int secs = h * 3600 + mi * 60 + sec;
	if (!*p) {
		if (!zone || !*zone)
			return err_set(err, "bad time \"%.60s\": no offset and no time zone to read it in", s);
		if (dates_local_to_utc(zone, day, secs, out) < 0)
			return err_set(err, "bad time \"%.60s\": unknown time zone \"%.64s\"", s, zone ? zone : "");
		return 0;
	}
	if (*p == 'Z' && !p[1]) {
		*out = (int64_t)day * SECS_PER_DAY + secs;
		return 0;
	}
	if ((*p != '+' && *p != '-') || !scan_hms(p + 1, 0, &oh, &om, &osec) || p[6])
		return err_set(err, "bad time \"%.60s\": %s", s, syntax);
	if (oh > 23 || om > 59)
		return err_set(err, "bad time \"%.60s\": offset out of range", s);
	int64_t off = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
	*out = (int64_t)day * SECS_PER_DAY + secs - off;
	return 0;
}

/*
 * The offset of t in zone, truncated to whole minutes (old LMT offsets have seconds,
 * which neither format can show; the local time is shown for the truncated offset, so
 * the text still names instant t exactly). An invalid zone gives UTC.
 */
static long minute_offset(int64_t t, const char *zone)
{
	long off;
	if (zone_offset(zone, t, &off) < 0)
		return 0;
	return off / 60 * 60;
}

struct local_parts {
	int y, m, d, h, mi, s, wd;
	char sign;
	long oh, om;
};

static int local_parts(int64_t t, const char *zone, struct local_parts *lp)
{
	long off = minute_offset(t, zone), aoff = off < 0 ? -off : off;
	day_t day;
	int secs;
	if (split_local(t, off, &day, &secs) < 0)
		return -1;
	dates_to_ymd(day, &lp->y, &lp->m, &lp->d);
	lp->wd = dates_weekday(day);
	lp->h = secs / 3600;
	lp->mi = secs / 60 % 60;
	lp->s = secs % 60;
	lp->sign = off < 0 ? '-' : '+';
	lp->oh = aoff / 3600;
	lp->om = aoff / 60 % 60;
	return 0;
}

void dates_format_instant(int64_t t, const char *zone, char *buf, size_t size)
{
	struct local_parts lp;
	if (!size)
		return;
	if (local_parts(t, zone, &lp) < 0) {
		util_strlcpy(buf, "?", size);
		return;
	}
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld",
		 lp.y, lp.m, lp.d, lp.h, lp.mi, lp.s, lp.sign, lp.oh, lp.om);
}

void dates_format_rfc5322(int64_t t, const char *zone, char *buf, size_t size)
{
	struct local_parts lp;
	if (!size)
		return;
	if (local_parts(t, zone, &lp) < 0) {
		util_strlcpy(buf, "?", size);
		return;
	}
	snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld",
		 wday_abbr[lp.wd], lp.d, month_abbr[lp.m], lp.y, lp.h, lp.mi, lp.s, lp.sign, lp.oh, lp.om);
}

int dates_parse_clock(const char *s, int *secs)
{
	int h, m;
	if (!s || strlen(s) != 5 || s[2] != ':')
		return -1;
	h = digits(s, 2);
	m = digits(s + 3, 2);
	if (h == 24 && m == 0) {
		*secs = SECS_PER_DAY;
		return 0;
	}
	if (h < 0 || h > 23 || m < 0 || m > 59)
		return -1;
	*secs = h * 3600 + m * 60;
	return 0;
}
