"""Disk per experiment: the bytes a finished local training leaves in its store, by folder.

Runs ``python -m markov.main --max-time S`` (the workshop's default model on Workshop_Oval with
2 rollout workers, as ``make run`` does) into a scratch store, then prints the run folder's size
and what each top-level folder and the largest files take, so the retention rule's figures in the
README can be checked. Usage: ``python bench/disk_per_experiment.py [--seconds 20]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

MB = 1_000_000


def run_training(store: Path, seconds: float) -> Path:
    """Train into ``store`` for at most ``seconds``; returns the run's folder."""
    command = [
        sys.executable,
        "-m",
        "markov.main",
        "--max-time",
        str(seconds),
        "--store",
        str(store),
    ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    (run,) = [path for path in store.iterdir() if path.is_dir()]
    return run


def sizes(run: Path) -> tuple[Counter[str], list[tuple[int, str]]]:
    """Bytes per top-level folder (or file) of the run, and every file's size and name."""
    by_folder: Counter[str] = Counter()
    files = []
    for path in run.rglob("*"):
        if path.is_file():
            relative = path.relative_to(run)
            size = path.stat().st_size
            by_folder[relative.parts[0] + ("/" if len(relative.parts) > 1 else "")] += size
            files.append((size, relative.as_posix()))
    return by_folder, sorted(files, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="training time limit")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dr-disk-") as folder:
        run = run_training(Path(folder), args.seconds)
        by_folder, files = sizes(run)
        total = sum(by_folder.values())
        print(f"run folder after a {args.seconds:g}-second training: {total / MB:.1f} MB")
        for name, size in by_folder.most_common():
            print(f"  {name:<28} {size / MB:8.1f} MB")
        print("largest files:")
        for size, name in files[:5]:
            print(f"  {name:<44} {size / MB:8.1f} MB")


if __name__ == "__main__":
    main()
