"""Sub-commands of `python -m eval`, one module each.

A command module has a docstring (its first line is the help text),
`add_arguments(parser)` and `run(args) -> None`; `python -m eval` finds every module
here, naming the command after the module (underscores become dashes).
"""
