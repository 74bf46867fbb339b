"""Which NHANES source column feeds which analytic variable, cycle by cycle.

A :class:`Source` names a table component (as :mod:`nhanes_mg.catalog` knows it), the
intermediate column it becomes, the CDC variable per cycle letter, and the questionnaire
missing-value codes that become null for *that* variable (per variable, never a blanket rule:
``INDFMPIR == 5`` is a value, ``ALQ130 == 999`` is not).

Intermediate columns start with ``_`` when a rule turns them into the final variable; columns
without ``_`` are final as they come (after nulling their own missing codes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL = "BCDEFGHIJ"  # 2001-2002 … 2017-2018
QUESTIONNAIRE_CODES_1 = (7.0, 9.0)  # 7 refused, 9 don't know (one-digit items)


@dataclass(frozen=True)
class Source:
    """One source variable: ``columns`` maps cycle letters (e.g. "CDEFGHIJ") to a CDC name."""

    component: str
    name: str
    columns: dict[str, str]
    missing_codes: tuple[float, ...] | dict[str, tuple[float, ...]] = ()
    note: str = ""

    def column_for(self, letter: str) -> str | None:
        for letters, column in self.columns.items():
            if letter in letters:
                return column
        return None

    def codes_for(self, letter: str) -> tuple[float, ...]:
        if isinstance(self.missing_codes, dict):
            for letters, codes in self.missing_codes.items():
                if letter in letters:
                    return codes
            return ()
        return self.missing_codes


def _s(
    component: str,
    name: str,
    columns: dict[str, str] | str,
    missing_codes: tuple[float, ...] | dict[str, tuple[float, ...]] = (),
    letters: str = ALL,
) -> Source:
    cols = {letters: columns} if isinstance(columns, str) else columns
    return Source(component, name, cols, missing_codes)


Q1 = QUESTIONNAIRE_CODES_1
NOT_B = "CDEFGHIJ"
FROM_E = "EFGHIJ"

SOURCES: tuple[Source, ...] = (
    # DEMO: design, weights, demographics
    _s("DEMO", "sdmvstra", "SDMVSTRA"),
    _s("DEMO", "sdmvpsu", "SDMVPSU"),
    _s("DEMO", "wt_mec", "WTMEC2YR"),
    _s("DEMO", "_ridstatr", "RIDSTATR"),
    _s("DEMO", "age", "RIDAGEYR"),
    _s("DEMO", "_riagendr", "RIAGENDR"),
    _s("DEMO", "_ridreth1", "RIDRETH1"),
    _s("DEMO", "_ridreth3", "RIDRETH3", letters="GHIJ"),
    _s("DEMO", "pir", "INDFMPIR"),
    _s("DEMO", "_dmdeduc2", "DMDEDUC2", Q1),
    _s("DEMO", "_ridexprg", "RIDEXPRG"),
    _s("DEMO", "_ridexmon", "RIDEXMON"),
    # Day-1 dietary recall (DRXTOT_B in 2001-2002)
    _s("DR1TOT", "wt_diet1", "WTDRD1"),
    _s("DR1TOT", "wt_diet2", "WTDR2D", letters=NOT_B),
    _s("DR1TOT", "_drstz_d1", {"B": "DRDDRSTZ", NOT_B: "DR1DRSTZ"}),
    _s("DR1TOT", "_dow_d1", {"B": "DRDDAY", NOT_B: "DR1DAY"}),
    _s("DR1TOT", "_mg_d1", {"B": "DRXTMAGN", NOT_B: "DR1TMAGN"}),
    _s("DR1TOT", "_ca_d1", {"B": "DRXTCALC", NOT_B: "DR1TCALC"}),
    _s("DR1TOT", "_kcal_d1", {"B": "DRXTKCAL", NOT_B: "DR1TKCAL"}),
    _s("DR1TOT", "_vitd_d1", "DR1TVD", letters=FROM_E),
    _s("DR1TOT", "_alco_d1", {"B": "DRXTALCO", NOT_B: "DR1TALCO"}),
    # Day-2 dietary recall (2003-2004 on)
    _s("DR2TOT", "_drstz_d2", "DR2DRSTZ", letters=NOT_B),
    _s("DR2TOT", "_dow_d2", "DR2DAY", letters=NOT_B),
    _s("DR2TOT", "_mg_d2", "DR2TMAGN", letters=NOT_B),
    _s("DR2TOT", "_ca_d2", "DR2TCALC", letters=NOT_B),
    _s("DR2TOT", "_kcal_d2", "DR2TKCAL", letters=NOT_B),
    _s("DR2TOT", "_vitd_d2", "DR2TVD", letters=FROM_E),
    _s("DR2TOT", "_alco_d2", "DR2TALCO", letters=NOT_B),
    # Supplements, 30-day questionnaire
    _s("DSQ1", "_dsd010", "DSD010", Q1, letters="BCD"),
    _s("DSQ1", "_dsd010an", "DSD010AN", Q1, letters="CD"),
    _s("DSQTOT", "_dsd010", "DSD010", Q1, letters=FROM_E),
    _s("DSQTOT", "_dsd010an", "DSD010AN", Q1, letters=FROM_E),
    _s("DSQTOT", "_dsq_mg", "DSQTMAGN", letters=FROM_E),
    _s("DSQTOT", "_dsq_ca", "DSQTCALC", letters=FROM_E),
    _s("DSQTOT", "_dsq_vitd", "DSQTVD", letters=FROM_E),
    # Supplements, 24-hour (asked after each dietary recall, 2007-2008 on)
    _s("DS1TOT", "_ds1ds", "DS1DS", Q1, letters=FROM_E),
    _s("DS1TOT", "_ds1_mg", "DS1TMAGN", letters=FROM_E),
    _s("DS1TOT", "_ds1_ca", "DS1TCALC", letters=FROM_E),
    _s("DS1TOT", "_ds1_vitd", "DS1TVD", letters=FROM_E),
    _s("DS2TOT", "_ds2ds", "DS2DS", Q1, letters=FROM_E),
    _s("DS2TOT", "_ds2_mg", "DS2TMAGN", letters=FROM_E),
    _s("DS2TOT", "_ds2_ca", "DS2TCALC", letters=FROM_E),
    _s("DS2TOT", "_ds2_vitd", "DS2TVD", letters=FROM_E),
    # 25-hydroxyvitamin D, LC-MS/MS-equivalent values
    _s("VID", "_vid", {"BCD": "LBDVIDMS", FROM_E: "LBXVIDMS"}),
    # Covariates
    _s("BMX", "bmi", "BMXBMI"),
    _s("SMQ", "_smq020", "SMQ020", Q1),
    _s("SMQ", "_smq040", "SMQ040", Q1),
    _s("ALQ", "alq_drinks_per_day", "ALQ130", {"BC": (77.0, 99.0), "DEFGHIJ": (777.0, 999.0)}),
    _s("PAQ", "_pad200", "PAD200", Q1, letters="BCD"),
    _s("PAQ", "_pad320", "PAD320", Q1, letters="BCD"),
    _s("PAQ", "_paq650", "PAQ650", Q1, letters=FROM_E),
    _s("PAQ", "_paq665", "PAQ665", Q1, letters=FROM_E),
    _s("DIQ", "_diq010", "DIQ010", Q1),
    _s("DIQ", "_diq050", "DIQ050", Q1),
    _s("DIQ", "_diq070", {"BC": "DIQ070", "DE": "DID070", "FGHIJ": "DIQ070"}, Q1),
    # Medical conditions (adults 20+; same names and codes 2001-2018): ever told by a doctor
    # of congestive heart failure, coronary heart disease, angina, heart attack, stroke; cancer
    _s("MCQ", "_mcq160b", "MCQ160B", Q1),
    _s("MCQ", "_mcq160c", "MCQ160C", Q1),
    _s("MCQ", "_mcq160d", "MCQ160D", Q1),
    _s("MCQ", "_mcq160e", "MCQ160E", Q1),
    _s("MCQ", "_mcq160f", "MCQ160F", Q1),
    _s("MCQ", "_mcq220", "MCQ220", Q1),
    _s("GHB", "hba1c", "LBXGH"),
    _s("BIOPRO", "_scr", {"B": "LBDSCR", NOT_B: "LBXSCR"}),
    _s("BIOPRO", "ca_serum", "LBXSCA"),
    _s("PTH", "pth", "LBXPT21", letters="D"),
)

# Components in the order they are joined onto DEMO.
COMPONENTS: tuple[str, ...] = tuple(dict.fromkeys(s.component for s in SOURCES))


def sources_of(component: str) -> tuple[Source, ...]:
    return tuple(s for s in SOURCES if s.component == component)


@dataclass
class Gap:
    """A table or column the build expected and did not find."""

    cycle: str
    table: str
    column: str | None = None
    reason: str = field(default="missing")

    def as_dict(self) -> dict[str, str | None]:
        return {
            "cycle": self.cycle,
            "table": self.table,
            "column": self.column,
            "reason": self.reason,
        }
