"""``python -m benchmarks``: the backend is chosen here, before keras is imported."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from benchmarks.backend import import_keras, select_backend
    from benchmarks.errors import UserError

    try:
        select_backend(argv)
        import_keras()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from benchmarks.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
