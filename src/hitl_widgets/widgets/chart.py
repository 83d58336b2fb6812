"""The kernel's one vega runtime, and `show`: any Altair chart, drawn offline through it.

Why a runtime widget: anywidget ships a widget's `_esm` with every instance, so a
bundle carrying vega (~0.9 MB) must not be any chart's own code. `VegaRuntime` holds
vega, vega-lite and vega-embed; one instance per kernel is created on first use, and
every chart widget (a `Chart`, the `Dashboard`) refers to it and draws through it. Its
code crosses the websocket once per kernel and page, and nothing loads from a CDN.

Why an SVG next to the widget: a saved notebook without widget state, GitHub and
nbconvert cannot run the widget; each chart's output also carries a static SVG of the
chart as it was when displayed (rendered offline by vl-convert). Front ends that run
widgets (JupyterLab, VS Code) pick the widget and show only that.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import altair as alt
import anywidget
import traitlets
import vl_convert

STATIC = Path(__file__).resolve().parent.parent / "static"
SVG_MIME = "image/svg+xml"


def static_file(name: str) -> Path:
    """A built front-end file; a clear error when the front end was not built."""
    path = STATIC / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the front end was not built. Install the package with "
            "`pip install .` (or run `npm ci && npm run build` in a source checkout)"
        )
    return path


class VegaRuntime(anywidget.AnyWidget):
    """vega, vega-lite and vega-embed for every chart of this kernel (never displayed)."""

    _esm = static_file("vega_runtime.js")


_runtime_lock = threading.Lock()
_runtime: list[VegaRuntime] = []  # the kernel's instance, once created


def vega_runtime() -> VegaRuntime:
    """The kernel's runtime widget: created on first use, again only if it was closed."""
    with _runtime_lock:
        if not _runtime or _runtime[0].comm is None:
            _runtime[:] = [VegaRuntime()]
        return _runtime[0]


def svg_of(spec: dict[str, Any]) -> str | None:
    """A static SVG of a complete Vega-Lite spec; None if it cannot be rendered."""
    try:
        return vl_convert.vegalite_to_svg(spec)
    except Exception:  # a fallback image must never break the live display
        return None


def with_svg(bundle: Any, spec: dict[str, Any]) -> Any:
    """A widget's mime bundle plus an SVG of `spec` for front ends without widgets."""
    data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
    svg = svg_of(spec)
    if svg is not None:
        data = {**data, SVG_MIME: svg}
    return data, metadata


class Chart(anywidget.AnyWidget):
    """One Altair (or Vega-Lite) chart, drawn offline with the kernel's vega runtime."""

    _esm = static_file("chart.js")
    _css = static_file("dashboard.css")

    runtime = anywidget.WidgetTrait().tag(sync=True)
    spec = traitlets.Dict().tag(sync=True)

    def __init__(self, chart: alt.TopLevelMixin | dict[str, Any], **kwargs: Any):
        spec = chart if isinstance(chart, dict) else chart.to_dict()
        super().__init__(runtime=vega_runtime(), spec=spec, **kwargs)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return with_svg(super()._repr_mimebundle_(**kwargs), self.spec)


def show(chart: alt.TopLevelMixin | dict[str, Any]) -> None:
    """Display any Altair chart in the notebook, offline: the package's (race, pool
    map, routing, ...) or your own. No CDN script tags; saved outputs carry an SVG."""
    from IPython.display import display

    display(Chart(chart))
