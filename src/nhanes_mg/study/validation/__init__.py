"""The validation gallery: published NHANES estimates reproduced side by side.

Each target (``validation/targets/*.toml``) is a published population estimate — a share of
supplement users, a mean usual intake, a share below the EAR, a share below a 25(OH)D cut
point — written as a specification in the package's own language with the source's
definition (population, statistic, weight, exclusions), the published value and what was read
where (:mod:`.gallery`). :func:`run_validation` re-estimates every target on the analytic
dataset and returns one tidy row per target with a status in words (:mod:`.rules`):

- **definition differs** — the source prints its n and ours is more than 2% away: another
  population, so the estimates are shown but no agreement is claimed (both n in the row);
- **within the published CI** — ours lies inside the published 95% CI (published ± 1.96 SE
  when the source prints an SE and no CI);
- **within two combined SEs** — |ours − published| ≤ 2 √(our SE² + published SE² + (u/√12)²);
- **off** — otherwise; the likely reason (definition, assay era, water calcium, rounding, age
  adjustment) is a sentence committed in ``validation/expected.toml``, never computed;
- **not estimated** — no estimate of ours, and why.

Rounding: a published value printed without an SE or CI is taken as exact up to its rounding:
the combined SE adds u/√12, the SD of an even rounding error over one unit u of the last digit
printed (0.1 for "57.6%", 1 for "49%"). With a printed SE or CI that term is negligible. A
printed CI gives the published SE as (high − low)/(2 × 1.96).

Everything is on the published scale: percentages as printed (our shares × 100), mg/day.

``nhanes-mg validate`` writes ``tables/validation.csv`` and ``figures/validation.png``;
``nhanes-mg run`` does the same and adds the gallery to the report unless ``--no-validate``.
``tests/test_validation.py`` checks each shipped target's status against
``validation/expected.toml`` on the real mirror.

Examples
--------
>>> [t.id for t in load_targets()][:3]
['P01', 'P02', 'P03']
>>> judge(57.6, None, None, None, 57.0, 1.1, rounding=0.1).status
'within two combined SEs'
"""

from __future__ import annotations

from nhanes_mg.study.validation.gallery import (
    COLUMNS,
    Target,
    expected_path,
    load_expected,
    load_target,
    load_targets,
    parse_target,
    run_validation,
    shipped_target_paths,
)
from nhanes_mg.study.validation.rules import (
    DEFINITION_DIFFERS,
    NOT_ESTIMATED,
    OFF,
    RULES,
    STATUSES,
    WITHIN_2SE,
    WITHIN_CI,
    judge,
)

__all__ = [
    "COLUMNS",
    "DEFINITION_DIFFERS",
    "NOT_ESTIMATED",
    "OFF",
    "RULES",
    "STATUSES",
    "WITHIN_2SE",
    "WITHIN_CI",
    "Target",
    "expected_path",
    "judge",
    "load_expected",
    "load_target",
    "load_targets",
    "parse_target",
    "run_validation",
    "shipped_target_paths",
]
