/*
 * card_break: where a line may break inside text written without spaces between its words
 * (Thai, Lao, Khmer, Myanmar: UAX #14's class SA), which only a dictionary knows. ICU's line
 * break iterator has one for each; this file is the only ICU user. One iterator is opened for
 * the process on first use and reused (opening one loads the rules and dictionaries).
 */
#include <stdlib.h>

#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/uclean.h>

#include "card_int.h"

static UBreakIterator *iter;
static int failed;      /* ICU could not open one: breaks at spaces only, as without it */
static const UChar none[1];

static void at_exit(void)
{
	if (iter)
		ubrk_close(iter);
	iter = NULL;
	u_cleanup();        /* ICU's caches, so that a leak checker sees nothing left */
}

int card_break_dictionary(uint32_t cp)
{
	return cp < 0x10000 && u_getIntPropertyValue((UChar32)cp, UCHAR_LINE_BREAK) == U_LB_COMPLEX_CONTEXT;
}

void card_break_words(const uint32_t *cp, size_t n, uint8_t *brk)
{
	UErrorCode st = U_ZERO_ERROR;
	UChar *u;
	int32_t b;

	if (n < 2 || n > 0x7FFFFFFF || failed)
		return;
	if (!iter) {
		iter = ubrk_open(UBRK_LINE, "", NULL, 0, &st);
		if (U_FAILURE(st) || !iter) {
			failed = 1;
			iter = NULL;
			return;
		}
		atexit(at_exit);
	}
	/* Every code point of the run is in the BMP (card_break_dictionary): one UTF-16 unit each. */
	u = xcalloc(n, sizeof *u);
	for (size_t i = 0; i < n; i++)
		u[i] = (UChar)cp[i];
	ubrk_setText(iter, u, (int32_t)n, &st);
	if (U_SUCCESS(st))
		for (b = ubrk_following(iter, 0); b != UBRK_DONE && b < (int32_t)n; b = ubrk_next(iter))
			brk[b] = 1;
	/* The iterator keeps a pointer to the text: point it at nothing before the text goes. */
	st = U_ZERO_ERROR;
	ubrk_setText(iter, none, 0, &st);
	free(u);
}
