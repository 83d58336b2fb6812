"""Build the front end (js/ -> src/hitl_widgets/static) with esbuild when the package is built.

Why a hook: the bundle is a build product, not committed, so `pip install .` and
`pip install -e .` from a clean clone must produce it. Where the bundle comes from:

- a source checkout (a clone) with npm: `npm ci` (first time) and `npm run build`;
- an sdist: the bundle built when the sdist was made ships inside it (the `artifacts`
  of the sdist target), so a machine without Node.js installs from it as is;
- a checkout without npm: a complete bundle that is newer than every file under js/
  (built earlier on this machine) is used; otherwise the build stops with a clear error.

`STATIC_FILES` names every file the bundle must contain; a build that does not produce
one of them fails here rather than at import time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

STATIC_FILES = (
    "labeler.js",
    "labeler.css",
    "vega_runtime.js",
    "dashboard.js",
    "chart.js",
    "dashboard.css",
)

# Set to a path to use that npm, or to an empty string to behave as if npm were not
# installed (for tests and for building from an sdist on a machine that has Node.js).
NPM_ENV = "HITL_WIDGETS_NPM"


def find_npm() -> str | None:
    if NPM_ENV in os.environ:
        return os.environ[NPM_ENV] or None
    return shutil.which("npm")


def missing_files(static: Path) -> list[str]:
    return [name for name in STATIC_FILES if not (static / name).is_file()]


def stale_against(static: Path, sources: Path) -> list[str]:
    """Files under `sources` newer than the oldest bundle file (relative paths)."""
    built = min((static / name).stat().st_mtime for name in STATIC_FILES)
    return sorted(
        str(path.relative_to(sources))
        for path in sources.rglob("*")
        if path.is_file()
        and "tests" not in path.relative_to(sources).parts
        and path.stat().st_mtime > built
    )


class FrontEndBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        root = Path(self.root)
        static = root / "src" / "hitl_widgets" / "static"
        sources = root / "js"
        from_sdist = (root / "PKG-INFO").is_file()
        if from_sdist or not sources.is_dir():
            # An sdist: the bundle was built when the sdist was made; use it as shipped.
            missing = missing_files(static)
            if missing:
                raise RuntimeError(
                    f"hitl_widgets: this source distribution lacks the built front end "
                    f"({', '.join(missing)} in src/hitl_widgets/static); it was made "
                    "without building js/. Rebuild the sdist where Node.js and npm are installed."
                )
            return
        npm = find_npm()
        if npm is None:
            self._use_prebuilt(static, sources)
            return
        if not (root / "node_modules" / ".bin" / "esbuild").exists():
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=root, check=True)
        subprocess.run([npm, "run", "build"], cwd=root, check=True)
        missing = missing_files(static)
        if missing:
            raise RuntimeError(
                f"hitl_widgets: `npm run build` did not produce {', '.join(missing)} in "
                "src/hitl_widgets/static (STATIC_FILES in hatch_build.py lists them)"
            )

    def _use_prebuilt(self, static: Path, sources: Path) -> None:
        """A checkout on a machine without npm: only an up-to-date bundle will do."""
        missing = missing_files(static)
        if missing:
            raise RuntimeError(
                "hitl_widgets: building the front end needs Node.js and npm (>= 20.19), "
                f"and no built bundle was found ({', '.join(missing)} missing in "
                "src/hitl_widgets/static). Install Node.js, or install from an sdist or a "
                "wheel, which carry the built files."
            )
        stale = stale_against(static, sources)
        if stale:
            raise RuntimeError(
                "hitl_widgets: building the front end needs Node.js and npm; the bundle in "
                f"src/hitl_widgets/static is older than js/ ({', '.join(stale[:5])}), so "
                "it cannot be used. Install Node.js and npm, then build again."
            )
        self.app.display_info("hitl_widgets: npm not found; using the bundle built earlier")
