/* bench/bench_proof.c: the cost of one getRecord proof verification
 * (atv_atp_proof_verify: CAR parse with every block hashed, commit parse and
 * signature, MST walk, record check) and, with -e, of one bare ECDSA
 * verification (atv_atp_sig_verify over the commit's unsigned bytes), on the
 * same CAR with the key of a DID document.
 *
 *   bench_proof [-n ITERS] [-w WARMUP] [-e] LABEL CAR DIDDOC COLLECTION RKEY
 *
 * Prints one line per measurement, KEY=VALUE words, for bench/run.mjs:
 *   proof label=L iters=N median_us=M p10_us= p90_us= min_us= car_bytes= mst_nodes= key=K-256
 *   ecdsa label=L iters=N median_us=M p10_us= p90_us= min_us= key=K-256
 *   calls label=L proof=P ecdsa=E     (how often each was called, for callgrind)
 * With -e the two are timed alternately, one operation each, so that both see
 * the same load on a shared machine. Each operation is timed on its own
 * (CLOCK_MONOTONIC; one operation is ~50-200 us, the clock ~20 ns), and the
 * median is reported: it is robust to the preemptions of a busy machine.
 * The proof is checked once before timing (valid, record present, $type
 * equal to COLLECTION): timing a failing path would measure nothing useful.
 * Exit: 0 measured, 1 the proof or the files are bad, 2 usage.
 */
#include "atproto/atproto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_DEFAULT_ITERS 3000u
#define BENCH_DEFAULT_WARMUP 200u
#define BENCH_MAX_ITERS 1000000u
#define BENCH_MAX_ARG_DIGITS 8u

static double now_us(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The value at quantile q of sorted v[0..n), nearest rank. */
static double quantile(const double *v, size_t n, double q)
{
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static void report(const char *what, const char *label, double *v, size_t n, const char *extra)
{
    qsort(v, n, sizeof v[0], cmp_double);
    printf("%s label=%s iters=%zu median_us=%.2f p10_us=%.2f p90_us=%.2f min_us=%.2f%s\n", what,
           label, n, quantile(v, n, 0.5), quantile(v, n, 0.1), quantile(v, n, 0.9), v[0], extra);
}

/* A decimal count in [1, BENCH_MAX_ITERS]; 0 when s is not one. */
static unsigned parse_count(const char *s)
{
    unsigned v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > BENCH_MAX_ARG_DIGITS) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        v = v * 10u + (unsigned)(s[i] - '0');
    }
    return v <= BENCH_MAX_ITERS ? v : 0;
}

/* The unsigned commit bytes and the signature of the CAR's root commit. */
static enum atv_status commit_of(struct atv_bytes car_bytes, struct atv_buf *unsig, uint8_t sig[64],
                                 struct atv_err *err)
{
    struct atv_car *car = NULL;
    struct atv_bytes block = { NULL, 0 };
    struct atv_commit commit;
    enum atv_status rc = atv_atp_car_parse(car_bytes, &car, err);
    if (rc != ATV_OK) {
        goto out;
    }
    rc = atv_atp_car_get(car, atv_atp_car_root(car), &block, err);
    if (rc != ATV_OK) {
        goto out;
    }
    rc = atv_atp_commit_parse(block, &commit, unsig, err);
    if (rc != ATV_OK) {
        goto out;
    }
    memcpy(sig, commit.sig, sizeof commit.sig);
out:
    atv_atp_car_free(car);
    return rc;
}

struct bench_case {
    const char *label, *collection, *rkey;
    struct atv_bytes car;
    struct atv_diddoc doc;
    struct atv_bytes unsig;
    uint8_t sig[64];
};

/* Calls of one_proof and one_ecdsa, printed for instruction counting: under
 * valgrind --tool=callgrind --toggle-collect=one_proof the events collected
 * divided by these counts are the instructions of one operation, a number the
 * load of a shared machine cannot disturb. noinline keeps the symbols. */
static unsigned long g_proof_calls, g_ecdsa_calls;

__attribute__((noinline)) static int one_proof(const struct bench_case *c)
{
    struct atv_proof proof;
    struct atv_err err;
    g_proof_calls++;
    atv_err_clear(&err);
    enum atv_status rc = atv_atp_proof_verify(c->car, c->doc.did, &c->doc.key, c->collection,
                                              c->rkey, &proof, &err);
    return rc == ATV_OK && proof.present == 1 ? 0 : -1;
}

__attribute__((noinline)) static int one_ecdsa(const struct bench_case *c)
{
    struct atv_err err;
    g_ecdsa_calls++;
    atv_err_clear(&err);
    struct atv_bytes sig = { c->sig, sizeof c->sig };
    return atv_atp_sig_verify(&c->doc.key, c->unsig, sig, &err) == ATV_OK ? 0 : -1;
}

/* Checks the proof once, loudly, and counts its MST nodes. */
static int check_case(const struct bench_case *c, size_t *mst_nodes)
{
    struct atv_proof proof;
    struct atv_err err;
    struct atv_car *car = NULL;
    atv_err_clear(&err);
    if (atv_atp_proof_verify(c->car, c->doc.did, &c->doc.key, c->collection, c->rkey, &proof,
                             &err) != ATV_OK) {
        fprintf(stderr, "bench_proof: %s: proof does not verify: %s (%s)\n", c->label, err.msg,
                err.reason != NULL ? err.reason : "-");
        return -1;
    }
    if (proof.present != 1 || strcmp(proof.record_type, c->collection) != 0) {
        fprintf(stderr, "bench_proof: %s: record absent or of type '%s'\n", c->label,
                proof.record_type);
        return -1;
    }
    if (atv_atp_car_parse(c->car, &car, &err) != ATV_OK) {
        fprintf(stderr, "bench_proof: %s: %s\n", c->label, err.msg);
        return -1;
    }
    /* A getRecord CAR is the commit, the MST nodes of the path, and the record. */
    size_t blocks = atv_atp_car_count(car);
    *mst_nodes = blocks >= 2 ? blocks - 2 : 0;
    atv_atp_car_free(car);
    return 0;
}

static int run(struct bench_case *c, unsigned iters, unsigned warmup, int with_ecdsa)
{
    int result = 1;
    size_t mst_nodes = 0;
    double *tp = calloc(iters, sizeof *tp);
    double *te = calloc(iters, sizeof *te);
    char extra[160];
    if (tp == NULL || te == NULL) {
        fprintf(stderr, "bench_proof: out of memory\n");
        goto out;
    }
    if (check_case(c, &mst_nodes) != 0) {
        goto out;
    }
    if (with_ecdsa && one_ecdsa(c) != 0) {
        fprintf(stderr, "bench_proof: %s: bare signature does not verify\n", c->label);
        goto out;
    }
    for (unsigned i = 0; i < warmup; i++) {
        if (one_proof(c) != 0 || (with_ecdsa && one_ecdsa(c) != 0)) {
            goto out;
        }
    }
    for (unsigned i = 0; i < iters; i++) {
        double t0 = now_us();
        int bad = one_proof(c);
        double t1 = now_us();
        tp[i] = t1 - t0;
        if (with_ecdsa) {
            bad |= one_ecdsa(c);
            te[i] = now_us() - t1;
        }
        if (bad != 0) {
            fprintf(stderr, "bench_proof: %s: verification failed at iteration %u\n", c->label, i);
            goto out;
        }
    }
    int n = snprintf(extra, sizeof extra, " car_bytes=%zu mst_nodes=%zu key=%s", c->car.len,
                     mst_nodes, atv_atp_key_type_name(c->doc.key.type));
    if (n < 0 || (size_t)n >= sizeof extra) {
        goto out;
    }
    report("proof", c->label, tp, iters, extra);
    if (with_ecdsa) {
        n = snprintf(extra, sizeof extra, " key=%s", atv_atp_key_type_name(c->doc.key.type));
        if (n < 0 || (size_t)n >= sizeof extra) {
            goto out;
        }
        report("ecdsa", c->label, te, iters, extra);
    }
    printf("calls label=%s proof=%lu ecdsa=%lu\n", c->label, g_proof_calls, g_ecdsa_calls);
    result = 0;
out:
    free(tp);
    free(te);
    return result;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_proof [-n ITERS] [-w WARMUP] [-e] LABEL CAR DIDDOC COLLECTION "
                    "RKEY\n");
    return 2;
}

int main(int argc, char **argv)
{
    unsigned iters = BENCH_DEFAULT_ITERS, warmup = BENCH_DEFAULT_WARMUP;
    int with_ecdsa = 0, opt, result = 1;
    struct atv_buf car, doc, unsig;
    struct atv_err err;
    struct bench_case c;
    atv_buf_init(&car, ATV_MAX_CAR);
    atv_buf_init(&doc, ATV_MAX_DIDDOC);
    atv_buf_init(&unsig, ATV_MAX_BLOCK);
    atv_err_clear(&err);
    memset(&c, 0, sizeof c);
    while ((opt = getopt(argc, argv, "n:w:e")) != -1) {
        if (opt == 'n') {
            iters = parse_count(optarg);
        } else if (opt == 'w') {
            warmup = parse_count(optarg);
        } else if (opt == 'e') {
            with_ecdsa = 1;
        } else {
            result = usage();
            goto out;
        }
        if (iters == 0 || warmup == 0) {
            result = usage();
            goto out;
        }
    }
    if (argc - optind != 5) {
        result = usage();
        goto out;
    }
    c.label = argv[optind];
    c.collection = argv[optind + 3];
    c.rkey = argv[optind + 4];
    if (atv_buf_read_file(&car, argv[optind + 1], &err) != ATV_OK ||
        atv_buf_read_file(&doc, argv[optind + 2], &err) != ATV_OK ||
        atv_atp_diddoc_parse(atv_buf_view(&doc), NULL, &c.doc, &err) != ATV_OK ||
        commit_of(atv_buf_view(&car), &unsig, c.sig, &err) != ATV_OK) {
        fprintf(stderr, "bench_proof: %s: %s\n", c.label, err.msg);
        goto out;
    }
    c.car = atv_buf_view(&car);
    c.unsig = atv_buf_view(&unsig);
    result = run(&c, iters, warmup, with_ecdsa);
out:
    atv_buf_cleanup(&car);
    atv_buf_cleanup(&doc);
    atv_buf_cleanup(&unsig);
    return result;
}
