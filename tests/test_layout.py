"""The package's folders are its layers, and its maps are true.

- no import goes from a lower layer to a higher one (``core`` < ``training`` <
  ``session`` < the task packages < ``tools``), and no task package imports another;
- the bag-of-words baseline loads without the training engine;
- the top-level map (the docstring of ``gpt2ft/__init__.py``) and each package's
  ``__init__`` docstring name every module there is, and none that is not;
- no module imports a private name (``_x``) of another module of the package;
- every ``gpt2ft.<dotted>`` name in ``README.md``, ``notes/*.md`` and
  ``results/**/*.md`` imports.

Everything but the baseline test reads the source (``ast``): nothing is imported.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "shared" / "gpt2ft"
LAYERS = {"core": 0, "training": 1, "session": 2, "generate": 3, "classify": 3, "lm": 3,
          "instruct": 3, "tools": 4}
TASKS = {name for name, layer in LAYERS.items() if layer == 3}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
PACKAGES = sorted(name for name, p in MODULES.items() if p.name == "__init__.py")


def children(package: str) -> set[str]:
    """The modules and subpackages directly in ``package``."""
    depth = package.count(".") + 1
    return {name.rsplit(".", 1)[1] for name in MODULES
            if name.startswith(package + ".") and name.count(".") == depth}


def imports(name: str) -> list[tuple[int, str, list[str]]]:
    """``(line, module imported from, names)`` of every import in a module (lazy ones too)."""
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1 packages
                up = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            found.append((node.lineno, base, [alias.name for alias in node.names]))
    return found


def targets(name: str) -> list[tuple[int, str]]:
    """``(line, gpt2ft module)`` each import of ``name`` loads (``from gpt2ft import classify`` too)."""
    out = []
    for line, base, names in imports(name):
        if base != "gpt2ft" and not base.startswith("gpt2ft."):
            continue
        subs = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
        out += [(line, t) for t in subs or [base]]
    return out


def layer_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_module_is_in_a_layer():
    loose = [name for name in MODULES if name != "gpt2ft" and layer_of(name) not in LAYERS]
    assert not loose, f"modules outside the layer folders {sorted(LAYERS)}: {loose}"


def test_no_import_from_a_lower_layer_to_a_higher_one():
    wrong = []
    for name in MODULES:
        source = layer_of(name)
        if source is None:
            continue
        for line, target in targets(name):
            dest = layer_of(target)
            if dest is None or dest == source:
                continue
            if LAYERS[dest] > LAYERS[source]:
                wrong.append(f"{name}:{line} imports {target} (layer {dest} is above {source})")
            elif source in TASKS and dest in TASKS:
                wrong.append(f"{name}:{line} imports {target} (a task package imports another)")
    assert not wrong, "\n".join(wrong)


def test_the_baseline_loads_without_the_training_engine():
    code = ("import sys, gpt2ft.classify.baseline\n"
            "print('\\n'.join(sorted(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=120).stdout.split()
    engine = [m for m in loaded if m.startswith("gpt2ft.training")
              or m.split(".")[0] in ("accelerate", "transformers", "peft")]
    assert "gpt2ft.classify.baseline" in loaded
    assert not engine, f"importing the baseline loaded engine code: {engine}"


def top_level_map() -> dict[str, set[str]]:
    """The numbered list of ``gpt2ft/__init__.py``: each layer package and the modules it names."""
    doc = ast.get_docstring(ast.parse(MODULES["gpt2ft"].read_text()))
    block = re.search(r"^1\. .*?(?=\n\n|\Z)", doc, re.S | re.M)
    assert block, "the top-level docstring has no numbered list of the layers"
    named: dict[str, set[str]] = {}
    current = None
    for token in re.findall(r"``(\w+)``", block.group(0)):
        if token in LAYERS:
            current = token
            named.setdefault(current, set())
        else:
            assert current is not None, f"``{token}`` is named before any layer package"
            named[current].add(token)
    return named


def package_map(package: str) -> set[str]:
    """The modules a package's ``__init__`` docstring lists: bullets ``- ``name```` or ``- :mod:``."""
    doc = ast.get_docstring(ast.parse(MODULES[package].read_text())) or ""
    named = set()
    for plain, dotted in re.findall(r"^- (?:``(\w+)``|:mod:`~?([\w.]+)`)", doc, re.M):
        if dotted:
            parent, _, plain = dotted.rpartition(".")
            assert parent == package, f"{package} lists {dotted}, a module of another package"
        named.add(plain)
    return named


def test_the_top_level_map_names_every_layer_and_module():
    named = top_level_map()
    top = children("gpt2ft")
    assert set(named) == top, (f"layer packages named but missing: {set(named) - top}; "
                               f"there but not named: {top - set(named)}")
    for package, modules in named.items():
        there = children(f"gpt2ft.{package}")
        assert modules == there, (f"gpt2ft.{package}: named but missing: {sorted(modules - there)}; "
                                  f"there but not named: {sorted(there - modules)}")


@pytest.mark.parametrize("package", [p for p in PACKAGES if p != "gpt2ft"])
def test_each_package_docstring_lists_its_modules(package):
    named, there = package_map(package), children(package)
    assert named == there, (f"{package}/__init__.py: listed but missing: {sorted(named - there)}; "
                            f"there but not listed: {sorted(there - named)}")


def test_no_private_name_is_imported_across_modules():
    wrong = []
    for name in MODULES:
        tree = ast.parse(MODULES[name].read_text())
        aliases = {}  # local name -> gpt2ft module, for ``module._private``
        for line, base, names in imports(name):
            if base != "gpt2ft" and not base.startswith("gpt2ft."):
                continue
            for n in names:
                if n.startswith("_") and not n.startswith("__"):
                    wrong.append(f"{name}:{line} imports {n} from {base}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gpt2ft"):
                for alias in node.names:
                    if f"{node.module}.{alias.name}" in MODULES:
                        aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("gpt2ft.") and alias.asname:
                        aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__") and aliases[node.value.id] != name):
                wrong.append(f"{name}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert not wrong, "\n".join(wrong)


DOCS = [REPO / "README.md", *sorted((REPO / "notes").glob("*.md")),
        *sorted((REPO / "results").rglob("*.md"))]


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def test_every_gpt2ft_name_in_the_docs_imports():
    mentioned = sorted({(str(doc.relative_to(REPO)), dotted) for doc in DOCS
                        for dotted in re.findall(r"\bgpt2ft(?:\.[A-Za-z_]\w*)+", doc.read_text())})
    assert mentioned, "no gpt2ft name found in the docs: is the pattern right?"
    wrong = [f"{where}: {dotted}" for where, dotted in mentioned if not resolves(dotted)]
    assert not wrong, "names in the docs that do not import:\n" + "\n".join(wrong)
