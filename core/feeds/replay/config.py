"""Settings of the replay source: which recorded file to play, how fast, and how."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.config import Settings


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    """Frozen settings of :class:`~core.feeds.replay.ReplaySource`.

    Parameters
    ----------
    path
        CSV or Parquet file of ticks or bars (see :func:`~core.feeds.replay.parsing.load_events`).
        A ``str`` is converted to :class:`~pathlib.Path`.
    speed
        Playback rate: ``1.0`` is real time, ``10`` ten times faster, ``0.5`` half speed and ``0``
        as fast as possible (batches of about 1,000 events, no waiting).
    rebase
        Shift event times so the first event happens "now" (the source's clock at the start of
        playback), keeping the recorded gaps. Bar files are shifted by whole bars so the first bar
        is the last completed one. With ``False`` the recorded times are kept.
    loop
        Start again from the first event when the file ends, instead of finishing. Later passes are
        shifted forward so times keep increasing.

    Raises
    ------
    ConfigError
        When ``path`` is empty or ``speed`` is negative or not finite.
    """

    path: Path
    speed: float = 1.0
    rebase: bool = True
    loop: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.path, (str, Path)) or not str(self.path).strip():
            raise ConfigError("Replay needs the path of a CSV or Parquet file (GS_REPLAY_PATH).")
        if not isinstance(self.path, Path):
            object.__setattr__(self, "path", Path(str(self.path).strip()))
        speed = self.speed
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not math.isfinite(
            speed
        ) or speed < 0:
            raise ConfigError(
                f"Replay speed must be a number >= 0 (1 = real time, 10 = ten times faster, "
                f"0 = as fast as possible), got {speed!r}."
            )
        object.__setattr__(self, "speed", float(speed))

    @classmethod
    def from_settings(cls, settings: Settings, *, rebase: bool = True, loop: bool = False
                      ) -> ReplayConfig:
        """Build the config from ``GS_REPLAY_PATH`` and ``GS_REPLAY_SPEED``.

        Parameters
        ----------
        settings
            Loaded :class:`core.config.Settings`.
        rebase, loop
            See the class parameters; these have no environment variable yet.

        Returns
        -------
        ReplayConfig
        """
        return cls(path=settings.replay_path, speed=settings.replay_speed, rebase=rebase,
                   loop=loop)
