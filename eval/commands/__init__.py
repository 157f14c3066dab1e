"""Sub-commands of `python -m eval`, one module each.

A command module has a docstring (its first line is the help text),
`add_arguments(parser)` and `run(args) -> None`. It is a command once its name (the
module's, with dashes for underscores) is in `eval.__main__.COMMANDS`; `python -m eval`
imports it only when that command runs. Flags are spelt with underscores (--top_k).
"""
