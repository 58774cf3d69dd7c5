"""The errors the CLI turns into a single line: bad input (exit status 2) and a full disk."""

from __future__ import annotations

import errno
import os


class UserError(Exception):
    """Bad input from the user: a message naming the problem and the fix, no traceback."""


# a full disk, a full quota, a file-size limit (ulimit -f): each means "free space, then resume"
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class NoSpace(Exception):
    """The output folder's disk is full: the command stops, every file it wrote complete (the
    old version or the new), with one line naming the folder and the cause."""

    EXIT_STATUS = os.EX_IOERR  # 74, sysexits' I/O error: not bad input (2), not a signal (128+)

    @classmethod
    def writing(cls, folder, err: OSError, fix: str) -> NoSpace:
        return cls(f"cannot write to {folder}: {os.strerror(err.errno)}; {fix}")


def no_space(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in NO_SPACE_ERRNOS
