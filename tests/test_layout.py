"""The package tree reads as the pipeline: each stage imports only itself and the stages below
it, no module imports another that imports it back, and an import inside a function is a
documented choice (``# lazy: …`` above it: a job that reuses its results never loads the
survey engine or plotnine), never a way round a cycle. The command line imports each job when
it runs (its module docstring says so)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "nhanes_mg"
# lowest first: a module may import its own stage and the stages before it
STAGES = ("base", "data", "survey", "derive", "usual_intake", "study", "report", "jobs", "cli")
BASE = {
    "__init__", "errors", "files", "figure_files", "workers", "expressions", "numbers",
    "standard_populations",
}  # fmt: skip
LONGEST = 900  # lines, outside survey/ (whose estimator families stay one per file)


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in PACKAGE.rglob("*.py")}


def _stage(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or (len(parts) == 2 and parts[1] in BASE):
        return "base"
    if parts[1] in ("cli", "__main__"):
        return "cli"
    return parts[1]


def _target(name: str) -> str:
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _imports(module: str) -> list[tuple[str, int, bool, bool]]:
    """(imported module, line, inside a function, commented ``lazy``) of one module's own
    package imports; ``if TYPE_CHECKING:`` blocks are not imports at run time."""
    path = MODULES[module]
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    is_package = path.name == "__init__.py"
    found: list[tuple[str, int, bool, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = module.split(".") if is_package else module.split(".")[:-1]
                    anchor = anchor[: len(anchor) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                names = [f"{base}.{a.name}" for a in child.names]
            elif isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            else:
                visit(child, inside)
                continue
            lazy = "lazy" in lines[child.lineno - 1]
            k = child.lineno - 2  # a comment above a block of imports covers the block
            while not lazy and k >= 0 and lines[k].strip().startswith(("#", "from ", "import ")):
                lazy = lines[k].strip().startswith("#") and "lazy" in lines[k]
                k -= 1
            for name in names:
                if name.startswith("nhanes_mg"):
                    target = _target(name)
                    if target != module:
                        found.append((target, child.lineno, inside, lazy))

    visit(ast.parse(source), False)
    return found


GRAPH = {m: _imports(m) for m in MODULES}


def test_every_module_has_a_stage() -> None:
    assert {_stage(m) for m in MODULES} <= set(STAGES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_stage_imports_only_itself_and_the_stages_below(module: str) -> None:
    rank = STAGES.index
    upward = [
        f"{module}:{line} imports {target} ({_stage(target)})"
        for target, line, _, _ in GRAPH[module]
        if rank(_stage(target)) > rank(_stage(module))
    ]
    assert upward == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_an_import_inside_a_function_says_why(module: str) -> None:
    if _stage(module) == "cli":
        return  # each command imports its job when it runs (the module docstring)
    unexplained = [
        f"{module}:{line} imports {target} inside a function without a '# lazy: …' reason"
        for target, line, inside, lazy in GRAPH[module]
        if inside and not lazy
    ]
    assert unexplained == []


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components over every import, lazy ones included."""
    edges = {m: sorted({t for t, *_ in GRAPH[m]}) for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(MODULES):
        if v not in index:
            connect(v)
    assert cycles == []


def test_no_module_outside_the_survey_engine_is_too_long() -> None:
    long = {
        m: n
        for m, p in MODULES.items()
        if _stage(m) != "survey"
        and (n := len(p.read_text(encoding="utf-8").splitlines())) > LONGEST
    }
    assert long == {}


def test_the_jobs_do_not_load_the_engine_until_they_compute() -> None:
    """A run with nothing changed reads stored results: importing the command line and the
    run job loads neither the survey engine nor plotnine (nor scipy)."""
    import subprocess
    import sys

    code = (
        "import sys, nhanes_mg.cli, nhanes_mg.jobs.run, nhanes_mg.jobs.analytic; "
        "print(sorted(m for m in ('nhanes_mg.survey', 'plotnine', 'scipy', "
        "'nhanes_mg.study.plan') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
