/* cli/tests/test_coverage.c: the arithmetic of atcr-verify coverage (cli/coverage.c):
 * the five words from a verdict, --fail-under's PERCENT, the rounded-down
 * figure, the exact gate, and the counts overall and per namespace. The
 * verifying itself is integration/coverage.bats's. */
#include "cli/cli_internal.h"
#include "common/test.h"

#include <stdlib.h>
#include <string.h>

static void test_class(void)
{
    struct atv_vfy_image *v = calloc(1, sizeof *v);
    CHECK(v != NULL);
    if (v == NULL) {
        return;
    }
    v->allowed = 1;
    v->met = 1;
    CHECK_EQ(atv_cli_cov_class(v), CLI_COV_MET);
    v->no_signature_required = 1; /* comes with allowed and met */
    CHECK_EQ(atv_cli_cov_class(v), CLI_COV_NOT_REQUIRED);
    memset(v, 0, sizeof *v);
    v->allowed = 1;
    v->audit = 1;
    CHECK_EQ(atv_cli_cov_class(v), CLI_COV_AUDIT);
    v->transient = 1; /* an outage under an audit policy is still an audit pass */
    CHECK_EQ(atv_cli_cov_class(v), CLI_COV_AUDIT);
    memset(v, 0, sizeof *v);
    v->reason = ATV_VFY_POLICY_DENIED;
    CHECK_EQ(atv_cli_cov_class(v), CLI_COV_REFUSED);
    v->transient = 1;
    CHECK_EQ(atv_cli_cov_class(v), CLI_COV_ERROR);
    CHECK_STR(atv_cli_cov_class_name(CLI_COV_MET), "met");
    CHECK_STR(atv_cli_cov_class_name(CLI_COV_NOT_REQUIRED), "not required");
    CHECK_STR(atv_cli_cov_class_name(CLI_COV_AUDIT), "audit");
    CHECK_STR(atv_cli_cov_class_name(CLI_COV_REFUSED), "refused");
    CHECK_STR(atv_cli_cov_class_name(CLI_COV_ERROR), "error");
    CHECK_STR(atv_cli_cov_class_name((enum cli_cov_class)99), "error");
    free(v);
}

static void test_pct(void)
{
    static const struct {
        const char *s;
        uint64_t num, den;
    } good[] = {
        {"0", 0, 1},           {"100", 100, 1},        {"80", 80, 1},
        {"99.5", 995, 10},     {"100.0", 1000, 10},    {"0.000001", 1, 1000000},
        {"040", 40, 1},        {"33.333333", 33333333, 1000000},
        {"100.000000", 100000000, 1000000},
    };
    static const char *const bad[] = {
        "", "-1", "+1", "101", "100.1", "100.000001", "abc", "50.", ".5", "1e2", " 5", "5 ",
        "50%", "0x10", "1,5", "50.1234567", "1000000", "999999", "nan", "inf", "5.5.5",
    };
    struct cli_cov_pct p;
    size_t i;
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        int ok = atv_cli_cov_pct_parse(good[i].s, &p);
        CHECK_MSG(ok && p.num == good[i].num && p.den == good[i].den, "\"%s\" = %llu/%llu",
                  good[i].s, (unsigned long long)p.num, (unsigned long long)p.den);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p.num = 7;
        p.den = 7;
        CHECK_MSG(!atv_cli_cov_pct_parse(bad[i], &p) && p.num == 0 && p.den == 1,
                  "\"%s\" refused, out zeroed", bad[i]);
    }
    CHECK(!atv_cli_cov_pct_parse(NULL, &p));
}

static void test_figures(void)
{
    struct cli_cov_pct p;
    CHECK_EQ(atv_cli_cov_tenths(0, 0), 1000u);
    CHECK_EQ(atv_cli_cov_tenths(2, 5), 400u);
    CHECK_EQ(atv_cli_cov_tenths(1, 3), 333u);
    CHECK_EQ(atv_cli_cov_tenths(2, 3), 666u);   /* 66.67 shown as 66.6: never more than holds */
    CHECK_EQ(atv_cli_cov_tenths(999, 1000), 999u);
    CHECK_EQ(atv_cli_cov_tenths(4095, 4096), 999u); /* 99.98: not 100.0 */
    CHECK_EQ(atv_cli_cov_tenths(4096, 4096), 1000u);
    CHECK_EQ(atv_cli_cov_tenths(0, 4096), 0u);
    CHECK_EQ(atv_cli_cov_tenths(1, 4096), 0u);

    /* 2 of 5 = 40%: at, above and below */
    CHECK(atv_cli_cov_pct_parse("40", &p) && !atv_cli_cov_below(2, 5, &p));
    CHECK(atv_cli_cov_pct_parse("40.000000", &p) && !atv_cli_cov_below(2, 5, &p));
    CHECK(atv_cli_cov_pct_parse("40.000001", &p) && atv_cli_cov_below(2, 5, &p));
    CHECK(atv_cli_cov_pct_parse("39.999999", &p) && !atv_cli_cov_below(2, 5, &p));
    /* 2 of 3: the figure shown is 66.6; the gate is exact */
    CHECK(atv_cli_cov_pct_parse("66.6", &p) && !atv_cli_cov_below(2, 3, &p));
    CHECK(atv_cli_cov_pct_parse("66.666666", &p) && !atv_cli_cov_below(2, 3, &p));
    CHECK(atv_cli_cov_pct_parse("66.666667", &p) && atv_cli_cov_below(2, 3, &p));
    CHECK(atv_cli_cov_pct_parse("66.7", &p) && atv_cli_cov_below(2, 3, &p));
    /* nothing required is 100%, which no PERCENT is above */
    CHECK(atv_cli_cov_pct_parse("100", &p) && !atv_cli_cov_below(0, 0, &p));
    CHECK(atv_cli_cov_pct_parse("100", &p) && atv_cli_cov_below(4095, 4096, &p));
    CHECK(atv_cli_cov_pct_parse("100", &p) && !atv_cli_cov_below(4096, 4096, &p));
    CHECK(atv_cli_cov_pct_parse("0", &p) && !atv_cli_cov_below(0, 4096, &p));
    CHECK(atv_cli_cov_pct_parse("0.000001", &p) && atv_cli_cov_below(0, 4096, &p));
    CHECK(atv_cli_cov_pct_parse("0.024414", &p) && !atv_cli_cov_below(1, 4096, &p));
    CHECK(atv_cli_cov_pct_parse("0.024415", &p) && atv_cli_cov_below(1, 4096, &p));
}

/* a writable string, as the rows own theirs */
#define S(x) ((char[]){x})

static void test_summary(void)
{
    /* images: 0 met, 1 refused, 2 not required, 3 met, 4 error, 5 audit */
    static const enum cli_cov_class cls[] = {CLI_COV_MET, CLI_COV_REFUSED, CLI_COV_NOT_REQUIRED,
                                             CLI_COV_MET, CLI_COV_ERROR, CLI_COV_AUDIT};
    struct cli_cov_row rows[] = {
        {S("shop"), S("a"), S("c"), S("i"), "containers", 0},  {S("shop"), S("b"), S("c"), S("i"), "containers", 0},
        {S("shop"), S("b"), S("d"), S("i"), "initContainers", 1},
        {S("kube-system"), S("k"), S("c"), S("i"), "containers", 2},
        {S("batch"), S("r"), S("c"), S("i"), "containers", 3}, {S("batch"), S("r"), S("d"), S("i"), "containers", 1},
        {S(""), S(""), S(""), S("i"), "", 4},                  {S(""), S(""), S(""), S("i"), "", 5},
        {S("shop"), S("z"), S("c"), S("i"), "containers", 4},  {S("batch"), S("q"), S("c"), S("i"), "containers", 3},
    };
    struct cli_cov_tally all;
    struct cli_cov_ns *by = NULL;
    size_t n_by = 0;
    struct atv_err err;

    atv_err_clear(&err);
    CHECK_STATUS(atv_cli_cov_summary(rows, sizeof rows / sizeof rows[0], cls, 6, &all, &by,
                                     &n_by, &err),
                 ATV_OK, &err);
    CHECK(all.distinct == 6 && all.required == 5 && all.met == 2);
    CHECK_EQ(n_by, 4u);
    if (by != NULL && n_by == 4) {
        /* sorted: "" first, then batch, kube-system, shop */
        CHECK_STR(by[0].ns, "");
        CHECK(by[0].t.distinct == 2 && by[0].t.required == 2 && by[0].t.met == 0);
        CHECK_STR(by[1].ns, "batch");
        CHECK(by[1].t.distinct == 2 && by[1].t.required == 2 && by[1].t.met == 1);
        CHECK_STR(by[2].ns, "kube-system");
        CHECK(by[2].t.distinct == 1 && by[2].t.required == 0 && by[2].t.met == 0);
        CHECK_STR(by[3].ns, "shop");
        /* 0 (twice), 1, 4: the same image in two pods counts once */
        CHECK(by[3].t.distinct == 3 && by[3].t.required == 3 && by[3].t.met == 1);
    }
    free(by);

    /* nothing at all */
    CHECK_STATUS(atv_cli_cov_summary(rows, 0, cls, 0, &all, &by, &n_by, &err), ATV_OK, &err);
    CHECK(all.distinct == 0 && all.required == 0 && all.met == 0 && by == NULL && n_by == 0);

    /* a row naming an image that does not exist is the caller's bug */
    atv_err_clear(&err);
    CHECK_STATUS(atv_cli_cov_summary(rows, sizeof rows / sizeof rows[0], cls, 5, &all, &by,
                                     &n_by, &err),
                 ATV_E_USAGE, &err);
    CHECK(by == NULL && n_by == 0 && all.distinct == 0);
}

int main(void)
{
    test_class();
    test_pct();
    test_figures();
    test_summary();
    return atv_test_done();
}
