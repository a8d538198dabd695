/* fuzz/replay.c: runs a harness over saved inputs, without libFuzzer.
 *
 * Usage: replay-<target> PATH...   (each PATH a file or a directory; the
 * directory's entries are read in name order, dot files skipped, no
 * recursion). Every input is copied into a buffer of exactly its size and
 * passed to LLVMFuzzerTestOneInput, so gcc builds, ASan builds and valgrind
 * all see the same bytes libFuzzer did. Prints "N inputs" on stdout; exits 1
 * when a path cannot be read (a harness that fails aborts by itself). */
#include "fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

/* A saved input bigger than this is a mistake in the corpus, not a test. */
#define REPLAY_MAX_INPUT (16u << 20)

/* Weak, so targets without an initializer link too. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long size;
    int rc = 1;

    if (f == NULL) {
        (void)fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        (unsigned long)size > REPLAY_MAX_INPUT) {
        (void)fprintf(stderr, "replay: %s: cannot size it (at most %u bytes)\n", path,
                      REPLAY_MAX_INPUT);
        goto out;
    }
    buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        (void)fprintf(stderr, "replay: %s: read failed\n", path);
        goto out;
    }
    (void)LLVMFuzzerTestOneInput(buf, (size_t)size);
    (*count)++;
    rc = 0;
out:
    free(buf);
    (void)fclose(f);
    return rc;
}

static int run_dir(const char *dir, size_t *count)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort), i, rc = 0;

    if (n < 0) {
        (void)fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    for (i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        int len;
        if (names[i]->d_name[0] == '.') {
            continue;
        }
        len = snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (len < 0 || (size_t)len >= sizeof path) {
            (void)fprintf(stderr, "replay: %s/%s: path too long\n", dir, names[i]->d_name);
            rc = 1;
            continue;
        }
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && run_file(path, count) != 0) {
            rc = 1;
        }
    }
    for (i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int i, rc = 0;

    if (LLVMFuzzerInitialize != NULL) {
        (void)LLVMFuzzerInitialize(&argc, &argv);
    }
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            (void)fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            rc = 1;
        } else if (S_ISDIR(st.st_mode)) {
            rc |= run_dir(argv[i], &count);
        } else {
            rc |= run_file(argv[i], &count);
        }
    }
    (void)printf("%zu inputs\n", count);
    return rc;
}
