"""The synthetic generator's configuration: one frozen, validated dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from evalsuite.errors import ConfigError

GENERATOR = "evalsuite.data.synthetic"
GENERATOR_VERSION = "1.1"
"""Bumped whenever the same configuration would draw different pixels."""

DEFECTS: dict[str, tuple[str, ...]] = {
    "hazelnut": ("crack", "cut", "hole", "print"),
    "carpet": ("color", "cut", "hole", "metal_contamination", "thread"),
    "zipper": ("broken_teeth", "fabric_interior", "rough", "split_teeth", "squeezed_teeth"),
}
"""The defect types of each category, named as in MVTec AD."""

CATEGORIES: tuple[str, ...] = tuple(DEFECTS)
MIN_SIZE = 64
MAX_SIZE = 2048
DEFAULT_DIFFICULTY = 0.5


@dataclass(frozen=True)
class SyntheticConfig:
    """What the synthetic MVTec-like dataset looks like and how many images it holds.

    Attributes:
        categories: categories to generate, a subset of `CATEGORIES`.
        seed: base seed; every image is drawn from its own stream keyed by
            (seed, category, folder, defect, index), so changing a count adds or removes images
            without redrawing the others.
        size: side of the square images in pixels (64 to 2048).
        n_train: normal images in `train/good` per category.
        n_test_good: normal images in `test/good` per category.
        n_test_defect: defective test images per category, split evenly over its defect types
            (the first types get one more when it does not divide).
        difficulty: 0 (easy) to 1 (hard). Higher difficulty makes defects smaller and lower in
            contrast, and makes normal images vary more (lighting, noise, pose), so a detector
            has a wider normality to learn. At the default 0.5 a pretrained-backbone PatchCore
            detects most defects but not all; a randomly initialised backbone clearly does worse.
            Below 0.5 defects grow larger and stronger and normals vary less, faster than above
            (the demo's 0.1 is calibrated so that PatchCore reaches MVTec AD's image AUROC).
    """

    categories: tuple[str, ...] = CATEGORIES
    seed: int = 0
    size: int = 256
    n_train: int = 60
    n_test_good: int = 20
    n_test_defect: int = 24
    difficulty: float = DEFAULT_DIFFICULTY

    def __post_init__(self) -> None:
        """Coerce `categories` to a tuple and validate every field."""
        categories = self.categories
        if isinstance(categories, str):
            categories = tuple(c.strip() for c in categories.split(",") if c.strip())
        object.__setattr__(self, "categories", tuple(categories))
        self._check_categories()
        _check_int("seed", self.seed, 0)
        _check_int("size", self.size, MIN_SIZE, MAX_SIZE)
        for name in ("n_train", "n_test_good", "n_test_defect"):
            _check_int(name, getattr(self, name), 0)
        difficulty = self.difficulty
        if isinstance(difficulty, bool) or not isinstance(difficulty, int | float):
            raise ConfigError(
                f"synthetic difficulty must be a number in [0, 1], got {difficulty!r}"
            )
        if not 0.0 <= float(difficulty) <= 1.0:
            raise ConfigError(
                f"synthetic difficulty must be in [0, 1] (0 easy, 1 hard), got {difficulty}"
            )
        object.__setattr__(self, "difficulty", float(difficulty))

    def _check_categories(self) -> None:
        known = ", ".join(CATEGORIES)
        if not self.categories:
            raise ConfigError(f"synthetic categories is empty; choose some of: {known}")
        for category in self.categories:
            if category not in DEFECTS:
                raise ConfigError(
                    f"unknown synthetic category {category!r}; known categories: {known}"
                )
        if len(set(self.categories)) != len(self.categories):
            raise ConfigError(f"synthetic categories repeat a name: {list(self.categories)}")

    def as_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values (categories as a list)."""
        fields = asdict(self)
        fields["categories"] = list(self.categories)
        return fields


def _check_int(name: str, value: object, low: int, high: int | None = None) -> None:
    """Raise ConfigError unless `value` is an int in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"synthetic {name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ConfigError(f"synthetic {name} must be {bound}, got {value}")


def defect_counts(category: str, n_test_defect: int) -> dict[str, int]:
    """Split `n_test_defect` images evenly over the defect types of `category`.

    Returns:
        defect type -> number of images, in the category's defect order; types that get no
        image are left out.
    """
    types = DEFECTS[category]
    share, extra = divmod(n_test_defect, len(types))
    counts = {defect: share + (1 if i < extra else 0) for i, defect in enumerate(types)}
    return {defect: n for defect, n in counts.items() if n > 0}
