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
