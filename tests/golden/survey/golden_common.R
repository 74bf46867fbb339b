# What the make_golden*.R scripts share: the mirror argument, the output folder, reading XPT
# files, the exam-participant frames of tests/survey/golden_data.py (_exam_frame), the
# linked-mortality reader, the rows of the golden file and its writer.
#
# Sourced by each script (source(file.path(script_dir, "golden_common.R"))) after it loaded
# its packages; defines `mirror`, `out_dir` and the functions below in the caller's
# environment. A script may redefine any of them (make_golden_epi.R has its own frames).

args <- commandArgs(trailingOnly = TRUE)
script_arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
script_name <- if (length(script_arg)) basename(sub("^--file=", "", script_arg)) else "make_golden*.R"
if (length(args) < 1) stop(paste("usage:", script_name, "MIRROR_DIR"))
mirror <- args[1]
if (dir.exists(file.path(mirror, "nhanes-mirror"))) mirror <- file.path(mirror, "nhanes-mirror")
out_dir <- if (length(script_arg)) dirname(normalizePath(sub("^--file=", "", script_arg))) else "."

xpt <- function(cycle, table) read.xport(file.path(mirror, cycle, paste0(table, ".xpt")))

# per cycle: table suffix, day-1 diet table, its variable prefix and recall-status column, and
# the 25(OH)D column (LC-MS/MS-equivalent values; named LBXVIDMS from 2007)
cycles <- list(
  "2001-2002" = c(suffix = "B", diet = "DRXTOT_B", prefix = "DRX", status = "DRDDRSTZ",
                  vid = "LBDVIDMS"),
  "2003-2004" = c(suffix = "C", diet = "DR1TOT_C", prefix = "DR1", status = "DR1DRSTZ",
                  vid = "LBDVIDMS"),
  "2005-2006" = c(suffix = "D", diet = "DR1TOT_D", prefix = "DR1", status = "DR1DRSTZ",
                  vid = "LBDVIDMS"),
  "2009-2010" = c(suffix = "F", diet = "DR1TOT_F", prefix = "DR1", status = "DR1DRSTZ",
                  vid = "LBXVIDMS"),
  "2011-2012" = c(suffix = "G", diet = "DR1TOT_G", prefix = "DR1", status = "DR1DRSTZ",
                  vid = "LBXVIDMS")
)

# DEMO left-join VID, BMX, day-1 diet; exam participants (WTMEC2YR > 0); lower-case names
build_cycle <- function(cycle) {
  info <- cycles[[cycle]]
  demo <- xpt(cycle, paste0("DEMO_", info[["suffix"]]))[, c(
    "SEQN", "SDMVSTRA", "SDMVPSU", "WTMEC2YR", "RIAGENDR", "RIDAGEYR", "RIDRETH1",
    "DMDEDUC2", "INDFMPIR")]
  vid <- xpt(cycle, paste0("VID_", info[["suffix"]]))[, c("SEQN", info[["vid"]])]
  names(vid) <- c("SEQN", "LBDVIDMS")
  bmx <- xpt(cycle, paste0("BMX_", info[["suffix"]]))[, c("SEQN", "BMXBMI")]
  p <- info[["prefix"]]
  diet <- xpt(cycle, info[["diet"]])[, c("SEQN", "WTDRD1", info[["status"]],
                                          paste0(p, c("TKCAL", "TCALC", "TMAGN")))]
  names(diet) <- c("SEQN", "wt_diet1", "drstz", "kcal", "calcium", "magnesium")
  d <- merge(demo, vid, by = "SEQN", all.x = TRUE, sort = FALSE)
  d <- merge(d, bmx, by = "SEQN", all.x = TRUE, sort = FALSE)
  d <- merge(d, diet, by = "SEQN", all.x = TRUE, sort = FALSE)
  d <- d[order(d$SEQN), ]
  d <- d[!is.na(d$WTMEC2YR) & d$WTMEC2YR > 0, ]
  mg <- d$magnesium
  mg_cat <- ifelse(mg < 200, "q1", ifelse(mg < 300, "q2", ifelse(mg < 400, "q3", "q4")))
  educ <- ifelse(d$DMDEDUC2 %in% 1:5, as.character(d$DMDEDUC2), NA_character_)
  data.frame(
    seqn = d$SEQN, cycle = cycle, sdmvstra = d$SDMVSTRA, sdmvpsu = d$SDMVPSU,
    wt_mec = d$WTMEC2YR, wt_diet1 = ifelse(is.na(d$wt_diet1), 0, d$wt_diet1),
    age = d$RIDAGEYR, sex = as.character(d$RIAGENDR), race = as.character(d$RIDRETH1),
    educ = educ, pir = d$INDFMPIR, bmi = d$BMXBMI, vitd = d$LBDVIDMS,
    vitd10 = d$LBDVIDMS / 10, vitd_lt50 = as.numeric(d$LBDVIDMS < 50),
    drstz = ifelse(is.na(d$drstz), 0, d$drstz), kcal1000 = d$kcal / 1000,
    ca100 = d$calcium / 100, calcium = d$calcium, magnesium = mg, mg_cat = mg_cat,
    stringsAsFactors = FALSE
  )
}

# DEMO columns `demo_cols` of a cycle left-joined with its serum 25(OH)D column (named as CDC
# names it in that cycle), sorted by SEQN: every participant, examined or not
demo_vid <- function(cycle, demo_cols) {
  info <- cycles[[cycle]]
  demo <- xpt(cycle, paste0("DEMO_", info[["suffix"]]))[, c("SEQN", demo_cols)]
  vid <- xpt(cycle, paste0("VID_", info[["suffix"]]))[, c("SEQN", info[["vid"]])]
  d <- merge(demo, vid, by = "SEQN", all.x = TRUE, sort = FALSE)
  d[order(d$SEQN), ]
}

read_mort <- function(name) {
  lines <- readLines(file.path(mirror, "linked_mortality", name))
  lines <- sub("\r$", "", lines)
  lines <- lines[nchar(trimws(lines)) > 0]
  lines <- formatC(lines, width = -48)  # pad trimmed lines (2019 release) to 48 characters
  num <- function(a, b) suppressWarnings(as.numeric(trimws(substr(lines, a, b))))
  # the columns of nhanes_mg.data.read.read_mortality: SEQN 1-14, ELIGSTAT 15, MORTSTAT 16,
  # PERMTH_EXM 46-48
  data.frame(seqn = num(1, 14), ELIGSTAT = num(15, 15), MORTSTAT = num(16, 16),
             PERMTH_EXM = num(46, 48))
}

# exam participants of 2003-2006 with linked mortality (2015 release), follow-up from exam:
# died = MORTSTAT and months = PERMTH_EXM for the linkage-eligible, NA otherwise; wt_mec2 the
# 4-year weight (tests/survey/golden_data.py mortality_2003_2006)
build_mortality <- function() {
  files <- c("2003-2004" = "NHANES_2003_2004_MORT_2015_PUBLIC.dat",
             "2005-2006" = "NHANES_2005_2006_MORT_2015_PUBLIC.dat")
  mort <- do.call(rbind, lapply(names(files), function(cy) {
    m <- read_mort(files[[cy]])
    d <- merge(build_cycle(cy), m, by = "seqn", all.x = TRUE, sort = FALSE)
    d[order(d$seqn), ]
  }))
  eligible <- !is.na(mort$ELIGSTAT) & mort$ELIGSTAT == 1
  mort$died <- ifelse(eligible, mort$MORTSTAT, NA)
  mort$months <- ifelse(eligible, mort$PERMTH_EXM, NA)
  mort$eligible <- eligible
  mort$wt_mec2 <- mort$wt_mec / 2
  mort
}

rows <- list()
add <- function(case, term, estimate, se = NA, lo = NA, hi = NA, stat = NA, p = NA,
                df = NA, n = NA) {
  rows[[length(rows) + 1]] <<- data.frame(
    case = case, term = term, estimate = as.numeric(estimate), std_error = as.numeric(se),
    conf_low = as.numeric(lo), conf_high = as.numeric(hi), statistic = as.numeric(stat),
    p_value = as.numeric(p), df = as.numeric(df), n = as.numeric(n),
    stringsAsFactors = FALSE)
}
check_sums <- c("wt_mec", "wt_diet1", "age", "vitd", "magnesium", "bmi")
add_checks <- function(name, d) {
  add("check", paste0(name, ":n"), nrow(d))
  for (col in check_sums) add("check", paste0(name, ":sum_", col), sum(d[[col]], na.rm = TRUE))
}

# the rows, numbers with 17 significant digits, as `file` next to the script
write_golden <- function(file) {
  out <- do.call(rbind, rows)
  fmt <- function(x) ifelse(is.na(x), "", ifelse(is.infinite(x), ifelse(x > 0, "Inf", "-Inf"),
                                                    sprintf("%.17g", x)))
  for (col in c("estimate", "std_error", "conf_low", "conf_high", "statistic", "p_value", "df",
                "n")) out[[col]] <- fmt(out[[col]])
  write.csv(out, file.path(out_dir, file), row.names = FALSE)
  cat("wrote", nrow(out), "rows to", file.path(out_dir, file), "\n")
}
