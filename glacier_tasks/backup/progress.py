"""What a person watching a backup sees, and what a log of it keeps.

On a terminal (stderr is one): a bar for the whole run (bags done of total, bytes sent
of total, rate, ETA) with a bar per running step under it. Without one (cron, systemd,
`| tee`): a timestamped line when a bag's tar, upload or manifest starts and ends, and
a heartbeat line (bytes so far, rate, ETA) every `progress_interval` seconds, so a log
is never silent for longer.

Bytes count once, when S3 acknowledges a part (store.Store.upload_file), so a bag's
bar ends at exactly its size and the rate is what really left. One Progress per Run
(Run.progress), shared by the tasks that doit's threads run at once; with
`-P process` each worker process keeps its own.

STOP is set by Ctrl-C or SIGTERM (commands.base): the steps running in doit's worker
threads then stop at their next chunk or part, as the main thread does.
"""

import sys
import threading
import time
from contextlib import contextmanager

from tqdm import tqdm

from ..units import duration, human, plural

STOP = threading.Event()


def stamp(when: float | None = None) -> str:
    """Local time to the millisecond: 2026-01-15 03:00:01.234."""
    when = time.time() if when is None else when
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when)) + \
        f".{int(when * 1000) % 1000:03d}"


def _unwrap(stream):
    """The stream doit's output capture wraps (None when the run is quiet, -v 0)."""
    while stream is not None and hasattr(stream, "orig_stream") and \
            hasattr(stream, "writers"):
        stream = stream.orig_stream
    return stream


def check_stop() -> None:
    """Raise in a worker thread once the run is being stopped."""
    if STOP.is_set():
        raise KeyboardInterrupt("stopping")


_busy = set()  # threads running a bag's step
_idle = threading.Condition()


@contextmanager
def working():
    """Around a step: stop() waits for the steps of the other threads to end."""
    me = threading.get_ident()
    with _idle:
        _busy.add(me)
    try:
        yield
    finally:
        with _idle:
            _busy.discard(me)
            _idle.notify_all()


def stop(seconds: float) -> None:
    """Ctrl-C or SIGTERM (in the main thread): the steps running in doit's worker
    threads stop at their next chunk or part; wait up to `seconds` for them, so that
    what follows (unmounting, the closing summary) finds them ended."""
    if STOP.is_set():
        return  # a second Ctrl-C: no more waiting
    STOP.set()
    me = threading.get_ident()
    with _idle:
        _idle.wait_for(lambda: not (_busy - {me}), timeout=seconds)


class Progress:
    """The run's totals and its display. Step actions call start() first."""

    def __init__(self, settings):
        self.interval = settings.progress_interval
        self._lock = threading.RLock()
        self._started = False
        self.out = self.err = None
        self.tty = False
        self.sizes = {}  # bag name -> bytes it sends this run
        self.done = set()  # bags finished this run (uploaded, adopted or repaired)
        self.failed = set()  # bags whose step failed this run
        self.sent = 0  # acknowledged by S3, resumed parts included
        self._fresh = 0  # acknowledged by S3 in this run: the rate's numerator
        self._first_send = None
        self._overall = None
        self._beat = None
        self._end = threading.Event()

    # -- the run -------------------------------------------------------------------

    def start(self, todo, verbose: bool = True) -> None:
        """Once per run: `todo()` gives {bag name: bytes to send}. Nothing is shown
        below doit's verbosity 2 (-v 0 and -v 1 capture what tasks print)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self.out, self.err = _unwrap(sys.stdout), _unwrap(sys.stderr)
            if not verbose:
                self.out = self.err = None
            self.tty = bool(self.err is not None and getattr(self.err, "isatty", None)
                            and self.err.isatty())
            self.sizes = dict(todo())
            if self.out is None:
                return  # -v 0: quiet
            if self.tty:
                self._overall = tqdm(total=self.bytes_total, position=0, leave=False,
                                     file=self.err, unit="B", unit_scale=True)
                self._redraw()
            else:
                self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                              name="glacier-heartbeat")
                self._beat.start()

    @property
    def bytes_total(self) -> int:
        return sum(self.sizes.values())

    def add_bag(self, name: str, size: int) -> None:
        """A bag this run found it must send after all (a repair)."""
        with self._lock:
            self.sizes[name] = size
            self._redraw()

    def resize(self, name: str, size: int) -> None:
        """The bag's real size, once packed (the plan had an estimate)."""
        with self._lock:
            if name in self.sizes:
                self.sizes[name] = size
                self._redraw()

    def adopted(self, name: str) -> None:
        """Already in the bucket: nothing to send after all."""
        with self._lock:
            self.sizes[name] = 0
            self.done.add(name)
            self._redraw()

    def finished(self, name: str) -> None:
        with self._lock:
            self.done.add(name)
            self._redraw()

    def gave_up(self, name: str) -> None:
        """A step of this bag failed: it is not coming this run."""
        with self._lock:
            self.failed.add(name)
            self._redraw()

    def acknowledged(self, nbytes: int, resumed: bool = False) -> None:
        """S3 holds nbytes more (resumed: parts an earlier run had sent)."""
        with self._lock:
            self.sent += nbytes
            if not resumed:
                self._fresh += nbytes
            self._redraw()
        check_stop()

    def rate(self) -> float | None:
        if self._first_send is None or not self._fresh:
            return None
        return self._fresh / max(time.monotonic() - self._first_send, 1e-3)

    def summary(self) -> str:
        """bags done of total, bytes sent of total, rate, ETA."""
        total = self.bytes_total
        rate = self.rate()
        left = max(total - self.sent, 0)
        speed = f"{human(rate)}/s" if rate else "rate not known yet"
        eta = ("ETA " + duration(left / rate)) if rate and left else \
            ("nothing left to send" if not left else "ETA not known yet")
        done = len(self.done & set(self.sizes))
        return (f"{done} of {plural(len(self.sizes), 'bag')} done, {human(self.sent)} of "
                f"{human(total)} sent, {speed}, {eta}")

    def finish(self) -> None:
        """The run is over: the heartbeat stops, the bars go."""
        self._end.set()
        with self._lock:
            if self._overall is not None:
                self._overall.close()
                self._overall = None

    # -- steps ---------------------------------------------------------------------

    def step(self, step: str, name: str, event: str, detail: str = "") -> None:
        """A step's start or end, as a timestamped line in a log."""
        if self.tty or self.out is None:
            return
        self.line(f"{stamp()} {step} {name} {event}" + (f" ({detail})" if detail else ""))

    def line(self, text: str) -> None:
        with self._lock:
            if self.out is None:
                return
            if self._overall is not None:
                tqdm.write(text, file=self.out)
            else:
                self.out.write(text + "\n")
                self.out.flush()

    def say(self, text: str) -> None:
        """A result line of a step (bag uploaded, failed, repaired)."""
        self.line(text)

    @contextmanager
    def upload_bar(self, name: str, size: int):
        """Yield the callable that store.upload_file calls per acknowledged part."""
        with self._lock:
            if self._first_send is None:
                self._first_send = time.monotonic()
        bar = self._bar(size, f"upload {name}", 1)

        def acknowledged(nbytes, resumed=False):
            if bar is not None:
                bar.update(nbytes)
            self.acknowledged(nbytes, resumed)

        try:
            yield acknowledged
        finally:
            if bar is not None:
                bar.close()

    @contextmanager
    def pack_bar(self, name: str, size: int):
        """Yield the callable tar's reader calls per chunk written."""
        bar = self._bar(size, f"tar {name}", 2)

        def written(nbytes):
            if bar is not None:
                bar.update(nbytes)
            check_stop()

        try:
            yield written
        finally:
            if bar is not None:
                bar.close()

    # -- display -------------------------------------------------------------------

    def _bar(self, total: int, label: str, position: int):
        if not self.tty or self.err is None:
            return None
        return tqdm(total=total, desc=label, unit="B", unit_scale=True, leave=False,
                    position=position, file=self.err)

    def _redraw(self) -> None:
        bar = self._overall
        if bar is None:
            return
        if not set(self.sizes) - self.done - self.failed:  # every bag is through: the
            bar.close()  # lines that follow (inventory, report) get a clean screen
            self._overall = None
            return
        bar.total = max(self.bytes_total, 1)
        bar.n = min(self.sent, bar.total)
        done = len(self.done & set(self.sizes))
        sent = self.summary().split(" done, ", 1)[1].replace("{", "(").replace("}", ")")
        bar.bar_format = f"backup: {done}/{plural(len(self.sizes), 'bag')} |{{bar}}| {sent}"
        bar.refresh()

    def _heartbeat(self) -> None:
        while not self._end.wait(self.interval):
            with self._lock:
                text = self.summary()
            self.line(f"{stamp()} progress: {text}")
