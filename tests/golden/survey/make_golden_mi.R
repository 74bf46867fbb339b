# Golden values for nhanes_mg.survey.mi (micombine: Rubin's rules, as mitools::MIcombine) with
# R's survey and mitools on real NHANES tables.
#
# Usage: Rscript tests/golden/survey/make_golden_mi.R /path/to/nhanes-mirror
# Writes golden_mi.csv next to this script. The exam frame of 2005-2006 is golden_common.R's
# (tests/survey/golden_data.py builds the same); its missing family income-to-poverty ratios
# and BMIs are filled by a rule both languages compute alike, one per imputation m = 1..5
# (so that the test needs no imputation engine to agree with R):
#   pir_m = INDFMPIR,            else ((SEQN * m) %% 50) / 10
#   bmi_m = BMXBMI,              else 18 + ((SEQN * (m + 2)) %% 25)
# Each imputation is analysed with svyglm (quasibinomial) among adults; the fits are combined
# by MIcombine: with Rubin's df, with Barnard-Rubin's given df.complete = the fits' residual
# df, and for Fay-BRR replicate designs (as.svrepdesign, rho = 0.3); a Cox model on the linked
# mortality of 2003-2006 (make_golden.R's frames, the same rule) is combined too.

suppressPackageStartupMessages({
  library(foreign)
  library(survey)
  library(mitools)
})

script_dir <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))))
source(file.path(script_dir, "golden_common.R"))  # mirror, out_dir, frames, rows, writer

options(survey.lonely.psu = "fail")

exam <- build_cycle("2005-2006")
add_checks("exam_2005_2006", exam)
imputed <- lapply(1:5, function(m) {
  d <- exam
  d$pir <- ifelse(is.na(d$pir), ((d$seqn * m) %% 50) / 10, d$pir)
  d$bmi <- ifelse(is.na(d$bmi), 18 + ((d$seqn * (m + 2)) %% 25), d$bmi)
  d
})
add("check", "imputed:sum_pir_m3", sum(imputed[[3]]$pir))
add("check", "imputed:sum_bmi_m5", sum(imputed[[5]]$bmi))

add_mi <- function(case, res, n) {
  est <- coef(res)
  se <- sqrt(diag(vcov(res)))
  df <- res$df
  stat <- est / se
  q <- qt(0.975, df)
  add(case, names(est), est, se, est - q * se, est + q * se, stat, 2 * pt(-abs(stat), df),
      df, n)
  add(paste0(case, ":missinfo"), names(est), res$missinfo)
}

formula <- vitd_lt50 ~ age + sex + pir + bmi
des <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_mec, nest = TRUE,
                 data = imputationList(imputed))
adults <- subset(des, age >= 20)
fits <- with(adults, svyglm(formula, family = quasibinomial()))
n <- sum(exam$age >= 20 & !is.na(exam$vitd))
add_mi("mi_glm_taylor", MIcombine(fits), n)
add_mi("mi_glm_taylor_dfcomplete", MIcombine(fits, df.complete = fits[[1]]$df.residual), n)

# a descriptive estimate too: the mean BMI of adults
means <- with(adults, svymean(~bmi))
add_mi("mi_mean_bmi", MIcombine(means), sum(exam$age >= 20))

rep_fits <- lapply(imputed, function(d) {
  one <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_mec, nest = TRUE, data = d)
  rep <- as.svrepdesign(one, type = "Fay", fay.rho = 0.3)
  svyglm(formula, design = subset(rep, age >= 20), family = quasibinomial())
})
add_mi("mi_glm_fay", MIcombine(rep_fits), n)

# Cox: linked mortality 2003-2006 (the frames of make_golden.R, section D), the same rule
mort <- build_mortality()
mort_imputed <- lapply(1:5, function(m) {
  d <- mort
  d$pir <- ifelse(is.na(d$pir), ((d$seqn * m) %% 50) / 10, d$pir)
  d$bmi <- ifelse(is.na(d$bmi), 18 + ((d$seqn * (m + 2)) %% 25), d$bmi)
  d
})
mdes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_mec2, nest = TRUE,
                  data = imputationList(mort_imputed))
cox_fits <- with(subset(mdes, age >= 20 & eligible),
                 svycoxph(Surv(months, died) ~ age + sex + pir + bmi))
add_mi("mi_cox_taylor", MIcombine(cox_fits),
       sum(mort$age >= 20 & mort$eligible & !is.na(mort$months)))

write_golden("golden_mi.csv")
