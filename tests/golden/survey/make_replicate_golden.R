# Golden values for the replicate-weight designs of nhanes_mg.survey (survey/replicate.py),
# computed with R's survey package on real NHANES tables.
#
# Usage: Rscript tests/golden/survey/make_replicate_golden.R /path/to/nhanes-mirror
# Writes replicate_golden.csv (and versions.txt) next to this script. Same conventions as
# make_golden.R: each dataset is built exactly as tests/survey/golden_data.py builds it, and
# "check" rows (row counts, column sums) let the Python tests confirm both sides saw the same
# rows before comparing any estimate. Numbers are written with 17 significant digits.
#
# Designs: as.svrepdesign() of svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~w,
# nest = TRUE), type "Fay" (fay.rho = 0.3) and "JKn"; the pooled 2009-2012 design has strata
# with 3 PSUs, which brrweights() cannot split (its default large = "split" stops), so its
# Fay design uses large = "merge". Domains are subset() of the replicate design.
#
# Conventions matched by the Python side:
#  - svymean / svytotal / svyratio: t intervals on the design df of the domain,
#    confint(stat, df = degf(domain design)); degf of a replicate design is the rank of its
#    analysis weights minus one (degf.svyrep.design).
#  - svyciprop, svyquantile and svyglm use their own defaults (degf(design) of the design
#    they are given; svyquantile after dropping missing values; df.residual for svyglm).
#  - "<design>:design" rows: number of replicates, scale, sum of rscales, degf, and the sum of
#    each column of analysis weights (weights(design, "analysis")), which pins down the
#    Hadamard matrix, the order of the strata and which PSU is first of its pair.
#  - "hadamard" rows: survey:::hadamard(n) for n = 0..200 (rows, sum(H), sum(H i j),
#    sum(H i^2 j) with i, j the row and column numbers).

suppressPackageStartupMessages({
  library(foreign)
  library(survey)
})

script_dir <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))))
source(file.path(script_dir, "golden_common.R"))  # mirror, out_dir, frames, rows, writer

options(survey.lonely.psu = "fail", survey.replicates.mse = FALSE)

# the replicate design itself: replicates, scale, rscales, degf and column sums of the
# analysis weights
add_design <- function(case, rep) {
  w <- weights(rep, "analysis")
  add(case, "n_replicates", ncol(w))
  add(case, "scale", rep$scale)
  add(case, "rscales_sum", sum(rep$rscales))
  add(case, "degf", degf(rep))
  sums <- colSums(w)
  for (r in seq_along(sums)) add(case, paste0("repw_sum_", r), sums[[r]])
}
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
  n <- sum(weights(fit$survey.design, "sampling") > 0)
  add(case, rownames(s), s[, 1], s[, 2], ci[, 1], ci[, 2], s[, 3], s[, 4], fit$df.residual, n)
}
add_quant <- function(case, q, n, df) {
  r <- q[[1]]
  for (i in seq_len(nrow(r))) {
    add(case, rownames(r)[i], r[i, 1], r[i, 4], r[i, 2], r[i, 3], df = df, n = n)
  }
}
add_ciprop <- function(case, cp, df, n) {
  ci <- attr(cp, "ci")
  add(case, "vitd_lt50", coef(cp), sqrt(attr(cp, "var")), ci[1], ci[2], df = df, n = n)
}

# The analyses run on each replicate design: `rep` over all exam participants, `drep` the
# same with day-1 dietary weights (NULL: no ratio case), `d` the data.
run_cases <- function(prefix, rep, drep, d) {
  adults <- subset(rep, age >= 20)
  old_women <- subset(rep, age >= 60 & sex == "2")
  n_adults_vitd <- sum(!is.na(d$vitd) & d$age >= 20)
  add_stat(paste0(prefix, "mean_vitd_all"), svymean(~vitd, rep, na.rm = TRUE), rep,
           sum(!is.na(d$vitd)))
  add_stat(paste0(prefix, "mean_vitd_adults"), svymean(~vitd, adults, na.rm = TRUE), adults,
           n_adults_vitd)
  add_stat(paste0(prefix, "mean_vitd_old_women"), svymean(~vitd, old_women, na.rm = TRUE),
           old_women, sum(!is.na(d$vitd) & d$age >= 60 & d$sex == "2"))
  add_stat(paste0(prefix, "total_vitd_lt50_adults"),
           svytotal(~vitd_lt50, adults, na.rm = TRUE), adults, n_adults_vitd)
  add_stat(paste0(prefix, "prop_race_adults"), svymean(~race, adults), adults,
           sum(d$age >= 20))
  for (m in c("logit", "mean")) {
    add_ciprop(paste0(prefix, "ciprop_", m, "_adults"),
               svyciprop(~vitd_lt50, adults, method = m, na.rm = TRUE), degf(adults),
               n_adults_vitd)
  }
  complete <- adults[!is.na(adults$variables$vitd), ]
  add_quant(paste0(prefix, "quantile_vitd_adults"),
            svyquantile(~vitd, adults, c(0.25, 0.5, 0.75), na.rm = TRUE), n_adults_vitd,
            degf(complete))
  if (rep$type != "JKn") {
    add_quant(paste0(prefix, "quantile_reps_vitd_adults"),
              svyquantile(~vitd, adults, c(0.5), na.rm = TRUE, interval.type = "quantile"),
              n_adults_vitd, degf(complete))
  }
  by <- svyby(~vitd, ~sex, adults, svymean, na.rm = TRUE)
  for (i in seq_len(nrow(by))) {
    dom <- subset(adults, sex == by$sex[i])
    add(paste0(prefix, "by_sex_mean_vitd_adults"), paste0("sex=", by$sex[i]), by$vitd[i],
        by$se[i], df = degf(dom))
  }
  if (!is.null(drep)) {
    diet_adults <- subset(drep, age >= 20 & drstz == 1)
    r <- svyratio(~calcium, ~magnesium, diet_adults, na.rm = TRUE)
    ddf <- degf(diet_adults)
    est <- coef(r)
    se <- SE(r)
    ci <- confint(r, df = ddf)
    add(paste0(prefix, "ratio_ca_mg_diet_adults"), "calcium/magnesium", est, se, ci[1], ci[2],
        est / se, 2 * pt(-abs(est / se), ddf), ddf)
  }
  fit_lin <- svyglm(vitd ~ age + sex + bmi, design = adults)
  add_glm(paste0(prefix, "glm_linear_adults"), fit_lin)
  fit_logit <- svyglm(vitd_lt50 ~ age + sex + race + bmi + pir, design = adults,
                      family = quasibinomial())
  add_glm(paste0(prefix, "glm_logit_adults"), fit_logit)
  for (term in c("race", "sex")) {
    tt <- regTermTest(fit_logit, as.formula(paste0("~", term)))
    add(paste0(prefix, "regtermtest_logit_adults"), term, NA, stat = tt$Ftest, p = tt$p,
        df = tt$ddf, n = tt$df)
  }
  tt <- regTermTest(fit_logit, ~ race + bmi)
  add(paste0(prefix, "regtermtest_logit_adults"), "race + bmi", NA, stat = tt$Ftest, p = tt$p,
      df = tt$ddf, n = tt$df)
}

# ---------------------------------------------------------------- Hadamard matrices
for (n in 0:200) {
  H <- survey:::hadamard(n)
  i <- row(H)
  j <- col(H)
  add("hadamard", paste0("n=", n), nrow(H), sum(H * i * j), stat = sum(H * i * i * j),
      p = sum(H))
}

# ---------------------------------------------------------------- small/large strata rules
# A synthetic design, one row per PSU with weight 2^(row - 1) (so the column sums of the
# analysis weights identify every factor), strata numbered so that their order as text
# (100 < 5 < 7) differs from their numeric order, rows not sorted by stratum: strata with 1,
# 2, 3 and 4 PSUs (golden_data.synthetic_strata builds the same frame).
syn <- data.frame(
  str = c(10, 10, 100, 7, 100, 100, 100, 5, 7, 5, 9, 8, 5, 5, 3, 3, 3),
  psu = c(1, 2, 1, 1, 2, 3, 4, 2, 2, 1, 1, 1, 3, 4, 2, 1, 3),
  w = 2^(0:16), x = c(3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2))
even <- syn[syn$str != 3, ]
sdes <- svydesign(ids = ~psu, strata = ~str, weights = ~w, nest = TRUE, data = syn)
sdes_even <- svydesign(ids = ~psu, strata = ~str, weights = ~w, nest = TRUE, data = even)
add_design("syn_brr_split_split:design",
           as.svrepdesign(sdes_even, type = "BRR", small = "split", large = "split"))
add_design("syn_fay_merge_merge:design",
           as.svrepdesign(sdes, type = "Fay", fay.rho = 0.5, small = "merge", large = "merge"))
add_design("syn_fay_merge_split:design",
           as.svrepdesign(sdes_even, type = "Fay", fay.rho = 0.3, small = "merge",
                          large = "split"))
add_design("syn_brr_split_merge:design",
           as.svrepdesign(sdes, type = "BRR", small = "split", large = "merge"))
for (opt in c("remove", "adjust", "average", "certainty")) {
  options(survey.lonely.psu = opt)
  jk <- as.svrepdesign(svydesign(ids = ~psu, strata = ~str, weights = ~w, nest = TRUE,
                                 data = syn), type = "JKn")
  add_design(paste0("syn_jkn_", opt, ":design"), jk)
  add_stat(paste0("syn_jkn_", opt, ":mean_x"), svymean(~x, jk), jk, nrow(syn))
}
options(survey.lonely.psu = "fail")
one <- svydesign(ids = ~psu, weights = ~w, data = syn[syn$str == 100, ])
add_design("syn_jk1:design", as.svrepdesign(one, type = "JK1"))

# ---------------------------------------------------------------- A: 2005-2006 exam sample
exam <- build_cycle("2005-2006")
add_checks("exam_2005_2006", exam)
des <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_mec, nest = TRUE, data = exam)
ddes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_diet1, nest = TRUE,
                  data = exam)
fay <- as.svrepdesign(des, type = "Fay", fay.rho = 0.3)
jkn <- as.svrepdesign(des, type = "JKn")
add_design("fay_exam:design", fay)
add_design("jkn_exam:design", jkn)
add_design("fay_exam_diet:design", as.svrepdesign(ddes, type = "Fay", fay.rho = 0.3))
add_design("brr_exam:design", as.svrepdesign(des, type = "BRR"))
run_cases("fay_exam:", fay, as.svrepdesign(ddes, type = "Fay", fay.rho = 0.3), exam)
run_cases("jkn_exam:", jkn, as.svrepdesign(ddes, type = "JKn"), exam)

# mse = TRUE: centred on the full-sample estimate
fay_mse <- as.svrepdesign(des, type = "Fay", fay.rho = 0.3, mse = TRUE)
adults_mse <- subset(fay_mse, age >= 20)
add_stat("fay_mse_exam:mean_vitd_adults", svymean(~vitd, adults_mse, na.rm = TRUE), adults_mse,
         sum(!is.na(exam$vitd) & exam$age >= 20))
add_glm("fay_mse_exam:glm_logit_adults",
        svyglm(vitd_lt50 ~ age + sex + race + bmi + pir, design = adults_mse,
               family = quasibinomial()))
# a domain of the Taylor design converted: the same as the subset of the converted design
fay_dom <- as.svrepdesign(subset(des, age >= 20), type = "Fay", fay.rho = 0.3)
add_stat("fay_exam:mean_vitd_adults_converted_domain", svymean(~vitd, fay_dom, na.rm = TRUE),
         fay_dom, sum(!is.na(exam$vitd) & exam$age >= 20))

# ---------------------------------------------------------------- B: svrepdesign from columns
# The analysis weights of the as.svrepdesign() designs above (compress = FALSE) as columns of
# the data; the Python tests build the same columns from their own as_svrepdesign() after
# checking the column sums above.
repw_data <- function(rep, prefix) {
  w <- weights(rep, "analysis")
  w <- matrix(as.numeric(w), nrow = nrow(w), dimnames = list(NULL, paste0(prefix, seq_len(ncol(w)))))
  cbind(exam, as.data.frame(w))
}
jk_cols <- repw_data(as.svrepdesign(des, type = "JKn", compress = FALSE), "jkw")
fay_cols <- repw_data(as.svrepdesign(des, type = "Fay", fay.rho = 0.3, compress = FALSE), "fw")
fay_factors <- weights(as.svrepdesign(des, type = "Fay", fay.rho = 0.3, compress = FALSE),
                       "replication")
fay_factors <- matrix(as.numeric(fay_factors), nrow = nrow(fay_factors),
                      dimnames = list(NULL, paste0("ff", seq_len(ncol(fay_factors)))))
fay_factor_cols <- cbind(exam, as.data.frame(fay_factors))

svrep_cases <- function(case, rep) {
  adults <- subset(rep, age >= 20)
  add_stat(paste0(case, ":mean_vitd_adults"), svymean(~vitd, adults, na.rm = TRUE), adults,
           sum(!is.na(exam$vitd) & exam$age >= 20))
  add_stat(paste0(case, ":total_vitd_lt50_adults"), svytotal(~vitd_lt50, adults, na.rm = TRUE),
           adults, sum(!is.na(exam$vitd) & exam$age >= 20))
  add_glm(paste0(case, ":glm_linear_adults"), svyglm(vitd ~ age + sex + bmi, design = adults))
  add_design(paste0(case, ":design"), rep)
}
# JKn, combined weights, rscales given, mse = TRUE
svrep_cases("svrep_jkn_mse", svrepdesign(data = jk_cols, repweights = "jkw[0-9]+",
                                         weights = ~wt_mec, type = "JKn", scale = 1,
                                         rscales = jkn$rscales, combined.weights = TRUE,
                                         mse = TRUE))
# Fay from analysis weights (scale from rho)
svrep_cases("svrep_fay", svrepdesign(data = fay_cols, repweights = "^fw", weights = ~wt_mec,
                                     type = "Fay", rho = 0.3, combined.weights = TRUE))
# Fay from factors (combined.weights = FALSE)
svrep_cases("svrep_fay_factors", svrepdesign(data = fay_factor_cols, repweights = "^ff",
                                             weights = ~wt_mec, type = "Fay", rho = 0.3,
                                             combined.weights = FALSE))
# "other" with an explicit scale and uneven rscales, mse = TRUE
svrep_cases("svrep_other", svrepdesign(data = fay_cols, repweights = "^fw", weights = ~wt_mec,
                                       type = "other", scale = 0.1,
                                       rscales = rep(c(0.5, 1.5), 8), combined.weights = TRUE,
                                       mse = TRUE))

# ---------------------------------------------------------------- C: pooled 2009-2012
pooled <- do.call(rbind, lapply(c("2009-2010", "2011-2012"), build_cycle))
add_checks("pooled_2009_2012", pooled)
pooled$wt_mec2 <- pooled$wt_mec / 2
pooled$wt_diet2 <- pooled$wt_diet1 / 2
pdes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_mec2, nest = TRUE,
                  data = pooled)
pddes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_diet2, nest = TRUE,
                   data = pooled)
# brrweights' default large = "split" stops on the 3-PSU strata:
split_error <- tryCatch({
  as.svrepdesign(pdes, type = "Fay", fay.rho = 0.3)
  ""
}, error = function(e) conditionMessage(e))
stopifnot(grepl("odd numbers of PSUs", split_error))
pfay <- as.svrepdesign(pdes, type = "Fay", fay.rho = 0.3, large = "merge")
pjkn <- as.svrepdesign(pdes, type = "JKn")
add_design("fay_pooled:design", pfay)
add_design("jkn_pooled:design", pjkn)
run_cases("fay_pooled:", pfay, as.svrepdesign(pddes, type = "Fay", fay.rho = 0.3,
                                              large = "merge"), pooled)
run_cases("jkn_pooled:", pjkn, as.svrepdesign(pddes, type = "JKn"), pooled)

write_golden("replicate_golden.csv")
writeLines(c(R.version.string, paste("survey", packageVersion("survey")),
             paste("survival", packageVersion("survival")),
             paste("foreign", packageVersion("foreign"))),
           file.path(out_dir, "versions.txt"))
