/* test_install.c: dlc as a user installs it and calls it from their own builds (issue 15).
 *
 * In a private temporary directory: configures a second build of this source tree with -Dtests=false, installs it
 * into a prefix there and deletes that build folder. Then, with only the prefix:
 *   - every file `meson install` promises is there (dlc, libdlrt shared and static, include/dlrt/, dlrt.pc, the
 *     man pages, the bash completion), and `dlc --version` prints the meson version;
 *   - the installed dlc, moved with its prefix to another folder, builds mlp's trainer from a folder whose name has
 *     a blank and a quote (the runtime is found relative to dlc, the compiler started without a shell); the
 *     trainer trains 500 examples for an epoch and saves a checkpoint;
 *   - the out-of-tree projects of tests/install/ (Make, CMake, meson: the snippets of docs/embedding.md) generate
 *     the model's C with the installed dlc and link tests/install/app.cpp, a C++ program, against it and
 *     `pkg-config dlrt`; each program loads the checkpoint and prints mlp's logits for 8 inputs. The inference
 *     builds agree with the training build (to 1e-5), the training build's 20 steps lower the loss, and its mlp_save
 *     writes the trainer's checkpoint byte for byte;
 *   - tests/install/save_check.c, built against `pkg-config dlrt`: <name>_save of house_prices (Adam's moments)
 *     and mlp writes the bytes libdlrt's encoder writes for the same state, with and without a generator.
 * Without Fashion-MNIST (dataset-fashion-mnist) there is nothing to train on: those parts are skipped and say so.
 * A second suite runs this build's `dlc build` with a stand-in compiler that records its arguments: CC, CFLAGS and
 * LDFLAGS are honoured (split at blanks), paths with a blank and a quote arrive as one argument each (no shell),
 * and -march=native appears only with --native.
 * On failure the directory is kept and named; otherwise it is removed. */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#ifndef SOURCE_ROOT
#define SOURCE_ROOT "."
#endif
#ifndef DLC_PATH
#define DLC_PATH "dlc"
#endif

static char workdir[] = "/tmp/dlc-install-XXXXXX";
static char *prefix, *libdir;
static bool any_failure, have_data;

/* Runs argv (no shell); its output is kept in *out when out is not NULL and printed on failure. */
static int runv(char **out, const char *const argv[]) {
    char *log = fmt("%s/run.log", workdir);
    int rc = run((char *const *)argv, log);
    char *text = slurp(log);
    if (out)
        *out = text;
    if (rc != 0) {
        any_failure = true;
        printf("\n  FAILED (exit %d):", rc);
        for (int i = 0; argv[i]; i++)
            printf(" %s", argv[i]);
        printf("\n%s\n", text);
    }
    return rc;
}
#define RUN(out, ...) runv(out, (const char *const[]){__VA_ARGS__, NULL})

static bool exists(const char *path) {
    struct stat st;
    bool ok = stat(path, &st) == 0 && st.st_size > 0;
    if (!ok) {
        any_failure = true;
        printf("\n  missing: %s\n", path);
    }
    return ok;
}

static bool copy_file(const char *from, const char *to) {
    size_t len;
    char *text = slurp_n(from, &len);
    FILE *f = fopen(to, "wb");
    bool ok = f && len && fwrite(text, 1, len, f) == len;
    ok = f && fclose(f) == 0 && ok;
    if (!ok) {
        any_failure = true;
        printf("\n  cannot copy %s to %s\n", from, to);
    }
    return ok;
}

/* The installed libdir: meson picks lib/<multiarch> on Debian, lib elsewhere; the one holding pkgconfig/dlrt.pc. */
static char *find_libdir(void) {
    const char *top[] = {"lib", "lib64"};
    for (int i = 0; i < 2; i++) {
        char *dir = fmt("%s/%s", prefix, top[i]);
        if (access(fmt("%s/pkgconfig/dlrt.pc", dir), R_OK) == 0)
            return dir;
        DIR *d = opendir(dir);
        for (struct dirent *e; d && (e = readdir(d));)
            if (e->d_name[0] != '.' && access(fmt("%s/%s/pkgconfig/dlrt.pc", dir, e->d_name), R_OK) == 0) {
                char *found = fmt("%s/%s", dir, e->d_name);
                closedir(d);
                return found;
            }
        if (d)
            closedir(d);
    }
    return NULL;
}

static int setup(void) {
    if (!mkdtemp(workdir))
        return 1;
    prefix = fmt("%s/prefix", workdir);
    have_data = access("/usr/share/datasets/fashion-mnist", R_OK) == 0;
    return 0;
}

static void teardown(void) {
    if (any_failure || CU_get_number_of_failures())
        printf("\n  test_install: kept %s\n", workdir);
    else
        remove_tree(workdir);
}

/* ---- install ---- */

static void test_install(void) {
    char *build = fmt("%s/build", workdir);
    CU_ASSERT_EQUAL_FATAL(RUN(NULL, "meson", "setup", build, SOURCE_ROOT, fmt("--prefix=%s", prefix), "-Dtests=false"),
                          0);
    CU_ASSERT_EQUAL_FATAL(RUN(NULL, "ninja", "-C", build), 0);
    CU_ASSERT_EQUAL_FATAL(RUN(NULL, "meson", "install", "-C", build, "--no-rebuild"), 0);
    remove_tree(build);
    CU_ASSERT_FATAL(access(build, F_OK) != 0);

    libdir = find_libdir();
    CU_ASSERT_PTR_NOT_NULL_FATAL(libdir);
    const char *files[] = {
        fmt("%s/bin/dlc", prefix),
        fmt("%s/include/dlrt/dlrt.h", prefix),
        fmt("%s/include/dlrt/dlrt_core.h", prefix),
        fmt("%s/libdlrt.a", libdir),
        fmt("%s/libdlrt.so", libdir),
        fmt("%s/pkgconfig/dlrt.pc", libdir),
        fmt("%s/share/man/man1/dlc.1", prefix),
        fmt("%s/share/man/man1/dlc-trainer.1", prefix),
        fmt("%s/share/bash-completion/completions/dlc", prefix),
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        CU_ASSERT(exists(files[i]));
    char *out;
    CU_ASSERT_EQUAL(RUN(&out, fmt("%s/bin/dlc", prefix), "--version"), 0);
    CU_ASSERT_STRING_EQUAL(out, "dlc " DLC_VERSION "\n");
    char *pc = slurp(fmt("%s/pkgconfig/dlrt.pc", libdir));
    CU_ASSERT_PTR_NOT_NULL(strstr(pc, "Version: " DLC_VERSION "\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(pc, "Requires: zlib, libpng, openblas\n"));
    CU_ASSERT_EQUAL(RUN(NULL, "bash", "-n", fmt("%s/share/bash-completion/completions/dlc", prefix)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(slurp(fmt("%s/share/man/man1/dlc.1", prefix)), ".TH \"dlc\" \"1\""));

    /* later tests find the installed tools as a user would: on PATH, and dlrt.pc on PKG_CONFIG_PATH */
    const char *path = getenv("PATH");
    setenv("PATH", fmt("%s/bin:%s", prefix, path ? path : "/usr/bin:/bin"), 1);
    setenv("PKG_CONFIG_PATH", fmt("%s/pkgconfig", libdir), 1);
}

/* ---- dlc build with the installed dlc ---- */

static char *ckpt;

static void test_build_trainer(void) {
    CU_ASSERT_PTR_NOT_NULL_FATAL(libdir);
    if (!have_data) {
        printf("\n  skipped: no Fashion-MNIST in /usr/share/datasets/fashion-mnist to train mlp on "
               "(apt-get install dataset-fashion-mnist)\n");
        return;
    }
    /* the prefix moves: dlc finds its runtime relative to itself, wherever it is */
    char *moved = fmt("%s/moved prefix", workdir);
    CU_ASSERT_EQUAL_FATAL(rename(prefix, moved), 0);
    char *dir = fmt("%s/a model's folder", workdir);
    CU_ASSERT_EQUAL_FATAL(mkdir_p(dir), 0);
    char *dlm = fmt("%s/mlp.dlm", dir), *exe = fmt("%s/mlp train", dir);
    CU_ASSERT_FATAL(copy_file(SOURCE_ROOT "/models/mlp.dlm", dlm));
    char *out;
    int rc = RUN(&out, fmt("%s/bin/dlc", moved), "build", dlm, "-o", exe);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL_FATAL(rename(moved, prefix), 0);
    if (rc != 0)
        return;
    /* a copy of dlc alone has no runtime beside it, and says where it looked */
    char *lone = fmt("%s/dlc", dir);
    CU_ASSERT_FATAL(copy_file(fmt("%s/bin/dlc", prefix), lone));
    chmod(lone, 0755);
    char *log = fmt("%s/run.log", workdir);
    CU_ASSERT_NOT_EQUAL(run((char *const[]){lone, "build", dlm, "-o", exe, NULL}, log), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(slurp(log), "cannot find libdlrt"));

    CU_ASSERT_EQUAL(RUN(&out, exe, "--version"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, DLC_VERSION));
    ckpt = fmt("%s/mlp.ckpt", workdir);
    CU_ASSERT_EQUAL(RUN(NULL, exe, "--limit", "500", "--epochs", "1", "--quiet", "--save", ckpt), 0);
    CU_ASSERT(exists(ckpt));
}

/* ---- <name>_save against libdlrt's encoder ---- */

/* The words `pkg-config ARGS dlrt` prints, appended to argv from index k; returns the new k. */
static int pkg_words(const char **argv, int k, int max, const char *what) {
    char *out;
    if (RUN(&out, "pkg-config", what, "dlrt") != 0)
        return -1;
    for (char *w = strtok(out, " \n"); w && k < max; w = strtok(NULL, " \n"))
        argv[k++] = w;
    return k;
}

static void test_save(void) {
    CU_ASSERT_PTR_NOT_NULL_FATAL(libdir);
    static const char *const models[][3] = {{"house_prices", "HOUSE_PRICES", NULL}, {"mlp", "MLP", "-DLABELS"}};
    for (int m = 0; m < 2; m++) {
        char *dir = fmt("%s/save-%s", workdir, models[m][0]), *out;
        CU_ASSERT_EQUAL_FATAL(
            RUN(NULL, "dlc", "compile", fmt("%s/models/%s.dlm", SOURCE_ROOT, models[m][0]), "-o", dir), 0);
        const char *argv[64] = {"cc",
                                "-std=c11",
                                "-Wall",
                                "-Wextra",
                                "-Werror",
                                fmt("-DMODEL=%s", models[m][0]),
                                fmt("-DMODEL_UC=%s", models[m][1]),
                                fmt("-I%s", dir),
                                SOURCE_ROOT "/tests/install/save_check.c",
                                fmt("%s/%s.c", dir, models[m][0]),
                                "-o",
                                fmt("%s/save_check", dir),
                                fmt("-Wl,-rpath,%s", libdir)};
        int k = 13;
        if (models[m][2])
            argv[k++] = models[m][2];
        k = pkg_words(argv, k, 63, "--cflags");
        CU_ASSERT_FATAL(k > 0);
        k = pkg_words(argv, k, 63, "--libs");
        CU_ASSERT_FATAL(k > 0);
        argv[k] = NULL;
        CU_ASSERT_EQUAL_FATAL(runv(NULL, argv), 0);
        CU_ASSERT_EQUAL(RUN(&out, fmt("%s/save_check", dir)), 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "with generator: ") && strstr(out, "identical to libdlrt's"));
        printf("\n    %s: %s", models[m][0], out);
    }
}

/* ---- the out-of-tree projects ---- */

/* The 80 logits an app printed, and its "classes" line; false when the output is not that. */
typedef struct {
    double logits[80];
    char classes[64];
    double loss_first, loss_last;
} AppOutput;

static bool parse_app(const char *text, AppOutput *o, bool train) {
    const char *p = text;
    for (int i = 0; i < 80; i++) {
        char *end;
        o->logits[i] = strtod(p, &end);
        if (end == p || !isfinite(o->logits[i]))
            return false;
        p = end;
    }
    if (sscanf(p, " classes %63[0-9 ]", o->classes) != 1)
        return false;
    if (train) {
        const char *l = strstr(p, "loss ");
        return l && sscanf(l, "loss %lf %lf", &o->loss_first, &o->loss_last) == 2;
    }
    return true;
}

static AppOutput train_out;
static bool have_infer_out;

/* Copies a project of tests/install/ with app.cpp and mlp.dlm into the work directory. */
static char *project(const char *name) {
    char *dir = fmt("%s/%s", workdir, name);
    CU_ASSERT_EQUAL(mkdir_p(dir), 0);
    const char *files[3][2] = {{"tests/install/app.cpp", "app.cpp"}, {"models/mlp.dlm", "mlp.dlm"}, {NULL, NULL}};
    files[2][0] = strcmp(name, "make") == 0    ? "tests/install/make/Makefile"
                  : strcmp(name, "cmake") == 0 ? "tests/install/cmake/CMakeLists.txt"
                                               : "tests/install/meson/meson.build";
    files[2][1] = strrchr(files[2][0], '/') + 1;
    for (int i = 0; i < 3; i++)
        copy_file(fmt("%s/%s", SOURCE_ROOT, files[i][0]), fmt("%s/%s", dir, files[i][1]));
    return dir;
}

/* Runs an app built by a project on the checkpoint and checks its logits against the training build's. */
static void check_app(const char *exe) {
    char *out;
    if (RUN(&out, exe, ckpt) != 0)
        return;
    AppOutput o;
    CU_ASSERT_FATAL(parse_app(out, &o, false));
    for (int i = 0; i < 80; i++)
        CU_ASSERT(fabs(o.logits[i] - train_out.logits[i]) <= 1e-5 * (1 + fabs(train_out.logits[i])));
    CU_ASSERT_STRING_EQUAL(o.classes, train_out.classes);
}

static void test_make(void) {
    if (!ckpt) {
        printf("\n  skipped: no checkpoint (see the trainer's test)\n");
        return;
    }
    char *dir = project("make"), *out;
    CU_ASSERT_EQUAL_FATAL(RUN(NULL, "make", "-C", dir), 0);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(slurp(fmt("%s/gen-infer/mlp.h", dir)), "#define MLP_DLC_VERSION \"" DLC_VERSION "\"\n"));
    CU_ASSERT_EQUAL_FATAL(RUN(&out, fmt("%s/app-train", dir), ckpt), 0);
    CU_ASSERT_FATAL(parse_app(out, &train_out, true));
    CU_ASSERT(train_out.loss_last < train_out.loss_first);
    have_infer_out = true;
    check_app(fmt("%s/app", dir));
}

static void test_cmake(void) {
    if (!have_infer_out) {
        printf("\n  skipped: no checkpoint or training build to compare with (see the tests above)\n");
        return;
    }
    char *log = fmt("%s/run.log", workdir);
    if (run((char *const[]){"cmake", "--version", NULL}, log) != 0) {
        printf("\n  skipped: cmake is not installed (scripts/setup.sh installs it)\n");
        return;
    }
    char *dir = project("cmake");
    CU_ASSERT_EQUAL_FATAL(RUN(NULL, "cmake", "-S", dir, "-B", fmt("%s/b", dir), "-G", "Ninja"), 0);
    CU_ASSERT_EQUAL_FATAL(RUN(NULL, "cmake", "--build", fmt("%s/b", dir)), 0);
    check_app(fmt("%s/b/app", dir));
}

static void test_meson(void) {
    if (!have_infer_out) {
        printf("\n  skipped: no checkpoint or training build to compare with (see the tests above)\n");
        return;
    }
    char *dir = project("meson");
    CU_ASSERT_EQUAL_FATAL(RUN(NULL, "meson", "setup", fmt("%s/b", dir), dir), 0);
    CU_ASSERT_EQUAL_FATAL(RUN(NULL, "ninja", "-C", fmt("%s/b", dir)), 0);
    check_app(fmt("%s/b/app", dir));
}

/* ---- dlc build's compiler command ---- */

/* The arguments the stand-in compiler received, one a line; NULL when dlc build failed. */
static char *build_with_fake_cc(const char *dir, bool native) {
    char *cc = fmt("%s/fakecc", workdir), *args = fmt("%s/args", workdir); /* CC is split at blanks */
    if (!write_text(cc, fmt("#!/bin/sh\nfor a in \"$@\"; do printf '%%s\\n' \"$a\"; done > '%s'\n", args)) ||
        chmod(cc, 0755) != 0)
        return NULL;
    setenv("CC", fmt("%s --first-word-of-cc", cc), 1);
    setenv("CFLAGS", " -DFROM_CFLAGS  -O1 ", 1);
    setenv("LDFLAGS", "-Wl,--from-ldflags", 1);
    char *dlm = fmt("%s/mlp.dlm", dir), *exe = fmt("%s/the trainer's name", dir);
    int rc = native ? RUN(NULL, DLC_PATH, "build", dlm, "--native", "-o", exe)
                    : RUN(NULL, DLC_PATH, "build", dlm, "-o", exe);
    unsetenv("CC");
    unsetenv("CFLAGS");
    unsetenv("LDFLAGS");
    return rc == 0 ? slurp(args) : NULL;
}

static void test_build_command(void) {
    char *dir = fmt("%s/it's a folder", workdir);
    CU_ASSERT_EQUAL_FATAL(mkdir_p(dir), 0);
    CU_ASSERT_FATAL(copy_file(SOURCE_ROOT "/models/mlp.dlm", fmt("%s/mlp.dlm", dir)));
    for (int native = 0; native < 2; native++) {
        char *args = build_with_fake_cc(dir, native);
        CU_ASSERT_PTR_NOT_NULL_FATAL(args);
        CU_ASSERT(strncmp(args, "--first-word-of-cc\n", 19) == 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(args, "\n-DFROM_CFLAGS\n-O1\n"));
        CU_ASSERT_PTR_NOT_NULL(strstr(args, "\n-Wl,--from-ldflags\n"));
        CU_ASSERT_PTR_NOT_NULL(strstr(args, fmt("\n-o\n%s/the trainer's name\n", dir)));
        CU_ASSERT_PTR_NOT_NULL(strstr(args, "/libdlrt.a\n"));
        CU_ASSERT_EQUAL(strstr(args, "\n-march=native\n") != NULL, native);
    }
}

int main(void) {
    atexit(free_kept);
    if (setup() != 0 || CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("install", NULL, NULL);
    CU_add_test(s, "meson install into a prefix, the build folder deleted", test_install);
    CU_add_test(s, "the installed dlc builds a trainer from anywhere", test_build_trainer);
    CU_add_test(s, "<name>_save writes libdlrt's bytes (Adam, plain SGD)", test_save);
    CU_add_test(s, "a Make project: C++ apps on training and inference code", test_make);
    CU_add_test(s, "a CMake project (add_custom_command)", test_cmake);
    CU_add_test(s, "a meson project (custom_target)", test_meson);
    CU_pSuite b = CU_add_suite("dlc build", NULL, NULL);
    CU_add_test(b, "CC, CFLAGS, LDFLAGS, no shell, --native", test_build_command);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    teardown();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
