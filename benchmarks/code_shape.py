"""The package's shape as one JSON line: its largest modules and longest functions (lines), stored rows read by
string key (`row["...`) outside the results layer, import circles between its modules (lazy imports included),
and how many of its modules the reading side's entry points reach (a run's record, the claims, the report). The
layers themselves are contracts in pyproject.toml, checked by import-linter (tests/test_layering.py).

    python benchmarks/code_shape.py                       # this checkout
    python benchmarks/code_shape.py --source OTHER/src/seqarena   # another checkout, e.g. before a change
"""

from __future__ import annotations

import argparse
import ast
import json
import re
from pathlib import Path

READING_SIDE = ("results.records", "claims", "report", "recommend", "results.statistics")


def modules(source: Path, package: str) -> dict[str, Path]:
    found = {}
    for path in sorted(source.rglob("*.py")):
        found[".".join((package, *path.relative_to(source).with_suffix("").parts)).removesuffix(".__init__")] = path
    return found


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def reached(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, stack = set(), [start]
    while stack:
        for other in graph[stack.pop()] - seen:
            seen.add(other)
            stack.append(other)
    return seen


def longest_functions(found: dict[str, Path]) -> list[tuple[int, str]]:
    lengths = [(node.end_lineno - node.lineno + 1, f"{name}.{node.name}")
               for name, path in found.items() for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    return sorted(lengths, reverse=True)[:3]


def shape(source: Path, package: str) -> dict:
    found = modules(source, package)
    graph = {name: {other for other in imports(path) if other in found and other != name}
             for name, path in found.items()}
    circles = sorted(name for name in graph if name in reached(graph, name))
    counts = {name: len(re.findall(r'\brow\["', path.read_text())) for name, path in found.items()
              if not name.startswith(f"{package}.results")}
    lookups = {name: count for name, count in counts.items() if count}
    reach = {top: len(reached(graph, top)) for top in (f"{package}.{name}" for name in READING_SIDE) if top in graph}
    return {"largest_modules": sorted(((len(path.read_text().splitlines()), name) for name, path in found.items()),
                                      reverse=True)[:3],
            "longest_functions": longest_functions(found), "row_lookups_outside_results": lookups,
            "modules_in_import_circles": circles, "modules_reached_from": reach}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[1] / "src" / "seqarena")
    parser.add_argument("--package", default="seqarena")
    args = parser.parse_args()
    print(json.dumps(shape(args.source, args.package)))


if __name__ == "__main__":
    main()
