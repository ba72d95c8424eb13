"""How numbers and names read in the experiments' generated sentences and in the report's tables: one
spelling of a percentage, a missing value, a duration, a class colour, a run of layer numbers."""
from __future__ import annotations

_COLOUR_NAMES = {(255, 0, 0): "red", (0, 255, 0): "green", (0, 0, 255): "blue", (255, 255, 0): "yellow",
                 (255, 0, 255): "magenta", (0, 255, 255): "cyan", (255, 128, 0): "orange", (128, 0, 255): "purple"}


def pct(x) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def num(x, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}f}"


def secs(x) -> str:
    if x is None:
        return "n/a"
    if x < 120:
        return f"{x:.1f} s"
    if x < 7200:
        return f"{x / 60:.1f} min"
    return f"{x / 3600:.1f} h"


def colour_name(rgb) -> str:
    return _COLOUR_NAMES.get(tuple(int(v) for v in rgb), "rgb(" + ",".join(str(int(v)) for v in rgb) + ")")


def colour_names(class_colors: dict) -> dict[str, str]:
    """{class: "red"} for the report's sentences."""
    return {c: colour_name(v) for c, v in class_colors.items()}


def ranges(values: list[int]) -> str:
    """Sorted whole numbers as runs: [2, 3, 4, 7] -> "2-4, 7"."""
    if not values:
        return "none"
    parts, start = [], values[0]
    for a, b in zip(values, values[1:] + [None]):
        if b != a + 1:
            parts.append(str(start) if start == a else f"{start}-{a}")
            start = b
    return ", ".join(parts)


def toy_model_phrase(results: dict) -> str:
    """How a Setting paragraph of the report names the model its experiment ran on."""
    toy = results.get("default_preset") or {}
    return f"The default-preset model (`{toy.get('name', '?')}`, {toy.get('size', '?')} px)"
