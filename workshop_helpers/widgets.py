"""Pickers for the notebooks' choices: track, race type, backend, sensors and network.

Each picker displays itself in Jupyter and has a ``.value`` that the next cell reads. The
options come from plain functions (``track_options()``, ...) so they can be checked without a
browser.
"""

from __future__ import annotations

import html
import io
from functools import lru_cache

import ipywidgets as widgets
from IPython.display import display

from markov.environment.deepracer_racetrack_env import DEFAULT_TRACK
from markov.environment.model_metadata import NEURAL_NETWORKS
from markov.tracks import WORKSHOP_TRACKS, TrackNotFoundError, load_track
from markov.tracks.builtin import BUILTIN_TRACKS
from markov.tracks.official import local_track_names, official_track_available
from workshop_helpers.plotting import plot_track

Option = tuple[str, object]

RACE_TYPES: tuple[tuple[str, str], ...] = (
    ("Time trial", "TIME_TRIAL"),
    ("Object avoidance", "OBJECT_AVOIDANCE"),
    ("Head to bot", "HEAD_TO_BOT"),
)
BACKENDS: tuple[tuple[str, str], ...] = (
    ("Local (this machine)", "local"),
    ("AWS (SageMaker)", "aws"),
)
SENSOR_SETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Front camera", ("FRONT_FACING_CAMERA",)),
    ("Stereo cameras", ("STEREO_CAMERAS",)),
    ("Front camera + LIDAR", ("FRONT_FACING_CAMERA", "LIDAR")),
    ("Stereo cameras + LIDAR", ("STEREO_CAMERAS", "LIDAR")),
    ("Stereo cameras + sector LIDAR", ("STEREO_CAMERAS", "SECTOR_LIDAR")),
)
NETWORK_LABELS: dict[str, str] = {
    "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW": "Shallow: 3 convolutions (the default)",
    "DEEP_CONVOLUTIONAL_NETWORK": "Standard: 4 convolutions + 1 dense layer",
    "DEEP_CONVOLUTIONAL_NETWORK_DEEP": "Deep: 4 convolutions + 2 dense layers",
}
"""The names notebook 01's text uses (Shallow, Standard, Deep), with what each network holds."""
THUMBNAIL_WIDTH_PX = 360
FIT_TEXT = {"description_width": "initial"}
"""Widget style: the description takes the room its text needs instead of a fixed width."""
BUTTONS_FIT_TEXT = {**FIT_TEXT, "button_width": "max-content"}
"""ToggleButtons style: each button as wide as its label, so no label is cut off."""


def fitting_layout() -> widgets.Layout:
    """A layout as wide as the widget's longest choice (a dropdown shows its whole label)."""
    return widgets.Layout(width="max-content")


class TrackPicker:
    """A track dropdown with a picture and a short description of the selected track."""

    def __init__(self, default: str = DEFAULT_TRACK) -> None:
        options = track_options()
        if default not in [value for _, value in options]:
            raise ValueError(
                f"default track {default!r} is not in the picker; use one of "
                f"{', '.join(value for _, value in options)}"
            )
        self.dropdown = widgets.Dropdown(
            options=options,
            value=default,
            description="Track",
            style=FIT_TEXT,
            layout=fitting_layout(),
        )
        self.picture = widgets.Image(format="png", width=THUMBNAIL_WIDTH_PX)
        self.caption = widgets.HTML()
        self.widget = widgets.VBox([self.dropdown, self.picture, self.caption])
        self.dropdown.observe(lambda _change: self._show_selected(), names="value")
        self._show_selected()

    @property
    def value(self) -> str:
        """The selected track's world_name."""
        return self.dropdown.value

    @value.setter
    def value(self, name: str) -> None:
        self.dropdown.value = name

    def _show_selected(self) -> None:
        name = self.dropdown.value
        self.caption.value = f"Loading {_text(name)} ..."
        try:
            self.picture.value = track_picture_png(name)
        except TrackNotFoundError as error:
            # no picture at all (an empty image shows a broken-image icon); the reason is text
            self.picture.value = b""
            self.picture.layout.display = "none"
            self.caption.value = f"<b>{_text(name)} is not available:</b> {_text(str(error))}"
            return
        self.picture.layout.display = None
        info = BUILTIN_TRACKS.get(name)
        self.caption.value = _text(info.description if info else "Official DeepRacer track.")

    def _ipython_display_(self) -> None:
        display(self.widget)

    def __repr__(self) -> str:
        return f"TrackPicker(value={self.value!r})"


def _text(plain: str) -> str:
    """Plain text for an HTML caption: ``<urlopen error ...>`` must show, not vanish as a tag."""
    return html.escape(plain, quote=False)


def track_options() -> list[Option]:
    """(label, world_name) for the workshop's tracks, then the built-in tracks, then every
    other track file on this machine (DR_TRACKS_DIR or the track cache)."""
    official = [
        (name if official_track_available(name) else f"{name} (downloads on first use)", name)
        for name in WORKSHOP_TRACKS
    ]
    builtin = [(f"{name} (built-in)", name) for name in BUILTIN_TRACKS]
    listed = {*WORKSHOP_TRACKS, *BUILTIN_TRACKS}
    local = [
        (f"{name} (on this machine)", name) for name in local_track_names() if name not in listed
    ]
    return official + builtin + local


def race_type_options() -> list[Option]:
    """(label, RACE_TYPE) for the race types the workshop trains."""
    return list(RACE_TYPES)


def backend_options() -> list[Option]:
    """(label, backend) for where training runs."""
    return list(BACKENDS)


def sensor_options() -> list[Option]:
    """(label, sensor tuple) for model_metadata's ``sensor`` list."""
    return list(SENSOR_SETS)


def network_options() -> list[Option]:
    """(label, neural_network) for model_metadata's ``neural_network``."""
    return [(NETWORK_LABELS[name], name) for name in NEURAL_NETWORKS]


def track_picker(default: str = DEFAULT_TRACK) -> TrackPicker:
    """Pick the track (world_name); shows the selected track, downloading it if needed."""
    return TrackPicker(default)


def race_type_picker(default: str = "TIME_TRIAL") -> widgets.ToggleButtons:
    """Pick the race type (TIME_TRIAL, OBJECT_AVOIDANCE or HEAD_TO_BOT)."""
    return widgets.ToggleButtons(
        options=race_type_options(), value=default, description="Race type", style=BUTTONS_FIT_TEXT
    )


def backend_picker(default: str = "local") -> widgets.ToggleButtons:
    """Pick where to train: "local" (this machine) or "aws" (SageMaker)."""
    return widgets.ToggleButtons(
        options=backend_options(), value=default, description="Run on", style=BUTTONS_FIT_TEXT
    )


def sensor_picker(default: tuple[str, ...] = ("FRONT_FACING_CAMERA",)) -> widgets.Dropdown:
    """Pick the car's sensors; ``.value`` is a tuple of model_metadata sensor names."""
    return widgets.Dropdown(
        options=sensor_options(),
        value=tuple(default),
        description="Sensors",
        style=FIT_TEXT,
        layout=fitting_layout(),
    )


def network_picker(default: str = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW") -> widgets.Dropdown:
    """Pick the neural network; ``.value`` is the model_metadata ``neural_network`` value."""
    return widgets.Dropdown(
        options=network_options(),
        value=default,
        description="Network",
        style=FIT_TEXT,
        layout=fitting_layout(),
    )


@lru_cache(maxsize=32)
def track_picture_png(name: str) -> bytes:
    """PNG of ``plot_track(name)`` for the picker (loads, and if needed downloads, the track)."""
    figure = plot_track(load_track(name))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=60, bbox_inches="tight")
    return buffer.getvalue()
