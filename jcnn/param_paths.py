"""Parameters named by their paths and chosen by regular expressions: what
`config.freeze`, `config.lr_multipliers` and `config.init_exclude` read.

A path joins the keys from the top of a params (or batch_stats) tree with "/":
"stage1_block1/conv1/kernel", "fc/bias". A regex chooses the paths it finds anywhere in
them (`re.search`): "fc" chooses "fc/kernel" and "fc/bias", and also "fc6/kernel";
"^fc/" only the first two.
"""
import re
from typing import Callable

import jax


def name(key_path) -> str:
  """A pytree key path as "stage1_block1/conv1/kernel"."""
  return jax.tree_util.keystr(tuple(key_path), simple=True, separator="/")


def names(tree) -> list[str]:
  """The paths of `tree`'s leaves, in its order."""
  return [name(path) for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


def label(fn: Callable[[str], object], tree):
  """`tree` with each leaf replaced by `fn(its path)`. Optax's masked trees work too:
  their `MaskedNode`s have no leaves, so they stay as they are."""
  return jax.tree_util.tree_map_with_path(lambda path, _: fn(name(path)), tree)


def compile_field(config, field: str) -> re.Pattern:
  """`config.<field>` as a compiled regex; a bad one is a ValueError naming the field."""
  try:
    return re.compile(config[field])
  except re.error as e:
    raise ValueError(f"config.{field}={config[field]!r} is not a regular expression: "
                     f"{e}") from None


def check_chooses(pattern: str, paths: list[str], field: str) -> None:
  """Raises ValueError unless `pattern` chooses one of `paths` (a mistyped regex would
  otherwise change nothing, silently)."""
  if not any(re.search(pattern, path) for path in paths):
    raise ValueError(f"config.{field}: {pattern!r} matches no parameter path (they run "
                     f"{_span(paths)})")


def _span(paths: list[str]) -> str:
  return f"from {paths[0]!r} to {paths[-1]!r}" if paths else "out: there are none"
