"""``python -m benchmarks``: the backend is chosen here, before keras is imported."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from benchmarks.signals import SIGNALS

    # first: a signal while keras imports or a large grid is planned ends the command with
    # the signal's own exit status, not a KeyboardInterrupt traceback; start, not install: a
    # second command in the same process (the tests call main in process) begins afresh
    SIGNALS.start()
    from benchmarks.folder import released

    try:
        with released():  # the run folders this command locked, unlocked as it ends
            return _main(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        return SIGNALS.exit_status()
    finally:
        SIGNALS.end()  # a signal from here to the process's end cannot change its outcome


def _main(argv: list[str]) -> int:
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
