"""Turning one pool row into a view the browser can show safely.

A view is plain JSON: text, an image data URL, or key/value pairs. Sizes are capped
here, before anything crosses the wire, and every cap leaves a visible `truncated`
flag. The browser still treats every string as hostile; this module only makes the
payload bounded and valid JSON (no NaN, no bytes, no surrogates).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MAX_TEXT_CHARS = 20_000
MAX_FIELD_CHARS = 500
MAX_FIELDS = 40
MAX_IMAGE_BYTES = 400_000
IMAGE_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "png",
    b"\xff\xd8\xff": "jpeg",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}

Renderer = Callable[[pd.Series], Any]


def clean_text(value: str, limit: int) -> tuple[str, bool]:
    """Text safe to serialise: lone surrogates replaced, cut to `limit` characters."""
    text = value.encode("utf-8", "replace").decode("utf-8")
    if len(text) > limit:
        return text[:limit], True
    return text, False


def text_view(value: Any, highlight: list[str] | None = None) -> dict[str, Any]:
    text, truncated = clean_text(str(value), MAX_TEXT_CHARS)
    return {"kind": "text", "text": text, "truncated": truncated, "highlight": highlight or []}


def row_view(fields: Mapping[str, Any] | pd.Series) -> dict[str, Any]:
    items = list(fields.items())
    pairs = []
    truncated = len(items) > MAX_FIELDS
    for name, value in items[:MAX_FIELDS]:
        name_text, cut_name = clean_text(str(name), MAX_FIELD_CHARS)
        value_text, cut_value = clean_text(format_value(value), MAX_FIELD_CHARS)
        truncated = truncated or cut_name or cut_value
        pairs.append([name_text, value_text])
    return {"kind": "row", "fields": pairs, "truncated": truncated}


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, (np.floating,)):
        return format_value(float(value))
    return str(value)


def image_view(value: Any, alt: str = "") -> dict[str, Any]:
    """A data URL (or https URL) for numpy arrays, PIL images, bytes and file paths."""
    if isinstance(value, str) and value.startswith("https://"):
        return {"kind": "image", "src": value, "alt": alt, "truncated": False}
    if isinstance(value, (str, Path)) and Path(value).suffix.lower() in IMAGE_SUFFIXES:
        value = Path(value).read_bytes()
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        kind = sniff_image(data)
        if kind is None:
            raise ValueError("bytes are not a PNG, JPEG, GIF or WebP image")
        if len(data) <= MAX_IMAGE_BYTES:
            return _data_url(data, kind, alt, truncated=False)
        value = _open_image(data)
    png, shrunk = encode_png(value)
    return _data_url(png, "png", alt, truncated=shrunk)


def sniff_image(data: bytes) -> str | None:
    for signature, kind in IMAGE_SIGNATURES.items():
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def encode_png(value: Any) -> tuple[bytes, bool]:
    """PNG bytes under the cap, downscaling if needed; True if it was shrunk."""
    from PIL import Image

    image = value if isinstance(value, Image.Image) else array_to_image(np.asarray(value))
    shrunk = False
    while True:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=False)
        if buffer.tell() <= MAX_IMAGE_BYTES or min(image.size) <= 16:
            return buffer.getvalue(), shrunk
        image = image.resize((max(1, image.width // 2), max(1, image.height // 2)))
        shrunk = True


def array_to_image(array: np.ndarray) -> Any:
    from PIL import Image

    if array.ndim == 1:
        side = round(math.sqrt(array.size))
        if side * side != array.size:
            raise ValueError(f"a flat array of {array.size} values is not a square image")
        array = array.reshape(side, side)
    if array.ndim not in (2, 3):
        raise ValueError(f"an image array must be 2-D or 3-D, got shape {array.shape}")
    if array.dtype != np.uint8:
        array = np.nan_to_num(array.astype(np.float64))
        low, high = float(array.min()), float(array.max())
        scale = 255.0 / (high - low) if high > low else 0.0
        array = ((array - low) * scale).astype(np.uint8)
    return Image.fromarray(array)


def _open_image(data: bytes) -> Any:
    from PIL import Image

    return Image.open(io.BytesIO(data)).convert("RGBA")


def _data_url(data: bytes, kind: str, alt: str, *, truncated: bool) -> dict[str, Any]:
    encoded = base64.b64encode(data).decode("ascii")
    return {
        "kind": "image",
        "src": f"data:image/{kind};base64,{encoded}",
        "alt": alt,
        "truncated": truncated,
    }


def view_of_value(value: Any, highlight: list[str] | None = None) -> dict[str, Any]:
    """The view for whatever a user's render function returned."""
    if isinstance(value, str):
        return text_view(value, highlight)
    if isinstance(value, (Mapping, pd.Series)):
        return row_view(value)
    return image_view(value)


def safe_number(value: Any) -> float | None:
    """A JSON-safe float: NaN and inf become None."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
