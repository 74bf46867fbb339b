# Golden values for the study layer's age standardization over the age groups present
# (nhanes_mg.study.descriptive, spec field age_standardize), computed with R's survey package.
#
# Usage: Rscript tests/golden/study/make_golden_standardize.R /path/to/nhanes-mirror
# Writes golden_standardize.csv next to this script (17 significant digits); compared by
# tests/test_standardize_golden.py within a relative 1e-9 (estimates and SEs).
#
# NHANES 2011-2012, everyone with a serum 25(OH)D value aged >= 1 year (LBXVIDMS, VID_G):
# the share below 30 nmol/L, crude and directly age-standardized by sex, with
#   (a) the 2000 U.S. standard's 11 NCHS groups, over the groups present (age is top-coded at
#       80, and the domain starts at 1 year, so "under 1" and "85+" are absent): R's
#       svystandardize with the population vector of the groups present;
#   (b) a declared standard: groups 1-5, 6-11, 12-19, 20-39, 40-59, 60+ with made-up sizes
#       (10, 12, 16, 38, 35, 29): only the proportions count.
# Each sex is a domain standardized on its own (over = ~1 on the subset), as the package does.

suppressPackageStartupMessages({
  library(survey)
  library(foreign)
})
script_arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
script_dir <- dirname(normalizePath(sub("^--file=", "", script_arg)))
source(file.path(script_dir, "..", "survey", "golden_common.R"))  # out_dir: script_dir

d <- demo_vid("2011-2012", c("SDMVSTRA", "SDMVPSU", "WTMEC2YR", "RIAGENDR", "RIDAGEYR"))
d$lt30 <- as.numeric(d$LBXVIDMS < 30)
d$sex <- ifelse(d$RIAGENDR == 1, "male", "female")
d$in_domain <- !is.na(d$LBXVIDMS) & d$RIDAGEYR >= 1 & d$WTMEC2YR > 0
options(survey.lonely.psu = "fail")
des <- svydesign(ids = ~SDMVPSU, strata = ~SDMVSTRA, weights = ~WTMEC2YR, nest = TRUE,
                 data = d[d$WTMEC2YR > 0, ])

nchs_bounds <- c(0, 1, 5, 15, 25, 35, 45, 55, 65, 75, 85)
nchs_pop <- c(3795, 15192, 39977, 38077, 37233, 44659, 37030, 23961, 18136, 12315, 4259)
declared_bounds <- c(1, 6, 12, 20, 40, 60)
declared_pop <- c(10, 12, 16, 38, 35, 29)
group_of <- function(age, bounds) findInterval(age, bounds)  # 1-based group index (0: below)

for (std in c("nchs", "declared")) {
  bounds <- if (std == "nchs") nchs_bounds else declared_bounds
  pop <- if (std == "nchs") nchs_pop else declared_pop
  for (s in c("female", "male")) {
    dom <- subset(des, in_domain & sex == s)
    if (std == "nchs") {
      crude <- svymean(~lt30, dom)
      add(paste0("crude_", s), "all", coef(crude), SE(crude), n = nrow(dom$variables))
    }
    dom$variables$agecat <- group_of(dom$variables$RIDAGEYR, bounds)
    dom <- subset(dom, agecat >= 1)
    present <- sort(unique(dom$variables$agecat))
    st <- svystandardize(dom, by = ~agecat, over = ~1, population = pop[present])
    m <- svymean(~lt30, st)
    add(paste0("standardized_", std, "_", s), paste(present, collapse = " "), coef(m), SE(m),
        df = degf(st), n = nrow(st$variables))
  }
}
write_golden("golden_standardize.csv")
