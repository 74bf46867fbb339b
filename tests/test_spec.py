"""Specifications: the shipped ones load; malformed ones name the file, the field, the choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from nhanes_mg.errors import SpecError
from nhanes_mg.study.spec import (
    MAX_ANALYSES,
    MAX_SPEC_BYTES,
    load_shipped_specs,
    load_spec,
    shipped_spec_paths,
)
from nhanes_mg.study.spec_types import (
    DescriptiveAnalysis,
    ModelAnalysis,
    UsualIntakeAnalysis,
    curve_members,
    judged_rows,
)

GOOD = """
id = "X1"
title = "t"
claim = "c"
citation = "someone 2020"
cycles = "2005-2010"
weight = "wt_diet1"
population = "age >= 20"
model = "logistic"

[covariate_sets]
adj = ["age", "sex"]

[[analysis]]
name = "a"
outcome = "vitd_25oh_nmol < 30"
exposure = "mg_total"
exposure_type = "quantiles"
covariates = "@adj"

[verdict]
rule = "effect"
direction = "below"
analysis = "a"
term = "Q4"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my.toml"
    path.write_text(text)
    return path


def test_shipped_specs_cover_the_claims() -> None:
    specs = load_shipped_specs()
    assert [s.id for s in specs] == ["C1", "C2", "C3", "C4", "C5", "C6", "C7"]
    for spec in specs:
        assert spec.verdict, f"{spec.id} has no verdict rule"
        assert spec.claim and spec.citation and spec.limits, spec.id
        # every statement shows its estimate in at least three analyses (its curve)
        for statement in spec.statements:
            rows = [r for a in curve_members(spec, statement) for r in judged_rows(statement, a)]
            assert len(rows) >= 3, (spec.id, statement.name)


def test_shipped_specs_are_typed() -> None:
    kinds = {type(a) for s in load_shipped_specs() for a in s.analyses}
    assert kinds == {DescriptiveAnalysis, ModelAnalysis, UsualIntakeAnalysis}
    c3 = next(s for s in load_shipped_specs() if s.id == "C3")
    two_day = next(s for s in c3.sensitivities if s.sensitivity == "two_day_mean")
    assert isinstance(two_day, ModelAnalysis) and two_day.exposure == "mg_total"
    assert [c.years for c in two_day.cycles] == ["2003-2004", "2005-2006"]
    assert "kcal" in two_day.covariates and "kcal_d1" not in two_day.covariates


def test_good_spec(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, GOOD))
    assert [c.years for c in spec.cycles] == ["2005-2006", "2007-2008", "2009-2010"]
    assert spec.analyses[0].covariates == ("age", "sex")
    assert spec.analyses[0].quantiles == 4


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('model = "logistic"', 'model = "probit"',
         r"field 'model': 'probit' is not one of: descriptive, linear, logistic, cox"),
        ('weight = "wt_diet1"', 'weight = "WTDRD1"', r"field 'weight': 'WTDRD1' is not one of"),
        ('exposure_type = "quantiles"', 'exposure_type = "tertiles"',
         r"field 'analysis\[0\]\.exposure_type': 'tertiles' is not one of: continuous"),
        ('covariates = "@adj"', 'covariates = "@other"',
         r"field 'analysis\[0\]\.covariates': '@other' names no covariate set; sets: @adj"),
        ('population = "age >= 20"', 'population = "age >= >= 20"',
         r"field 'population': cannot parse"),
        ('cycles = "2005-2010"', 'cycles = "1980-1990"', r"field 'cycles': no NHANES cycle"),
        ('term = "Q4"', 'terms = "Q4"', r"field 'verdict\.terms': unknown field"),
        ('direction = "below"', 'direction = "down"',
         r"field 'verdict\.direction': 'down' is not one of: above, below"),
        ('rule = "effect"', 'rule = "p_below"', r"'p_below' is retired: a P value alone"),
        ('rule = "effect"', 'rule = "modification"',
         r"field 'verdict\.analysis': 'a' has no modifier to judge"),
        ('analysis = "a"\nterm', 'analysis = "b"\nterm',
         r"field 'verdict\.analysis': 'b' is not one of: a"),
        ('name = "a"', 'name = "a"\nquantiles = 40',
         r"field 'analysis\[0\]\.quantiles': must be 2"),
        ('name = "a"', 'name = "a"\ncolour = "red"',
         r"field 'analysis\[0\]\.colour': unknown field for a logistic analysis"),
        ('name = "a"', 'name = "a"\nreference_category = "Q9"',
         r"field 'analysis\[0\]\.reference_category': 'Q9' is not one of: Q1, Q2, Q3, Q4"),
        ('id = "X1"', 'id = 1', r"field 'id': must be str, not 1"),
    ],
)  # fmt: skip
def test_malformed_spec_names_file_and_field(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(SpecError, match=message) as info:
        load_spec(path)
    assert str(info.value).startswith(str(path))


def test_cutpoints_must_increase(tmp_path: Path) -> None:
    text = GOOD.replace(
        'exposure_type = "quantiles"', 'exposure_type = "cutpoints"\ncutpoints = [2.8, 1.7]'
    )
    with pytest.raises(SpecError, match=r"cutpoints': must be distinct and increasing"):
        load_spec(_write(tmp_path, text))


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="is not valid TOML"):
        load_spec(_write(tmp_path, "id = [unclosed"))
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "absent.toml")


def test_cox_needs_time(tmp_path: Path) -> None:
    text = GOOD.replace('model = "logistic"', 'model = "cox"')
    with pytest.raises(SpecError, match=r"field 'analysis\[0\]\.time': is required"):
        load_spec(_write(tmp_path, text))


SENSITIVITY = """
[[sensitivity]]
name = "non_users"
label = "supplement non-users"
analysis = "a"
population = "NOT supp_user"
add_covariates = ["bmi"]

[[sensitivity]]
name = "two_day"
analysis = "a"
cycles = "2007-2010"
exposure = "mg_food"
term = "Q3"
"""


def test_sensitivity_analyses_override_their_analysis(tmp_path: Path) -> None:
    text = GOOD.replace('population = "age >= 20"', 'population = "age >= 20"', 1).replace(
        'covariates = "@adj"', 'covariates = "@adj"\npopulation = "bmi > 18"'
    )
    spec = load_spec(_write(tmp_path, text + SENSITIVITY))
    first, second = spec.sensitivities
    assert first.sensitivity == "non_users" and first.sensitivity_label == "supplement non-users"
    assert first.population == "(bmi > 18) AND (NOT supp_user)"  # AND-ed, never replaced
    assert isinstance(first, ModelAnalysis) and first.covariates == ("age", "sex", "bmi")
    assert isinstance(second, ModelAnalysis) and second.exposure == "mg_food"
    assert [c.years for c in second.cycles] == ["2007-2008", "2009-2010"]
    assert second.verdict_term == "Q3" and second.sensitivity_label == "two day"
    assert spec.analyses[0].sensitivity is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('analysis = "a"\npopulation', 'analysis = "b"\npopulation',
         r"field 'sensitivity\[0\]\.analysis': 'b' is not one of: a"),
        ('name = "two_day"', 'name = "non_users"',
         r"field 'sensitivity\.name': names must be unique"),
        ('exposure = "mg_food"', 'exposure = "mg_food"\nflavour = 1',
         r"field 'sensitivity\[1\]\.flavour': unknown field"),
        ('cycles = "2007-2010"', 'cycles = "1980"',
         r"field 'sensitivity\[1\]\.cycles"),
    ],
)  # fmt: skip
def test_malformed_sensitivity(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in SENSITIVITY
    with pytest.raises(SpecError, match=message):
        load_spec(_write(tmp_path, GOOD + SENSITIVITY.replace(old, new, 1)))


def test_old_rule_names_still_read(tmp_path: Path) -> None:
    text = GOOD.replace('rule = "effect"\ndirection = "below"', 'rule = "effect_below_1"')
    spec = load_spec(_write(tmp_path, text))
    assert spec.verdict is not None
    assert (spec.verdict.kind, spec.verdict.direction) == ("effect", "below")


def test_a_spec_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="is a folder, not a specification file"):
        load_spec(tmp_path)


STATEMENTS = GOOD.replace(
    """[verdict]
rule = "effect"
direction = "below"
analysis = "a"
term = "Q4"
""",
    """[[analysis]]
name = "b"
outcome = "vitd_25oh_nmol < 50"
exposure = "mg_total"
exposure_type = "quantiles"
covariates = "@adj"
compare = { text = "Deng: 0.62", estimate = 0.62 }

[[statement]]
name = "deficiency"
text = "less deficiency"
analyses = ["a", "b"]
[statement.reference]
text = "Deng: 0.34"
estimate = 0.34
[statement.verdict]
rule = "effect"
direction = "below"
analysis = "a"
term = "Q4"

[[statement]]
name = "insufficiency"
text = "less insufficiency"
secondary = true
[statement.verdict]
rule = "effect"
direction = "below"
analysis = "b"
term = "Q4"
""",
)


def test_statements_each_carry_their_rule_reference_and_curve(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, STATEMENTS))
    first, second = spec.statements
    assert (first.name, first.analyses, first.reference.estimate) == (
        "deficiency",
        ("a", "b"),
        0.34,
    )
    assert (second.name, second.analyses, second.secondary) == ("insufficiency", ("b",), True)
    assert spec.verdict == first.verdict  # the claim's primary verdict
    assert spec.analysis("b").compare is not None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('term = "Q4"\n\n[[statement]]', 'term = "Q5"\n\n[[statement]]',
         "field 'statement[0].term': 'Q5' matches no row: a gives 'Q1', 'Q2', 'Q3', 'Q4'"),
        ('name = "insufficiency"', 'name = "deficiency"', "'deficiency' is given twice"),
        ('analyses = ["a", "b"]', 'analyses = ["a", "c"]', "'c' is not one of: a, b"),
        ('name = "deficiency"', 'name = "Deficiency!"', "lower case letters"),
        ('secondary = true', 'secondary = "yes"', "must be bool"),
        ("[[statement]]\nname = \"deficiency\"",
         "[verdict]\nrule = \"effect\"\ndirection = \"below\"\nanalysis = \"a\"\nterm = \"Q4\"\n"
         "[[statement]]\nname = \"deficiency\"",
         "give [verdict] (one statement) or [[statement]], not both"),
        ('compare = { text = "Deng: 0.62", estimate = 0.62 }',
         'compare = { text = "Deng", estimate = 0.62, conf_low = 0.4 }',
         "give both conf_low and conf_high"),
        ('compare = { text = "Deng: 0.62", estimate = 0.62 }',
         'compare = { text = "Deng", p_value = "about 0.01" }', 'a number or "< number"'),
        ('compare = { text = "Deng: 0.62", estimate = 0.62 }',
         'compare = { text = "Deng", statistic = "usual_below_ear" }',
         "the source reported statistic 'usual_below_ear', but this analysis estimates None"),
        ('compare = { text = "Deng: 0.62", estimate = 0.62 }',
         'compare = { text = "Deng", cycle = "1999-2000" }',
         "'1999-2000' matches no row: b has no cycle column"),
    ],
)  # fmt: skip
def test_malformed_statements_and_comparators_name_the_field(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in STATEMENTS, old
    with pytest.raises(SpecError, match=None) as info:
        load_spec(_write(tmp_path, STATEMENTS.replace(old, new, 1)))
    assert message in str(info.value), str(info.value)


def test_a_comparator_must_report_the_analysis_estimand(tmp_path: Path) -> None:
    """A share below the EAR is never held against one below the RDA (C2's old defect)."""
    usual = (
        GOOD.replace(
            """outcome = "vitd_25oh_nmol < 30"
exposure = "mg_total"
exposure_type = "quantiles"
covariates = "@adj"
""",
            """model = "descriptive"
statistic = "usual_below_rda"
variable = "mg"
basis = "food+supplements"
cycles = ["2005-2006"]
compare = { cycle = "2005-2006", estimate = 0.48, statistic = "usual_below_ear", basis = "food" }
""",
        )
        .replace('term = "Q4"', 'term = "usual intake"\ncycle = "2005-2006"\nvalue = 0.5')
        .replace('rule = "effect"', 'rule = "threshold"')
    )
    with pytest.raises(SpecError) as info:
        load_spec(_write(tmp_path, usual))
    assert "compare[0].statistic" in str(info.value)
    assert "must report the analysis's own estimand" in str(info.value)


def test_a_published_number_is_held_only_against_its_own_cycles(tmp_path: Path) -> None:
    """Deng's 2001-2006 OR is no comparator for a 2007-2018 estimate: a sensitivity analysis
    on other cycles inherits no number, and one that says it is comparable is refused."""
    deng = STATEMENTS.replace(
        'text = "Deng: 0.34"\nestimate = 0.34',
        'text = "Deng: 0.34"\nestimate = 0.34\ncycles = "2005-2010"',
    )
    assert load_spec(_write(tmp_path, deng)).statements[0].reference.cycles == (
        "2005-2006",
        "2007-2008",
        "2009-2010",
    )
    later = deng + '\n[[sensitivity]]\nname = "later"\nanalysis = "a"\ncycles = "2011-2014"\n'
    spec = load_spec(_write(tmp_path, later))
    (inherited,) = judged_rows(spec.statements[0], spec.sensitivities[0])
    assert inherited.estimate is None
    assert inherited.text.startswith("not comparable (this analysis changes the cycles)")
    with pytest.raises(SpecError) as info:
        load_spec(_write(tmp_path, later + "comparable = true\n"))
    assert "a [later] estimates on 2011-2012, 2013-2014, outside the cycles of the estimate" in (
        str(info.value)
    )
    own = later + 'compare = { text = "nothing published for 2011-2014" }\n'
    assert load_spec(_write(tmp_path, own)).sensitivities[0].compare is not None


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("../../../ESCAPED", "is not an id"),
        ("/tmp/absolute", "is not an id"),
        ("", "is not an id"),
        ("two\\nlines", "is not an id"),
        ("H1\\n", "is not an id"),  # a trailing line break: '$' alone would let it through
        ("<b>bold</b>", "is not an id"),
        ("x" * 65, "is not an id"),
        ("verdicts", "is the name of an output of the package itself"),
        ("Supplement_Seam", "is the name of an output of the package itself"),
    ],
)
def test_an_id_is_an_identifier_never_a_path(tmp_path: Path, value: str, said: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(_write(tmp_path, GOOD.replace('id = "X1"', f'id = "{value}"')))
    assert "field 'id'" in str(info.value) and said in str(info.value)


def test_specifications_run_together_never_write_each_others_files(tmp_path: Path) -> None:
    from nhanes_mg.jobs.run import select_specs

    paths = []
    for name, sid in (("a.toml", "X1"), ("b.toml", "x1"), ("c.toml", "X1_fits")):
        paths.append(tmp_path / name)
        paths[-1].write_text(GOOD.replace('id = "X1"', f'id = "{sid}"'))
    with pytest.raises(SpecError, match=r"b\.toml: field 'id': 'x1' would write over the files"):
        select_specs(spec_paths=paths[:2])
    with pytest.raises(SpecError, match=r"c\.toml: field 'id': 'X1_fits' would write over"):
        select_specs(spec_paths=[paths[0], paths[2]])
    assert [s.id for s in select_specs(spec_paths=paths[:1])] == ["X1"]


INVERTED = "[reference]\nestimate = 0.34\nconf_low = 0.56\nconf_high = 0.21\n\n[verdict]"
OUTSIDE = "[reference]\nestimate = 0.9\nconf_low = 0.21\nconf_high = 0.56\n\n[verdict]"
NEGATIVE = "[reference]\nestimate = -0.5\nconf_low = -0.8\nconf_high = -0.2\n\n[verdict]"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('term = "Q4"\n"""', 'term = "Q4"\nvalue = nan\n"""', "must be a finite number, not nan"),
        ("[verdict]", "[reference]\nestimate = inf\n\n[verdict]", "must be a finite number"),
        ("[verdict]", INVERTED, "must hold the estimate 0.34"),
        ("[verdict]", OUTSIDE, "must hold the estimate 0.9"),
        ("[verdict]", NEGATIVE, "estimates a ratio (odds or hazard), which is above 0"),
    ],
)  # fmt: skip
def test_non_finite_and_impossible_published_numbers_are_refused(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    text = (GOOD + '"""').replace(old, new, 1).removesuffix('"""')
    with pytest.raises(SpecError) as info:
        load_spec(_write(tmp_path, text))
    assert message in str(info.value), str(info.value)


def test_names_are_identifiers(tmp_path: Path) -> None:
    """An analysis's or sensitivity analysis's name shows in tables and headings: no line
    break or markup can come in with it."""
    for bad in ('name = "a\\n"', 'name = "<b>a</b>"'):
        text = GOOD.replace('name = "a"', bad, 1)
        with pytest.raises(SpecError, match=r"field 'analysis\[0\]\.name': .* a name is lower"):
            load_spec(_write(tmp_path, text))


def test_a_specification_is_bounded_in_size(tmp_path: Path) -> None:
    many = "".join(
        f'\n[[sensitivity]]\nname = "s{i}"\nanalysis = "a"\n' for i in range(MAX_ANALYSES)
    )
    with pytest.raises(SpecError, match=r"at most 200 in one specification"):
        load_spec(_write(tmp_path, GOOD + many))
    padded = GOOD + "# " + "x" * MAX_SPEC_BYTES + "\n"
    with pytest.raises(SpecError, match=r"a specification is at most 262,144"):
        load_spec(_write(tmp_path, padded))


def test_a_published_share_is_between_0_and_1(tmp_path: Path) -> None:
    path = next(p for p in shipped_spec_paths() if p.name.startswith("C2"))
    text = path.read_text(encoding="utf-8").replace("estimate = 0.48", "estimate = 48.0", 1)
    assert "estimate = 48.0" in text
    with pytest.raises(SpecError, match=r"estimates a share, written between 0 and 1"):
        load_spec(_write(tmp_path, text))


CALIBRATED = """
[[sensitivity]]
name = "calibrated"
analysis = "a"
exposure_type = "continuous"
per = 100.0
exposure_error = "regression_calibration"
"""


def test_exposure_error_as_a_sensitivity_analysis(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, GOOD + CALIBRATED))
    (calibrated,) = spec.sensitivities
    assert isinstance(calibrated, ModelAnalysis)
    assert calibrated.exposure_error == "regression_calibration"
    assert isinstance(spec.analyses[0], ModelAnalysis)
    assert spec.analyses[0].exposure_error == "none"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('exposure_type = "continuous"\n', "",
         r"field 'sensitivity\[0\]\.exposure_error': regression calibration needs a continuous "
         r"exposure, not 'quantiles': calibrated usual intakes are not to be cut into categories"),
        ("per = 100.0", 'per = 100.0\nexposure = "mg_total / kcal"',
         r"needs an exposure that is one nutrient's intake .*, not 'mg_total / kcal'"),
        ('"regression_calibration"', '"simex"',
         r"field 'sensitivity\[0\]\.exposure_error': 'simex' is not one of: none, "
         r"regression_calibration"),
    ],
)  # fmt: skip
def test_exposure_error_refused_where_it_cannot_apply(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in CALIBRATED
    with pytest.raises(SpecError, match=message):
        load_spec(_write(tmp_path, GOOD + CALIBRATED.replace(old, new, 1)))


def test_missing_impute_as_a_sensitivity_analysis(tmp_path: Path) -> None:
    extra = '\n[[sensitivity]]\nname = "imputed"\nanalysis = "a"\nmissing = "impute"\n'
    spec = load_spec(_write(tmp_path, GOOD + extra))
    (imputed,) = spec.sensitivities
    assert isinstance(imputed, ModelAnalysis)
    assert (imputed.missing, imputed.imputations) == ("impute", 20)
    with pytest.raises(SpecError, match=r"imputations': must be 2 … 200, not 1"):
        load_spec(_write(tmp_path, GOOD + extra + "imputations = 1\n"))
    with pytest.raises(SpecError, match="multiple imputation and regression calibration"):
        load_spec(_write(tmp_path, GOOD + CALIBRATED + 'missing = "impute"\n'))
