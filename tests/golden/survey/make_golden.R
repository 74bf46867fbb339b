# Golden values for nhanes_mg.survey, computed with R's survey package on real NHANES tables.
#
# Usage: Rscript tests/golden/survey/make_golden.R /path/to/nhanes-mirror
# Writes golden.csv (and versions.txt) next to this script. Each dataset is built exactly as
# tests/survey/golden_data.py builds it; the "check" rows (row counts, column sums) let the
# Python tests confirm both sides saw the same rows before comparing any estimate.
#
# Conventions matched by the Python side:
#  - svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~w, nest = TRUE)
#  - t intervals with the design df: confint(stat, df = degf(design)) for means and totals;
#    svyciprop, svyquantile and svyglm use their own defaults (degf(design), df.residual).
#  - numbers are written with 17 significant digits.

suppressPackageStartupMessages({
  library(foreign)
  library(survey)
})

script_dir <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))))
source(file.path(script_dir, "golden_common.R"))  # mirror, out_dir, frames, rows, writer

options(survey.lonely.psu = "fail")

# svymean / svytotal with t intervals on the design df of the domain
add_stat <- function(case, stat, design, n) {
  ddf <- degf(design)
  ci <- confint(stat, df = ddf)
  est <- coef(stat)
  se <- SE(stat)
  tt <- est / se
  add(case, names(est), est, se, ci[, 1], ci[, 2], tt, 2 * pt(-abs(tt), ddf), ddf, n)
}
add_glm <- function(case, fit) {
  s <- summary(fit)$coefficients
  ci <- confint(fit)
  n <- sum(weights(fit$survey.design) > 0)
  add(case, rownames(s), s[, 1], s[, 2], ci[, 1], ci[, 2], s[, 3], s[, 4], fit$df.residual, n)
}

# ---------------------------------------------------------------- A: 2005-2006 exam sample
exam <- build_cycle("2005-2006")
add_checks("exam_2005_2006", exam)
des <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_mec, nest = TRUE, data = exam)
adults <- subset(des, age >= 20)
old_women <- subset(des, age >= 60 & sex == "2")

add_stat("mean_vitd_all", svymean(~vitd, des, na.rm = TRUE), des, sum(!is.na(exam$vitd)))
add_stat("mean_vitd_adults", svymean(~vitd, adults, na.rm = TRUE), adults,
         sum(!is.na(exam$vitd) & exam$age >= 20))
add_stat("mean_vitd_old_women", svymean(~vitd, old_women, na.rm = TRUE), old_women,
         sum(!is.na(exam$vitd) & exam$age >= 60 & exam$sex == "2"))
add_stat("mean_two_vars_adults", svymean(~vitd + bmi, adults, na.rm = TRUE), adults,
         sum(!is.na(exam$vitd) & !is.na(exam$bmi) & exam$age >= 20))
add_stat("total_vitd_lt50_adults", svytotal(~vitd_lt50, adults, na.rm = TRUE), adults,
         sum(!is.na(exam$vitd) & exam$age >= 20))
add_stat("prop_race_adults", svymean(~race, adults), adults, sum(exam$age >= 20))

for (m in c("logit", "mean")) {
  cp <- svyciprop(~vitd_lt50, adults, method = m, na.rm = TRUE)
  ci <- attr(cp, "ci")
  se <- sqrt(attr(cp, "var"))
  add(paste0("ciprop_", m, "_adults"), "vitd_lt50", coef(cp), se, ci[1], ci[2],
      df = degf(adults), n = sum(!is.na(exam$vitd) & exam$age >= 20))
}
cp <- svyciprop(~vitd_lt50, old_women, method = "logit", na.rm = TRUE)
add("ciprop_logit_old_women", "vitd_lt50", coef(cp), sqrt(attr(cp, "var")),
    attr(cp, "ci")[1], attr(cp, "ci")[2], df = degf(old_women))

add_quant <- function(case, q, n) {
  r <- q[[1]]
  for (i in seq_len(nrow(r))) {
    add(case, rownames(r)[i], r[i, 1], r[i, 4], r[i, 2], r[i, 3], n = n)
  }
}
add_quant("quantile_vitd_adults",
          svyquantile(~vitd, adults, c(0.1, 0.25, 0.5, 0.75, 0.9), na.rm = TRUE),
          sum(!is.na(exam$vitd) & exam$age >= 20))
add_quant("quantile_vitd_old_women", svyquantile(~vitd, old_women, c(0.5), na.rm = TRUE),
          sum(!is.na(exam$vitd) & exam$age >= 60 & exam$sex == "2"))
add_quant("quantile_bmi_all", svyquantile(~bmi, des, c(0.25, 0.5, 0.75), na.rm = TRUE),
          sum(!is.na(exam$bmi)))

by <- svyby(~vitd, ~sex, adults, svymean, na.rm = TRUE)
for (i in seq_len(nrow(by))) {
  dom <- subset(adults, sex == by$sex[i])
  add("by_sex_mean_vitd_adults", paste0("sex=", by$sex[i]), by$vitd[i], by$se[i],
      df = degf(dom))
}

# diet design: day-1 weights (zero for exam participants without a recall), domain of
# adults with a reliable recall
ddes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_diet1, nest = TRUE,
                  data = exam)
diet_adults <- subset(ddes, age >= 20 & drstz == 1)
r <- svyratio(~calcium, ~magnesium, diet_adults, na.rm = TRUE)
ddf <- degf(diet_adults)
est <- coef(r)
se <- SE(r)
ci <- confint(r, df = ddf)
add("ratio_ca_mg_diet_adults", "calcium/magnesium", est, se, ci[1], ci[2], est / se,
    2 * pt(-abs(est / se), ddf), ddf)
add_stat("mean_mg_diet_adults", svymean(~magnesium, diet_adults, na.rm = TRUE), diet_adults,
         sum(exam$age >= 20 & exam$drstz == 1 & exam$wt_diet1 > 0 & !is.na(exam$magnesium)))

# ---------------------------------------------------------------- B: lonely PSUs
lonely <- exam[!((exam$sdmvstra == 50 & exam$sdmvpsu == 1) |
                   (exam$sdmvstra == 55 & exam$sdmvpsu == 2)), ]
add_checks("lonely_2005_2006", lonely)
for (opt in c("remove", "adjust", "average", "certainty")) {
  options(survey.lonely.psu = opt)
  ldes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_mec, nest = TRUE,
                    data = lonely)
  ladults <- subset(ldes, age >= 20)
  add_stat(paste0("lonely_", opt, "_mean_vitd_adults"), svymean(~vitd, ladults, na.rm = TRUE),
           ladults, sum(!is.na(lonely$vitd) & lonely$age >= 20))
  add_stat(paste0("lonely_", opt, "_total_vitd_lt50"), svytotal(~vitd_lt50, ldes, na.rm = TRUE),
           ldes, sum(!is.na(lonely$vitd)))
  add_glm(paste0("lonely_", opt, "_glm_vitd"),
          svyglm(vitd ~ age + sex + bmi, design = ladults))
}
options(survey.lonely.psu = "fail")

# ---------------------------------------------------------------- C: pooled 2001-2006
pooled <- do.call(rbind, lapply(c("2001-2002", "2003-2004", "2005-2006"), build_cycle))
add_checks("pooled_2001_2006", pooled)
pooled$wt_mec3 <- pooled$wt_mec / 3
pooled$wt_diet3 <- pooled$wt_diet1 / 3
pooled$race <- relevel(factor(pooled$race), ref = "3")
pdes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_mec3, nest = TRUE,
                  data = pooled)
padults <- subset(pdes, age >= 20)
add_stat("pooled_mean_vitd_adults", svymean(~vitd, padults, na.rm = TRUE), padults,
         sum(!is.na(pooled$vitd) & pooled$age >= 20))
add_stat("pooled_prop_vitd_lt50_by_cycle_2001",
         svymean(~vitd_lt50, subset(padults, cycle == "2001-2002"), na.rm = TRUE),
         subset(padults, cycle == "2001-2002"),
         sum(!is.na(pooled$vitd) & pooled$age >= 20 & pooled$cycle == "2001-2002"))
add_quant("pooled_quantile_vitd_adults", svyquantile(~vitd, padults, c(0.5), na.rm = TRUE),
          sum(!is.na(pooled$vitd) & pooled$age >= 20))

pddes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_diet3, nest = TRUE,
                   data = pooled)
pdiet <- subset(pddes, age >= 20 & drstz == 1)
logit_formula <- vitd_lt50 ~ mg_cat + age + sex + race + educ + bmi + pir + kcal1000 + ca100 +
  cycle
fit_logit <- svyglm(logit_formula, design = pdiet, family = quasibinomial())
add_glm("glm_logit_pooled", fit_logit)
fit_lin <- svyglm(vitd ~ mg_cat + age + sex + race + bmi, design = pdiet)
add_glm("glm_linear_pooled", fit_lin)
fit_pois <- svyglm(vitd_lt50 ~ mg_cat + age + sex, design = pdiet, family = quasipoisson())
add_glm("glm_poisson_pooled", fit_pois)
for (term in c("mg_cat", "race", "educ")) {
  tt <- regTermTest(fit_logit, as.formula(paste0("~", term)))
  add("regtermtest_logit_pooled", term, NA, stat = tt$Ftest, p = tt$p, df = tt$ddf,
      n = tt$df)
}
tt <- regTermTest(fit_logit, ~ mg_cat + educ)
add("regtermtest_logit_pooled", "mg_cat + educ", NA, stat = tt$Ftest, p = tt$p, df = tt$ddf,
    n = tt$df)
# interaction (P for interaction) and a continuous trend term
fit_int <- svyglm(vitd_lt50 ~ mg_cat * sex + age + race + bmi + age:bmi, design = pdiet,
                  family = quasibinomial())
add_glm("glm_logit_interaction", fit_int)
tt <- regTermTest(fit_int, ~mg_cat:sex)
add("regtermtest_interaction", "mg_cat:sex", NA, stat = tt$Ftest, p = tt$p, df = tt$ddf,
    n = tt$df)
# a domain model: women only
fit_women <- svyglm(vitd_lt50 ~ mg_cat + age + race + bmi, design = subset(pdiet, sex == "2"),
                    family = quasibinomial())
add_glm("glm_logit_pooled_women", fit_women)

# ---------------------------------------------------------------- D: mortality 2003-2006
mort <- build_mortality()
add_checks("mortality_2003_2006", mort)
mort$race <- relevel(factor(mort$race), ref = "3")
mdes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_mec2, nest = TRUE,
                  data = mort)
madults <- subset(mdes, age >= 20 & eligible)
cox_formula <- Surv(months, died) ~ age + sex + race + bmi + vitd10
add_cox <- function(case, fit) {
  s <- summary(fit)$coefficients
  ci <- confint(fit)
  add(case, rownames(s), s[, 1], s[, "robust se"], ci[, 1], ci[, 2], s[, "z"],
      s[, "Pr(>|z|)"], Inf, fit$n)
  add(paste0(case, ":info"), c("n_events", "degf_resid"), c(fit$nevent, fit$degf.resid))
}
add_cox("cox_efron_mortality", svycoxph(cox_formula, design = madults))
add_cox("cox_breslow_mortality", svycoxph(cox_formula, design = madults, method = "breslow"))
fit_cox <- svycoxph(cox_formula, design = madults)
# regTermTest() of survey 4.1-1 picks the wrong coefficients of a svycoxph fit (shifted by one:
# with ~race it tests race2, race4, race5 and bmi), so the Wald F is computed here from
# coef() and vcov() as regTermTest does for svyglm: F = b' V^-1 b / k on (k, degf.resid).
idx <- grep("^race", names(coef(fit_cox)))
b <- coef(fit_cox)[idx]
chisq <- as.numeric(t(b) %*% solve(vcov(fit_cox)[idx, idx], b))
ftest <- chisq / length(idx)
add("regtermtest_cox_race", "race", NA, stat = ftest,
    p = pf(ftest, length(idx), fit_cox$degf.resid, lower.tail = FALSE),
    df = fit_cox$degf.resid, n = length(idx))
tt <- regTermTest(fit_cox, ~race)
add("regtermtest_cox_race_survey_4.1_bug", "race", NA, stat = tt$Ftest, p = tt$p, df = tt$ddf,
    n = tt$df)
add_cox("cox_efron_mortality_women",
        svycoxph(Surv(months, died) ~ age + race + vitd10, design = subset(madults, sex == "2")))

# ---------------------------------------------------------------- E: svycontrast
# Stratum-specific effects from a joint model with an interaction: svycontrast(fit, list(...))
# with named coefficient weights (names not given are 0). A contrast is a "svystat"; its SE is
# SE(con) = sqrt(diag(L V L')) with V = vcov(fit). confint() of a svystat defaults to df = Inf,
# so the interval is taken with the fit's own df, exactly as the fit's coefficient rows:
#   svyglm:   confint(con, df = fit$df.residual)  (t, degf(design) + 1 - p; as confint(fit))
#   svycoxph: confint(con, df = Inf)              (normal; as summary(fit) and confint(fit))
# statistic = estimate / SE and p = 2 * pt(-|statistic|, df) with the same df. The off-diagonal
# covariances of the contrasts go to "<case>:vcov" rows (term "a|b", estimate = cov(a, b)).
add_contrast <- function(case, con, df, n) {
  est <- coef(con)
  se <- SE(con)
  ci <- confint(con, df = df)
  tt <- est / se
  add(case, names(est), est, se, ci[, 1], ci[, 2], tt, 2 * pt(-abs(tt), df), df, n)
  v <- vcov(con)
  for (i in seq_len(nrow(v))) for (j in seq_len(ncol(v))) if (i < j) {
    add(paste0(case, ":vcov"), paste0(rownames(v)[i], "|", colnames(v)[j]), v[i, j])
  }
}
# 1. continuous exposure (magnesium / 100 mg) x sex, logistic, pooled diet design
pdiet_mg <- update(pdiet, mg100 = magnesium / 100)
fit_mg <- svyglm(vitd_lt50 ~ mg100 * sex + age + race + bmi, design = pdiet_mg,
                 family = quasibinomial())
add_glm("glm_logit_mg100_sex", fit_mg)
add_contrast("contrast_logit_mg100_sex",
             svycontrast(fit_mg, list(effect_in_women = c("mg100" = 1, "mg100:sex2" = 1),
                                      effect_in_men = c("mg100" = 1))),
             fit_mg$df.residual, sum(weights(fit_mg$survey.design) > 0))
# 2. categorical exposure (mg_cat q1..q4) x sex: fit_int of section C
add_contrast("contrast_logit_mgcat_sex",
             svycontrast(fit_int, list(
               q4_in_women = c("mg_catq4" = 1, "mg_catq4:sex2" = 1),
               q4_in_men = c("mg_catq4" = 1),
               q4_vs_q2_in_women = c("mg_catq4" = 1, "mg_catq2" = -1, "mg_catq4:sex2" = 1,
                                     "mg_catq2:sex2" = -1))),
             fit_int$df.residual, sum(weights(fit_int$survey.design) > 0))
# 3. Cox model on linked mortality: vitamin D (per 10 nmol/L) x sex
fit_cox_int <- svycoxph(Surv(months, died) ~ vitd10 * sex + age + race + bmi, design = madults)
add_cox("cox_efron_vitd10_sex", fit_cox_int)
add_contrast("contrast_cox_vitd10_sex",
             svycontrast(fit_cox_int, list(vitd10_in_women = c("vitd10" = 1, "vitd10:sex2" = 1),
                                           vitd10_in_men = c("vitd10" = 1))),
             Inf, fit_cox_int$n)

write_golden("golden.csv")
writeLines(c(R.version.string, paste("survey", packageVersion("survey")),
             paste("survival", packageVersion("survival")),
             paste("foreign", packageVersion("foreign"))),
           file.path(out_dir, "versions.txt"))
