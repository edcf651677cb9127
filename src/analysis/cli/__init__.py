"""The command line: ``analysis COMMAND`` (also ``python -m analysis``).

:mod:`analysis.cli.commands` holds the parser and the verbs, :mod:`analysis.cli.render` how
a stage's summary is printed.
"""

from analysis.cli.commands import UserError, build_parser, main

__all__ = ["UserError", "build_parser", "main"]
