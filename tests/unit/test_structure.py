"""The shape of the code holds: modules small enough to read, folders small enough to scan, no
import cycles, no private names used across modules, and the layers (docs/ARCHITECTURE.md):

- the workflow core (engine/workflow, engine/bpmn) knows nothing of the product around it;
- the web layer asks the engine's services and never reads a table itself;
- the engine never imports the web layer (test_layering).

Read from the source with `ast`, every import counted, also those inside functions: a cycle through
a lazy import is a cycle all the same. Only imports under `if TYPE_CHECKING:` are left out: they
name types for annotations and are never run (engine.context names the core's types so).
"""

from __future__ import annotations

import ast
from collections import Counter
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "webui")
MODULE_LINES = 400
FOLDER_MODULES = 15
# Alembic's revisions are the schema's history: one file per change, never edited once released.
NOT_CODE = ("engine/db/migrations/",)
CORE = ("engine.workflow", "engine.bpmn")
PRODUCT = ("engine.requests", "engine.tasks", "engine.org", "engine.audit", "engine.analytics", "engine.knowledge",
           "engine.notify", "engine.cli")
# What the core leans on below it: who may act (the organisation's groups and substitutes) and the
# chain each step is recorded on. Nothing else of the product.
CORE_MAY_USE = ("engine.org.directory", "engine.org.scope", "engine.db.chain")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(NOT_CODE):
                continue
            name = rel[:-3].replace("/", ".")
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _run_imports(tree: ast.AST):
    """The nodes of the tree, less the bodies of `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in [child, *_run_imports(child)])
            continue
        yield node
        yield from _run_imports(node)


def _imports(path: Path) -> list[tuple[str, str | None, int]]:
    """(module, imported name or None, line) of every absolute import the file runs."""
    out = []
    for node in _run_imports(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.append((full if full in MODULES else node.module, alias.name, node.lineno))
        elif isinstance(node, ast.Import):
            out.extend((alias.name, None, node.lineno) for alias in node.names)
    return out


def _graph() -> dict[str, set[str]]:
    """Module -> the modules of the project it imports."""
    return {name: {target for target, _, _ in _imports(path) if target in MODULES and target != name}
            for name, path in MODULES.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of the graph, or []."""
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        return exc.args[1]
    return []


def test_the_structure_is_read_from_the_whole_code():
    assert len(MODULES) > 150 and "engine.workflow.runner" in MODULES and "webui.views.work" in MODULES


def test_no_module_is_over_400_lines():
    assert {name: n for name, path in MODULES.items()
            if (n := len(path.read_text("utf-8").splitlines())) > MODULE_LINES} == {}


def test_no_folder_holds_more_than_15_modules():
    counts = Counter(path.parent.relative_to(ROOT).as_posix() for path in MODULES.values())
    assert {folder: n for folder, n in counts.items() if n > FOLDER_MODULES} == {}


def test_there_is_no_import_cycle():
    assert _cycle(_graph()) == []


def test_no_private_name_is_imported_across_modules():
    found = [f"{name}:{line} imports {target}.{imported}" for name, path in MODULES.items()
             for target, imported, line in _imports(path)
             if imported and imported.startswith("_") and not imported.startswith("__")
             and target.startswith(PACKAGES)]
    assert found == []


@pytest.mark.parametrize("core", CORE)
def test_the_workflow_core_knows_nothing_of_the_product(core):
    found = [f"{name} imports {target}" for name, targets in _graph().items() for target in targets
             if name.startswith(core) and target.startswith(PRODUCT) and target not in CORE_MAY_USE]
    assert found == []


def test_the_web_layer_reads_no_table_itself():
    found = [f"{name}:{line} imports {target}" for name, path in MODULES.items() if name.startswith("webui")
             for target, _, line in _imports(path) if target == "engine.db" or target.startswith("engine.db.")]
    assert found == []


def test_the_rules_see_a_violation(tmp_path):
    """The checks above find what they look for: a cycle and a private import written on purpose."""
    graph = {name: targets for name, targets in _graph().items() if name.startswith("engine.workflow")}
    assert _cycle(graph) == []
    graph["engine.workflow.step"].add("engine.workflow.runner")  # the runner imports step already
    assert {"engine.workflow.step", "engine.workflow.runner"} <= set(_cycle(graph))
    bad = tmp_path / "bad.py"
    bad.write_text("from engine.workflow.runner import _TAKEN\n\n"
                   "def f():\n    from engine.db.models import InboxTask\n\n"
                   "if TYPE_CHECKING:\n    from engine.workflow.store import InstanceStore\n")
    assert [(t, n) for t, n, _ in _imports(bad)] == [("engine.workflow.runner", "_TAKEN"),
                                                     ("engine.db.models", "InboxTask")]
