from pathlib import Path

import pytest

from nhanes_mg.data import catalog
from nhanes_mg.derive.registry import FETCHED_UNREAD, fetched_components
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
        # laboratory files numbered before 2005 (GHB, BIOPRO as the shared mirror holds them)
        ("BIOPRO", "2003-2004", "L40_C"),
        ("BIOPRO", "2005-2006", "BIOPRO_D"),
        ("BIOPRO", "1999-2000", "LAB18"),
        ("GLU", "2001-2002", "L10AM_B"),
        ("GLU", "2003-2004", "L10AM_C"),
        ("GLU", "2005-2006", "GLU_D"),
        ("TCHOL", "2001-2002", "L13_B"),
        ("TCHOL", "2009-2010", "TCHOL_F"),
        ("HDL", "2011-2012", "HDL_G"),
        ("TRIGLY", "2003-2004", "L13AM_C"),
        ("ALB_CR", "2003-2004", "L16_C"),
        ("ALB_CR", "2017-2018", "ALB_CR_J"),
        ("CBC", "2001-2002", "L25_B"),
        ("BPX", "2017-2018", "BPX_J"),
        ("BPXO", "2017-2020", "P_BPXO"),
        ("BMX", "2001-2002", "BMX_B"),
    ],
)
def test_table_names(component: str, cycle: str, name: str) -> None:
    assert catalog.table_name(component, cycle) == name
    assert catalog.component_of(name) == component


def test_hdl_shares_the_cholesterol_file_until_2004() -> None:
    assert catalog.table_name("HDL", "2003-2004") == "L13_C"
    assert catalog.table_name("HDL", "2005-2006") == "HDL_D"
    assert catalog.component_of("L13_C") == "TCHOL"  # the first component of a shared file
    cycle = catalog.get_cycle("2001-2002")
    assert catalog.tables_for(cycle, ["TCHOL", "HDL", "GLU"]) == ["L13_B", "L10AM_B"]


def test_locate_a_column() -> None:
    ref = catalog.locate("BIOPRO", "lbdscr", "2001-2002")
    assert (ref.table, ref.column, ref.cycle) == ("L40_B", "LBDSCR", "2001-2002")
    assert ref.relpath == "2001-2002/L40_B.xpt"
    assert catalog.locate("BMX", "BMXWAIST", "J").table == "BMX_J"
    with pytest.raises(CatalogError, match="has no BPX"):
        catalog.locate("BPX", "BPXSY1", "2017-2020")
    with pytest.raises(CatalogError, match="no column"):
        catalog.locate("BMX", " ", "2005-2006")


def test_components_known_but_not_fetched_by_default() -> None:
    defaults = fetched_components()
    assert set(defaults) < set(catalog.KNOWN_COMPONENTS)
    for component in ("GLU", "TCHOL", "HDL", "TRIGLY", "ALB_CR", "BPX", "BPXO", "CBC"):
        assert component in catalog.KNOWN_COMPONENTS and component not in defaults
        assert component in catalog.COMPONENT_SUBSAMPLE
    assert set(FETCHED_UNREAD) <= set(defaults)


@pytest.mark.mirror
def test_mirror_file_names_are_the_catalogs(mirror_dir: Path) -> None:
    # every cycle of the shared mirror holds the files the catalog names for these components
    for component in ("BIOPRO", "BMX", "GHB", "DEMO", "VID", "DR1TOT"):
        for cycle in catalog.parse_cycles(None):
            relpath = catalog.xpt_relpath(catalog.table_name(component, cycle), cycle)
            assert (mirror_dir / relpath).is_file(), relpath


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


def test_every_component_has_its_subsample() -> None:
    """The weight rule (and a specification's own variables) read it for every component."""
    assert set(catalog.KNOWN_COMPONENTS) <= set(catalog.COMPONENT_SUBSAMPLE)
    assert set(catalog.COMPONENT_SUBSAMPLE.values()) <= set(catalog.SUBSAMPLES)
