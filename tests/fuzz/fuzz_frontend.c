/* fuzz_frontend.c: libFuzzer target for the front end.
 *
 * Each input is a .dlm source, run through what `dlc check` does: parse, elaborate, and (for a clean model)
 * the report, which differentiates the loss. Any crash, sanitizer report, die() or time-out is a bug: bad
 * input must end in located diagnostics. Built with -Dfuzz=true under clang (tests/fuzz/meson.build); the
 * seeds are the .dlm files of models/ and tests/errors/, and tests/fuzz/dlm.dict names the language's words. */
#include "dlc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static FILE *devnull;
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        die("cannot open /dev/null");
    Diag d;
    diag_init(&d, devnull);
    g_diag = &d;
    /* the bytes as they are, NULs included, as source_from_file would give them */
    Source *src = xalloc(sizeof(Source));
    char *text = xalloc(size + 1);
    if (size)
        memcpy(text, data, size);
    src->path = "fuzz.dlm";
    src->text = text;
    src->len = size;
    Program *prog = parse_program(src);
    if (d.errors == 0) {
        ElabOptions eo = {.training = true};
        Graph *g = elaborate(prog, "fuzz", &eo);
        if (d.errors == 0)
            check_print(devnull, g);
    }
    g_diag = NULL;
    arena_free_all();
    return 0;
}
