import pytest

from nhanes_mg import catalog
from nhanes_mg.errors import CatalogError


def test_cycles_and_letters() -> None:
    assert [c.letter for c in catalog.CYCLES] == list("ABCDEFGHIJ")
    assert catalog.get_cycle("2005-2006").suffix == "_D"
    assert catalog.get_cycle(2017) is catalog.CYCLES[-1]  # 2017 means 2017-2018, not P_
    assert catalog.get_cycle("2017-2020") is catalog.PREPANDEMIC


@pytest.mark.parametrize(
    ("component", "cycle", "name"),
    [
        ("DR1TOT", "2001-2002", "DRXTOT_B"),
        ("DR1TOT", "2003-2004", "DR1TOT_C"),
        ("DR1TOT", "1999-2000", "DRXTOT"),
        ("DEMO", "1999-2000", "DEMO"),
        ("GHB", "2003-2004", "L10_C"),
        ("GHB", "2005-2006", "GHB_D"),
        ("BIOPRO", "2001-2002", "L40_B"),
        ("DSQTOT", "2017-2018", "DSQTOT_J"),
        ("DEMO", "2017-2020", "P_DEMO"),
    ],
)
def test_table_names(component: str, cycle: str, name: str) -> None:
    assert catalog.table_name(component, cycle) == name
    assert catalog.component_of(name) == component


def test_absent_components_are_errors() -> None:
    with pytest.raises(CatalogError, match="2001-2002 has no DR2TOT"):
        catalog.table_name("DR2TOT", "2001-2002")
    with pytest.raises(CatalogError, match="unknown table component"):
        catalog.table_name("NOPE", "2005-2006")


def test_parse_cycles() -> None:
    assert catalog.parse_cycles(None)[0].years == "2001-2002"
    assert len(catalog.parse_cycles("2001-2018")) == 9
    assert [c.letter for c in catalog.parse_cycles("2007-2008, 2005-2006")] == ["D", "E"]
    with pytest.raises(CatalogError, match="backwards"):
        catalog.parse_cycles("2010-2001")
    with pytest.raises(CatalogError, match="unknown NHANES cycle"):
        catalog.parse_cycles("1980")


def test_urls_current_scheme_first() -> None:
    urls = catalog.xpt_urls("DEMO_J", catalog.get_cycle("J"))
    assert urls == [
        "https://wwwn.cdc.gov/Nchs/Data/Nhanes/Public/2017/DataFiles/DEMO_J.xpt",
        "https://wwwn.cdc.gov/Nchs/Nhanes/2017-2018/DEMO_J.XPT",
    ]


def test_mortality_names() -> None:
    assert catalog.mortality_file_name("III") == "NHANES_III_MORT_2019_PUBLIC.dat"
    name = catalog.mortality_file_name("2003-2004", 2015)
    assert name == "NHANES_2003_2004_MORT_2015_PUBLIC.dat"
    assert catalog.parse_mortality_name(name) == ("2003-2004", 2015)
    assert catalog.mortality_url(name).startswith("https://ftp.cdc.gov/pub/Health_Statistics/")
    with pytest.raises(CatalogError):
        catalog.mortality_file_name("2017-2020")
