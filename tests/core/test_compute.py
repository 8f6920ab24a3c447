"""The executor seam: order, progress, cancellation and errors on every executor."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import compute
from core.compute import (
    Cancelled,
    CancelToken,
    DaskExecutor,
    Executor,
    LocalExecutor,
    SerialExecutor,
    get_executor,
)


def slow_square(item: tuple[int, float]) -> int:
    """``item[0] ** 2`` after sleeping ``item[1]`` s (module level: workers import it)."""
    value, delay = item
    time.sleep(delay)
    return value * value


def mark_and_sleep(item: tuple[str, int, float]) -> int:
    """Create ``folder/index`` (the item started), then sleep."""
    folder, index, delay = item
    Path(folder, str(index)).touch()
    time.sleep(delay)
    return index


def fail_on_three(value: int) -> int:
    if value == 3:
        raise ValueError("three is not allowed")
    return value


@pytest.fixture(scope="module")
def dask_client() -> Iterator[object]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(params=["serial", "local", "dask"])
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    if request.param == "serial":
        yield SerialExecutor()
        return
    ex: Executor = (LocalExecutor(max_workers=2) if request.param == "local"
                    else DaskExecutor(request.getfixturevalue("dask_client")))
    try:
        yield ex
    finally:
        ex.close()


def test_results_come_back_in_input_order(executor: Executor) -> None:
    # the first items take longest, so they finish last on the parallel executors
    items = [(i, 0.05 * (6 - i) if executor.name != "serial" else 0.0) for i in range(7)]
    assert executor.map(slow_square, items) == [i * i for i in range(7)]
    assert executor.map(slow_square, []) == []


def test_progress_reaches_total_over_total(executor: Executor) -> None:
    calls: list[tuple[int, int]] = []
    executor.map(slow_square, [(i, 0.01) for i in range(9)],
                 progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (9, 9)
    assert all(total == 9 for _, total in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(set(done)) == len(done)


def test_an_items_error_propagates(executor: Executor) -> None:
    with pytest.raises(ValueError, match="three is not allowed"):
        executor.map(fail_on_three, list(range(6)))


def test_a_cancelled_token_stops_before_anything_runs(executor: Executor,
                                                      tmp_path: Path) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        executor.map(mark_and_sleep, [(str(tmp_path), i, 0.0) for i in range(4)], cancel=token)
    assert token.cancelled and not list(tmp_path.iterdir())


@pytest.mark.parametrize("kind", ["serial", "local", "dask"])
def test_cancel_stops_a_long_job(kind: str, tmp_path: Path,
                                 request: pytest.FixtureRequest) -> None:
    """24 items of 0.25 s (3 s on two workers); cancelled at the first finished item."""
    ex: Executor = {"serial": SerialExecutor, "local": lambda: LocalExecutor(max_workers=2),
                    "dask": lambda: DaskExecutor(request.getfixturevalue("dask_client"))}[kind]()
    if kind != "serial":  # warm the workers so start-up time is not counted
        ex.map(slow_square, [(1, 0.0), (2, 0.0)])
    token = CancelToken()
    items = [(str(tmp_path), i, 0.25) for i in range(24)]
    started = time.monotonic()
    try:
        with pytest.raises(Cancelled):
            ex.map(mark_and_sleep, items, progress=lambda done, total: token.cancel(),
                   cancel=token)
        elapsed = time.monotonic() - started
        time.sleep(0.6)  # let the items that were already running finish
    finally:
        ex.close()
    ran = len(list(tmp_path.iterdir()))
    assert elapsed < 1.5
    assert ran < 12, f"{ran} of 24 items ran after the cancel"


def test_get_executor_is_local_by_default_and_dask_when_configured(
        monkeypatch: pytest.MonkeyPatch, dask_client: object) -> None:
    monkeypatch.setattr(compute, "_DEFAULT", None)
    default = get_executor()
    try:
        assert isinstance(default, LocalExecutor) and get_executor() is default
    finally:
        default.close()
    address = dask_client.scheduler.address  # type: ignore[attr-defined]
    monkeypatch.setenv("GS_DASK_SCHEDULER", address)
    dask = get_executor()
    try:
        assert isinstance(dask, DaskExecutor) and get_executor() is dask
        assert dask.map(slow_square, [(3, 0.0), (4, 0.0)]) == [9, 16]
    finally:
        dask.close()
        monkeypatch.setattr(compute, "_DEFAULT", None)


class _FakeDaskFuture:
    """Enough of a Dask future for ``_as_concurrent``: the callback fires when told."""

    def __init__(self, outcome: object) -> None:
        self.outcome = outcome
        self.callback = None

    def add_done_callback(self, fn: object) -> None:
        self.callback = fn

    def cancelled(self) -> bool:
        return False

    def result(self) -> object:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome

    def finish(self) -> None:
        self.callback(self)  # type: ignore[misc]


@pytest.mark.parametrize("outcome", [5, ValueError("boom")])
def test_a_task_ending_after_the_caller_cancelled_is_ignored(outcome: object) -> None:
    """Cancel marks the wrapped future first; the Dask task may still end afterwards."""
    fake = _FakeDaskFuture(outcome)
    wrapped = compute._as_concurrent(fake)
    assert wrapped.cancel()
    fake.finish()  # used to raise InvalidStateError in Dask's callback thread
    assert wrapped.cancelled()
    live = _FakeDaskFuture(outcome)
    resolved = compute._as_concurrent(live)
    live.finish()
    if isinstance(outcome, BaseException):
        assert resolved.exception() is outcome
    else:
        assert resolved.result() == 5
