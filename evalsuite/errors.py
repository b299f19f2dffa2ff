"""The errors evalsuite raises on bad input or a bad environment.

Every message names the file, key or value at fault and says what to do. The CLI turns an
`EvalsuiteError` into one line on stderr and the error's exit code; nothing else is caught there.
"""

from __future__ import annotations


class EvalsuiteError(Exception):
    """Base class: a problem the user can fix. `exit_code` is what the CLI exits with."""

    exit_code = 2


class DatasetError(EvalsuiteError):
    """A dataset tree is missing, malformed or holds unreadable files."""


class ConfigError(EvalsuiteError):
    """A configuration key or value is unknown or invalid."""


class WeightsError(EvalsuiteError):
    """Backbone weights cannot be found, loaded or verified."""

    exit_code = 3


class DownloadError(EvalsuiteError):
    """A download failed, was refused (offline) or did not match its checksum."""

    exit_code = 3


class ArchiveError(EvalsuiteError):
    """An archive holds a member that is unsafe to extract."""


class ResultsError(EvalsuiteError):
    """A results folder or record is missing, unwritable or corrupt."""


class OwnershipError(EvalsuiteError):
    """An output folder holds files the command did not write (it never deletes those)."""


class OutputError(EvalsuiteError):
    """An output would lie inside an input, hold one, or replace a file the command did not
    write (see `evalsuite.outputs`)."""


class BusyError(EvalsuiteError):
    """A results folder is in use by another run (it holds the folder's lock), or its lock path
    is not a regular file (a link, FIFO or device, which is never followed nor removed)."""

    exit_code = 3


class EvaluationError(EvalsuiteError):
    """Evaluation inputs are invalid, or a metric is undefined for them.

    Examples: a test set with only one class, masks without any defect region, arrays whose
    shapes disagree, non-val data given to a threshold strategy.
    """


class SubmissionError(EvalsuiteError):
    """An MVTec AD 2 server submission cannot be written or breaks a format rule (the message
    names the file and the rule)."""


class SchedulerError(EvalsuiteError):
    """The Dask scheduler named by `--scheduler` cannot be reached (or its address is invalid)."""

    exit_code = 3


class WorkerLostError(EvalsuiteError):
    """A worker process of a local pool ended abruptly (the system stopped it, most often for
    lack of memory); the cells finished before are kept."""

    exit_code = 3


class DetectorError(EvalsuiteError):
    """A detector raised, or returned malformed scores (wrong type, shape or dtype, NaN or
    infinity): its cells fail with this one-line reason; the run's other cells go on."""
