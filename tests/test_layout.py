"""The library's layout: imports run one way, internals stay inside their module, and the
eval program reaches tasks through their declared interface (`jcnn.tasks.base.Task`)."""
import ast
import pathlib

import pytest

from tests.helpers import REPO


def _modules(root: pathlib.Path, package: str) -> dict[str, pathlib.Path]:
  """{dotted name: file} of every module under `root` (the folder of `package`)."""
  found = {}
  for path in root.rglob("*.py"):
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
      parts.pop()
    found[".".join(parts)] = path
  return found


def _imports(path: pathlib.Path, name: str, known: set[str]):
  """(modules imported anywhere in the file, (module, private name) pairs it takes from
  another module: `from m import _x`, or `m._x` on an imported module `m`)."""
  tree = ast.parse(path.read_text(), str(path))
  package = name if path.name == "__init__.py" else name.rpartition(".")[0]
  imported, private, aliases = set(), set(), {}
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        imported.add(alias.name)
        if alias.asname:
          aliases[alias.asname] = alias.name
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        parent = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join(parent + ([node.module] if node.module else []))
      for alias in node.names:
        if f"{base}.{alias.name}" in known:  # a submodule
          imported.add(f"{base}.{alias.name}")
          aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
        else:
          imported.add(base)
          if alias.name.startswith("_") and not alias.name.startswith("__"):
            private.add((base, alias.name))
  for node in ast.walk(tree):
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
      target = aliases.get(node.value.id)
      if (target in known and target != name and node.attr.startswith("_")
          and not node.attr.startswith("__")):
        private.add((target, node.attr))
  return {m for m in imported if m in known}, private


def _graph(modules: dict[str, pathlib.Path]) -> tuple[dict, dict]:
  known = set(modules)
  edges, private = {}, {}
  for name, path in modules.items():
    edges[name], private[name] = _imports(path, name, known)
  return edges, private


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
  """The strongly connected components of more than one node (Tarjan), each sorted."""
  index, low, stack, on_stack, found = {}, {}, [], set(), []

  def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in sorted(edges.get(v, ())):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        found.append(sorted(component))

  for v in sorted(edges):
    if v not in index:
      visit(v)
  return found


def _folders(edges: dict[str, set[str]]) -> dict[str, set[str]]:
  """The arrows between jcnn's top-level parts (`jcnn.data`, `jcnn.runs`, ...)."""
  part = lambda m: ".".join(m.split(".")[:2])
  out = {}
  for a, targets in edges.items():
    for b in targets:
      if part(a) != part(b):
        out.setdefault(part(a), set()).add(part(b))
  return out


def _problems(root: pathlib.Path, package: str) -> list[str]:
  edges, private = _graph(_modules(root, package))
  problems = [f"import cycle: {' <-> '.join(c)}" for c in _cycles(edges)]
  problems += [f"import cycle between parts: {' <-> '.join(c)}"
               for c in _cycles(_folders(edges))]
  problems += [f"{m} uses {owner}.{name}, private to {owner}"
               for m, pairs in sorted(private.items()) for owner, name in sorted(pairs)]
  return problems


def test_jcnn_has_no_import_cycle_and_no_private_name_crosses_a_module():
  assert _problems(REPO / "jcnn", "jcnn") == []


def test_the_layout_check_finds_cycles_and_private_names(tmp_path):
  lib = tmp_path / "lib"
  (lib / "a").mkdir(parents=True)
  (lib / "__init__.py").write_text("")
  (lib / "a" / "__init__.py").write_text("")
  (lib / "a" / "one.py").write_text("from lib import b\n")
  (lib / "b.py").write_text("def f():\n  from lib.a import one  # on use: still an arrow\n")
  (lib / "c.py").write_text("from lib.b import _hidden\nfrom lib import b\nb._also\n")
  assert _problems(lib, "lib") == [
      "import cycle: lib.a.one <-> lib.b",
      "import cycle between parts: lib.a <-> lib.b",
      "lib.c uses lib.b._also, private to lib.b",
      "lib.c uses lib.b._hidden, private to lib.b",
  ]


@pytest.mark.parametrize("program", ["eval", "train"])
def test_the_programs_reach_tasks_through_the_interface_only(program):
  jcnn = set(_modules(REPO / "jcnn", "jcnn"))
  modules = _modules(REPO / program, program)
  reached = {(name, m) for name, path in modules.items()
             for m in _imports(path, name, jcnn | set(modules))[0]
             if m.startswith("jcnn.tasks.")}
  assert reached == set()


@pytest.mark.parametrize("program, other", [("eval", "train"), ("train", "eval")])
def test_a_program_imports_the_library_never_the_other_program(program, other):
  theirs = set(_modules(REPO / other, other))
  modules = _modules(REPO / program, program)
  reached = {(name, m) for name, path in modules.items()
             for m in _imports(path, name, theirs | set(modules))[0] if m in theirs}
  assert reached == set()
