"""The history file (`evalsuite history append`, `site --history`): JSON of format
`evalsuite.history/1` (`evalsuite/schemas/history.schema.json`), one study's nights in run
order, at most `max_nights` of them (the oldest dropped).

Read, it is validated: a file that is not a history (another JSON, a text) is refused as
foreign and never written; a history that fails its schema is refused as corrupt, naming the
file and the field. Both exit 2. It is written atomically (`evalsuite.atomic`), so an
interrupted append leaves the previous history whole. A night appended again (the same run,
i.e. the same manifest `created`) replaces its entry: appending is idempotent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalsuite import atomic, regular
from evalsuite.errors import ResultsError
from evalsuite.limits import MAX_RECORD_BYTES
from evalsuite.results.history import Night
from evalsuite.results.validation import loads_strict, problems

FORMAT = "evalsuite.history/1"
"""The `format` of a history file this version reads and writes."""
MAX_NIGHTS = 365
"""The default bound on the nights a history keeps."""
HISTORY = regular.Rule(
    MAX_RECORD_BYTES,
    ResultsError,
    True,
    "give the path of the JSON file `evalsuite history append` writes",
    "a history of 365 nights holds a few MB: give the file `evalsuite history append` wrote",
)
"""How a history file is read (a file the user names: a link to it is followed)."""

History = dict[str, Any]


def read_history(path: Path) -> History | None:
    """The history at `path`, validated; None when there is no file there.

    Raises:
        ResultsError: `path` is a folder or special file, not JSON, not a history (foreign),
            of another format version, or invalid (corrupt), naming the file and the fix.
    """
    try:
        text = regular.read_text(path, HISTORY, "history file")
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ResultsError(f"--history {path} is a folder; give a file name") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ResultsError(f"--history {path} cannot be read ({error}); {_FIX}") from error
    try:
        data = loads_strict(text)
    except (ValueError, RecursionError) as error:
        raise ResultsError(
            f"--history {path} is not JSON ({error}): not a history; it is left as it is: {_FIX}"
        ) from None
    found = data.get("format") if isinstance(data, dict) else None
    if not isinstance(found, str) or not found.startswith("evalsuite.history/"):
        raise ResultsError(
            f"--history {path} is not an evalsuite history (no `format` {FORMAT!r}); it is left "
            f"as it is: {_FIX}"
        )
    if found != FORMAT:
        raise ResultsError(
            f"--history {path} is of format {found!r}, this evalsuite reads {FORMAT!r}; use the "
            "evalsuite that wrote it, or start a new history in another file"
        )
    wrong = problems(data, "history") + _order_problems(data)
    if wrong:
        raise ResultsError(
            f"--history {path} is corrupt: {'; '.join(wrong)}; restore it from the last "
            "nightly's cache, or delete it to start a new history"
        )
    return data


_FIX = "give the path of a history `evalsuite history append` wrote, or a new file name"


def _order_problems(data: History) -> list[str]:
    """Nights must be in run order, one per run, all of the file's study."""
    runs = [night["run"] for night in data["nights"]]
    found = []
    if len(set(runs)) != len(runs) or runs != sorted(runs, key=_instant):
        found.append("field `nights`: not one night per run in run order")
    studies = {night["study"] for night in data["nights"]} - {data["study"]}
    if studies:
        found.append(f"field `nights`: nights of another study ({', '.join(sorted(studies))})")
    return found


def _instant(run: str) -> str:
    """A run time as UTC, so that runs sort by when they started whatever their offset."""
    return datetime.fromisoformat(run).astimezone(UTC).isoformat()


def append_night(
    history: History | None, night: Night, max_nights: int = MAX_NIGHTS
) -> tuple[History, str]:
    """`history` with `night` in its place by run time (replacing the entry of the same run),
    keeping the newest `max_nights`.

    Returns:
        the new history, and what happened: "appended", "replaced" or "inserted".

    Raises:
        ResultsError: the history is of another study, or `max_nights` < 1.
    """
    if max_nights < 1:
        raise ResultsError(f"--max-nights {max_nights} must be at least 1, e.g. {MAX_NIGHTS}")
    if history is None:
        history = {"format": FORMAT, "study": night["study"], "nights": []}
    if history["study"] != night["study"]:
        raise ResultsError(
            f"the history is of study {history['study']!r}, these results of "
            f"{night['study']!r}; give the history file of {night['study']!r} (a new file "
            "starts one)"
        )
    nights = [n for n in history["nights"] if n["run"] != night["run"]]
    done = "replaced" if len(nights) < len(history["nights"]) else "appended"
    nights.append(night)
    nights.sort(key=lambda n: _instant(n["run"]))
    if done == "appended" and nights[-1] is not night:
        done = "inserted"
    return {**history, "nights": nights[-max_nights:]}, done


def write_history(path: Path, history: History) -> None:
    """Write `history` to `path` atomically (sorted keys, 2-space indent).

    Raises:
        OSError: it cannot be written (exit 3), naming `path`.
    """
    atomic.write_json(path, history)
