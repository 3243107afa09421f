/*
 * model: the records everything else passes around: stakeholders (standard and custom
 * fields), milestone events and dispatch records, with their validation from CSV rows
 * and the name tables of their enums.
 */
#ifndef OCCASIOND_MODEL_H
#define OCCASIOND_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "occasiond/util.h"

enum sh_field {
	SH_ID, SH_FIRST_NAME, SH_LAST_NAME, SH_NICKNAME, SH_ORGANIZATION, SH_TITLE, SH_TYPE,
	SH_TIER, SH_EMAIL, SH_PREFERRED_CHANNEL, SH_OWNER, SH_OWNER_EMAIL, SH_TIMEZONE,
	SH_STREET, SH_CITY, SH_REGION, SH_POSTAL_CODE, SH_COUNTRY, SH_BIRTHDAY, SH_HIRE_DATE,
	SH_CUSTOMER_SINCE, SH_CONTRACT_RENEWAL, SH_CONSENT_PERSONAL, SH_OPTED_OUT,
	SH_NFIELDS
};
extern const char *const sh_field_names[SH_NFIELDS];
/* sh_field_lookup: the field of a column name, or -1 for a custom column. */
int sh_field_lookup(const char *name);

struct model_cols;

struct kv {
	char *key;
	char *value;
};

/*
 * A stakeholder. Every value is normalised text, never NULL after model_stakeholder_from_row
 * or store loading (absent is ""): dates ISO (birthday may be "--MM-DD"), booleans "1"/"0",
 * type and preferred_channel lower case.
 */
struct stakeholder {
	char *f[SH_NFIELDS];
	struct kv *custom;   /* custom columns in header order */
	size_t ncustom;
	/*
	 * present: bit (1u << f) for each standard column the CSV header had (set by
	 * model_stakeholder_from_row). Nonzero makes store_put_stakeholder update an existing
	 * stakeholder partially: absent columns keep their stored values, so a re-import
	 * without, say, opted_out never resets it. 0 (built by hand): every field is written.
	 */
	uint32_t present;
};
#define MODEL_MAX_VALUE 4096       /* bytes in a standard column (and an event title) */
#define MODEL_MAX_DETAILS 65536    /* bytes in an event's details */
#define MODEL_MAX_COLUMN_NAME 128  /* bytes in a custom column's name */

/* stakeholder_get: a standard or custom field by column name; NULL when the column is unknown. */
const char *stakeholder_get(const struct stakeholder *sh, const char *name);
/* stakeholder_flag: a boolean field ("1"). */
int stakeholder_flag(const struct stakeholder *sh, enum sh_field f);
/*
 * stakeholder_display_name: the name as printed and addressed (CONTRACT section 5): the
 * custom column display_name as written when given; else the family name first for names in
 * Han, Kana or Hangul ("王伟", "田中花子", "김민준", run together) and for countries that
 * write it so (Hungary, Vietnam: "Nagy Péter"); else "First Last"; a lone part, the
 * nickname or the id when the rest is empty. Caller frees.
 */
char *stakeholder_display_name(const struct stakeholder *sh);
/* stakeholder_family_first: 1 when stakeholder_display_name puts last_name first. */
int stakeholder_family_first(const struct stakeholder *sh);
/*
 * stakeholder_greeting_name: the nickname, else the first name; for a Chinese, Japanese or
 * Korean name the whole name (family first). Caller frees.
 */
char *stakeholder_greeting_name(const struct stakeholder *sh);
/* stakeholder_clear: frees the fields and zeroes sh (the struct itself is not freed). */
void stakeholder_clear(struct stakeholder *sh);
void stakeholders_free(struct stakeholder *v, size_t n);

/*
 * model_stakeholder_from_row: validates one CSV row against its header and fills sh
 * (cleared first with stakeholder_clear: pass a zeroed struct or a previous result).
 * Rejects: a missing id or first_name, an id outside [A-Za-z0-9._@-]{1,64},
 * invalid UTF-8, control characters (except: tab in custom columns; line feeds in street,
 * the lines of an address, CRLF becoming LF), bad dates,
 * booleans, type, preferred_channel, time zones and e-mail addresses, values over 4 KB in a
 * standard column, a field count that differs from the header's. Values are trimmed of
 * ASCII white space; a birthday "MM-DD" is normalised to "--MM-DD"; a boolean column that
 * is present but empty is "0". Header names are trimmed and matched exactly (lower case).
 * lens may be NULL (then strlen). Returns 0, or -1 with "column NAME: message" in err
 * (sh is cleared on error).
 */
int model_stakeholder_from_row(char *const *header, size_t nheader, char *const *values,
                               const size_t *lens, size_t n, struct stakeholder *sh, char err[ERR_LEN]);
/*
 * model_cols_new: a header resolved once for many rows (an import): model_stakeholder_from_cols
 * is then model_stakeholder_from_row with that header, the same checks and messages. The header
 * strings must outlive it. Never NULL; free with model_cols_free (NULL is fine).
 */
struct model_cols *model_cols_new(char *const *header, size_t n);
void model_cols_free(struct model_cols *mc);
int model_stakeholder_from_cols(const struct model_cols *mc, char *const *values, const size_t *lens, size_t n,
                                struct stakeholder *sh, char err[ERR_LEN]);
/*
 * model_check_header: unknown names are custom columns; duplicate or empty names and a missing
 * id/first_name are errors. Names are trimmed and compared exactly: the standard names are
 * lower case, and a case variant of one ("Email") is an error rather than a silent custom
 * column. for_events: the columns are stakeholder_id, kind, date (required), title and
 * details; any other is an error.
 */
int model_check_header(char *const *header, size_t n, int for_events, char err[ERR_LEN]);

struct event {
	char *stakeholder_id;
	char *kind;          /* [a-z0-9_-]+ */
	char *date;          /* YYYY-MM-DD */
	char *title;
	char *details;
};
/*
 * model_event_from_row: as model_stakeholder_from_row for an events row (ev cleared first).
 * kind is lower-cased; details may hold LF and tab (CRLF becomes LF), up to MODEL_MAX_DETAILS.
 */
int model_event_from_row(char *const *header, size_t nheader, char *const *values,
                         const size_t *lens, size_t n, struct event *ev, char err[ERR_LEN]);
void event_clear(struct event *ev);
void events_free(struct event *v, size_t n);

enum channel { CH_CARD, CH_EMAIL, CH_PREFERRED, CH__N };
extern const char *const channel_names[CH__N];
int channel_parse(const char *s);      /* -1 when unknown */

enum dispatch_status {
	DS_QUEUED, DS_RENDERED, DS_PRINTED, DS_SIGNED, DS_MAILED, DS_CANCELLED,
	DS_SENT, DS_RETRY, DS_UNKNOWN, DS_FAILED, DS_SKIPPED, DS__N
};
extern const char *const dispatch_status_names[DS__N];
int dispatch_status_parse(const char *s);   /* -1 when unknown */

/* A dispatch record: one (rule, stakeholder, occasion date), at most once. */
struct dispatch_rec {
	int64_t id;
	char *rule;
	char *stakeholder;
	char *occasion_date;   /* YYYY-MM-DD */
	char *fire_date;       /* YYYY-MM-DD: the batch date of a card */
	int64_t fire_at;       /* UTC seconds */
	enum channel channel;  /* CH_CARD or CH_EMAIL */
	enum dispatch_status status;
	char *reason;          /* skipped: missed, limit, budget, no-address */
	int attempts;
	char *error;
	char *artifact;        /* card: the batch PDF; email: the maildir file */
	int page;              /* card: first page in the batch, else 0 */
	char *message_id;
	char *signer;
	int64_t cost_cents;
	char *template_name;
	int64_t next_attempt_at;  /* retry: when to try again, else 0 */
	int data_sent;         /* email: the message data started to go out */
	char *last_reply;
	int64_t created_at;
	int64_t updated_at;
	char *handled_by;      /* HOST:PID of the daemon or command that claimed it ("" before schema 2) */
};
void dispatch_rec_clear(struct dispatch_rec *r);
void dispatch_recs_free(struct dispatch_rec *v, size_t n);

#endif
