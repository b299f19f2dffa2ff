"""What differs between the inputs and provenance of two records of one cell: the explanation
`evalsuite diff` gives for a cell that moved.

Compared: the resolved configuration (`config`, leaf by leaf; its `fit` key is left out, as it
only repeats the detector, data and weights), the weights digest, the package versions, the
dataset fingerprints (the shifted one where both records name it: older records do not), and
the code (evalsuite version, results `code_version`, git commit).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["config", "weights", "versions", "dataset", "code"]


@dataclass(frozen=True)
class Change:
    """One difference: its kind, the dotted key, and the two values (None where absent)."""

    kind: Kind
    key: str
    base: Any
    new: Any

    def text(self) -> str:
        """e.g. `config detector.params.coreset_ratio: 0.2 -> 0.05`."""
        return f"{self.kind} {self.key}: {_show(self.base)} -> {_show(self.new)}"


def provenance_changes(base: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """The differences between two records of one cell, in the order of `Kind`."""
    a, b = base["provenance"], new["provenance"]
    config_a = {k: v for k, v in base["config"].items() if k != "fit"}
    config_b = {k: v for k, v in new["config"].items() if k != "fit"}
    found = [Change("config", k, x, y) for k, x, y in _leaf_differences(config_a, config_b)]
    digest_a, digest_b = a["weights"].get("sha256"), b["weights"].get("sha256")
    if digest_a != digest_b:
        found.append(Change("weights", "sha256", digest_a, digest_b))
    found += [
        Change("versions", k, x, y) for k, x, y in _leaf_differences(a["versions"], b["versions"])
    ]
    if a["dataset_fingerprint"] != b["dataset_fingerprint"]:
        found.append(
            Change("dataset", "fingerprint", a["dataset_fingerprint"], b["dataset_fingerprint"])
        )
    shift_a, shift_b = a.get("dataset_fingerprint_shift"), b.get("dataset_fingerprint_shift")
    if "dataset_fingerprint_shift" in a and "dataset_fingerprint_shift" in b and shift_a != shift_b:
        found.append(Change("dataset", "fingerprint_shift", shift_a, shift_b))
    for key in ("evalsuite", "code_version", "git_commit"):
        if a[key] != b[key]:
            found.append(Change("code", key, a[key], b[key]))
    return found


def _leaf_differences(a: Any, b: Any, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(dotted key, a's value, b's value) of every leaf that differs; a key present on one side
    only has None on the other."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            name = f"{prefix}.{key}" if prefix else str(key)
            yield from _leaf_differences(a.get(key), b.get(key), name)
    elif a != b:
        yield prefix, a, b


def _show(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64:  # a digest: its first 12 hex digits
        return value[:12]
    return "absent" if value is None else str(value)
