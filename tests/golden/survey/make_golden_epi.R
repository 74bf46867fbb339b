# Golden values for the epidemiology functions of nhanes_mg.survey (svychisq, svypredmeans,
# svystandardize, svykm), computed with R's survey package on real NHANES tables.
#
# Usage: Rscript tests/golden/survey/make_golden_epi.R /path/to/nhanes-mirror
# Writes golden_epi.csv next to this script. Conventions as make_golden.R: each dataset is built
# exactly as tests/survey/golden_data.py builds it (epi_exam_2005_2006, epi_mortality_2005_2006);
# the "check" rows (row counts, column sums) let the Python tests confirm both sides saw the same
# rows before comparing any estimate; numbers are written with 17 significant digits.
#
# Columns: case, term, estimate, std_error, conf_low, conf_high, statistic, p_value, df, n.
# A test statistic is written as one row per quantity (term "statistic", "ndf", "ddf", "p_value",
# ... with the value in "estimate").

suppressPackageStartupMessages({
  library(foreign)
  library(survey)
})

script_dir <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))))
source(file.path(script_dir, "golden_common.R"))  # mirror, out_dir, frames, rows, writer

options(survey.lonely.psu = "fail")

# DEMO left-join VID, BMX, day-1 diet of 2005-2006; exam participants (WTMEC2YR > 0);
# lower-case names (the epi tests' own columns: replaces golden_common.R's build_cycle)
build_cycle <- function(cycle = "2005-2006") {
  demo <- xpt(cycle, "DEMO_D")[, c(
    "SEQN", "SDMVSTRA", "SDMVPSU", "WTMEC2YR", "RIAGENDR", "RIDAGEYR", "RIDRETH1",
    "DMDEDUC2", "INDFMPIR")]
  vid <- xpt(cycle, "VID_D")[, c("SEQN", "LBDVIDMS")]
  bmx <- xpt(cycle, "BMX_D")[, c("SEQN", "BMXBMI")]
  diet <- xpt(cycle, "DR1TOT_D")[, c("SEQN", "WTDRD1", "DR1DRSTZ", "DR1TKCAL", "DR1TCALC",
                                     "DR1TMAGN")]
  names(diet) <- c("SEQN", "wt_diet1", "drstz", "kcal", "calcium", "magnesium")
  d <- merge(demo, vid, by = "SEQN", all.x = TRUE, sort = FALSE)
  d <- merge(d, bmx, by = "SEQN", all.x = TRUE, sort = FALSE)
  d <- merge(d, diet, by = "SEQN", all.x = TRUE, sort = FALSE)
  d <- d[order(d$SEQN), ]
  d <- d[!is.na(d$WTMEC2YR) & d$WTMEC2YR > 0, ]
  data.frame(
    seqn = d$SEQN, cycle = cycle, sdmvstra = d$SDMVSTRA, sdmvpsu = d$SDMVPSU,
    wt_mec = d$WTMEC2YR, wt_diet1 = ifelse(is.na(d$wt_diet1), 0, d$wt_diet1),
    age = d$RIDAGEYR, sex = as.character(d$RIAGENDR), race = as.character(d$RIDRETH1),
    bmi = d$BMXBMI, vitd = d$LBDVIDMS, vitd_lt50 = as.numeric(d$LBDVIDMS < 50),
    magnesium = d$magnesium, stringsAsFactors = FALSE
  )
}

# epi_exam_2005_2006 of golden_data.py: + DIQ_D and the categories of the cases
build_epi <- function() {
  d <- build_cycle("2005-2006")
  diq <- xpt("2005-2006", "DIQ_D")[, c("SEQN", "DIQ010")]
  d <- merge(d, diq, by.x = "seqn", by.y = "SEQN", all.x = TRUE, sort = FALSE)
  d <- d[order(d$seqn), ]
  v <- d$vitd
  d$vitd_cat <- ifelse(v < 30, "deficient", ifelse(v < 50, "insufficient", "sufficient"))
  b <- d$bmi
  d$bmi_cat <- ifelse(b < 25, "1_lt25", ifelse(b < 30, "2_25to30", "3_ge30"))
  a <- d$age
  d$agecat <- ifelse(a >= 20 & a < 40, "20-39", ifelse(a >= 40 & a < 60, "40-59",
                                                      ifelse(a >= 60, "60+", NA)))
  d$diabetes <- ifelse(d$DIQ010 %in% 1, 1, ifelse(d$DIQ010 %in% c(2, 3), 0, NA))
  d$DIQ010 <- NULL
  d
}

add_checks <- function(name, d, extra = character(0)) {
  add("check", paste0(name, ":n"), nrow(d))
  for (col in c("wt_mec", "age", "vitd", "bmi", "diabetes", extra)) {
    add("check", paste0(name, ":sum_", col), sum(d[[col]], na.rm = TRUE))
  }
}

# ---------------------------------------------------------------- data
exam <- build_epi()
add_checks("epi_exam_2005_2006", exam)
des <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_mec, nest = TRUE, data = exam)
adults <- subset(des, age >= 20)

# ---------------------------------------------------------------- A: svychisq
# svychisq.survey.design: "F" = Rao-Scott second-order (Satterthwaite) corrected F on
# (d0, d0 * nu) df; "Chisq" = Pearson X^2 (table scaled to N rows) with the first-order
# (mean generalized design effect) correction, chi-square on (r - 1)(c - 1) df; "Wald" and
# "adjWald" = design-based Wald tests of independence.
add_chisq <- function(case, test) {
  par <- test$parameter
  ndf <- if ("ndf" %in% names(par)) par[["ndf"]] else par[[1]]
  ddf <- if ("ddf" %in% names(par)) par[["ddf"]] else Inf
  add(case, c("statistic", "ndf", "ddf", "p_value"),
      c(unname(test$statistic), ndf, ddf, test$p.value))
}
for (st in c("F", "Chisq", "Wald", "adjWald")) {
  add_chisq(paste0("chisq_", st, "_vitdcat_race_all"),
            svychisq(~vitd_cat + race, des, statistic = st))
}
for (st in c("F", "Chisq")) {
  add_chisq(paste0("chisq_", st, "_vitdcat_race_adults"),
            svychisq(~vitd_cat + race, adults, statistic = st))
}
add_chisq("chisq_F_diabetes_sex_adults", svychisq(~diabetes + sex, adults))
add_chisq("chisq_F_bmicat_vitdcat_women",
          svychisq(~bmi_cat + vitd_cat, subset(adults, sex == "2")))

# ---------------------------------------------------------------- B: svypredmeans
# svypredmeans(adjustmodel, ~factor(group)) (R needs a factor: each prediction sets the group of
# every row to one level and rebuilds the model matrix): the model refitted with the group added, predictions for
# every row of adjustmodel$survey.design with the group set to each level, weighted means; the
# variance adds t(dg/dbeta) V(beta) dg/dbeta to svymean's. Interval: t on degf(design) of the
# rows averaged (the package's convention for means); R's confint() default is normal.
add_predmeans <- function(case, fit, group) {
  pm <- svypredmeans(fit, group)
  d <- fit$survey.design
  ddf <- degf(d)
  est <- coef(pm)
  se <- SE(pm)
  ci <- confint(pm, df = ddf)
  tt <- est / se
  n <- sum(weights(d) > 0)
  add(case, names(est), est, se, ci[, 1], ci[, 2], tt, 2 * pt(-abs(tt), ddf), ddf, n)
  v <- vcov(pm)
  nm <- names(est)
  for (i in seq_along(nm)) for (j in seq_along(nm)) if (nm[i] < nm[j]) {
    add(paste0(case, ":vcov"), paste0(nm[i], "|", nm[j]), v[i, j])
  }
  parts <- attr(vcov(pm), "parts")
  add(paste0(case, ":addvar"), nm, diag(parts[[1]]))
}
fit_logit <- svyglm(vitd_lt50 ~ age + sex, design = adults, family = quasibinomial())
add_predmeans("predmeans_logit_vitdlt50_bmicat", fit_logit, ~factor(bmi_cat))
fit_lin <- svyglm(vitd ~ age + sex + bmi, design = adults)
add_predmeans("predmeans_linear_vitd_race", fit_lin, ~factor(race))

# ---------------------------------------------------------------- C: svystandardize
# Direct age standardization to the 2000 U.S. standard population, adults 20-39, 40-59, 60+
# (in thousands: 77,670, 72,816, 45,364; see src/nhanes_mg/survey/standardize.py for the source).
# Intervals: t on degf of the domain (the package's convention); R's confint() is normal.
std2000 <- c(77670, 72816, 45364)
add_by <- function(case, res, stdes, byvar, yvar) {
  for (i in seq_len(nrow(res))) {
    lev <- as.character(res[[byvar]][i])
    dom <- stdes[stdes$variables[[byvar]] == lev, ]
    ddf <- degf(dom)
    est <- res[[yvar]][i]
    se <- res[["se"]][i]
    tt <- est / se
    q <- qt(0.975, ddf)
    n <- sum(!is.na(dom$variables[[yvar]]) & weights(dom) > 0)
    add(case, paste0(byvar, "=", lev), est, se, est - q * se, est + q * se, tt,
        2 * pt(-abs(tt), ddf), ddf, n)
  }
}
st_vitd <- svystandardize(adults, by = ~agecat, over = ~sex, population = std2000,
                          excluding.missing = ~vitd_lt50)
add_by("standardize_vitdlt50_by_sex",
       svyby(~vitd_lt50, ~sex, st_vitd, svymean, na.rm = TRUE), st_vitd, "sex", "vitd_lt50")
w <- weights(st_vitd)
for (s in c("1", "2")) for (a in c("20-39", "40-59", "60+")) {
  sel <- st_vitd$variables$sex == s & st_vitd$variables$agecat == a
  add("standardize_vitdlt50_weights", paste0("sex=", s, ",agecat=", a), sum(w[sel]))
}
st_diab <- svystandardize(adults, by = ~agecat, over = ~sex, population = std2000,
                          excluding.missing = ~diabetes)
add_by("standardize_diabetes_by_sex",
       svyby(~diabetes, ~sex, st_diab, svymean, na.rm = TRUE), st_diab, "sex", "diabetes")
# without excluding.missing: the rows with a missing outcome keep their standardized weights
# (and their share of the post-stratum means in the variance)
st_all <- svystandardize(adults, by = ~agecat, over = ~sex, population = std2000)
add_by("standardize_vitdlt50_by_sex_all_rows",
       svyby(~vitd_lt50, ~sex, st_all, svymean, na.rm = TRUE), st_all, "sex", "vitd_lt50")
# over the whole population (over = ~1)
st_one <- svystandardize(adults, by = ~agecat, over = ~1, population = std2000,
                         excluding.missing = ~vitd_lt50)
m <- svymean(~vitd_lt50, st_one, na.rm = TRUE)
ddf <- degf(st_one)
ci <- confint(m, df = ddf)
tt <- coef(m) / SE(m)
add("standardize_vitdlt50_overall", "vitd_lt50", coef(m), SE(m), ci[1], ci[2], tt,
    2 * pt(-abs(tt), ddf), ddf, sum(!is.na(st_one$variables$vitd_lt50)))
# a mean (vitamin D, nmol/L) standardized within race/ethnicity
st_race <- svystandardize(adults, by = ~agecat, over = ~race, population = std2000,
                          excluding.missing = ~vitd)
add_by("standardize_vitd_by_race",
       svyby(~vitd, ~race, st_race, svymean, na.rm = TRUE), st_race, "race", "vitd")

# ---------------------------------------------------------------- D: svykm
# svykm(Surv(months, died) ~ sex, design, se = TRUE): km.stderr -- survival exp(-H) with H the
# weighted Nelson-Aalen cumulative hazard at every event, varlog = Var(H) by linearization of
# the weighted totals of events and of the risk sets; se = FALSE: svykm.fit, the weighted
# product-limit estimate (time 0 and every distinct time). Intervals are confint.svykm:
# exp(log S -/+ z sqrt(varlog)), upper bound capped at 1 (normal quantile).
mort <- read_mort("NHANES_2005_2006_MORT_2015_PUBLIC.dat")
md <- merge(build_epi(), mort, by = "seqn", all.x = TRUE, sort = FALSE)
md <- md[order(md$seqn), ]
eligible <- !is.na(md$ELIGSTAT) & md$ELIGSTAT == 1
md$died <- ifelse(eligible, md$MORTSTAT, NA)
md$months <- ifelse(eligible, md$PERMTH_EXM, NA)
md$eligible <- eligible
md$ELIGSTAT <- md$MORTSTAT <- md$PERMTH_EXM <- NULL
add_checks("epi_mortality_2005_2006", md, c("months", "died"))
mdes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~wt_mec, nest = TRUE, data = md)
madults <- subset(mdes, age >= 20 & eligible)
times <- c(12, 36, 60, 84, 108)

add_km_se <- function(case, s, label, d) {
  # one row per distinct event time: the last of tied events (R's object repeats the time)
  last <- !duplicated(s$time, fromLast = TRUE)
  tt <- s$time[last]
  ci <- confint(s, parm = tt)
  n_event <- as.vector(table(factor(s$time, levels = tt)))
  add(case, paste0(label, ":t=", tt), s$surv[last], sqrt(s$varlog[last]), ci[, 1], ci[, 2],
      n = n_event)
  ci <- confint(s, parm = times)
  idx <- sapply(times, function(t) max(which(s$time <= t)))
  add(paste0(case, ":at"), paste0(label, ":t=", times), s$surv[idx], sqrt(s$varlog[idx]),
      ci[, 1], ci[, 2])
}
km <- svykm(Surv(months, died) ~ sex, design = madults, se = TRUE)
for (s in names(km)) add_km_se("km_se_by_sex", km[[s]], paste0("sex=", s))
km1 <- svykm(Surv(months, died) ~ 1, design = madults, se = TRUE)
add_km_se("km_se_overall", km1, "all")

km0 <- svykm(Surv(months, died) ~ sex, design = madults)
for (s in names(km0)) {
  k <- km0[[s]]
  add("km_by_sex", paste0("sex=", s, ":t=", k$time), k$surv)
  idx <- sapply(times, function(t) max(which(k$time <= t)))
  add("km_by_sex:at", paste0("sex=", s, ":t=", times), k$surv[idx])
}

write_golden("golden_epi.csv")
