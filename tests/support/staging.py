"""What staging_dir held at its fullest during a run: the pipeline's tests check its
budget with it, the benchmark reports it."""

import os
import threading


class StagingSampler:
    """Samples staging_dir every few milliseconds: the most tars (whole or being
    written) and the most bytes it ever held at once."""

    def __init__(self, folder, interval: float = 0.003):
        self.folder, self.interval = folder, interval
        self.most, self.most_bytes, self.samples = 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                entries = [e for e in os.scandir(self.folder)
                           if e.name.endswith((".tar", ".tar.partial"))]
                sizes = [e.stat().st_size for e in entries]
            except OSError:
                continue
            self.samples += 1
            self.most = max(self.most, len(entries))
            self.most_bytes = max(self.most_bytes, sum(sizes))

    def stop(self) -> tuple[int, int]:
        self._stop.set()
        self._thread.join()
        return self.most, self.most_bytes
