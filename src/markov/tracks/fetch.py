"""Fetch official track files into the cache ahead of a class, so the room can work offline.

``python -m markov.tracks.fetch`` (or ``make tracks``) fetches the 12 workshop tracks;
``python -m markov.tracks.fetch Spain_track reInvent2019_wide_cw`` fetches the named ones.
A track that cannot be fetched is reported with its reason and the fix; the command then exits
with status 1 after trying every track, never with a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from tqdm.auto import tqdm

from markov.tracks import official

PRESENT = "already here"
DOWNLOADED = "downloaded"
FAILED = "failed"


@dataclass(frozen=True)
class FetchOutcome:
    """What happened to one track: ``status`` is PRESENT, DOWNLOADED or FAILED; ``detail`` is
    the file's path, or the reason it could not be fetched."""

    name: str
    status: str
    detail: str


def fetch_tracks(
    names: Sequence[str] = official.WORKSHOP_TRACKS, *, progress: bool = True
) -> list[FetchOutcome]:
    """Bring every named track's route file onto this machine (DR_TRACKS_DIR or the cache),
    downloading the missing ones; one outcome per name, failures included."""
    outcomes = []
    bar = tqdm(names, desc="tracks", unit="track", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name, refresh=True)
        outcomes.append(_fetch_one(name))
    bar.close()
    return outcomes


def _fetch_one(name: str) -> FetchOutcome:
    try:
        was_here = official.official_track_available(name)
        path = official.resolve_route_file(name)
    except official.TrackNotFoundError as error:
        return FetchOutcome(name, FAILED, error.reason)
    except ValueError as error:  # not a plain track name
        return FetchOutcome(name, FAILED, str(error))
    return FetchOutcome(name, PRESENT if was_here else DOWNLOADED, official.shown_folder(path))


def fetch_summary(outcomes: Sequence[FetchOutcome]) -> str:
    """A few lines for people: how many tracks are ready, and each failure with its reason and
    the fix."""
    ready = [outcome for outcome in outcomes if outcome.status != FAILED]
    downloaded = sum(outcome.status == DOWNLOADED for outcome in ready)
    lines = [
        f"{len(ready)} of {len(outcomes)} track(s) are on this machine "
        f"({len(ready) - downloaded} already here, {downloaded} downloaded; cache "
        f"{official.shown_folder(official.cache_dir())})."
    ]
    failed = [outcome for outcome in outcomes if outcome.status == FAILED]
    if failed:
        lines.append(f"{len(failed)} track(s) could not be fetched:")
        lines += [f"  {outcome.name}: {outcome.detail}" for outcome in failed]
        lines.append(
            "Fix: run this command again where the internet is reachable (GitHub's "
            f"raw.githubusercontent.com), or set {official.TRACKS_DIR_ENV} to a folder that "
            "holds the <name>.npy files (bundle/routes/ of "
            "github.com/aws-deepracer-community/deepracer-simapp)."
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Fetch the named tracks (default: the 12 workshop tracks); 1 if any failed."""
    parser = argparse.ArgumentParser(
        prog="python -m markov.tracks.fetch",
        description="Fetch official DeepRacer track files into the cache ahead of a class.",
    )
    parser.add_argument(
        "names", nargs="*", help="track names (default: the 12 workshop tracks)"
    )
    args = parser.parse_args(argv)
    outcomes = fetch_tracks(args.names or official.WORKSHOP_TRACKS)
    print(fetch_summary(outcomes))
    return 1 if any(outcome.status == FAILED for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
