"""The layout holds: every module imports on its own, no module-level import cycle, no file over
600 lines, and the nightly path runs without the train / eval extras installed."""

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "va_gpt"
MAX_LINES = 600
EXTRAS = ("deepspeed", "peft", "matplotlib", "sklearn", "sacrebleu", "rouge_score")  # pyproject: train, eval


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for p in sorted(PACKAGE.rglob("*.py"))
        if "__pycache__" not in p.parts and p.name != "__main__.py"
    }


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: module level, including under if / try / with,
    but not under `if TYPE_CHECKING:` and not inside functions or classes."""
    out: list = []

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                out.append(node)
            elif isinstance(node, ast.If):
                test = ast.unparse(node.test)
                if "TYPE_CHECKING" not in test:
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for h in node.handlers:
                    visit(h.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.With):
                visit(node.body)

    visit(tree.body)
    return out


def import_graph() -> dict[str, set[str]]:
    """module -> the va_gpt modules its top-level imports load (`from pkg import sub` -> pkg.sub)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in _top_level_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            graph[mod] |= {t for t in targets if t in mods}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_level_import_cycle():
    found = cycles(import_graph())
    assert not found, "module-level import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_file_over_600_lines():
    too_long = {}
    for folder in ("va_gpt", "jobs", "schemas"):
        for p in (ROOT / folder).rglob("*.py"):
            n = len(p.read_text().splitlines())
            if n > MAX_LINES:
                too_long[str(p.relative_to(ROOT))] = n
    assert not too_long, f"files over {MAX_LINES} lines: {too_long}"


# Each module imported first, in a process of its own: a cycle that only breaks when entered from
# one side shows up. Third-party packages are loaded once in a parent process, which forks a child
# per module (a fresh interpreter as far as va_gpt is concerned, without paying torch's import each time).
IMPORT_EACH = textwrap.dedent(
    """
    import importlib, os, sys, traceback
    modules, third_party = sys.argv[1].split(","), sys.argv[2].split(",")
    for entry in third_party:
        module, _, attr = entry.partition(":")
        try:
            m = importlib.import_module(module)
            if attr:
                getattr(m, attr)
        except Exception:
            pass
    assert not [m for m in sys.modules if m == "va_gpt" or m.startswith("va_gpt.")]
    failed = 0
    for mod in modules:
        pid = os.fork()
        if pid == 0:
            try:
                importlib.import_module(mod)
            except BaseException:
                print(f"--- import {mod} failed:", flush=True)
                traceback.print_exc(file=sys.stdout)
                sys.stdout.flush()
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        failed += status != 0
    sys.exit(1 if failed else 0)
    """
)


def _third_party() -> list[str]:
    """What va_gpt imports from outside itself, as `module` or `module:name` (a name may be a lazy
    attribute, e.g. transformers' model classes, loaded once in the parent)."""
    stdlib = set(sys.stdlib_module_names)
    out = set()
    for path in _modules().values():
        for node in _top_level_imports(ast.parse(path.read_text())):
            if getattr(node, "level", 0):
                continue
            if isinstance(node, ast.Import):
                out |= {a.name for a in node.names}
            elif node.module:
                out |= {f"{node.module}:{a.name}" for a in node.names}
    skip = stdlib | {"va_gpt", "schemas", "__future__", "tests"}
    return sorted(n for n in out if n.split(":")[0].split(".")[0] not in skip)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.timeout(600)
def test_every_module_imports_first_in_a_fresh_process():
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH, ",".join(_modules()), ",".join(_third_party())],
        capture_output=True,
        text=True,
        timeout=580,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]


# The nightly host installs the core dependencies only (pyproject): the extras are made absent.
NO_EXTRAS = textwrap.dedent(
    """
    import importlib, importlib.machinery as m, pkgutil, sys
    BLOCKED = set(sys.argv[1].split(","))

    class NoExtras(m.PathFinder):
        @classmethod
        def find_spec(cls, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                return None  # as if not installed: availability checks see None, imports fail
            return super().find_spec(name, path, target)

    sys.meta_path = [NoExtras if f is m.PathFinder else f for f in sys.meta_path]
    for blocked in BLOCKED:
        try:
            importlib.import_module(blocked)
            raise SystemExit(f"{blocked} still importable")
        except ImportError:
            pass

    import va_gpt.cli
    import va_gpt.lake.query
    import va_gpt.pipeline
    for info in pkgutil.walk_packages(va_gpt.pipeline.__path__, "va_gpt.pipeline."):
        importlib.import_module(info.name)
    for argv in (["nightly", "--help"], ["query", "--help"]):
        try:
            va_gpt.cli.main(argv)
        except SystemExit as e:
            assert e.code == 0, (argv, e.code)
    loaded = sorted(n for n in sys.modules if n.partition(".")[0] in BLOCKED)
    assert not loaded, loaded
    print("ok")
    """
)


@pytest.mark.timeout(300)
def test_nightly_and_query_need_no_train_or_eval_extras():
    done = subprocess.run(
        [sys.executable, "-c", NO_EXTRAS, ",".join(EXTRAS)],
        capture_output=True,
        text=True,
        timeout=280,
        cwd=ROOT,
    )
    assert done.returncode == 0 and "usage: vagpt nightly" in done.stdout, (
        done.stdout[-4000:] + done.stderr[-4000:]
    )
    assert "usage: vagpt query" in done.stdout
