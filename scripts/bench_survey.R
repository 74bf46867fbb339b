# Times R's survey on the data written by scripts/bench_survey.py (same rows as the Python run).
# Usage: Rscript scripts/bench_survey.R WORKDIR REPS
# Reads WORKDIR/glm.csv and WORKDIR/cox.csv; writes WORKDIR/r_results.csv (coefficients, SEs)
# and WORKDIR/r_times.csv (seconds per repetition of each step, wall clock and CPU).
#
# Steps (each repeated REPS times, after one untimed warm-up of every step):
#   design        svydesign(...) + subset(...) of the logistic model's data
#   glm_first     svyglm on the design just built (R keeps nothing between fits: a first fit
#                 costs what any fit costs)
#   glm           svyglm on the same design again
#   glm_update    update(design, mg_cat2 = ...) + svyglm of a model that uses the new column
#   cox           svycoxph
#   rep_glm       svyglm on a Fay-BRR replicate design (as.svrepdesign(type = "Fay",
#                 fay.rho = 0.3) of the full design, then the domain)
#   mi_fits       svyglm on each of M = 20 imputations of missing pir and bmi, then MIcombine
#   mi_combine    MIcombine alone
suppressPackageStartupMessages({library(survey); library(mitools)})
args <- commandArgs(trailingOnly = TRUE)
work <- args[1]
reps <- as.integer(args[2])

glm_data <- read.csv(file.path(work, "glm.csv"), stringsAsFactors = FALSE, na.strings = c("", "NA"),
                     colClasses = c(sex = "character", race = "character", educ = "character"))
glm_data$race <- relevel(factor(glm_data$race), ref = "3")
logit_formula <- vitd_lt50 ~ mg_cat + age + sex + race + educ + bmi + pir + kcal1000 + ca100 +
  cycle
update_formula <- vitd_lt50 ~ mg_cat2 + age + sex + race + educ + bmi + pir + kcal1000 + ca100 +
  cycle

cox_data <- read.csv(file.path(work, "cox.csv"), stringsAsFactors = FALSE, na.strings = c("", "NA"),
                     colClasses = c(sex = "character", race = "character"))
cox_data$race <- relevel(factor(cox_data$race), ref = "3")
cdes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~w, nest = TRUE, data = cox_data)
cdom <- subset(cdes, in_domain == 1)
cox_formula <- Surv(months, died) ~ age + sex + race + bmi + vitd10

new_design <- function() {
  gdes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~w, nest = TRUE, data = glm_data)
  subset(gdes, in_domain == 1)
}
# the new exposure categories of the update step (the same rule as the Python side)
add_column <- function(design) {
  update(design, mg_cat2 = ifelse(is.na(magnesium), NA,
                                  ifelse(magnesium < 250, "a", ifelse(magnesium < 350, "b", "c"))))
}

full <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~w, nest = TRUE, data = glm_data)
rep_dom <- subset(as.svrepdesign(full, type = "Fay", fay.rho = 0.3), in_domain == 1)
M <- 20
imputed <- lapply(1:M, function(m) {  # the rule of bench_survey.py's imputation()
  d <- glm_data
  d$pir <- ifelse(is.na(d$pir), ((d$seqn * m) %% 50) / 10, d$pir)
  d$bmi <- ifelse(is.na(d$bmi), 18 + ((d$seqn * (m + 2)) %% 25), d$bmi)
  subset(svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~w, nest = TRUE, data = d),
         in_domain == 1)
})

times <- data.frame(step = character(), seconds = numeric(), cpu = numeric())
record <- function(step, t) {
  times <<- rbind(times, data.frame(step = step, seconds = t[["elapsed"]],
                                    cpu = t[["user.self"]] + t[["sys.self"]]))
}
for (i in 0:reps) {  # i = 0: warm-up, not recorded
  t_design <- system.time(gdom <- new_design())
  t_first <- system.time(fit_glm <- svyglm(logit_formula, design = gdom, family = quasibinomial()))
  t_glm <- system.time(fit_glm <- svyglm(logit_formula, design = gdom, family = quasibinomial()))
  t_update <- system.time({
    gdom2 <- add_column(gdom)
    fit_update <- svyglm(update_formula, design = gdom2, family = quasibinomial())
  })
  t_cox <- system.time(fit_cox <- svycoxph(cox_formula, design = cdom))
  t_rep <- system.time(fit_rep <- svyglm(logit_formula, design = rep_dom, family = quasibinomial()))
  t_mi <- system.time({
    mi_fits <- lapply(imputed, function(d) svyglm(logit_formula, design = d,
                                                  family = quasibinomial()))
    fit_mi <- MIcombine(mi_fits)
  })
  t_combine <- system.time(fit_mi <- MIcombine(mi_fits))
  if (i > 0) {
    record("rep_glm", t_rep)
    record("mi_fits", t_mi)
    record("mi_combine", t_combine)
    record("design", t_design)
    record("glm_first", t_first)
    record("glm", t_glm)
    record("glm_update", t_update)
    record("cox", t_cox)
  }
}
result <- function(model, fit) {
  data.frame(model = model, term = names(coef(fit)), estimate = sprintf("%.17g", coef(fit)),
             std_error = sprintf("%.17g", SE(fit)))
}
res <- rbind(result("svyglm_logistic", fit_glm), result("svyglm_update", fit_update),
             result("svycoxph_efron", fit_cox), result("svyglm_replicate", fit_rep),
             result("micombine", fit_mi))
write.csv(res, file.path(work, "r_results.csv"), row.names = FALSE)
write.csv(times, file.path(work, "r_times.csv"), row.names = FALSE)
writeLines(paste0("(R ", getRversion(), ", survey ", packageVersion("survey"), ")"),
           file.path(work, "r_version.txt"))
