"""The feed process's side of scale-out: status broadcasts and subscribe requests on the bus."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict
from typing import Any

from core.bus.base import Bus, Subscription
from core.errors import BusError, GSError, InvalidSymbol
from core.feeds.simulator import SimulatorConfig

STATUS_TOPIC = "status"
SUBSCRIBE_TOPIC = "control.subscribe"


class FeedControl:
    """Publishes the hub's status every ``interval`` seconds and serves subscribe requests.

    Parameters
    ----------
    hub
        The running FeedHub whose source is the real one (simulator, replay, venues).
    bus
        The shared bus the app replicas listen to.
    """

    def __init__(self, hub: Any, bus: Bus, interval: float = 1.0) -> None:
        self.hub, self.bus, self.interval = hub, bus, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sub: Subscription | None = None

    def status(self) -> dict[str, Any]:
        """The status message: source, whether simulated, state, symbols and counters."""
        health = self.hub.health()
        stats = self.hub.stats()
        config = getattr(self.hub.source, "config", None)
        simulator = asdict(config) if isinstance(config, SimulatorConfig) else None
        return {
            "simulator": simulator, "source": health.name, "simulated": health.simulated,
            "state": health.state,
            "message": health.message, "symbols": list(self.hub.source.symbols()),
            "events": stats.accepted, "ts": time.time(),
            "references": {s: r.reference for s, r in self.hub.snapshot().items()},
            "sources": report.to_dict() if (report := self.hub.sources_report()) else None,
        }

    def _on_request(self, _topic: str, message: Any) -> None:
        ok, errors, kinds = [], {}, {}
        for raw in message.get("symbols", ()):
            try:
                ok.append(self.hub.add_symbol(raw))
            except GSError as exc:
                errors[str(raw)] = str(exc)
                kinds[str(raw)] = "invalid" if isinstance(exc, InvalidSymbol) else "unknown"
        reply_to = message.get("reply_to")
        if reply_to:
            self.bus.publish(reply_to, {"ok": ok, "errors": errors, "kinds": kinds})
        self._publish_status()

    def _publish_status(self) -> None:
        try:
            self.bus.publish(STATUS_TOPIC, self.status())
        except BusError:
            pass  # the hub counts bus errors itself; status resumes when the bus is back

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._publish_status()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._sub = self.bus.subscribe([SUBSCRIBE_TOPIC], self._on_request)
        self._publish_status()
        self._thread = threading.Thread(target=self._run, name="gs-feed-control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._sub is not None:
            self._sub.close()
            self._sub = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
