"""The `hfproviders` command line, built on the public API only (`hfproviders --help`).

Commands: `chat`, `models`, `check`, `bench`, and `fake-router` (a local fake of the router to
try everything offline). `main(argv)` returns the exit code: 0 success, 1 an API error, 2 a usage
or token problem, 3 the server unreachable or too slow, 130 interrupted.
"""

from __future__ import annotations

from hfproviders.cli._app import (
    EXIT_API_ERROR,
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_OK,
    EXIT_USAGE,
    build_parser,
    main,
)

__all__ = [
    "EXIT_API_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "main",
]
