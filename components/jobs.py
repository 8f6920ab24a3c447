"""Long research jobs on a page: run in a background thread, show progress, cancel on request.

A page calls :func:`start_job` with a function of ``(progress, cancel)`` (the core's research
functions take both), then :func:`render_job` each run: while the job runs a fragment refreshes a
progress bar twice a second and offers Cancel; when it ends the fragment reruns the page once, and
:func:`job_result` hands the result to the page (or shows the user-facing error). The thread
never calls ``st.*``: it only writes to the :class:`Job` object kept in the session.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from core.compute import Cancelled, CancelToken
from core.errors import GSError

JobFn = Callable[[Callable[[int, int], None], CancelToken], Any]


@dataclass
class Job:
    """One run of a job: its progress, its cancel token, and how it ended."""

    label: str
    token: CancelToken = field(default_factory=CancelToken)
    done: int = 0
    total: int = 0
    result: Any = None
    error: str | None = None
    finished: bool = False
    shown: bool = False
    started: float = field(default_factory=time.monotonic)

    def progress(self, done: int, total: int) -> None:
        """The callback the core calls as items finish."""
        self.done, self.total = done, total

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


def _run(job: Job, fn: JobFn) -> None:
    try:
        job.result = fn(job.progress, job.token)
    except Cancelled:
        job.error = "Cancelled: the job stopped before it finished; nothing was kept."
    except GSError as exc:  # user-facing problems: bad data, bad parameters
        job.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - shown to the user instead of a traceback
        job.error = f"The job failed unexpectedly ({type(exc).__name__}: {exc})."
    finally:
        job.finished = True


def start_job(key: str, label: str, fn: JobFn) -> Job:
    """Start ``fn(progress, cancel)`` in a thread; any job already under ``key`` is cancelled."""
    old: Job | None = st.session_state.get(key)
    if old is not None and not old.finished:
        old.token.cancel()
    job = Job(label)
    st.session_state[key] = job
    threading.Thread(target=_run, args=(job, fn), name=f"job-{key}", daemon=True).start()
    return job


def render_job(key: str) -> None:
    """Progress bar and Cancel while the job under ``key`` runs (nothing when there is none)."""
    job: Job | None = st.session_state.get(key)
    if job is None or job.shown:
        return

    @st.fragment(run_every=0.5)
    def _progress() -> None:
        if job.finished:
            job.shown = True
            st.rerun()  # the whole page, so it can show the outcome
        elapsed = time.monotonic() - job.started
        text = (f"{job.label}: {job.done:,} of {job.total:,} done · {elapsed:.0f} s"
                if job.total else f"{job.label}: starting ...")
        st.progress(job.fraction, text=text)
        if st.button("Cancel", key=f"{key}-cancel", disabled=job.token.cancelled):
            job.token.cancel()

    _progress()


def job_result(key: str) -> Any:
    """The result of the finished job under ``key``; its error is shown instead.

    Returns None while the job runs, when there is none, or when it failed or was cancelled
    (then the user-facing message is on the page).
    """
    job: Job | None = st.session_state.get(key)
    if job is None or not job.finished:
        return None
    if job.error:
        st.error(job.error)
        return None
    return job.result
