"""The documentation holds together: every link lands, every docs page is reached from a
short front page, and every command a page shows is checked somewhere
(tests/docs_commands.py says where)."""
import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.docs_commands import COMMANDS
from tests.helpers import REPO

FRONT = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [FRONT, *DOCS]

_FENCE = re.compile(r"^```.*?^```[ \t]*$", re.S | re.M)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
# The lines of a ```bash block that are commands: a program jcnn documents, or an
# environment assignment in front of one. Shell syntax around them (a `for` loop) is
# skipped; any other line fails the test, so a new kind of command is not missed.
_COMMAND = re.compile(r"(python|pip|jcnn-train|jcnn-eval|bash|srun)\s|[A-Z][A-Z0-9_]*=\S")
_SHELL_SYNTAX = re.compile(r"(for|do|done|if|then|else|fi|while)\b")


def _name(page) -> str:
  return str(page.relative_to(REPO))


def _prose(text: str) -> str:
  """`text` without its fenced blocks and inline code, where a bracket is not a link."""
  return re.sub(r"`[^`]*`", "", _FENCE.sub("", text))


def _slug(heading: str) -> str:
  """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
  return re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower()).replace(" ", "-")


def _anchors(text: str) -> set[str]:
  anchors, seen = set(), {}
  for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", _FENCE.sub("", text), re.M):
    slug = _slug(heading)
    anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
    seen[slug] = seen.get(slug, 0) + 1
  return anchors


def _links(page) -> list[str]:
  return [t for t in _LINK.findall(_prose(page.read_text()))
          if not re.match(r"[a-z][a-z0-9+.-]*:", t)]  # http:, https:, mailto: ...


def _commands(text: str) -> list[str]:
  """The commands of every ```bash block: continuation lines joined, comments dropped,
  spaces collapsed."""
  found = []
  for block in re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M):
    for line in re.sub(r"\\\n", " ", block).splitlines():
      line = re.sub(r"(^|\s)#.*", "", line).strip()
      if not line or _SHELL_SYNTAX.match(line):
        continue
      assert _COMMAND.match(line), f"neither a command nor shell syntax: {line!r}"
      found.append(" ".join(line.split()))
  return found


def _documented() -> dict[str, str]:
  """{command: the first page that shows it}."""
  found = {}
  for page in PAGES:
    for command in _commands(page.read_text()):
      found.setdefault(command, _name(page))
  return found


def test_github_anchors_are_lower_case_without_punctuation():
  assert _slug("The canon's claims, measured here") == "the-canons-claims-measured-here"
  assert _slug("Seeing what a network learned (ZFNet)") == "seeing-what-a-network-learned-zfnet"
  assert _anchors("# A\n```\n# not a heading\n```\n## A\n## multi_host.md\n") == {
      "a", "a-1", "multi_hostmd"}


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_relative_link_lands_on_a_file_and_heading(page):
  broken = []
  for target in _links(page):
    path, _, anchor = target.partition("#")
    file = (page.parent / path).resolve() if path else page
    if not file.exists():
      broken.append(f"{target}: no such file")
    elif anchor and (file.suffix != ".md" or anchor not in _anchors(file.read_text())):
      broken.append(f"{target}: no heading #{anchor} in {file.name}")
  assert broken == []


def test_every_docs_page_is_linked_from_the_front_page():
  linked = {(REPO / t.partition("#")[0]).resolve() for t in _links(FRONT)}
  assert DOCS and [_name(p) for p in DOCS if p.resolve() not in linked] == []


def test_every_docs_page_says_what_it_is_and_links_back():
  for page in DOCS:
    title, _, intro = page.read_text().partition("\n\n")
    assert title.startswith("# "), _name(page)
    assert "](../README.md)" in intro.partition("\n\n")[0], _name(page)


def test_the_front_page_is_short():
  assert len(FRONT.read_text().splitlines()) < 120


def test_every_documented_command_says_how_it_is_checked():
  documented = _documented()
  assert {c: p for c, p in documented.items() if c not in COMMANDS} == {}
  assert [c for c in COMMANDS if c not in documented] == []  # shown on no page anymore


@pytest.mark.parametrize("command", [c for c, how in COMMANDS.items()
                                     if how.split(":")[0] in ("test", "accuracy suite")])
def test_a_command_checked_by_a_test_names_a_test_that_mentions_it(command):
  kind, file, token = (part.strip() for part in COMMANDS[command].split(":", 2))
  assert file.startswith("tests/accuracy/" if kind == "accuracy suite" else "tests/"), file
  assert (REPO / file).is_file(), file
  assert token and token in command, f"{token!r} is no part of the command"
  assert token in (REPO / file).read_text(), f"{file} does not mention {token!r}"


def test_an_extra_a_command_installs_is_declared():
  pyproject = (REPO / "pyproject.toml").read_text()
  declared = pyproject[pyproject.index("[project.optional-dependencies]"):]
  declared = set(re.findall(r"^([\w-]+) = \[", declared.split("\n[project.", 1)[0], re.M))
  extras = {c: how.split(":")[1].strip() for c, how in COMMANDS.items()
            if how.startswith("extra:")}
  assert extras
  for command, extra in extras.items():
    assert f"[{extra}]" in command and extra in declared, (command, sorted(declared))


def test_the_line_ci_runs_is_the_front_pages_test_command():
  # .ci/run's own extraction, run on this checkout.
  script = (REPO / ".ci" / "run").read_text()
  (extract,) = re.findall(r"^test_command=.*$", script, re.M)
  shown = subprocess.run(["bash", "-c", f'{extract}\nprintf "%s" "$test_command"'],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
  assert [c for c, how in COMMANDS.items() if how == "ci"] == [" ".join(shown.split())]
  assert "pytest" in shown


def test_a_command_not_run_says_why():
  for command, how in COMMANDS.items():
    kind, _, why = how.partition(":")
    assert kind in ("run here", "ci", "test", "accuracy suite", "extra", "not run"), how
    assert kind != "not run" or len(why.strip()) > 10, command


@pytest.mark.parametrize("command", [c for c, how in COMMANDS.items()
                                     if how.startswith("run here")])
def test_a_cheap_documented_command_runs(command):
  status = re.search(r"exits (\d+)", COMMANDS[command])
  words = shlex.split(command)
  env = dict(os.environ)
  while "=" in words[0]:
    name, _, value = words.pop(0).partition("=")
    env[name] = value
  if words[0] == "python":
    words[0] = sys.executable
  proc = subprocess.run(words, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
  assert proc.returncode == (int(status.group(1)) if status else 0), proc.stderr[-2000:]
  assert proc.stdout.strip()
