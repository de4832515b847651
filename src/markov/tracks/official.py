"""Find official DeepRacer route files: in DR_TRACKS_DIR, in the local cache, or downloaded.

The route files (``<name>.npy``) belong to the public deepracer-simapp repository (Apache-2.0);
this package ships none of them. On first use a file is downloaded into a per-user cache, so
later runs work offline.
"""

from __future__ import annotations

import difflib
import http.client
import os
import re
import sys
import tempfile
import urllib.request
from pathlib import Path

from markov.tracks.route import RouteFileError, load_route_file

TRACKS_DIR_ENV = "DR_TRACKS_DIR"
CACHE_DIR_ENV = "DR_TRACKS_CACHE"
# The public route files of deepracer-simapp; the default branch is tried under both names.
ROUTES_URLS = tuple(
    "https://raw.githubusercontent.com/aws-deepracer-community/deepracer-simapp/"
    f"{branch}/bundle/routes/{{name}}.npy"
    for branch in ("master", "main")
)
DOWNLOAD_TIMEOUT_S = 10.0

WORKSHOP_TRACKS: tuple[str, ...] = (
    "Bowtie_track",
    "Canada_Training",
    "China_track",
    "LGSWide",
    "Mexico_track",
    "New_York_Track",
    "Oval_track",
    "reinvent_base",
    "reInvent2019_track",
    "reInvent2019_wide",
    "Spain_track",
    "Tokyo_Training_track",
)

_OTHER_SIMAPP_ROUTES: tuple[str, ...] = (
    "2022_april_open",
    "2022_april_open_ccw",
    "2022_april_open_cw",
    "2022_april_pro",
    "2022_april_pro_ccw",
    "2022_april_pro_cw",
    "2022_august_open",
    "2022_august_open_ccw",
    "2022_august_open_cw",
    "2022_august_pro",
    "2022_august_pro_ccw",
    "2022_august_pro_cw",
    "2022_july_open",
    "2022_july_pro",
    "2022_july_pro_ccw",
    "2022_july_pro_cw",
    "2022_june_open",
    "2022_june_open_ccw",
    "2022_june_open_cw",
    "2022_june_pro",
    "2022_june_pro_ccw",
    "2022_june_pro_cw",
    "2022_march_open",
    "2022_march_open_ccw",
    "2022_march_open_cw",
    "2022_march_pro",
    "2022_march_pro_ccw",
    "2022_march_pro_cw",
    "2022_may_open",
    "2022_may_open_ccw",
    "2022_may_open_cw",
    "2022_may_pro",
    "2022_may_pro_ccw",
    "2022_may_pro_cw",
    "2022_october_open",
    "2022_october_open_ccw",
    "2022_october_open_cw",
    "2022_october_pro",
    "2022_october_pro_ccw",
    "2022_october_pro_cw",
    "2022_reinvent_champ_ccw",
    "2022_reinvent_champ_cw",
    "2022_september_open",
    "2022_september_open_ccw",
    "2022_september_open_cw",
    "2022_september_pro",
    "2022_september_pro_ccw",
    "2022_september_pro_cw",
    "2022_summit_speedway",
    "2022_summit_speedway_ccw",
    "2022_summit_speedway_cw",
    "2022_summit_speedway_mini",
    "2024_reinvent_champ_ccw",
    "2024_reinvent_champ_cw",
    "Albert",
    "AmericasGeneratedInclStart",
    "Aragon",
    "arctic_open",
    "arctic_open_ccw",
    "arctic_open_cw",
    "arctic_pro",
    "arctic_pro_ccw",
    "arctic_pro_cw",
    "Austin",
    "AWS_track",
    "Belille",
    "caecer_gp",
    "caecer_loop",
    "dubai_open",
    "dubai_open_ccw",
    "dubai_open_cw",
    "dubai_pro",
    "FS_June2020",
    "H_track",
    "hamption_open",
    "hamption_pro",
    "July_2020",
    "jyllandsringen_open",
    "jyllandsringen_open_ccw",
    "jyllandsringen_open_cw",
    "jyllandsringen_pro",
    "jyllandsringen_pro_ccw",
    "jyllandsringen_pro_cw",
    "Monaco",
    "Monaco_building",
    "morgan_open",
    "morgan_pro",
    "penbay_open",
    "penbay_open_ccw",
    "penbay_open_cw",
    "penbay_pro",
    "penbay_pro_ccw",
    "penbay_pro_cw",
    "red_star_open",
    "red_star_pro",
    "red_star_pro_ccw",
    "red_star_pro_cw",
    "reInvent2019_track_ccw",
    "reInvent2019_track_cw",
    "reInvent2019_wide_ccw",
    "reInvent2019_wide_cw",
    "reInvent2019_wide_mirrored",
    "reinvent_base_jeremiah",
    "reinvent_carpet",
    "reinvent_concrete",
    "reinvent_wood",
    "Singapore",
    "Singapore_building",
    "Singapore_f1",
    "Spain_track_f1",
    "Straight_track",
    "thunder_hill_open",
    "thunder_hill_pro",
    "thunder_hill_pro_ccw",
    "thunder_hill_pro_cw",
    "Vegas_track",
    "Virtual_May19_Train_track",
)

OFFICIAL_TRACKS: tuple[str, ...] = WORKSHOP_TRACKS + _OTHER_SIMAPP_ROUTES

_TRACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class TrackNotFoundError(FileNotFoundError):
    """A track name that is neither found locally nor downloadable.

    ``reason`` is the short cause (e.g. why the download failed); the message adds where the
    file was looked for and how to provide it.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


def cache_dir() -> Path:
    """Folder of downloaded route files: ``$DR_TRACKS_CACHE`` or the platform user cache."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache")
    return base / "deepracer-workshop" / "tracks"


def official_track_available(name: str) -> bool:
    """Whether ``<name>.npy`` is already on this machine (DR_TRACKS_DIR or cache); no download."""
    return _find_local(_checked_name(name)) is not None


def local_track_names() -> list[str]:
    """Names of the route files in DR_TRACKS_DIR and the cache (any simapp route or own file)."""
    names: set[str] = set()
    for folder in (_tracks_dir(), cache_dir()):
        if folder is not None and folder.is_dir():
            names.update(
                path.stem
                for path in folder.glob("*.npy")
                if path.is_file() and _TRACK_NAME.fullmatch(path.stem) and ".." not in path.stem
            )
    return sorted(names, key=str.lower)


def resolve_route_file(name: str, *, download: bool = True) -> Path:
    """Path of ``<name>.npy``: from DR_TRACKS_DIR, else the cache, else downloaded into the cache.

    Any simapp route present locally is accepted; only names in OFFICIAL_TRACKS are downloaded.
    Raises TrackNotFoundError with the places searched and how to provide the file.
    """
    name = _checked_name(name)
    local = _find_local(name)
    if local is not None:
        return local
    if name not in OFFICIAL_TRACKS:
        raise TrackNotFoundError(_unknown_name_message(name))
    if not download:
        reason = "downloading was turned off"
        raise TrackNotFoundError(_missing_file_message(name, reason), reason)
    return _download(name)


def _fetch(url: str, timeout: float) -> bytes:
    """Download ``url`` and return its body (the seam tests replace)."""
    request = urllib.request.Request(url, headers={"User-Agent": "deepracer-workshop"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


def _checked_name(name: str) -> str:
    if not isinstance(name, str) or not _TRACK_NAME.fullmatch(name) or ".." in name:
        raise ValueError(
            f"track name {name!r} is not a plain track name. Use a name such as "
            "'reinvent_base' (letters, digits, '_', '-', '.'; no folders or '..'), "
            "or pass the path of a .npy route file to load a file of your own."
        )
    if name.endswith(".npy"):
        raise ValueError(
            f"track name {name!r} ends in '.npy'. Give the name without the extension "
            f"({name[:-4]!r}), or pass a path such as './{name}' to load that file."
        )
    return name


def _tracks_dir() -> Path | None:
    value = os.environ.get(TRACKS_DIR_ENV)
    return Path(value).expanduser() if value else None


def _find_local(name: str) -> Path | None:
    for folder in (_tracks_dir(), cache_dir()):
        if folder is not None and (folder / f"{name}.npy").is_file():
            return folder / f"{name}.npy"
    return None


def _download(name: str) -> Path:
    """Fetch ``<name>.npy`` into the cache atomically; a bad or partial file never lands there."""
    failures = []
    for template in ROUTES_URLS:
        url = template.format(name=name)
        try:
            payload = _fetch(url, DOWNLOAD_TIMEOUT_S)
            break
        except (OSError, http.client.HTTPException) as error:
            failures.append(f"{url}: {error}")
    else:
        reason = "downloading failed (" + "; ".join(failures) + ")"
        raise TrackNotFoundError(_missing_file_message(name, reason), reason)
    folder = cache_dir()
    temp: Path | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
        temp = Path(temp_name)
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        load_route_file(temp)
        os.replace(temp, folder / f"{name}.npy")
    except RouteFileError as error:
        reason = (
            f"the {len(payload)} bytes downloaded from {url} are not a .npy route array of "
            "shape (N, 6), so nothing was cached"
        )
        raise TrackNotFoundError(_missing_file_message(name, reason), reason) from error
    except OSError as error:
        raise TrackNotFoundError(
            f"Cannot write {name}.npy into the track cache folder {folder} ({error}). "
            f"Set {CACHE_DIR_ENV} to a writable folder, or set {TRACKS_DIR_ENV} to a folder "
            f"that already holds {name}.npy.",
            f"cannot write into the track cache folder {folder} ({error})",
        ) from error
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)
    return folder / f"{name}.npy"


def shown_folder(path: Path) -> str:
    """A folder as a person writes it: the home folder as ``~``."""
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home) :] if home != "/" and text.startswith(home) else text


def _searched_places() -> str:
    tracks_dir = _tracks_dir()
    if tracks_dir is None:
        first = f"{TRACKS_DIR_ENV} not set"
    elif tracks_dir.is_dir():
        first = f"{TRACKS_DIR_ENV}={tracks_dir}"
    else:
        first = f"{TRACKS_DIR_ENV}={tracks_dir} (folder does not exist)"
    return f"{first}; cache folder {shown_folder(cache_dir())}"


def _missing_file_message(name: str, reason: str) -> str:
    return (
        f"Track file {name}.npy is missing: {reason}. Looked in: {_searched_places()}. "
        f"To provide it: set {TRACKS_DIR_ENV} to a folder that contains {name}.npy, or copy "
        f"{name}.npy into {shown_folder(cache_dir())}, or run `python -m markov.tracks.fetch "
        f"{name}` (`make tracks` fetches all 12 workshop tracks) with internet access so it is "
        "downloaded into the cache. The file is bundle/routes/"
        f"{name}.npy of github.com/aws-deepracer-community/deepracer-simapp."
    )


def _unknown_name_message(name: str) -> str:
    from markov.tracks.builtin import BUILTIN_TRACKS

    if name in BUILTIN_TRACKS:
        return (
            f"{name!r} is a built-in track, not an official route file; load it by name "
            "through markov.tracks.load_track (or builtin_route)."
        )
    candidates = [*OFFICIAL_TRACKS, *BUILTIN_TRACKS]
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if not close:
        lowered = {candidate.lower(): candidate for candidate in candidates}
        close = [
            lowered[match]
            for match in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
        ]
    hint = f" Did you mean {', '.join(repr(match) for match in close)}?" if close else ""
    return (
        f"Unknown track name {name!r}: not an official DeepRacer track or built-in track, and "
        f"no {name}.npy was found ({_searched_places()}).{hint} To use a route file of your "
        f"own, pass its path (e.g. './my_track.npy'), or put {name}.npy into {TRACKS_DIR_ENV}."
    )
