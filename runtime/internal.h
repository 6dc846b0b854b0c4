/* internal.h - helpers shared by libdlrt's hosted source files; not installed, not for generated code. */
#ifndef DLRT_INTERNAL_H
#define DLRT_INTERNAL_H

#include <stdio.h>

#include "dlrt.h"

#if defined(__GNUC__)
#define DLRT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define DLRT_PRINTF(f, a)
#endif

/* Formats the message into err (if non-NULL) and returns code, so error paths read `return dlrt_fail(...)`. */
int dlrt_fail(DlrtError *err, int code, const char *fmt, ...) DLRT_PRINTF(3, 4);

/* A file being written atomically: stream goes to a temporary sibling of path until commit renames it. */
typedef struct {
    FILE *f;
    char path[1024];
    char tmp[1040];
} DlrtAtomicFile;

int dlrt_atomic_open(DlrtAtomicFile *af, const char *path, DlrtError *err);
/* Flushes, fsyncs and renames over path; on any failure the temporary file is removed. */
int dlrt_atomic_commit(DlrtAtomicFile *af, DlrtError *err);
/* Gives up: closes and removes the temporary file. */
void dlrt_atomic_abort(DlrtAtomicFile *af);

/* font.c: the captions' bitmap font. A glyph is DLRT_GLYPH_H rows of DLRT_GLYPH_W pixels (byte r is row r, top
 * first, bit DLRT_GLYPH_W - 1 the leftmost pixel); glyphs sit DLRT_GLYPH_ADVANCE pixels apart. */
enum { DLRT_GLYPH_W = 5, DLRT_GLYPH_H = 9, DLRT_GLYPH_ADVANCE = 6 };
const unsigned char *dlrt_glyph(int c);

#endif
