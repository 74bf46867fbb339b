# Golden values for group differences of descriptive analyses (nhanes_mg.study.contrasts,
# spec field contrast), computed with R's survey package.
#
# Usage: Rscript tests/golden/study/make_golden_contrasts.R /path/to/nhanes-mirror
# Writes golden_contrasts.csv next to this script (17 significant digits); compared by
# tests/test_descriptive_contrasts.py within a relative 1e-9.
#
# NHANES 2011-2012, adults aged >= 20 with a serum 25(OH)D value (LBXVIDMS, VID_G), MEC
# weights, one domain of the full design:
#   share below 50 nmol/L by sex and by race and Hispanic origin (RIDRETH1, 5 levels):
#     svyby(~lt50, ~group, dom, svymean, covmat = TRUE) + svycontrast: each level minus the
#     first (male; Mexican American), and the Rao-Scott second-order F test
#     svychisq(~lt50 + group, dom, statistic = "F");
#   mean 25(OH)D by sex and by race: the same differences, and the Wald F test of
#     regTermTest(svyglm(vitd ~ group, dom), ~group).
# Cases: "<what>_<by>" with term "<level> - <reference>" (estimate, SE, t, P on degf(dom));
# "<what>_<by>_test" with term "F" (statistic, P, df = denominator df) and term "ndf"
# (estimate = numerator df).

suppressPackageStartupMessages({
  library(survey)
  library(foreign)
})
script_arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
script_dir <- dirname(normalizePath(sub("^--file=", "", script_arg)))
source(file.path(script_dir, "..", "survey", "golden_common.R"))  # out_dir: script_dir

d <- demo_vid("2011-2012", c("SDMVSTRA", "SDMVPSU", "WTMEC2YR", "RIAGENDR",
                              "RIDAGEYR", "RIDRETH1"))
d$vitd <- d$LBXVIDMS
d$lt50 <- as.numeric(d$LBXVIDMS < 50)
# the package's levels (nhanes_mg.derive.rules SEX_LEVELS, RACE_ETH_LEVELS), first = reference
d$sex <- factor(ifelse(d$RIAGENDR == 1, "male", "female"), levels = c("male", "female"))
d$race <- factor(c("mexican_american", "other_hispanic", "nh_white", "nh_black",
                   "other")[d$RIDRETH1],
                 levels = c("mexican_american", "other_hispanic", "nh_white", "nh_black",
                            "other"))
options(survey.lonely.psu = "adjust")
des <- svydesign(ids = ~SDMVPSU, strata = ~SDMVSTRA, weights = ~WTMEC2YR, nest = TRUE,
                 data = d[d$WTMEC2YR > 0, ])
dom <- subset(des, RIDAGEYR >= 20 & !is.na(vitd))
ddf <- degf(dom)

differences <- function(case, variable, by) {
  b <- svyby(as.formula(paste0("~", variable)), as.formula(paste0("~", by)), dom, svymean,
             covmat = TRUE)
  levels <- levels(dom$variables[[by]])
  for (level in levels[-1]) {
    weights <- setNames(rep(0, length(levels)), levels)
    weights[level] <- 1
    weights[levels[1]] <- -1
    con <- svycontrast(b, weights[rownames(coef(b) |> as.matrix())])
    est <- coef(con)
    se <- SE(con)
    t <- est / se
    add(case, paste(level, "-", levels[1]), est, se, stat = t, p = 2 * pt(-abs(t), ddf),
        df = ddf)
  }
}

for (by in c("sex", "race")) {
  differences(paste0("share_", by), "lt50", by)
  test <- svychisq(as.formula(paste0("~lt50 + ", by)), dom, statistic = "F")
  add(paste0("share_", by, "_test"), "F", NA, stat = test$statistic, p = test$p.value,
      df = test$parameter[[2]])
  add(paste0("share_", by, "_test"), "ndf", test$parameter[[1]])
  differences(paste0("mean_", by), "vitd", by)
  fit <- svyglm(as.formula(paste0("vitd ~ ", by)), dom)
  test <- regTermTest(fit, as.formula(paste0("~", by)))
  add(paste0("mean_", by, "_test"), "F", NA, stat = test$Ftest, p = test$p, df = test$ddf)
  add(paste0("mean_", by, "_test"), "ndf", test$df)
}
write_golden("golden_contrasts.csv")
