import sys
import textwrap
import warnings

import pytest

from seqlab import registry
from seqlab.papers import TITLES, paper_rows, unknown_titles
from seqlab.registry import Paper

# Components that are seqlab's own construction and implement no paper's method.
# seqlab components that implement no paper (greedy decoding is the textbook argmax)
OWN = {"scenario:sequence-tasks", "task:text_lm", "decoder:greedy"}
# the reason module's discrete references: supervised next-token CoT / no CoT, no paper's method
OWN |= {"reasoner:cot", "reasoner:no_cot"}
# (recommender:popularity is the trivial must-beat baseline of seqlab.recsys)
OWN |= {"recommender:popularity"}
# (timeseries:gru-vae is LS4's latent model on GRU stacks, the recurrent baseline of seqlab.timeseries)
OWN |= {"timeseries:gru-vae"}


@pytest.fixture
def scratch_registry(monkeypatch):
    """A private copy of the registry tables, restored after the test."""
    monkeypatch.setattr(registry, "_REGISTRY", {k: dict(v) for k, v in registry._REGISTRY.items()})
    monkeypatch.setattr(registry, "_MISSING_EXTRAS", {})
    monkeypatch.setattr(registry, "KIND_PACKAGES", dict(registry.KIND_PACKAGES))
    monkeypatch.setattr(registry, "OPTIONAL_EXTRAS", dict(registry.OPTIONAL_EXTRAS))


def test_unknown_name_lists_valid_names():
    with pytest.raises(KeyError, match="valid names"):
        registry.create("mixer", "no-such-mixer", d_model=8)


def test_unknown_kind_is_refused():
    with pytest.raises(KeyError, match="unknown kind"):
        registry.get("no-such-kind", "x")


def test_double_registration_of_a_different_object_is_refused(scratch_registry):
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


# -- Paper and the registration keywords -----------------------------------------------------------
def test_paper_needs_a_title_and_a_well_formed_arxiv_id_or_a_venue():
    assert str(Paper("Mamba", "2312.00752")) == "Mamba (arXiv 2312.00752)"
    assert Paper("Long Short-Term Memory", venue="Neural Computation 1997").ref == "Neural Computation 1997"
    with pytest.raises(ValueError, match="arXiv id must look like"):
        Paper("Mamba", "arXiv:2312.00752")
    with pytest.raises(ValueError, match="arXiv id must look like"):
        Paper("Mamba", "2312.7")
    with pytest.raises(ValueError, match="needs an arXiv id or"):
        Paper("Mamba")
    with pytest.raises(ValueError, match="non-empty title"):
        Paper(" ", "2312.00752")


@pytest.mark.parametrize(
    "kw, hint",
    [
        ({"papers": ["x"]}, "implements=Paper"),
        ({"cites": "x, arXiv 1234.56789"}, "implements=Paper"),
        ({"modes": ("parallel",)}, "class attribute `modes`"),
        ({"state_size": "d"}, "class attribute `state_size`"),
        ({"state": "h per layer"}, "state_size"),
    ],
)
def test_retired_keywords_are_refused_with_their_replacement(kw, hint, scratch_registry):
    with pytest.raises(TypeError, match="no longer taken") as err:
        registry.register("testkind", "retired", **kw)
    assert hint in str(err.value)


def test_implements_takes_papers_and_used_by_takes_a_list(scratch_registry):
    with pytest.raises(TypeError, match="Paper"):
        registry.register("testkind", "bad", implements="Mamba, arXiv 2312.00752")
    with pytest.raises(TypeError, match="list of catalog titles"):
        registry.register("testkind", "bad", used_by="Pointer Networks")
    deco = registry.register("testkind", "good", implements=Paper("Pointer Networks", "1506.03134"))
    deco(type("Good", (), {}))
    e = registry.get("testkind", "good")
    assert e.implements == (Paper("Pointer Networks", "1506.03134"),) and e.used_by == ()


# -- import failures: only a missing optional extra is tolerated -------------------------------------
def test_broken_internal_import_surfaces_as_that_import_error(monkeypatch, scratch_registry):
    """A seqlab module that cannot be imported must not shrink ``names('mixer')`` to what loaded."""
    for mod in [m for m in sys.modules if m == "seqlab.mixers" or m.startswith("seqlab.mixers.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "seqlab.mixers.base", None)  # importing it now fails
    with pytest.raises(ModuleNotFoundError) as err:
        registry.names("mixer")
    assert err.value.name == "seqlab.mixers.base"
    with pytest.raises(ModuleNotFoundError):
        registry.create("mixer", "s4d", d_model=8)


def _fake_package(tmp_path, monkeypatch, name: str, body: str) -> None:
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)


def test_missing_optional_extra_warns_with_the_extra_and_keeps_what_loaded(
    tmp_path, monkeypatch, scratch_registry
):
    _fake_package(
        tmp_path,
        monkeypatch,
        "seqlab_fake_kind_pkg",
        """
        from seqlab.registry import register

        @register("fakekind", "plain")
        class Plain:
            pass

        import seqlab_fake_optional_dep  # not installed
        """,
    )
    registry.KIND_PACKAGES["fakekind"] = "seqlab_fake_kind_pkg"
    registry.OPTIONAL_EXTRAS["seqlab_fake_optional_dep"] = "data"
    with pytest.warns(RuntimeWarning, match=r"seqlab\[data\]"):
        assert registry.names("fakekind") == ["plain"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per kind, then quiet
        with pytest.raises(KeyError, match=r"seqlab_fake_optional_dep.*seqlab\[data\]"):
            registry.get("fakekind", "needs-the-extra")


def test_missing_non_optional_dependency_is_raised(tmp_path, monkeypatch, scratch_registry):
    _fake_package(tmp_path, monkeypatch, "seqlab_fake_kind_pkg2", "import seqlab_fake_required_dep\n")
    registry.KIND_PACKAGES["fakekind2"] = "seqlab_fake_kind_pkg2"
    with pytest.raises(ModuleNotFoundError, match="seqlab_fake_required_dep"):
        registry.names("fakekind2")


def test_a_kind_whose_package_is_not_written_yet_is_empty(monkeypatch, scratch_registry):
    registry.KIND_PACKAGES["futurekind"] = "seqlab.no_such_package_yet"
    assert registry.names("futurekind") == []
    with pytest.raises(KeyError, match="none registered"):
        registry.get("futurekind", "x")


# -- the attributions themselves ---------------------------------------------------------------------
def test_every_component_names_the_paper_it_implements():
    missing = [f"{e.kind}:{e.name}" for e in registry.all_entries() if not e.implements]
    assert sorted(missing) == sorted(OWN)
    for e in registry.all_entries():
        assert "papers" not in e.info and "cites" not in e.info and "modes" not in e.info
        assert "state_size" not in e.info


@pytest.mark.parametrize(
    "kind, name, arxiv",
    [
        ("tokenizer", "vq", ["1711.00937", "2410.06424"]),
        ("tokenizer", "lfq", ["2310.05737"]),
        ("mixer", "mamba", ["2312.00752"]),
        ("mixer", "s4d", ["2206.11893"]),
        ("mixer", "s4", ["2111.00396"]),
        ("strategy", "ewc", ["1612.00796"]),
        ("task", "mqar", ["2312.04927"]),
    ],
)
def test_components_implement_their_own_method_papers(kind, name, arxiv):
    assert [p.arxiv for p in registry.get(kind, name).implements] == arxiv


def test_seed_papers_are_not_credited_to_generic_components():
    rows = {r.title: r for r in paper_rows()}
    arabic = rows["Beyond Orthography: Automatic Recovery of Short Vowels and Dialectal Sounds in Arabic"]
    assert arabic.status == "not implemented" and arabic.implemented_by == []
    hmn = rows["Continuous Learning in a Hierarchical Multiscale Neural Network"]
    assert hmn.status == "not implemented" and "strategy:ewc" in hmn.components
    bits = rows["To be Continuous, or to be Discrete, Those are Bits of Questions"]
    assert "tokenizer:lfq" not in bits.components and bits.status == "not implemented"
    s4 = rows["Efficiently Modeling Long Sequences with Structured State Spaces"]
    assert s4.implemented_by == ["mixer:s4"] and "mixer:s4d" not in s4.components
    expressivity = rows[
        "On the Expressivity of Selective State-Space Layers: A Multivariate Polynomial Approach"
    ]
    assert expressivity.status == "partial" and expressivity.implemented_by == []


def test_a_paper_has_one_arxiv_id_across_components():
    ids: dict[str, set] = {}
    for e in registry.all_entries():
        for p in e.implements:
            ids.setdefault(p.title, set()).add((p.arxiv, p.venue))
    assert {t: v for t, v in ids.items() if len(v) > 1} == {}
