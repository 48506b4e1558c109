import ast
from pathlib import Path

import seqlab.experiments

HIGHER = ("seqlab.bench", "seqlab.papers", "seqlab.continual", "seqlab.commands", "seqlab.cli")


def test_experiments_imports_no_higher_layer():
    pkg = Path(seqlab.experiments.__file__).parent
    for path in sorted(pkg.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(HIGHER), f"{path.name} imports {name}, a higher layer"


LOWER = ("ops", "mixers", "models", "tasks", "tokenize", "lm", "decode", "parallel", "debug", "registry")
ABOVE_LOWER = (
    "seqlab.experiments",
    "seqlab.train",
    "seqlab.embed",
    "seqlab.probe",
    "seqlab.reason",
    "seqlab.recsys",
    "seqlab.timeseries",
    "seqlab.generate",
    *HIGHER,
)


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_lower_layers_import_nothing_above_them():
    root = Path(seqlab.experiments.__file__).parents[1]
    bad = []
    for name in LOWER:
        target = root / name
        paths = sorted(target.rglob("*.py")) if target.is_dir() else [root / f"{name}.py"]
        for path in paths:
            bad += [
                f"{path.relative_to(root)} imports {m}" for m in _imports(path) if m.startswith(ABOVE_LOWER)
            ]
    assert not bad, "\n".join(bad)
