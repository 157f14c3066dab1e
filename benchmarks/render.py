"""The documentation's figures, rendered from the stored results (benchmarks/results/).

    python benchmarks/render.py            # rewrites the marked spans of the pages
    python benchmarks/render.py --check    # exit 1, naming each span that differs
    python benchmarks/render.py --sources  # the stored lines (file:line) behind each span

The pages are README.md, benchmarks/README.md and every docs/*.md (DOCS). A figure in
one sits between `<!-- results:NAME -->` and `<!-- /results:NAME -->`, and NAME is a
function below: what is between the markers is exactly what it renders from the stored
lines. A figure edited by hand makes `--check` (and tests/benchmarks/test_render.py)
fail; a new measurement is a new stored line (`--save` on the benchmark), then
`python benchmarks/render.py`.

What every span keeps to: several rounds of one measurement show their median and
range, never the best round; a ratio is computed here from the two stored numbers it
compares, both of one run. A table that describes one run names it below by the commit
that stored it, so a new run changes a page only where its text is about the newest
("the latest comparison", each config's latest measurement).
"""
import argparse
import difflib
import importlib
import pathlib
import re
import statistics
import sys
from collections.abc import Callable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks import store  # noqa: E402
from jcnn import pretrained  # noqa: E402

REPO = store.FOLDER.parents[1]
# The pages whose spans are rendered: a new docs page is one without being listed.
DOCS = ("README.md", "benchmarks/README.md",
        *sorted(f"docs/{page.name}" for page in (REPO / "docs").glob("*.md")))
MARK = re.compile(r"<!-- results:([\w-]+) -->(.*?)<!-- /results:\1 -->", re.S)
SPANS: dict[str, tuple[Callable, bool]] = {}


def span(name: str, block: bool = False):
  """Registers a span's renderer; a block span is a table on lines of its own."""
  def register(fn):
    SPANS[name] = (fn, block)
    return fn
  return register


class Reader:
  """Stored lines by their fields; remembers the lines a span takes (`--sources`)."""

  def __init__(self, folder: pathlib.Path = store.FOLDER):
    self.folder, self.used = folder, []

  def _find(self, file, where, match) -> list[store.Line]:
    def fits(line):
      for key, want in match.items():
        have = line.get(key, KeyError)
        if key in ("commit", "date") and isinstance(have, str) and have.startswith(want):
          continue
        if have != want:
          return False
      return where is None or where(line)
    return [line for line in store.load(f"{file}.jsonl", self.folder) if fits(line)]

  def all(self, file: str, where: Callable | None = None, **match) -> list[store.Line]:
    """The lines of `file`.jsonl whose fields equal `match` (`commit` and `date` as
    prefixes: a str, or a tuple of them) and that `where` accepts."""
    found = self._find(file, where, match)
    self.used += found
    return found

  def one(self, file: str, where: Callable | None = None, **match) -> store.Line:
    found = self._find(file, where, match)
    if len(found) != 1:
      raise LookupError(f"{len(found)} lines of {file}.jsonl match {match}, not one")
    self.used += found
    return found[0]

  def newest(self, file: str, where: Callable | None = None, **match) -> store.Line | None:
    """The matching line measured last, or None."""
    found = self._find(file, where, match)
    if not found:
      return None
    line = max(found, key=lambda line: line["date"])
    self.used.append(line)
    return line


# Number formats: one per kind of figure, so a figure reads the same everywhere.

def num(x: float, digits: int = 0) -> str:
  return f"{x:,.{digits}f}"


def pct(fraction: float, digits: int = 1) -> str:
  return f"{100 * fraction:.{digits}f} %"


def signed(x: float, digits: int = 2) -> str:
  return f"{x:+.{digits}f}".replace("-", "−")


def times(x: float) -> str:
  """A ratio: one decimal below 10, whole above."""
  return f"{x:.1f}×" if x < 10 else f"{x:.0f}×"


def two(x: float) -> str:
  return f"{x:.2f}"


def ms(x: float) -> str:
  """Milliseconds, in seconds from 1,000 on."""
  if x >= 1000:
    return f"{x / 1000:.2f} s" if x < 10_000 else f"{x / 1000:.1f} s"
  return f"{x:.0f} ms" if x >= 10 else f"{x:.2f} ms"


def duration(seconds: float) -> str:
  seconds = round(seconds)
  if seconds < 60:
    return f"{seconds} s"
  if seconds < 3600:
    m, s = divmod(seconds, 60)
    return f"{m} min {s} s" if s else f"{m} min"
  h, m = divmod(round(seconds / 60), 60)
  return f"{h} h {m} min" if m else f"{h} h"


def median_range(values, fmt=num, unit: str = "", bold: bool = False) -> str:
  """`median (low–high)` of several rounds; a single value alone."""
  values = sorted(values)
  median = fmt(statistics.median(values)) + unit
  median = f"**{median}**" if bold else median
  if len(values) == 1:
    return median
  return f"{median} ({fmt(values[0])}–{fmt(values[-1])}{unit})"


def date(line) -> str:
  return line["date"][:10]


# --- jcnn against PyTorch (compare_torch.py) -----------------------------------------

# The sessions, by the commit that stored them: oneDNN and kept memory (2026-11-28), the
# runs/tasks refactor (2026-12-01), the layout change (2026-12-07).
ONEDNN, REFACTOR, LAYOUT = "b234f5a", "aa39661", "3e73062"


def rounds(lines, model, mode, batch, dtype="float32") -> list[tuple[float, float]]:
  """(PyTorch, jcnn) images/s of each round of one case: the pairs a ratio compares."""
  by_round = {}
  for line in lines:
    if (line["model"], line["mode"], line["batch"]) == (model, mode, batch) and (
        line["framework"] == "torch" or line["dtype"] == dtype):
      by_round.setdefault(line["repeat"], {})[line["framework"]] = line["img_per_s"]
  return [(r["torch"], r["jcnn"]) for _, r in sorted(by_round.items()) if len(r) == 2]


def ratios(pairs) -> list[float]:
  return [jcnn / torch for torch, jcnn in pairs]


def compare_table(lines) -> str:
  """The Markdown table of one compare_torch.py run: medians and ranges over its rounds,
  each ratio jcnn / PyTorch within a round (the two ran back to back)."""
  bf16 = any(line["dtype"] == "bfloat16" for line in lines)
  rows = ["| model | mode | batch | PyTorch fp32 | jcnn fp32 | ratio |" +
          (" jcnn bf16 | ratio |" if bf16 else ""),
          "| --- | --- | ---: | ---: | ---: | ---: |" + (" ---: | ---: |" if bf16 else "")]
  for case in dict.fromkeys((line["model"], line["mode"], line["batch"]) for line in lines):
    pairs = rounds(lines, *case)
    cells = [*map(str, case), median_range([t for t, _ in pairs]),
             median_range([j for _, j in pairs]), median_range(ratios(pairs), two, bold=True)]
    if bf16:
      pairs = rounds(lines, *case, "bfloat16")
      cells += [median_range([j for _, j in pairs]), median_range(ratios(pairs), two)]
    rows.append("| " + " | ".join(cells) + " |")
  return "\n".join(rows)


def _session(r: Reader, commit: str | None = None):
  """The rounds of one comparison: the one `commit` stored, or the latest."""
  a_round = lambda line: "repeat" in line
  if commit is None:
    latest = r.newest("compare_torch_cpu", a_round)["date"]
    return r.all("compare_torch_cpu", a_round, date=latest)
  return r.all("compare_torch_cpu", a_round, commit=commit)


def _train_ratios(lines, model, dtype="float32") -> list[float]:
  return ratios(rounds(lines, model, "train", 128, dtype))


for _name, _commit in (("compare-torch-onednn", ONEDNN), ("compare-torch-refactor", REFACTOR),
                       ("compare-torch-layout", LAYOUT)):
  span(_name, block=True)(lambda r, commit=_commit: compare_table(_session(r, commit)))


@span("speed-headline")
def _(r):
  lines = _session(r)
  resnet, lenet = _train_ratios(lines, "resnet20"), _train_ratios(lines, "lenet5")
  return (f"ResNet-20 trains {median_range(resnet, two, '×')} and LeNet-5 "
          f"{median_range(lenet, two, '×')} as fast as PyTorch (medians and ranges of the "
          f"latest comparison's {len(resnet)} rounds, {date(lines[0])})")


@span("speed-now")
def _(r):
  return f"{two(statistics.median(_train_ratios(_session(r), 'resnet20')))}× PyTorch"


@span("torch-spread")
def _(r):
  values = [line["img_per_s"] for line in
            r.all("compare_torch_cpu", framework="torch", model="lenet5", mode="train")]
  return f"LeNet-5 train: {num(min(values))} to {num(max(values))} img/s over the stored rounds"


PLAIN, BANDED = "plain Flax on XLA's CPU path", "XLA flags and banded GEMMs"


def _earlier(r, model, state) -> str:
  return two(r.one("compare_torch_cpu", model=model, state=state)["ratio_to_torch"]) + "×"


@span("torch-earlier")
def _(r):
  first = r.one("compare_torch_cpu", model="resnet20", state=PLAIN)
  return (f"ResNet-20 trained at {num(first['img_per_s'])} img/s "
          f"({_earlier(r, 'resnet20', PLAIN)}; the issue measured "
          f"{two(first['issue_ratio_to_torch'])}×) and LeNet-5 at "
          f"{_earlier(r, 'lenet5', PLAIN)}; with XLA flags and banded GEMMs only, ResNet-20 "
          f"was at {_earlier(r, 'resnet20', BANDED)} and LeNet-5 at "
          f"{_earlier(r, 'lenet5', BANDED)}")


@span("lenet-band")
def _(r):
  return f"{_earlier(r, 'lenet5', PLAIN)} to {_earlier(r, 'lenet5', BANDED)}"


@span("bf16-cpu")
def _(r):
  x = lambda model: two(statistics.median(_train_ratios(_session(r, ONEDNN), model,
                                                         "bfloat16")))
  return f"ResNet-20 train {x('resnet20')}×, LeNet-5 {x('lenet5')}×"


@span("lenet-after")
def _(r):
  lines = _session(r, ONEDNN)
  jcnn = [line for line in lines if (line["framework"], line["model"], line["mode"],
                                     line["dtype"]) == ("jcnn", "lenet5", "train", "float32")]
  step = statistics.median(line["step_ms"] for line in jcnn)
  rate = statistics.median(line["img_per_s"] for line in jcnn)
  return (f"~{step:.1f} ms ({num(rate)} img/s in the first table against PyTorch, "
          f"{two(statistics.median(_train_ratios(lines, 'lenet5')))}×)")


# --- where a train step goes (profile_step.py, train_step.py, conv_lowering.py) -------

CONV_LOWERING = "b234f5a"  # the conv_lowering.py run with oneDNN's column (2026-11-28)


def _profile(r, state, model="resnet20"):
  return r.one("profile_step", model=model, state=state)


def _share(state, *categories) -> str:
  ms_ = state["thread_ms"]
  return f"{100 * sum(ms_[c] for c in categories) / sum(ms_.values()):.0f} %"


@span("profile", block=True)
def _(r):
  states = [_profile(r, s) for s in ("XLA default", "+ XLA flags", "now")]
  rows = ["| category | XLA default (ms) | + XLA flags (ms) | now (ms) |",
          "| --- | ---: | ---: | ---: |"]
  rows += [f"| {category} | " + " | ".join(f"{s['thread_ms'][category]:.1f}" for s in states)
           + " |" for category in states[0]["thread_ms"]]
  rows.append("| **step, wall** | " + " | ".join(f"**{s['step_ms']}**" for s in states) + " |")
  return "\n".join(rows)


@span("transposes-share")
def _(r):
  return _share(_profile(r, "XLA default"), "layout transposes")


@span("bn-onednn")
def _(r):
  before, now = (_profile(r, s)["thread_ms"]["batch norm"] for s in ("+ XLA flags", "now"))
  return f"{before:.0f} → {now:.0f} thread-ms"


@span("conv-share")
def _(r):
  now = _profile(r, "now")
  return _share(now, *(c for c in now["thread_ms"] if c.startswith("conv")))


def _switches(r, **on) -> dict:
  """{round: images/s} of the train step with oneDNN, kept memory and XLA flags as `on`."""
  return {line["round"]: line["img_per_s"] for line in r.all("train_step_switches", **on)}


@span("switches", block=True)
def _(r):
  rows = ["| oneDNN | glibc keeps memory | XLA flags | round 1 | round 2 |",
          "| --- | --- | --- | ---: | ---: |"]
  keys = dict.fromkeys((line["onednn"], line["keep_memory"], line["xla_flags"])
                       for line in r.all("train_step_switches", model="resnet20", mode="train"))
  for key in keys:
    found = _switches(r, onednn=key[0], keep_memory=key[1], xla_flags=key[2])
    cells = [num(found[k]) for k in sorted(found)]
    cells = [f"**{c}**" for c in cells] if all(key) else cells
    rows.append("| " + " | ".join([*("✓" if on else "–" for on in key), *cells]) + " |")
  return "\n".join(rows)


@span("flags-gain")
def _(r):
  on, off = (_switches(r, onednn=True, keep_memory=True, xla_flags=f) for f in (True, False))
  gains = sorted(100 * (on[k] / off[k] - 1) for k in on)
  return f"{gains[0]:.0f}–{gains[-1]:.0f} %"


@span("page-faults")
def _(r):
  f = r.one("train_step_switches", measure="page faults")
  lo, hi = f["rss_gb_kept"]
  return (f"{num(f['faults_per_step'])} faults and ~{f['fault_cpu_ms_per_step']} ms of CPU "
          f"per step (the \"sys\" time of the process was {pct(f['sys_share'], 0)} of its "
          f"total). One "
          f"malloc arena, no mmap and no trimming keep the block mapped: "
          f"{f['faults_per_45_steps'] / 1e6:.1f} M → "
          f"{f['faults_per_45_steps_kept'] / 1e6:.1f} M faults per 45 steps, for a resident "
          f"set of {lo}-{hi} GB instead of {f['rss_gb']}")


@span("temp-block")
def _(r):
  return f"{r.one('train_step_switches', measure='page faults')['temp_block_mb']} MB"


@span("conv-onednn")
def _(r):
  labels = {"resnet20 16ch": "16 channels at 32×32",
            "resnet20 16->32 /2": "the strided 16 → 32",
            "resnet20 64ch": "64 channels"}
  lines = {layer: r.one("conv_lowering", layer=layer, commit=CONV_LOWERING) for layer in labels}
  return ", ".join(f"{labels[k]} {v['xla_ms']:.1f} → {v['onednn_ms']:.1f} ms"
                   for k, v in lines.items())


@span("conv-lowering", block=True)
def _(r):
  rows = ["| layer | XLA conv | banded GEMM | oneDNN | chosen | fastest |",
          "| --- | ---: | ---: | ---: | --- | --- |"]
  for line in r.all("conv_lowering", commit=CONV_LOWERING):
    paths = {p: line[f"{p}_ms"] for p in ("xla", "banded", "onednn")}
    rows.append(f"| {line['layer']} | " + " | ".join(f"{v:g}" for v in paths.values()) +
                f" | {line['chosen']} | {min(paths, key=paths.get)} |")
  return "\n".join(rows)


@span("lenet-before")
def _(r):
  p = _profile(r, "before banded GEMMs", "lenet5")
  hlo, (lo, hi) = p["hlo_ms"], p["gmac_per_s"]
  return (f"{p['step_ms']} ms/step): XLA:CPU spent {hlo['c1 weight-gradient']} ms on C1's "
          f"weight gradient (1 input channel, computed over batch-innermost copies), "
          f"{hlo['c3 input-gradient']} ms on C3's input gradient, "
          f"{hlo['c3 weight-gradient']} ms on C3's weight gradient and "
          f"~{hlo['c1 forward']:.0f} ms on C1's forward pass — 1→6 and 6→16 channels run at "
          f"{lo}-{hi} GMAC/s")


# --- input pipeline and the whole loop ------------------------------------------------

PIPELINE, END_TO_END = "28042dd", "b234f5a"  # the runs of 2026-11-28


@span("input-pipeline", block=True)
def _(r):
  shown = {"mnist": ("MNIST", "pad 2", "lenet5", "LeNet-5"),
           "cifar10": ("CIFAR-10", "pad-4 crop + flip", "resnet20", "ResNet-20")}
  rows = ["| dataset | augmentation | img/s delivered | (train step consumes) |",
          "| --- | --- | ---: | ---: |"]
  for dataset, (name, augmentation, model, label) in shown.items():
    line = r.one("input_pipeline", dataset=dataset, commit=PIPELINE)
    step = statistics.median(j for _, j in rounds(_session(r), model, "train", 128))
    rows.append(f"| {name} | {augmentation} | {num(line['img_per_s'])} | "
                f"~{num(round(step, 2 - len(str(int(step)))))} ({label}) |")
  return "\n".join(rows)


def _end_to_end(r):
  return r.one("end_to_end", benchmark="end_to_end_summary", commit=END_TO_END)


@span("end-to-end", block=True)
def _(r):
  e = _end_to_end(r)
  return "\n".join([
      "| | value |", "| --- | ---: |",
      f"| end to end, images/s (median of the logged windows) | "
      f"{e['end_to_end_img_per_s']:.1f} |",
      f"| bare compiled step (`train_step.py`, same model and batch) | "
      f"{e['bare_step_img_per_s']:.1f} |",
      f"| **end to end / bare** | "
      f"**{two(e['end_to_end_img_per_s'] / e['bare_step_img_per_s'])}** |",
      f"| train-step compile, first start | {e['cold_compile_s']:.3f} s |",
      f"| train-step compile, second start (from the cache) | {e['warm_compile_s']:.3f} s |",
      f"| **second / first** | **{e['warm_compile_s'] / e['cold_compile_s']:.3f}** |",
      f"| first step's wall time (trace + compile + one step), first / second start | "
      f"{e['cold_first_step_s']:.2f} s / {e['warm_first_step_s']:.2f} s |"])


@span("compile-cache")
def _(r):
  e = _end_to_end(r)
  return (f"compiles ResNet-20's train step in {two(e['warm_compile_s'])} s instead of "
          f"{two(e['cold_compile_s'])} s")


@span("cli-startup")
def _(r):
  def seconds(measured):
    line = r.newest("cli_startup", measured=measured)
    return (f"{two(line['median_s'])} s ({two(line['min_s'])}–{two(line['max_s'])} s, "
            f"{line['rounds']} rounds)")
  return (f"answers in {seconds('python -m eval --help')}; a command's own help, which "
          f"loads JAX, in {seconds('python -m eval predict --help')}, and "
          f"`python -m train --helpshort` in {seconds('python -m train --helpshort')}")


@span("before-onednn-run")
def _(r):
  line = r.one("accuracy", config="resnet20_cifar10_short", commit="a245290")
  return (f"a {duration(line['wall_s'])} run of resnet20_cifar10_short.py trained at "
          f"~{line['img_per_s']} img/s end to end")


# --- configs, knock-outs and studies (accuracy.jsonl, studies.jsonl) -----------------

CONFIGS = (  # config, family, data, the paper's number
    ("default", "LeNet-5", "digits 8×8 → 32×32 (embedded)", None),
    ("lenet5_mnist", "LeNet-5", "MNIST", None),
    ("lenet5_1998_mnist", "LeNet-5, 1998 paper's", "MNIST", "paper: 99.05 %"),
    ("alexnet_1tower_cifar10", "AlexNet", "CIFAR-10 at 64×64", None),
    ("vgg11_bn_cifar10", "VGG", "CIFAR-10, 2,500 / 500 images at 224×224", None),
    ("nin_cifar10", "NiN", "CIFAR-10, 2 epochs", "paper, full: 91.2 %"),
    ("inception_v2_cifar10", "Inception (BN-Inception)", "CIFAR-10", None),
    ("mobilenet_v1_cifar10", "MobileNet v1, width 0.5", "CIFAR-10", None),
    ("resnet18_cifar10", "ResNet (ImageNet-style)", "CIFAR-10", None),
    ("resnet20_cifar10_short", "ResNet (CIFAR)", "CIFAR-10, 4 epochs", None),
    ("resnet20_cifar10_short_streamed", "ResNet (CIFAR)",
     "CIFAR-10's JPEGs streamed, 4 epochs", None),
    ("resnet20_cifar10", "ResNet (CIFAR)", "CIFAR-10, paper's 164 epochs", "paper: 91.25 %"),
)


def _latest_run(r, config, key):
  """The config's newest run as it is (no field overridden on the command line) that
  stored `key`, or None."""
  return r.newest("accuracy", config=config, where=lambda line: key in line and not {
      "model", "num_epochs", "dtype", "seeds", "ablation"} & set(line))


def _config_top1(r, config) -> str:
  line = _latest_run(r, config, "top1")
  if line is None:
    return ""
  return pct(line["top1"]) + ("" if line["device"] == "cpu" else ", GPU")


def _config_time(r, config) -> str:
  line = _latest_run(r, config, "wall_s")
  if line:
    return duration(line["wall_s"]) + ("" if line.get("estimate") else ", measured")
  if config == "resnet20_cifar10":  # the short run's rate over the full recipe's steps
    short = _latest_run(r, "resnet20_cifar10_short", "steps")
    steps = importlib.import_module("train.configs.resnet20_cifar10").get_config()
    wall = short["wall_s"] * steps.num_train_steps / short["steps"]
    return f"~{duration(wall)}, from resnet20_cifar10_short's rate: use a GPU"
  raise LookupError(f"no time stored for {config}")


@span("configs", block=True)
def _(r):
  rows = ["| config | family | data | top-1 | 2-core CPU |", "|---|---|---|---|---|"]
  for config, family, data, paper in CONFIGS:
    top1 = _config_top1(r, config)
    if paper:
      top1 = f"{top1} ({paper})" if top1 else paper
    rows.append(f"| `{config}` | {family} | {data} | {top1} | {_config_time(r, config)} |")
  return "\n".join(rows)


@span("default-job")
def _(r):
  return (f"{_config_top1(r, 'default')} test accuracy (≥ 97 % promised) in "
          f"{duration(_latest_run(r, 'default', 'wall_s')['wall_s'])}")


@span("knockouts")
def _(r):
  resnet = _latest_run(r, "resnet20_cifar10_short", "wall_s")
  plain = r.one("accuracy", config="resnet20_cifar10_short", model="plain20", seed=0)
  cut = r.one("accuracy", ablation="blocks", model="resnet20")
  chance = r.one("accuracy", ablation="blocks", model="plain20")
  points = lambda x: f"{100 * x:.0f}"
  return (f"(`resnet20_cifar10_short.py`, {duration(resnet['wall_s'])} for ResNet-20 on this "
          f"CPU), removing one block costs ResNet-20 {points(resnet['top1'] - cut['top1_max'])}"
          f"–{points(resnet['top1'] - cut['top1_min'])} points ({pct(resnet['top1'])} intact) "
          f"and sends plain-20 to chance ({points(chance['top1_min'])}–"
          f"{points(chance['top1_max'])} %, from {pct(plain['top1'])})")


def _study_config(name: str):
  return importlib.import_module(f"train.studies.{name}").get_config()


def _setup(name: str) -> str:
  """What a study trains on, read from its config."""
  c = _study_config(name)
  data = "CIFAR-10" if "cifar10" in str(c.data_dir) else c.dataset
  count = f"{c.train_examples:,} images" if c.train_examples else "all images"
  return f"{data}, {count}, {c.num_epochs} epochs"


class _Study:
  """One study's stored lines: its variants' statistics and its own line (runs, time)."""

  def __init__(self, r, name):
    self.name, self.lines = name, r.all("studies", study=name)
    self.run = next(line for line in self.lines if "runs" in line)

  def __getitem__(self, variant):
    return next(line for line in self.lines if line.get("variant") == variant)

  def mean(self, variant, key="top1") -> float:
    return self[variant][key]["mean"]

  def vs(self, *variants, sep=" vs ") -> str:
    """Test top-1, mean ± std, of the variants."""
    return sep.join(f"{self[v]['top1']['mean']:.2f} ± {self[v]['top1']['std']:.2f}"
                    for v in variants) + " %"

  def delta(self, variant, baseline) -> str:
    """`python -m eval study`'s Δ top-1 of `variant` against `baseline`, in points."""
    delta = self[variant]["delta_top1"]
    assert delta["vs"] == baseline, (self.name, variant, delta["vs"])
    return f"{signed(delta['diff'])} points"

  def steps(self, variant, baseline) -> tuple[str, float]:
    """Steps to the study's target and final top-1, and how many times fewer steps."""
    a, b = (self.mean(v, "steps_to_target") for v in (variant, baseline))
    return (f"{a:.0f} vs {b:.0f} steps to {100 * self.run['target']:.0f} %; "
            f"{self.mean(variant):.1f} vs {self.mean(baseline):.1f} %", b / a)


def _studies_rows(r):
  s = lambda name: _Study(r, name)
  relu, relu_x = s("relu_vs_tanh").steps("relu", "tanh")
  bn, bn_x = s("batch_norm").steps("bn", "none")
  plain = s("plain_vs_residual")
  train = lambda v: f"{plain.mean(v, 'train_top1'):.1f}"
  c = _study_config("plain_vs_residual")
  dropout = s("dropout")
  loss = dropout.mean("dropout", "test_loss") / dropout.mean("none", "test_loss") - 1
  return (
      ("data_augmentation", "crops cut test error (AlexNet §4.1)",
       s("data_augmentation").vs("crop", "none"),
       f"holds ({s('data_augmentation').delta('crop', 'none')})"),
      ("relu_vs_tanh", "ReLU trains ~6× faster (AlexNet Fig. 1)", relu,
       f"direction holds, {relu_x:.1f}× not 6×"),
      ("lrn", "LRN cuts error 2 points (AlexNet §3.3)", s("lrn").vs("lrn", "none"),
       f"reversed ({s('lrn').delta('lrn', 'none')})"),
      ("overlapping_pooling", "3×3/2 pooling beats 2×2/2 (AlexNet §3.4)",
       s("overlapping_pooling").vs("overlapping", "adjacent"),
       f"direction holds ({s('overlapping_pooling').delta('overlapping', 'adjacent')}), "
       "not resolved"),
      ("gap_vs_fc", "GAP head generalises better (NiN Table 5)", s("gap_vs_fc").vs("gap", "dense"),
       f"smaller gap, {s('gap_vs_fc').delta('gap', 'dense')}"),
      ("kernel_stack", "three 3×3 beat one 7×7 (VGG §2.3)",
       s("kernel_stack").vs("3x3_stack", "7x7"),
       f"does not hold ({s('kernel_stack').delta('3x3_stack', '7x7')})"),
      ("batch_norm", "BN: far fewer steps, higher rates (BN §4.2)", bn,
       f"holds in part ({bn_x:.1f}×, not 14×)"),
      ("plain_vs_residual", "plain-56 trains worse than plain-20, ResNet-56 better than "
       "ResNet-20 (ResNet Fig. 6)",
       f"train {train('plain56')} vs {train('plain20')} % (plain), {train('resnet56')} vs "
       f"{train('resnet20')} % (residual)",
       f"first half only: {c.num_epochs * (c.train_examples // c.batch_size)} steps too few"),
      ("shortcuts", "options A < B < C, all close (ResNet Table 3)",
       s("shortcuts").vs("A", "B", "C", sep=" / "), "close holds, order does not"),
      ("dropout", "dropout cuts overfitting (AlexNet §4.2)", dropout.vs("dropout", "none"),
       f"does not hold in top-1; test loss {signed(100 * loss, 0)} %"),
      ("label_smoothing", "+0.2 points top-1 (Inception v3 §7)",
       s("label_smoothing").vs("smoothed", "one_hot"),
       f"direction holds ({s('label_smoothing').delta('smoothed', 'one_hot')}), "
       "not resolved"),
  )


@span("studies", block=True)
def _(r):
  rows = ["| study | claim | data | measured | verdict at this scale | time |",
          "|---|---|---|---|---|---|"]
  for name, claim, measured, verdict in _studies_rows(r):
    rows.append(f"| `{name}` | {claim} | {_setup(name)} | {measured} | {verdict} | "
                f"{duration(_Study(r, name).run['wall_s'])} |")
  return "\n".join(rows)


# --- R-CNN against SPP-net (rcnn_vs_sppnet.py, accuracy.jsonl) -------------------------

# The runs each setup's row shows, by the commit that stored them (2026-12-06).
RCNN_RUNS = {"paper": "558a2fe", "photos": "4fb7806", "mnist": "4fb7806"}
SETUPS = {
    "paper": "**paper**: ZF-5 for both, raccoon at 688 px shorter side, 224×224 warps, "
             "fast search",
    "photos": "photos (raccoon at 480 px, small_vgg, 64×64 warps, quality search)",
    "mnist": "mnist configs (LeNet-5, 128×128 canvases, 32×32 warps)",
}


def _rcnn(r, setup: str):
  return r.one("rcnn_vs_sppnet", summary=True, setup=setup, commit=RCNN_RUNS[setup])


@span("rcnn-sppnet-accuracy", block=True)
def _(r):
  rcnn, spp = r.one("accuracy", config="rcnn_mnist"), r.one("accuracy", config="sppnet_mnist")
  cnn = _rcnn(r, "mnist")
  row = lambda name, d, wall, cnn_ms: (
      f"| {name} | **{d['map50']:.3f}** | {d['map50_11pt']:.3f} | {d['coco_ap']:.3f} | "
      f"{wall} | {cnn_ms:.2f} |")
  return "\n".join([
      "| pipeline | VOC mAP@0.5 | 11-point | COCO AP | wall time | CNN ms / canvas at test |",
      "| --- | ---: | ---: | ---: | --- | ---: |",
      row("R-CNN (LeNet-5, F6 SVMs)", rcnn, f"{duration(rcnn['wall_s'])} "
          f"({duration(rcnn['selective_search_s'])} of it selective search)",
          cnn["median_rcnn_cnn_ms"]),
      row("SPP-net (LeNet-5 C1-S4, pyramid, fc6/fc7)", spp,
          f"{duration(spp['wall_s'])} (proposals copied)", cnn["median_sppnet_cnn_ms"])])


def _medians(r, setup):
  """R-CNN's whole CNN and its part to pool5, SPP-net's whole CNN and its part to pool5."""
  s = _rcnn(r, setup)
  return tuple(s[f"median_{k}_ms"] for k in ("rcnn_cnn", "rcnn_pool5", "sppnet_cnn",
                                               "sppnet_pool5"))


@span("canvas-cnn")
def _(r):
  s = _rcnn(r, "mnist")
  return (f"R-CNN's CNN takes {ms(s['median_rcnn_cnn_ms'])} a canvas and SPP-net's "
          f"{ms(s['median_sppnet_cnn_ms'])}: ~{s['median_proposals']:.0f} warped 32×32 windows")


@span("rcnn-sppnet-speed", block=True)
def _(r):
  rows = ["| setup | proposals | selective search | R-CNN CNN | SPP-net CNN | ratio | "
          "R-CNN to pool5 | SPP-net conv + pyramid | ratio | R-CNN CNN / SPP-net conv + "
          "pyramid |", "| --- |" + " ---: |" * 9]
  for setup, label in SETUPS.items():
    s = _rcnn(r, setup)
    whole, pool5, spp, spp_pool5 = _medians(r, setup)
    bold = (lambda x: f"**{x}**") if setup == "paper" else str
    rows.append(
        f"| {label} | {s['median_proposals']:.0f} | {ms(s['median_selective_search_ms'])} | "
        f"{ms(whole)} | {ms(spp)} | {times(whole / spp)} | {ms(pool5)} | {ms(spp_pool5)} "
        f"({ms(s['median_sppnet_conv_ms']).removesuffix(' ms')} conv) | "
        f"{bold(times(pool5 / spp_pool5))} | {bold(times(whole / spp_pool5))} |")
  return "\n".join(rows)


@span("rcnn-paper")
def _(r):
  whole, pool5, spp, spp_pool5 = _medians(r, "paper")
  return (f"R-CNN's conv layers take {ms(pool5)} an image and SPP-net's conv pass and "
          f"pyramid {ms(spp_pool5)}: **{times(pool5 / spp_pool5)} to pool5** (the paper: "
          f"30-170×; R-CNN's whole CNN, {ms(whole)} in a timing of its own, against the "
          f"same: {times(whole / spp_pool5)}). With the fc layers, which both run on every "
          f"window, SPP-net takes {ms(spp)}: {times(whole / spp)} in all")


@span("rcnn-paper-bullets")
def _(r):
  whole, pool5, spp, spp_pool5 = _medians(r, "paper")
  return (f"{times(pool5 / spp_pool5)} to pool5 (the issue's measure, R-CNN's whole CNN "
          f"against SPP-net's conv pass and pooling: {times(whole / spp_pool5)}).\n"
          f"- **The whole CNN is {times(whole / spp)}, not 24-64×.**")


@span("rcnn-paper-images")
def _(r):
  images = r.all("rcnn_vs_sppnet", lambda line: "image" in line, commit=RCNN_RUNS["paper"])
  listed = lambda texts: f"{', '.join(texts[:-1])} and {texts[-1]}"
  ratio = lambda a, b: listed([times(line[a] / line[b]) for line in images])
  return (f"({listed([num(line['proposals']) for line in images])} proposals): to pool5 "
          f"{ratio('rcnn_pool5_ms', 'sppnet_pool5_ms')}; whole CNN "
          f"{ratio('rcnn_cnn_ms', 'sppnet_cnn_ms')}")


@span("rcnn-paper-conv")
def _(r):
  s = _rcnn(r, "paper")
  conv = s["median_sppnet_conv_ms"]
  return (f"R-CNN costs {ms(s['median_rcnn_cnn_ms'] / s['median_proposals'])} per window "
          f"(a ZF-5 pass at 224×224 each); "
          f"SPP-net's conv pass costs {ms(conv)} and its pyramid "
          f"{ms(s['median_sppnet_pool5_ms'] - conv)}")


# --- Faster R-CNN (faster_rcnn.py, accuracy.jsonl) ---------------------------------------

# The mnist runs, by the commit that stored them: after fc6 read the map whole (the
# table's first rows), before it (after the NMS change), before the NMS change.
MNIST_NOW, MNIST_BEFORE_FC6, MNIST_BEFORE_NMS = "ef45994", "536fbc8", "99d9931"
# The raccoon runs: re-trained (2026-12-06) and the first (2026-12-01, backfilled).
RACCOON_NOW, RACCOON_FIRST = "2026-12-06", "2026-12-01"
# The VGG-16 runs since RoI pooling's table stopped at the rois' window sizes (57958b9),
# the NMS change (536fbc8) included, and the runs before it.
VGG16_NOW, VGG16_BEFORE = ("57958b9", "536fbc8"), ("4fb7806", "5573e63")
VGG16_ROWS = (  # label, input height, the run's commit and a part of its command
    ("1000×1000", 1000, "57958b9", ""), ("600×1000", 600, "57958b9", "--seconds 40"),
    ("600×1000, `--seconds 20`", 600, "57958b9", "--seconds 20"),
    ("600×1000, `--seconds 20`, after the NMS change", 600, "536fbc8", ""))


def _slower(line) -> float:
  """How many times slower the detector's train step is than its backbone's."""
  return line["backbone"] / line["detector"]


def _over(line) -> float:
  """The detector's inference time over its backbone's."""
  return line["detector"] / line["backbone"]


def _mnist(r, measure, commit):
  return r.one("faster_rcnn_mnist", measure=measure, commit=commit)


def _raccoon(r, measure, day):
  return r.one("faster_rcnn_raccoon", measure=measure, date=day)


@span("faster-rcnn-bf16")
def _(r):
  f32 = r.one("accuracy", config="faster_rcnn_digits", dtype="float32")
  b16 = r.one("accuracy", config="faster_rcnn_digits", dtype="bfloat16")
  seed0 = sorted(r.all("accuracy", config="faster_rcnn_digits", seed=0),
                 key=lambda line: line["date"])
  return (f"On the digits config (seeds 0-2, measured {date(b16)}, before the NMS-tile and "
          f"fc6 changes; float32's seed 0 measured {seed0[0]['map50']:.3f} on "
          f"{date(seed0[0])}, {seed0[-1]['map50']:.3f} on {date(seed0[-1])}) it reached VOC "
          f"mAP@0.5 "
          f"{b16['map50_mean']:.3f} ± {b16['map50_std']:.3f} against float32's "
          f"{f32['map50_mean']:.3f} ± {f32['map50_std']:.3f} (paired difference "
          f"{signed(b16['paired_difference_mean'], 3)} ± {b16['paired_difference_std']:.3f}, "
          f"within the seeds' spread). On this CPU it is slower ({duration(b16['wall_s'])} "
          f"against {duration(f32['wall_s'])})")


def _faster_rcnn_mnist_rerun(r):
  return r.one("accuracy", config="faster_rcnn_mnist", commit="9f23b04")


@span("faster-rcnn-mnist-run")
def _(r):
  line = _faster_rcnn_mnist_rerun(r)
  return f"VOC mAP@0.5 {line['map50']:.4f}, {duration(line['wall_s'])}"


@span("faster-rcnn-mnist-map")
def _(r):
  return f"{_faster_rcnn_mnist_rerun(r)['map50']:.4f}"


@span("faster-rcnn-overhead", block=True)
def _(r):
  inf, train = (_mnist(r, m, MNIST_NOW) for m in ("inference_ms_per_image",
                                                   "train_images_per_s"))
  inf0, train0 = (_mnist(r, m, MNIST_BEFORE_FC6) for m in ("inference_ms_per_image",
                                                           "train_images_per_s"))
  return "\n".join([
      "| measure | Faster R-CNN | backbone alone | ratio | issue's target |",
      "| --- | ---: | ---: | ---: | ---: |",
      f"| inference, ms/image (batch {inf['batch']}) | {inf['detector']:.2f} | "
      f"{inf['backbone']:.2f} | {times(_over(inf))} | ≤ 1.3× |",
      f"| train, images/s (batch {train['batch']}) | {train['detector']:.1f} | "
      f"{train['backbone']:.1f} | {times(_slower(train))} slower | ≤ 1.5× |",
      f"| before fc6 read the map whole: inference / train | {inf0['detector']:.2f} / "
      f"{train0['detector']:.1f} | {inf0['backbone']:.2f} / {train0['backbone']:.1f} | "
      f"{times(_over(inf0))} / {times(_slower(train0))} | |"])


def _proposal_row(label, p, digits=2, bold=False, approximate=False):
  shared, ss = p["rpn_on_shared_features"], p["selective_search_fast"]
  mark = (lambda x: f"**{x}**") if bold else str
  return (f"| {label} | {p['rpn']:.{digits}f} | {'~' if approximate else ''}"
          f"{mark(f'{shared:.{digits}f}')} | {ss:.1f} | {times(ss / p['rpn'])} "
          f"({mark(times(ss / shared))}) |")


@span("faster-rcnn-proposals", block=True)
def _(r):
  m = "proposals_ms_per_image"
  first = _raccoon(r, m, RACCOON_FIRST)
  return "\n".join([
      "| proposals, ms/image | RPN (backbone + RPN + NMS, jit) | RPN on the shared features | "
      "selective search, fast | speedup (shared) |", "| --- | ---: | ---: | ---: | ---: |",
      _proposal_row("mnist canvases, 128×128, trained", _mnist(r, m, MNIST_NOW), bold=True),
      _proposal_row("the same, a run before", _mnist(r, m, MNIST_BEFORE_FC6)),
      _proposal_row("the same, before the NMS change", _mnist(r, m, MNIST_BEFORE_NMS)),
      _proposal_row("raccoon photos, 256-384 px (selective search on the originals)",
                    _raccoon(r, m, RACCOON_NOW), digits=1),
      _proposal_row(f"the same, {date(first)} (a run of that day)", first, digits=1,
                    approximate=True)])


@span("raccoon-overhead")
def _(r):
  i, t, p = (_raccoon(r, m, RACCOON_NOW) for m in ("inference_ms_per_image",
                                                    "train_images_per_s",
                                                    "proposals_ms_per_image"))
  i0, t0 = (_raccoon(r, m, RACCOON_FIRST) for m in ("inference_ms_per_image",
                                                     "train_images_per_s"))
  shared = p["rpn_on_shared_features"]
  return (f"inference {i['detector']:.1f} against {i['backbone']:.1f} ms/image "
          f"({times(_over(i))}; {times(i0['ratio'])} on {date(i0)}, before fc6 read the map "
          f"whole), training {t['detector']:.1f} against {t['backbone']:.1f} images/s "
          f"({times(_slower(t))}; {times(t0['ratio'])} then). The RPN's {p['rpn']:.1f} ms "
          f"include the backbone's {i['backbone']:.0f} ms it shares with the detector; its "
          f"own cost is {shared:.1f} ms, {times(p['selective_search_fast'] / shared)} less "
          f"than selective search")


@span("raccoon-speedups")
def _(r):
  p = _raccoon(r, "proposals_ms_per_image", RACCOON_NOW)
  ss = p["selective_search_fast"]
  return (f"{times(ss / p['rpn'])} whole, {times(ss / p['rpn_on_shared_features'])} for the "
          f"shared-feature RPN")


@span("mnist-rpn")
def _(r):
  now, *before = (_mnist(r, "proposals_ms_per_image", c)
                  for c in (MNIST_NOW, MNIST_BEFORE_FC6, MNIST_BEFORE_NMS))
  x = lambda p: times(p["selective_search_fast"] / p["rpn_on_shared_features"])
  return (f"{now['rpn_on_shared_features']:.2f} ms against "
          f"{now['selective_search_fast']:.0f} ms of selective search: {x(now)} "
          f"({x(before[0])} and {x(before[1])} in the two runs before it, the second before "
          f"the NMS change)")


def _vgg16(r, measure, height, commits, command=""):
  return r.all("faster_rcnn_vgg16", lambda line: line["input"][0] == height and
               command in line["command"], measure=measure, commit=commits)


@span("vgg16-overhead")
def _(r):
  def ratios_(height):
    return ([_over(line) for line in _vgg16(r, "inference_ms_per_image", height, VGG16_NOW)],
            [_slower(line) for line in _vgg16(r, "train_images_per_s", height, VGG16_NOW)])
  (big_i, big_t), (small_i, small_t) = ratios_(1000), ratios_(600)
  return (f"{median_range(big_i, two, '×')} its backbone alone at test and "
          f"{median_range(big_t, two, '×')} in training on this CPU; at 600×1000 "
          f"(`--input 600x1000`) {median_range(small_i, two, '×')} and "
          f"{median_range(small_t, two, '×')}, medians and ranges of {len(small_i)} runs")


@span("vgg16-before")
def _(r):
  def both(height):
    (i,), (t,) = (_vgg16(r, m, height, VGG16_BEFORE) for m in ("inference_ms_per_image",
                                                              "train_images_per_s"))
    return f"{two(_over(i))}× / {two(_slower(t))}×"
  return f"{both(600)} at 600×1000 and {both(1000)} at 1000×1000"


@span("vgg16-overhead-table", block=True)
def _(r):
  rows = ["| input | inference ms/image: Faster R-CNN / backbone | ratio | train s/image: "
          "Faster R-CNN / backbone | ratio |", "| --- | ---: | ---: | ---: | ---: |"]
  for label, height, commit, command in VGG16_ROWS:
    (i,), (t,) = (_vgg16(r, m, height, commit, command) for m in ("inference_ms_per_image",
                                                                  "train_images_per_s"))
    x = (lambda v: f"{two(v)}×") if "`" in label else (lambda v: f"**{two(v)}×**")
    rows.append(f"| {label} | {num(i['detector'])} / {num(i['backbone'])} | {x(_over(i))} | "
                f"{1 / t['detector']:.2f} / {1 / t['backbone']:.2f} | {x(_slower(t))} |")
  rows.append("| issue's target | | ≤ 1.3× | | ≤ 1.5× |")
  return "\n".join(rows)


@span("vgg16-proposals", block=True)
def _(r):
  rows = ["| proposals, ms/image | RPN with the backbone | RPN on the shared features | "
          "selective search, fast | speedup (shared) |", "| --- | ---: | ---: | ---: | ---: |"]
  for label, (_, height, commit, command) in zip(
      ("raccoon, VGG-16 at 1000×1000", "raccoon, VGG-16 at 600×1000",
       "the same, after the NMS change"), (VGG16_ROWS[0], VGG16_ROWS[1], VGG16_ROWS[3])):
    (p,) = _vgg16(r, "proposals_ms_per_image", height, commit, command)
    shared, ss = p["rpn_on_shared_features"], p["selective_search_fast"]
    rows.append(f"| {label} | {num(p['rpn'])} | {shared:.1f} | {num(ss)} | "
                f"{times(ss / shared)} |")
  return "\n".join(rows)


# --- one machine's cores, the GPU ------------------------------------------------------

LAYOUT_RUNS = ("2b2826a", "7a0df03")  # the three rounds of 2026-12-02
GPU_RUN = "e83b3b6"  # the H200 session of 2026-11-28
LAYOUTS = {(1, 1): "1 process × 1 device, 2 threads",
           (1, 2): "1 process × 2 devices, 1 thread each",
           (2, 2): "2 processes × 1 device, 1 thread each (gloo)"}


def _layout_rounds(r, processes, devices) -> list[float]:
  return [line["img_per_s"] for line in r.all("cpu_layouts", lambda line: "kernels" not in line,
                                               processes=processes, devices=devices,
                                               commit=LAYOUT_RUNS)]


def _layout_note(r, processes, devices, kernels, omp_threads):
  return r.one("cpu_layouts", processes=processes, devices=devices, kernels=kernels,
               omp_threads=omp_threads)["img_per_s"]


@span("cpu-layouts", block=True)
def _(r):
  rows = ["| layout (resnet20, train, global batch 128, fp32) | round 1 | round 2 | round 3 | "
          "median |", "| --- | ---: | ---: | ---: | ---: |"]
  for layout, label in LAYOUTS.items():
    values = _layout_rounds(r, *layout)
    rows.append(f"| {label} | " + " | ".join(map(num, values)) +
                f" | **{num(statistics.median(values))}** |")
  return "\n".join(rows)


@span("cpu-layouts-sentence")
def _(r):
  parts = []
  for layout, label in LAYOUTS.items():
    values = sorted(_layout_rounds(r, *layout))
    low_high = f"{num(values[0])}–{num(values[-1])}"
    parts.append(f"{label.split(',')[0]} {num(statistics.median(values))}" +
                 (f" ({low_high})" if parts else
                  f" img/s (medians of {len(values)} rounds; {low_high})"))
  return ", ".join(parts)


@span("cpu-layouts-xla")
def _(r):
  return (f"trained at {_layout_note(r, 1, 2, 'xla', '1')} img/s (`JCNN_KERNELS=xla`, round "
          f"1), and 2 processes at {_layout_note(r, 2, 2, 'xla', '1')}. Per-device oneDNN "
          f"gives {num(_layout_rounds(r, 1, 2)[0])} and {num(_layout_rounds(r, 2, 2)[0])} in "
          f"that round")


@span("cpu-layouts-omp")
def _(r):
  return f"ran at {_layout_note(r, 1, 2, 'onednn', None)} img/s"


@span("cpu-layouts-omp-fixed")
def _(r):
  return f"{_layout_note(r, 1, 2, 'onednn', '1')} img/s in that run"


@span("gpu", block=True)
def _(r):
  rows = ["| model | input | batch | dtype | img/s | step ms | compile s | model TFLOP/s | MFU |",
          "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
  sides = {"resnet50": 224, "resnet20": 32}
  for line in r.all("gpu_h200", framework="jcnn", commit=GPU_RUN):
    tflops = line["model_tflop_per_s"]
    rows.append(f"| {line['model']} | {sides[line['model']]}² | {line['batch']} | "
                f"{line['dtype']} | {num(line['img_per_s'])} | {line['step_ms']:.1f} | "
                f"{line['compile_s']:.1f} | {tflops:.1f} | "
                f"{100 * tflops / line['peak_tflop_per_s']:.1f} % |")
  return "\n".join(rows)


@span("gpu-wall")
def _(r):
  return f"{duration(r.one('gpu_h200', script='gpu.sh')['wall_s'])} in all"


# --- the ZFNet section ------------------------------------------------------------------

@span("small-vgg-mnist")
def _(r):
  line = r.one("accuracy", config="lenet5_mnist", model="small_vgg")
  return (f"`small_vgg` trained {line['num_epochs']} epochs on MNIST, {pct(line['top1'])}, "
          f"{duration(line['wall_s'])}")


@span("probe")
def _(r):
  def top1(dataset, n):
    p = r.one("accuracy", probe="runs/small_vgg_mnist", dataset=dataset, train_examples=n)
    return p["frozen_top1"], p["random_top1"], p["scratch_top1"]
  frozen, random, scratch = top1("digits", 100)
  three = lambda c: " / ".join(f"{100 * x:.1f}" for x in c) + " %"
  return (f"100 labelled `digits` → {pct(frozen)} frozen, {pct(random)} random, "
          f"{pct(scratch)} from scratch; `fashion_mnist` → {three(top1('fashion_mnist', 100))} "
          f"(100 images) and {three(top1('fashion_mnist', 1000))} (1,000)")


@span("alexnet-zfnet")
def _(r):
  alex, zf = (r.one("accuracy", config=c, num_epochs=3)
              for c in ("alexnet_1tower_cifar10", "zfnet_cifar10"))
  return (f"{duration(alex['wall_s'])} and {duration(zf['wall_s'])} here; "
          f"{pct(alex['top1'])} and {pct(zf['top1'])} top-1")


@span("viz-times")
def _(r):
  v = r.one("eval_viz", run="runs/small_vgg_cifar10")
  notebook = r.one("eval_viz", notebook="colabs/zfnet_visualisation.ipynb")
  lo, hi = v["other_figure_s"]
  return (f"`top9` over {num(v['top9_images'])} test images {v['top9_s_per_layer']} s per "
          f"layer, `evolution` over {v['evolution_checkpoints']} checkpoints × "
          f"{v['evolution_layers']} layers {v['evolution_s']} s, each other figure {lo}–{hi} s. "
          f"`colabs/zfnet_visualisation.ipynb` shows all of them on a CIFAR-10 run trained in "
          f"{duration(notebook['train_wall_s'])}")


# --- pretrained networks (pretrained_parity.py) ----------------------------------------

@span("pretrained-maps", block=True)
def _(r):
  """Every map `jcnn.pretrained` has, from its newest parity line: a map without one
  stops the rendering, so none is published untested."""
  rows = ["| source | network | zoo model | parameters | file tested | "
          "max relative logit error |", "| --- | --- | --- | ---: | --- | ---: |"]
  stored = (r.folder / "pretrained_parity.jsonl").exists()
  for source in sorted(pretrained.SOURCES):
    for model in sorted(pretrained.SOURCES[source]):
      line = r.newest("pretrained_parity", source=source, model=model) if stored else None
      if line is None:
        raise LookupError(f"pretrained_parity.jsonl has no line for the {source} map of "
                          f"{model}: python benchmarks/pretrained_parity.py --source "
                          f"{source} --model {model} --save")
      network = line["source_network"].removeprefix(f"{source} ")
      rows.append(f"| {source} | {network} | `{model}` | {num(line['num_params'])} | "
                  f"`{line['file']}` | {line['max_rel_logit_error']:.1e} |")
  return "\n".join(rows)


# --- rendering ---------------------------------------------------------------------------

def render_text(text: str, folder: pathlib.Path = store.FOLDER):
  """`text` with every span rendered, and {span: the lines it read}."""
  sources = {}

  def fill(match):
    name = match.group(1)
    if name not in SPANS:
      raise KeyError(f"<!-- results:{name} --> has no renderer in benchmarks/render.py")
    fn, block = SPANS[name]
    reader = Reader(folder)
    body = fn(reader)
    sources[name] = sorted({line.where for line in reader.used},
                           key=lambda w: (w.split(":")[0], int(w.split(":")[1])))
    body = f"\n{body}\n" if block else body
    return f"<!-- results:{name} -->{body}<!-- /results:{name} -->"

  return MARK.sub(fill, text), sources


def check(root: pathlib.Path = REPO, folder: pathlib.Path = store.FOLDER) -> list[str]:
  """What differs between the pages (DOCS) under `root` and their rendering: one entry
  per span (with a diff), and every renderer no page uses."""
  problems, seen = [], set()
  for doc in DOCS:
    text = (root / doc).read_text()
    rendered, sources = render_text(text, folder)
    seen |= set(sources)
    now = {m.group(1): m.group(2) for m in MARK.finditer(text)}
    for m in MARK.finditer(rendered):
      if now[m.group(1)] != m.group(2):
        diff = difflib.unified_diff(now[m.group(1)].splitlines(), m.group(2).splitlines(),
                                    "as written", "as rendered", lineterm="", n=0)
        problems.append(f"{doc}: {m.group(1)} differs from the stored results\n" +
                        "\n".join(diff))
  problems += [f"span {name} is in no page" for name in sorted(set(SPANS) - seen)]
  return problems


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--check", action="store_true", help="exit 1 when a page differs")
  p.add_argument("--sources", action="store_true", help="print each span's stored lines")
  args = p.parse_args(argv)
  if args.check:
    problems = check()
    print("\n".join(problems) if problems else "the pages equal the stored results")
    return 1 if problems else 0
  for doc in DOCS:
    path = REPO / doc
    rendered, sources = render_text(path.read_text())
    if args.sources:
      for name, where in sources.items():
        print(f"{doc} {name}: {' '.join(where)}")
    else:
      path.write_text(rendered)
  return 0


if __name__ == "__main__":
  sys.exit(main())
