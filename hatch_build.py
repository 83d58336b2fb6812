"""Build the front end (js/ -> src/hitl_widgets/static) with esbuild when the wheel is built.

Why a hook: the bundle is a build product, not committed, so `pip install .` and
`pip install -e .` from a clean clone must produce it. An sdist already carries the
built files, so a machine without Node.js can still install from one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

STATIC_FILES = ("labeler.js", "labeler.css")


class FrontEndBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        root = Path(self.root)
        static = root / "src" / "hitl_widgets" / "static"
        if not (root / "js").is_dir():
            if all((static / name).is_file() for name in STATIC_FILES):
                return  # an sdist: the bundle was built when the sdist was made
            raise RuntimeError("hitl_widgets: neither js/ sources nor a built bundle found")
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("hitl_widgets: building the front end needs Node.js and npm")
        if not (root / "node_modules" / ".bin" / "esbuild").exists():
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=root, check=True)
        subprocess.run([npm, "run", "build"], cwd=root, check=True)
