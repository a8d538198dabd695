/* bench/rusage.c: runs a command N times, as Ratify runs a plugin (a new
 * process each time, stdin from the request, stdout captured), and prints for
 * each run its wall time and the child's peak resident set size.
 *
 *   rusage [-n RUNS] [-i STDIN] [-o STDOUT] [-e STDERR] [-m TEXT] [-c DIR] [-t MS] -- CMD ARG...
 *
 *   -n RUNS    runs (default 1)
 *   -i FILE    the child's stdin (default /dev/null), reopened for every run
 *   -o FILE    the child's stdout, truncated for every run (default /dev/null)
 *   -e FILE    the child's stderr, truncated for every run (default /dev/null)
 *   -m TEXT    a run "matches" when its stdout (-o FILE) contains TEXT
 *   -c DIR     before every run, remove the regular files in DIR (a cold cache);
 *              DIR may be missing; a subdirectory in it is an error
 *   -t MS      kill a run (SIGKILL) after MS milliseconds (default 10000)
 *
 * One line per run on stdout:
 *   run i=0 wall_ms=3.412 maxrss_kib=5120 exit=0 match=1
 * wall_ms is CLOCK_MONOTONIC from just before fork() to wait4() returning,
 * so it includes exec and dynamic loading; it excludes the cache clearing.
 * maxrss_kib is ru_maxrss of that child alone (wait4's rusage; KiB on Linux).
 * exit is the exit status, or 128+signal. match is -1 without -m.
 * Exit: 0 all runs done (whatever their status), 1 a run could not be
 * started or measured, 2 usage.
 */
#define _DEFAULT_SOURCE /* wait4 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RU_MAX_RUNS 100000u
#define RU_DEFAULT_TIMEOUT_MS 10000u
#define RU_MAX_TIMEOUT_MS 600000u
#define RU_MAX_DIGITS 7u
#define RU_MAX_OUTPUT (1u << 20) /* stdout read back for -m */
#define RU_PATH_CAP 4096u
#define RU_MAX_CLEAR_ENTRIES 100000u

static volatile sig_atomic_t g_child = 0;

static void on_alarm(int sig)
{
    (void)sig;
    if (g_child > 0) {
        (void)kill((pid_t)g_child, SIGKILL);
    }
}

static double now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A decimal number in [1, max]; 0 when s is not one. */
static unsigned parse_count(const char *s, unsigned max)
{
    unsigned v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > RU_MAX_DIGITS) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        v = v * 10u + (unsigned)(s[i] - '0');
    }
    return v <= max ? v : 0;
}

/* Removes the regular files directly in dir. A missing dir is fine. */
static int clear_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[RU_PATH_CAP];
    unsigned count = 0;
    int result = 0;
    if (d == NULL) {
        return errno == ENOENT ? 0 : -1;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof path || lstat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
            ++count > RU_MAX_CLEAR_ENTRIES || unlink(path) != 0) {
            fprintf(stderr, "rusage: cannot clear %s (entry %s)\n", dir, e->d_name);
            result = -1;
            break;
        }
    }
    (void)closedir(d);
    return result;
}

/* 1 when the file holds text (within its first RU_MAX_OUTPUT bytes), else 0. */
static int file_contains(const char *path, const char *text)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(RU_MAX_OUTPUT + 1u);
    int found = 0;
    if (f != NULL && buf != NULL) {
        size_t n = fread(buf, 1, RU_MAX_OUTPUT, f);
        buf[n] = '\0';
        /* The plugin's stdout is one JSON line: no NUL bytes, so strstr sees it all. */
        found = strstr(buf, text) != NULL;
    }
    if (f != NULL) {
        (void)fclose(f);
    }
    free(buf);
    return found;
}

static int redirect(const char *path, int fd, int flags)
{
    int f = open(path, flags, 0600);
    if (f < 0) {
        return -1;
    }
    if (f != fd) {
        if (dup2(f, fd) < 0) {
            (void)close(f);
            return -1;
        }
        (void)close(f);
    }
    return 0;
}

struct ru_opts {
    unsigned runs, timeout_ms;
    const char *in, *out, *errf, *match, *clear;
    char **argv;
};

/* One run. Returns 0 and fills the numbers, or -1 when the child could not be
 * started or waited for. */
static int run_once(const struct ru_opts *o, double *wall, long *maxrss, int *status_out)
{
    struct rusage ru;
    struct itimerval it;
    int status = 0;
    pid_t w;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = (time_t)(o->timeout_ms / 1000u);
    it.it_value.tv_usec = (suseconds_t)((o->timeout_ms % 1000u) * 1000u);
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        if (redirect(o->in, 0, O_RDONLY) != 0 ||
            redirect(o->out, 1, O_WRONLY | O_CREAT | O_TRUNC) != 0 ||
            redirect(o->errf, 2, O_WRONLY | O_CREAT | O_TRUNC) != 0) {
            _exit(126);
        }
        execvp(o->argv[0], o->argv);
        _exit(127);
    }
    g_child = pid;
    (void)setitimer(ITIMER_REAL, &it, NULL);
    do {
        w = wait4(pid, &status, 0, &ru);
    } while (w < 0 && errno == EINTR);
    *wall = now_ms() - t0;
    memset(&it, 0, sizeof it);
    (void)setitimer(ITIMER_REAL, &it, NULL);
    g_child = 0;
    if (w != pid) {
        return -1;
    }
    *maxrss = ru.ru_maxrss;
    *status_out = WIFEXITED(status) ? WEXITSTATUS(status)
                                    : (WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: rusage [-n RUNS] [-i STDIN] [-o STDOUT] [-e STDERR] [-m TEXT] "
                    "[-c DIR] [-t MS] -- CMD ARG...\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct ru_opts o = { 1u, RU_DEFAULT_TIMEOUT_MS, "/dev/null", "/dev/null", "/dev/null",
                         NULL, NULL, NULL };
    struct sigaction sa;
    int opt;
    while ((opt = getopt(argc, argv, "+n:i:o:e:m:c:t:")) != -1) {
        switch (opt) {
        case 'n':
            o.runs = parse_count(optarg, RU_MAX_RUNS);
            break;
        case 'i':
            o.in = optarg;
            break;
        case 'o':
            o.out = optarg;
            break;
        case 'e':
            o.errf = optarg;
            break;
        case 'm':
            o.match = optarg;
            break;
        case 'c':
            o.clear = optarg;
            break;
        case 't':
            o.timeout_ms = parse_count(optarg, RU_MAX_TIMEOUT_MS);
            break;
        default:
            return usage();
        }
        if (o.runs == 0 || o.timeout_ms == 0) {
            return usage();
        }
    }
    if (optind >= argc) {
        return usage();
    }
    if (o.match != NULL && strcmp(o.out, "/dev/null") == 0) {
        fprintf(stderr, "rusage: -m needs -o FILE\n");
        return 2;
    }
    o.argv = argv + optind;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    (void)sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) != 0) {
        return 1;
    }
    for (unsigned i = 0; i < o.runs; i++) {
        double wall = 0;
        long maxrss = 0;
        int status = 0;
        if (o.clear != NULL && clear_dir(o.clear) != 0) {
            return 1;
        }
        if (run_once(&o, &wall, &maxrss, &status) != 0) {
            fprintf(stderr, "rusage: run %u of %s could not be measured\n", i, o.argv[0]);
            return 1;
        }
        int match = o.match == NULL ? -1 : file_contains(o.out, o.match);
        printf("run i=%u wall_ms=%.3f maxrss_kib=%ld exit=%d match=%d\n", i, wall, maxrss, status,
               match);
        (void)fflush(stdout);
    }
    return 0;
}
