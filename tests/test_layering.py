"""The package's shape, read from its source: module size, no import circles, results read through typed records,
and the layers above the results (claims, report, recommend) never reaching the runner."""

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "seqarena"
RUNNER_IMPORTS = {"multiprocessing", "concurrent", "ray"}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(("seqarena", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
        found[name] = path
    return found


def imports(path: Path) -> set[str]:
    """Every module an import statement in the file names, lazy imports included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def internal_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {other for other in imports(path) if other in known and other != name}
            for name, path in known.items()}


def closure(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, stack = set(), [start]
    while stack:
        for other in graph[stack.pop()] - seen:
            seen.add(other)
            stack.append(other)
    return seen


def test_no_module_is_over_400_lines():
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert max(sizes.values()) <= 400, max(sizes.items(), key=lambda item: item[1])


def test_no_module_imports_itself_through_others():
    graph = internal_graph()
    circles = [name for name in graph if name in closure(graph, name)]
    assert circles == []


def test_graph_sees_a_circle_when_there_is_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert [name for name in graph if name in closure(graph, name)] == ["a", "b", "c"]


def test_only_the_results_layer_reads_stored_rows_by_string_key():
    lookups = {name: len(re.findall(r'\brow\["', path.read_text())) for name, path in modules().items()
               if not name.startswith("seqarena.results")}
    assert {name: count for name, count in lookups.items() if count} == {}


def test_claims_report_and_recommend_never_reach_the_runner():
    graph, known = internal_graph(), modules()
    for top in ("seqarena.claims", "seqarena.report", "seqarena.recommend", "seqarena.results.statistics"):
        reached = closure(graph, top) | {top}
        assert not {name for name in reached if name.startswith(("seqarena.engine.runner", "seqarena.engine.job",
                                                                  "seqarena.engine.measurements"))}, top
        outside = {other.split(".")[0] for name in reached for other in imports(known[name])}
        assert not outside & RUNNER_IMPORTS, (top, outside & RUNNER_IMPORTS)
