# Golden values for natural spline terms (nhanes_mg.survey.splines), computed with R's survey
# and splines packages on real NHANES tables.
#
# Usage: Rscript tests/golden/survey/make_golden_splines.R /path/to/nhanes-mirror
# Writes golden_splines.csv next to this script. Same conventions as make_golden.R: the
# datasets are built exactly as tests/survey/golden_data.py builds them (build_cycle below is
# make_golden.R's), "check" rows (row counts, column sums) let the Python tests confirm both
# sides saw the same rows, numbers are written with 17 significant digits.
#
# Cases (exposure: day-1 food magnesium, DR1TMAGN, mg/day; 2005-2006 unless noted):
#  - ns_basis_*: splines::ns itself at fixed points (inside, on and beyond the boundary knots);
#  - glm_logit_ns: vitamin D deficiency (25(OH)D < 50 nmol/L) ~ ns(magnesium, fixed knots)
#    + age + sex, quasibinomial, adults with a reliable day-1 recall, day-1 weights;
#    glm_linear_ns: the same with 25(OH)D (gaussian); cox_ns: all-cause mortality 2003-2006;
#  - curve_*: the log-odds (mean, log-hazard) difference between each magnesium value and
#    300 mg: svycontrast(fit, B(v) - B(300)) with the fit's df (as spline_curve);
#  - regtermtest_*: regTermTest(fit, ~ns(...)), the overall association;
#  - nonlinear_*: the test of non-linearity, computed independently of the ns basis: the same
#    model written as x + restricted cubic spline terms (Harrell's truncated-power basis with
#    the knots c(lo, interior, hi), whose span with x is that of ns), regTermTest of the
#    non-linear terms; overall_rcs_* is the overall test of that model (must equal the ns one);
#  - glm_*_df: ns(x, df = k): knots at unweighted quantiles of x over model.frame(design),
#    i.e. the domain's rows with x present (ns_df_knots_* records the knots R used);
#  - quantile_math_mg / glm_linear_ns_wknots: svyquantile(qrule = "math") knots (spline_knots)
#    written into the formula.
# For svycoxph, regTermTest of survey 4.1-1 picks the wrong coefficients (see make_golden.R),
# so the Cox Wald tests are computed from coef() and vcov() as regTermTest does for svyglm.

suppressPackageStartupMessages({
  library(foreign)
  library(survey)
  library(splines)
})

script_dir <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))))
source(file.path(script_dir, "golden_common.R"))  # mirror, out_dir, frames, rows, writer

options(survey.lonely.psu = "fail")

add_glm <- function(case, fit) {
  s <- summary(fit)$coefficients
  ci <- confint(fit)
  n <- sum(weights(fit$survey.design) > 0)
  add(case, rownames(s), s[, 1], s[, 2], ci[, 1], ci[, 2], s[, 3], s[, 4], fit$df.residual, n)
}
add_cox <- function(case, fit) {
  s <- summary(fit)$coefficients
  ci <- confint(fit)
  add(case, rownames(s), s[, 1], s[, "robust se"], ci[, 1], ci[, 2], s[, "z"],
      s[, "Pr(>|z|)"], Inf, fit$n)
}
add_test <- function(case, term, tt) {
  add(case, term, NA, stat = tt$Ftest, p = tt$p, df = tt$ddf, n = tt$df)
}
# regTermTest's Wald F from coef() and vcov() (for svycoxph, see the header)
wald_f <- function(fit, idx, ddf) {
  b <- coef(fit)[idx]
  chisq <- as.numeric(t(b) %*% solve(vcov(fit)[idx, idx], b))
  f <- chisq / length(idx)
  list(Ftest = f, p = pf(f, length(idx), ddf, lower.tail = FALSE), ddf = ddf, df = length(idx))
}

# the spline of the fixed-knot cases, and the restricted cubic spline terms of the same knots
KNOTS <- c(200, 300, 400)
BOUNDARY <- c(100, 700)
NS_TERM <- "ns(magnesium, knots = c(200, 300, 400), Boundary.knots = c(100, 700))"
rcs_terms <- function(x, knots) {  # Harrell's rcspline.eval (norm = 2), by hand
  k <- length(knots)
  s <- (knots[k] - knots[1])^2
  pos3 <- function(u) pmax(u, 0)^3
  sapply(seq_len(k - 2), function(j) {
    (pos3(x - knots[j]) - pos3(x - knots[k - 1]) * (knots[k] - knots[j]) / (knots[k] - knots[k - 1])
     + pos3(x - knots[k]) * (knots[k - 1] - knots[j]) / (knots[k] - knots[k - 1])) / s
  })
}
add_rcs <- function(design) {
  r <- rcs_terms(design$variables$magnesium, c(BOUNDARY[1], KNOTS, BOUNDARY[2]))
  update(design, rcs1 = r[, 1], rcs2 = r[, 2], rcs3 = r[, 3])
}
AT <- c(50, 100, 150, 200, 250, 350, 400, 500, 600, 700, 900)
REF <- 300
# the curve: f(v) - f(REF) for v in AT, with the fit's df (t for svyglm, normal for svycoxph)
add_curve <- function(case, fit, basis, df, n) {
  idx <- match(paste0(NS_TERM, seq_len(ncol(basis(AT)))), names(coef(fit)))
  diff <- basis(AT) - basis(rep(REF, length(AT)))
  L <- lapply(seq_along(AT), function(i) {
    w <- numeric(length(coef(fit)))
    w[idx] <- diff[i, ]
    w
  })
  names(L) <- format(AT)
  con <- svycontrast(fit, L)
  est <- coef(con)
  se <- SE(con)
  ci <- confint(con, df = df)
  tt <- est / se
  add(case, trimws(names(est)), est, se, ci[, 1], ci[, 2], tt, 2 * pt(-abs(tt), df), df, n)
}
ns_fixed <- function(x) ns(x, knots = KNOTS, Boundary.knots = BOUNDARY)

# ---------------------------------------------------------------- the basis itself
xs <- c(0, 50, 100, 100.5, 150, 200, 250, 299.99, 300, 350, 400, 555.5, 700, 701, 1200, 3000)
for (spec in list(
  list("ns_basis_fixed", ns_fixed(xs)),
  list("ns_basis_intercept", ns(xs, knots = KNOTS, Boundary.knots = BOUNDARY, intercept = TRUE)),
  list("ns_basis_df5", ns(xs, df = 5)),
  list("ns_basis_one_knot", ns(xs, knots = 300, Boundary.knots = c(0, 3000))))) {
  b <- spec[[2]]
  for (i in seq_along(xs)) for (j in seq_len(ncol(b))) {
    add(spec[[1]], paste0(format(xs[i], digits = 17), "|", j), b[i, j])
  }
}

# ---------------------------------------------------------------- A: 2005-2006 diet adults
exam <- build_cycle("2005-2006")
add_checks("exam_2005_2006", exam)
ddes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_diet1, nest = TRUE,
                  data = exam)
diet_adults <- subset(ddes, age >= 20 & drstz == 1)
diet_rcs <- add_rcs(diet_adults)

f_logit <- as.formula(paste("vitd_lt50 ~", NS_TERM, "+ age + sex"))
fit_logit <- svyglm(f_logit, design = diet_adults, family = quasibinomial())
add_glm("glm_logit_ns", fit_logit)
add_curve("curve_logit_ns", fit_logit, ns_fixed, fit_logit$df.residual,
          sum(weights(fit_logit$survey.design) > 0))
add_test("regtermtest_logit_ns", NS_TERM,
         regTermTest(fit_logit, as.formula(paste("~", NS_TERM))))
fit_logit_rcs <- svyglm(vitd_lt50 ~ magnesium + rcs1 + rcs2 + rcs3 + age + sex,
                        design = diet_rcs, family = quasibinomial())
add_test("nonlinear_logit_ns", "magnesium", regTermTest(fit_logit_rcs, ~ rcs1 + rcs2 + rcs3))
add_test("overall_rcs_logit_ns", "magnesium",
         regTermTest(fit_logit_rcs, ~ magnesium + rcs1 + rcs2 + rcs3))

f_lin <- as.formula(paste("vitd ~", NS_TERM, "+ age + sex"))
fit_lin <- svyglm(f_lin, design = diet_adults)
add_glm("glm_linear_ns", fit_lin)
add_curve("curve_linear_ns", fit_lin, ns_fixed, fit_lin$df.residual,
          sum(weights(fit_lin$survey.design) > 0))
add_test("regtermtest_linear_ns", NS_TERM, regTermTest(fit_lin, as.formula(paste("~", NS_TERM))))
fit_lin_rcs <- svyglm(vitd ~ magnesium + rcs1 + rcs2 + rcs3 + age + sex, design = diet_rcs)
add_test("nonlinear_linear_ns", "magnesium", regTermTest(fit_lin_rcs, ~ rcs1 + rcs2 + rcs3))
add_test("overall_rcs_linear_ns", "magnesium",
         regTermTest(fit_lin_rcs, ~ magnesium + rcs1 + rcs2 + rcs3))

# knots from the data: ns(x, df = 4) on model.frame(design) (the domain's rows, x present)
fit_df <- svyglm(vitd_lt50 ~ ns(magnesium, df = 4) + age + sex, design = diet_adults,
                 family = quasibinomial())
add_glm("glm_logit_ns_df", fit_df)
b <- fit_df$model[["ns(magnesium, df = 4)"]]
add("ns_df_knots_logit", c(paste0("knot", seq_along(attr(b, "knots"))), "lower", "upper"),
    c(attr(b, "knots"), attr(b, "Boundary.knots")))
add_test("regtermtest_logit_ns_df", "ns(magnesium, df = 4)",
         regTermTest(fit_df, ~ns(magnesium, df = 4)))
# a variable with missing values in the domain: BMI, exam weights, adults
edes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_mec, nest = TRUE,
                  data = exam)
exam_adults <- subset(edes, age >= 20)
fit_bmi <- svyglm(vitd ~ ns(bmi, df = 3) + age + sex, design = exam_adults)
add_glm("glm_linear_ns_bmi_df", fit_bmi)
b <- fit_bmi$model[["ns(bmi, df = 3)"]]
add("ns_df_knots_bmi", c(paste0("knot", seq_along(attr(b, "knots"))), "lower", "upper"),
    c(attr(b, "knots"), attr(b, "Boundary.knots")))

# design-weighted knots (spline_knots): svyquantile(qrule = "math") written into the formula
probs <- c(0.05, 0.275, 0.5, 0.725, 0.95)
q <- coef(svyquantile(~magnesium, diet_adults, probs, qrule = "math", na.rm = TRUE))
add("quantile_math_mg", format(probs), q)
wterm <- sprintf("ns(magnesium, knots = c(%s), Boundary.knots = c(%s))",
                 paste(format(q[2:4], digits = 15), collapse = ", "),
                 paste(format(q[c(1, 5)], digits = 15), collapse = ", "))
fit_w <- svyglm(as.formula(paste("vitd ~", wterm, "+ age + sex")), design = diet_adults)
add_glm("glm_linear_ns_wknots", fit_w)

# ---------------------------------------------------------------- B: mortality 2003-2006
mort <- build_mortality()
add_checks("mortality_2003_2006", mort)
mdes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_mec2, nest = TRUE,
                  data = mort)
madults <- subset(mdes, age >= 20 & eligible)
fit_cox <- svycoxph(as.formula(paste("Surv(months, died) ~", NS_TERM, "+ age + sex")),
                    design = madults)
add_cox("cox_ns", fit_cox)
add_curve("curve_cox_ns", fit_cox, ns_fixed, Inf, fit_cox$n)
idx <- grep("^ns\\(", names(coef(fit_cox)))
add_test("regtermtest_cox_ns", NS_TERM, wald_f(fit_cox, idx, fit_cox$degf.resid))
fit_cox_rcs <- svycoxph(Surv(months, died) ~ magnesium + rcs1 + rcs2 + rcs3 + age + sex,
                        design = add_rcs(madults))
idx <- grep("^rcs", names(coef(fit_cox_rcs)))
add_test("nonlinear_cox_ns", "magnesium", wald_f(fit_cox_rcs, idx, fit_cox_rcs$degf.resid))

write_golden("golden_splines.csv")
cat(R.version.string, "; survey", format(packageVersion("survey")), "; splines",
    format(packageVersion("splines")), "\n")
