"""Precision of an imported workload's tensors, per kind: weights and activations.

An ONNX graph exported from PyTorch holds float32 tensors, but accelerators run int8 or fp16:
the bit width decides every tensor's size in bytes, and so what fits a core's memory. A
:class:`Precision` replaces the model's element types per kind; a kind left as None keeps them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from cpsched.model.errors import input_error


class Precision(BaseModel):
    """Bit widths for weights (initializers, constants) and activations (graph inputs and
    every layer's output); None keeps the model's element type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: int | None = Field(default=None, ge=1, le=64)
    activations: int | None = Field(default=None, ge=1, le=64)


_KINDS = {"weights": "weights", "w": "weights", "activations": "activations", "a": "activations"}


def parse_precision(text: str, source: str = "--bits") -> Precision:
    """Parse `N` (every tensor) or `weights=N,activations=M` (either may be left out; `w` and
    `a` are short forms), e.g. `--bits 8` or `--bits weights=8,activations=16`."""
    accepted = "N or weights=N,activations=M with N, M from 1 to 64 (e.g. 8, or weights=8)"
    text = text.strip()
    if text.isascii() and text.isdigit():
        bits = int(text)
        if not 1 <= bits <= 64:
            raise input_error(source, "", f"{text!r} is out of range; expected {accepted}")
        return Precision(weights=bits, activations=bits)
    given: dict[str, int] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        kind = _KINDS.get(key.strip().lower())
        value = value.strip()
        if (
            not sep
            or kind is None
            or kind in given
            or not (value.isascii() and value.isdigit())
            or not 1 <= int(value) <= 64
        ):
            raise input_error(source, "", f"{item.strip()!r} in {text!r}; expected {accepted}")
        given[kind] = int(value)
    return Precision(**given)


__all__ = ["Precision", "parse_precision"]
