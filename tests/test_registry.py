import pytest

from seqlab import registry
from seqlab.papers import TITLES, paper_rows, unknown_titles


def test_unknown_name_lists_valid_names():
    with pytest.raises(KeyError, match="valid names"):
        registry.create("mixer", "no-such-mixer", d_model=8)


def test_unknown_kind_is_refused():
    with pytest.raises(KeyError, match="unknown kind"):
        registry.get("no-such-kind", "x")


def test_double_registration_of_a_different_object_is_refused():
    @registry.register("testkind", "thing")
    class A:
        pass

    with pytest.raises(ValueError, match="already registered"):

        @registry.register("testkind", "thing")
        class B:
            pass


def test_catalog_has_all_papers_and_registered_titles_are_exact():
    assert len(TITLES) == 119
    assert unknown_titles() == []
    assert any(r.components for r in paper_rows())
