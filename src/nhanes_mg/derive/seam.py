"""The 2006/2007 seam of the supplement columns: are 2001-2006 (our DSQ2 × DSII derivation) and
2007-2018 (CDC's DSQTOT totals) one series?

:func:`supplement_seam` estimates, by cycle, survey-weighted supplemental magnesium and calcium
among adults: the mean among all (non-users count 0), the mean among users of a product
holding the nutrient, and the share of such users. :func:`supplement_seam_figure` draws them
with the seam marked, so that a step at 2007 that the trend around it does not explain shows.

Weight: ``wt_mec`` (two-year MEC exam weight). The 30-day supplement questionnaire is part of
the household interview, for which NCHS's own documentation (DSQ2_D, Analytic Notes) names the
interview weight, "if they are merged with the MEC exam data, exam sample weights should be
used". The seam checks the supplement columns as the claims use them, and every analysis
that uses ``mg_supp``/``ca_supp`` combines them with MEC data (the day-1 recall, 25(OH)D, …),
so the MEC weight is the one that describes the sample those analyses use; the day-1 dietary weight
``wt_diet1`` would further restrict to a reliable recall, which a supplement-only statistic
does not need. Participants with ``wt_mec`` 0 (interviewed, not examined) contribute to no
estimate. Each cycle is a domain of one design over all cycles (strata ``sdmvstra``, PSUs
``sdmvpsu``), with the two-year weights as published (one cycle per estimate: no pooling).
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import polars as pl
from plotnine import (
    aes,
    element_text,
    facet_wrap,
    geom_errorbar,
    geom_line,
    geom_point,
    geom_vline,
    ggplot,
    labs,
    scale_color_manual,
    scale_x_continuous,
    theme,
    theme_bw,
)

from nhanes_mg.data import catalog
from nhanes_mg.figure_files import plot_data, save_png
from nhanes_mg.survey import SurveyDesign, svymean

DSQ2_DERIVATION = "DSQ2 × DSII (2001-2006)"
DSQTOT_DERIVATION = "DSQTOT (2007-2018)"
DSQ2_CYCLES = ("2001-2002", "2003-2004", "2005-2006")
SEAM_NUTRIENTS: dict[str, str] = {"magnesium": "mg_supp", "calcium": "ca_supp"}
STATISTICS: dict[str, str] = {
    "mean_all": "mean among all adults",
    "mean_users": "mean among users",
    "share_users": "share of adults using",
    "share_unknown": "share of adults with an unknown amount",
}
FIGURE_STATISTICS = ("mean_all", "mean_users", "share_users")
SEAM_SCHEMA: dict[str, pl.DataType] = {
    "cycle": pl.Utf8(),
    "nutrient": pl.Utf8(),
    "statistic": pl.Utf8(),
    "estimate": pl.Float64(),
    "std_error": pl.Float64(),
    "derivation": pl.Utf8(),
    "n": pl.Int64(),
}
Z95 = 1.959963984540054


def derivation_of(cycle: str) -> str:
    """Which derivation the supplement columns of a cycle come from.

    >>> derivation_of("2005-2006"), derivation_of("2007-2008")
    ('DSQ2 × DSII (2001-2006)', 'DSQTOT (2007-2018)')
    """
    return DSQ2_DERIVATION if cycle in DSQ2_CYCLES else DSQTOT_DERIVATION


def supplement_seam(
    analytic: pl.DataFrame, *, weights: str = "wt_mec", min_age: float = 20.0
) -> pl.DataFrame:
    """Supplemental Mg and Ca by cycle among adults aged ``min_age``+ (tidy).

    Columns: ``cycle``, ``nutrient`` ("magnesium", "calcium"), ``statistic``, ``estimate``,
    ``std_error`` (Taylor linearization), ``derivation`` (:func:`derivation_of`) and ``n``
    (unweighted participants behind the estimate). Statistics:

    * "mean_all": mean mg/day among adults whose amount is known (non-users count 0);
    * "mean_users": mean mg/day among users whose amount is known;
    * "share_users": proportion of adults who took a product holding the nutrient (a fraction);
    * "share_unknown": proportion of adults whose amount is unknown (null: unknown use,
      unreconciled unit, implausible quantity, DSD010 unanswered). The means leave them out,
      so where this share is large (2001-2002: days were not recorded for products reported
      in the medication and antacid sections) "mean_all" understates (those left out are
      users).

    A user is ``<nutrient>_supp_user`` (``mg_supp_user``, ``ca_supp_user``) where the frame
    has it and it is not null — it knows users whose amount is unknown — else an amount > 0.

    ``analytic`` needs ``cycle``, ``age``, ``sdmvstra``, ``sdmvpsu``, ``weights``, ``mg_supp``
    and ``ca_supp`` (see the module docstring for the weight).
    """
    users = []
    for column in SEAM_NUTRIENTS.values():
        positive = pl.col(column) > 0
        flag = f"{column}_user"
        user = pl.col(flag).fill_null(positive) if flag in analytic.columns else positive
        users.append(user.cast(pl.Float64).alias(f"_{column}_user"))
        users.append(pl.col(column).is_null().cast(pl.Float64).alias(f"_{column}_unknown"))
    frame = analytic.with_columns(
        pl.col("cycle").cast(pl.Utf8), pl.col(weights).fill_null(0.0).alias("_w"), *users
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # interview-only participants (weight 0) stay in
        # lonely PSUs: R's default "fail" (every NHANES 2001-2018 stratum has 2+ PSUs)
        design = SurveyDesign(
            frame, strata="sdmvstra", psu="sdmvpsu", weights="_w", allow_zero_weights=True
        )
    adults = design.subset((pl.col("age") >= min_age) & (pl.col("_w") > 0))
    rows: list[dict[str, object]] = []
    cycles = sorted(frame.filter(pl.col("_w") > 0)["cycle"].unique().to_list())
    for cycle in cycles:
        in_cycle = adults.subset(pl.col("cycle") == cycle)
        for nutrient, column in SEAM_NUTRIENTS.items():
            known = in_cycle.subset(pl.col(column).is_not_null())
            known_users = known.subset(pl.col(column) > 0)
            answered = in_cycle.subset(pl.col(f"_{column}_user").is_not_null())
            for statistic, domain, variable in (
                ("mean_all", known, column),
                ("mean_users", known_users, column),
                ("share_users", answered, f"_{column}_user"),
                ("share_unknown", in_cycle, f"_{column}_unknown"),
            ):
                estimate, std_error, n = _mean(variable, domain)
                rows.append(
                    {
                        "cycle": cycle,
                        "nutrient": nutrient,
                        "statistic": statistic,
                        "estimate": estimate,
                        "std_error": std_error,
                        "derivation": derivation_of(cycle),
                        "n": n,
                    }
                )
    return pl.DataFrame(rows, schema=SEAM_SCHEMA)


def _mean(variable: str, domain: SurveyDesign) -> tuple[float | None, float | None, int]:
    if not (domain.domain & (domain.weights > 0)).any():
        return None, None, 0
    tidy = svymean(variable, domain, na_rm=True).tidy()
    return float(tidy["estimate"][0]), float(tidy["std_error"][0]), int(tidy["n"][0])


def _mid_year(cycle: str) -> float:
    c = catalog.get_cycle(cycle)
    return (c.begin + c.end + 1) / 2


def _panel(nutrient: str, statistic: str) -> str:
    unit = "%" if statistic == "share_users" else "mg/day"
    return f"{nutrient.capitalize()}: {STATISTICS[statistic]} ({unit})"


def _unknown_note(seam: pl.DataFrame, at_least: float = 0.02) -> str:
    """A sentence naming the cycles whose means leave out many adults (unknown amounts).

    >>> t = pl.DataFrame({"cycle": ["2001-2002", "2001-2002", "2005-2006"],
    ...     "nutrient": ["magnesium", "calcium", "calcium"], "statistic": ["share_unknown"] * 3,
    ...     "estimate": [0.065, 0.149, 0.009]})
    >>> _unknown_note(t)
    ' Means leave out adults whose amount is unknown: 2001–02 magnesium 6%, calcium 15%.'
    """
    many = seam.filter(
        (pl.col("statistic") == "share_unknown") & (pl.col("estimate") >= at_least)
    ).sort("cycle")
    if many.is_empty():
        return ""
    parts = []
    for cycle in many["cycle"].unique(maintain_order=True).to_list():
        rows = many.filter(pl.col("cycle") == cycle)
        shares = ", ".join(
            f"{n} {100 * e:.0f}%" for n, e in zip(rows["nutrient"], rows["estimate"], strict=True)
        )
        parts.append(f"{cycle[:4]}–{cycle[7:]} {shares}")
    return " Means leave out adults whose amount is unknown: " + "; ".join(parts) + "."


def supplement_seam_figure(seam: pl.DataFrame, path: str | Path) -> Path:
    """Draw :func:`supplement_seam`'s table: one panel per nutrient and statistic (mean among
    all, mean among users, share using), estimates by cycle with 95% intervals (± 1.96 SE),
    coloured by derivation, the line broken and dashed at the 2006/2007 seam. Shares are
    drawn as %. Returns ``path`` (PNG)."""
    path = Path(path)
    order = [_panel(n, s) for s in FIGURE_STATISTICS for n in SEAM_NUTRIENTS]
    share = pl.col("statistic") == "share_users"
    scale = pl.when(share).then(100.0).otherwise(1.0)
    data = seam.filter(
        pl.col("estimate").is_not_null() & pl.col("statistic").is_in(list(FIGURE_STATISTICS))
    ).with_columns(
        year=pl.col("cycle").map_elements(_mid_year, return_dtype=pl.Float64),
        panel=pl.struct("nutrient", "statistic").map_elements(
            lambda r: _panel(r["nutrient"], r["statistic"]), return_dtype=pl.Utf8
        ),
        estimate=pl.col("estimate") * scale,
        low=(pl.col("estimate") - Z95 * pl.col("std_error").fill_null(0.0)) * scale,
        high=(pl.col("estimate") + Z95 * pl.col("std_error").fill_null(0.0)) * scale,
    )
    cycles = sorted(data["cycle"].unique().to_list())
    breaks = [_mid_year(c) for c in cycles]
    labels = [f"{c[:4]}–{c[7:]}" for c in cycles]
    seam_year = (_mid_year("2005-2006") + _mid_year("2007-2008")) / 2
    frame = plot_data(data)
    frame["panel"] = frame["panel"].astype("category").cat.set_categories(order)
    colours = {DSQ2_DERIVATION: "#b35806", DSQTOT_DERIVATION: "#2b7bba"}
    legend = {
        DSQ2_DERIVATION: "2001–2006: summed here over each reported product "
        "(30-day questionnaire × label database)",
        DSQTOT_DERIVATION: "2007–2018: CDC's 30-day totals (DSQTOT)",
    }
    title = (
        "Supplemental magnesium and calcium by survey cycle, adults aged 20 and over "
        "(survey-weighted, MEC exam weights)"
    )
    caption = (
        "Dashed line: the source of the amounts changes. A step there that the cycles on "
        "either side do not show points to the change of method, not of intake."
    ) + _unknown_note(seam)
    plot = (
        ggplot(frame, aes("year", "estimate", color="derivation", group="derivation"))
        + theme_bw()
        + geom_vline(xintercept=seam_year, linetype="dashed", color="#555555")
        + geom_errorbar(aes(ymin="low", ymax="high"), width=0.5)
        + geom_line()
        + geom_point(size=1.8)
        + facet_wrap("panel", scales="free_y", ncol=2)
        + scale_color_manual(values=colours, labels=legend)
        + scale_x_continuous(breaks=breaks, labels=labels)
        + labs(
            x="survey cycle",
            y="mg/day, or % of adults (95% CI)",
            color="",
            title="\n".join(textwrap.wrap(title, 95)),
            caption="\n".join(textwrap.wrap(caption, 110)),
        )
        + theme(
            axis_text_x=element_text(rotation=45, ha="right", size=7),
            legend_position="bottom",
            legend_direction="vertical",
            plot_title=element_text(size=10),
            plot_caption=element_text(size=8, ha="left"),
            figure_size=(10, 8.5),
        )
    )
    path.parent.mkdir(parents=True, exist_ok=True)

    save_png(plot, path)
    return path
