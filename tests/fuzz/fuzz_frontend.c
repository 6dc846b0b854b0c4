/* fuzz_frontend.c: libFuzzer target for the front end.
 *
 * Each input is a .dlm source, run through what the driver does before code generation: parse, elaborate for
 * training and for inference, and differentiate the loss with respect to every trainable parameter. Any crash,
 * sanitizer report, die() or time-out is a bug: bad input must end in located diagnostics. With
 * DLC_FUZZ_BACKEND=1 in the environment a clean model also goes through compile_model, `dlc check`'s report and
 * the emitters (output to /dev/null).
 *
 * Built with -Dfuzz=true under clang (tests/fuzz/meson.build); the seeds are the .dlm files of models/ and
 * tests/errors/, and tests/fuzz/dlm.dict names the language's words. */
#include "dlc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Graph *elab(Program *prog, bool training) {
    ElabOptions eo = {.training = training};
    Graph *g = elaborate(prog, "fuzz", &eo);
    return prog->src->ctx->diag.errors ? NULL : g;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static FILE *devnull;
    static int backend = -1;
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        die("cannot open /dev/null");
    if (backend < 0)
        backend = getenv("DLC_FUZZ_BACKEND") && atoi(getenv("DLC_FUZZ_BACKEND")) > 0;
    /* one compilation per input, freed at its end */
    Ctx ctx;
    ctx_init(&ctx, devnull);
    /* the bytes as they are, NULs included, as source_from_file gives them */
    Source *src = xalloc(&ctx, sizeof(Source));
    char *text = xalloc(&ctx, size + 1);
    if (size)
        memcpy(text, data, size);
    src->path = "fuzz.dlm";
    src->text = text;
    src->len = size;
    src->ctx = &ctx;
    Program *prog = parse_program(src);
    Graph *train = ctx.diag.errors ? NULL : elab(prog, true);
    Graph *eval = train ? elab(prog, false) : NULL;
    if (eval && !backend && train->train.loss) {
        Vec(IrNode *) wrt = {0};
        for (int i = 0; i < train->params.n; i++)
            if (train->params.v[i].trainable)
                vec_push(&ctx, &wrt, train->params.v[i].node);
        IrNode **grads = xalloc(&ctx, sizeof(IrNode *) * (size_t)(wrt.n + 1));
        ad_grad(train, train->train.loss, wrt.v, wrt.n, grads);
    }
    if (eval && backend) {
        Compiled *c = compile_model(train, eval, 4, false, NULL, NULL, false);
        check_print(devnull, c);
        EmitOptions eo = {0};
        emit_header(devnull, c, &eo);
        emit_source(devnull, c, &eo);
        if (train->train.present && c->loss_train && train->train.data != DATA_NONE)
            emit_trainer(devnull, c, &eo);
    }
    ctx_free(&ctx);
    return 0;
}
