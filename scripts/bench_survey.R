# Times R's survey on the data written by scripts/bench_survey.py (same rows as the Python run).
# Usage: Rscript scripts/bench_survey.R WORKDIR REPS
# Reads WORKDIR/glm.csv and WORKDIR/cox.csv; writes WORKDIR/r_results.csv (coefficients, SEs)
# and WORKDIR/r_times.csv (seconds per fit, every repetition).
suppressPackageStartupMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
work <- args[1]
reps <- as.integer(args[2])

glm_data <- read.csv(file.path(work, "glm.csv"), stringsAsFactors = FALSE, na.strings = c("", "NA"),
                     colClasses = c(sex = "character", race = "character", educ = "character"))
glm_data$race <- relevel(factor(glm_data$race), ref = "3")
gdes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~w, nest = TRUE, data = glm_data)
gdom <- subset(gdes, in_domain == 1)
logit_formula <- vitd_lt50 ~ mg_cat + age + sex + race + educ + bmi + pir + kcal1000 + ca100 +
  cycle

cox_data <- read.csv(file.path(work, "cox.csv"), stringsAsFactors = FALSE, na.strings = c("", "NA"),
                     colClasses = c(sex = "character", race = "character"))
cox_data$race <- relevel(factor(cox_data$race), ref = "3")
cdes <- svydesign(ids = ~sdmvpsu, strata = ~sdmvstra, weights = ~w, nest = TRUE, data = cox_data)
cdom <- subset(cdes, in_domain == 1)
cox_formula <- Surv(months, died) ~ age + sex + race + bmi + vitd10

times <- data.frame(model = character(), seconds = numeric(), cpu = numeric())
for (i in seq_len(reps)) {
  t <- system.time(fit_glm <- svyglm(logit_formula, design = gdom, family = quasibinomial()))
  times <- rbind(times, data.frame(model = "svyglm_logistic", seconds = t[["elapsed"]],
                                   cpu = t[["user.self"]] + t[["sys.self"]]))
  t <- system.time(fit_cox <- svycoxph(cox_formula, design = cdom))
  times <- rbind(times, data.frame(model = "svycoxph_efron", seconds = t[["elapsed"]],
                                   cpu = t[["user.self"]] + t[["sys.self"]]))
}
res <- rbind(
  data.frame(model = "svyglm_logistic", term = names(coef(fit_glm)),
             estimate = sprintf("%.17g", coef(fit_glm)),
             std_error = sprintf("%.17g", SE(fit_glm))),
  data.frame(model = "svycoxph_efron", term = names(coef(fit_cox)),
             estimate = sprintf("%.17g", coef(fit_cox)),
             std_error = sprintf("%.17g", SE(fit_cox)))
)
write.csv(res, file.path(work, "r_results.csv"), row.names = FALSE)
write.csv(times, file.path(work, "r_times.csv"), row.names = FALSE)
writeLines(paste0("(R ", getRversion(), ", survey ", packageVersion("survey"), ")"),
           file.path(work, "r_version.txt"))
