"""How a variable of the analytic dataset names its CDC source column, cycle by cycle.

A :class:`Source` names a table component (as :mod:`nhanes_mg.data.catalog` knows it), the CDC
variable per cycle letter (CDC renames some between cycles: ``DRXTMAGN`` in 2001-2002,
``DR1TMAGN`` after) and the questionnaire missing-value codes that become null for *that*
variable (per variable, never a blanket rule: ``INDFMPIR == 5`` is a value, ``ALQ130 == 999``
is not). :func:`cdc` writes one; the registry (:mod:`nhanes_mg.derive.registry`) gives it its
name: the variable's own when the variable is the column as published, an intermediate
``_name`` when a rule turns it into variables.

>>> source = cdc("ALQ", "ALQ130", {"BC": (77.0, 99.0), "DEFGHIJ": (777.0, 999.0)})
>>> source.column_for("D"), source.codes_for("C"), source.codes_for("J")
('ALQ130', (77.0, 99.0), (777.0, 999.0))
>>> cdc("VID", {"BCD": "LBDVIDMS", FROM_E: "LBXVIDMS"}).column_for("F")
'LBXVIDMS'
>>> cdc("PTH", "LBXPT21", letters="D").column_for("E") is None
True
"""

from __future__ import annotations

from dataclasses import dataclass

ALL = "BCDEFGHIJ"  # 2001-2002 … 2017-2018
NOT_B = "CDEFGHIJ"  # 2003-2004 on (no day-2 recall in 2001-2002)
FROM_E = "EFGHIJ"  # 2007-2008 on
QUESTIONNAIRE_CODES_1 = (7.0, 9.0)  # 7 refused, 9 don't know (one-digit items)
Q1 = QUESTIONNAIRE_CODES_1

MissingCodes = tuple[float, ...] | dict[str, tuple[float, ...]]


@dataclass(frozen=True)
class Source:
    """One source variable: ``columns`` maps cycle letters (e.g. "CDEFGHIJ") to a CDC name.

    ``demo`` is the range of plausible values the synthetic demo mirror draws a column from
    when :mod:`nhanes_mg.derive.demo` does not simulate it on purpose (None: 1/2 answers for a
    questionnaire item with missing codes, 0-100 otherwise).
    """

    component: str
    name: str
    columns: dict[str, str]
    missing_codes: MissingCodes = ()
    note: str = ""
    demo: tuple[float, float] | None = None

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

    @property
    def letters(self) -> str:
        """The cycle letters that publish the column."""
        return "".join(self.columns)


def cdc(
    component: str,
    columns: dict[str, str] | str,
    missing_codes: MissingCodes = (),
    *,
    letters: str = ALL,
    demo: tuple[float, float] | None = None,
) -> Source:
    """A CDC column of ``component``: one name for the ``letters`` cycles, or one per group of
    cycle letters (``{"B": "DRXTMAGN", NOT_B: "DR1TMAGN"}``). Unnamed until the registry
    names it."""
    cols = {letters: columns} if isinstance(columns, str) else dict(columns)
    return Source(component, "", cols, missing_codes, demo=demo)
