"""Reading pages on a Dask distributed cluster (`scan ingest --cluster tcp://SCHEDULER:8786`).

The engine is dask.distributed (an optional extra: `pip install 'zonepaper[cluster]'`). Each page is
one task: the original file's bytes are scattered to the cluster once (no shared file system is
assumed), and the worker rasterises the page itself and reads it with the same pure reader as
`scan ingest` (`scan.page.read_page`). The cycle's read context (layout, zone, digit reader) is
scattered once, **without the cycle's secret**: the tags of the codes a worker read are checked here,
where the secret is (`scan.page.settle_tag`), so that a shared cluster never holds it. The one writer
is this process: pages are read in any order as workers come free and stored in the order of the files
and pages (as one process stores them, so the outcome never depends on which worker was quicker), each
in its own transaction as ingest always does, with at most a few pages per worker in flight. Killed at any moment and run
again, every page ends up stored exactly once.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

from zonepaper.errors import ConflictError, InvalidInputError, MissingDependencyError
from zonepaper.scan.page import PageResult, ReadContext, quarantine, settle_tag

ENV = "ZONEPAPER_DASK_SCHEDULER"
PER_WORKER = 3  # pages in flight for each worker thread: enough to keep it busy, memory bounded
WAITING = 4  # and up to this many times as many read, waiting for an earlier page to be handed on
_files: OrderedDict[str, Path] = OrderedDict()  # on a worker: the last originals written, by content hash
_folder: list[str] = []


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise MissingDependencyError("scan.no_dask") from None
    return distributed


@dataclass
class Cluster:
    """A client of a running cluster, or of a local one started for this run (`local:N`)."""

    client: Any
    local: Any = None

    def close(self) -> None:
        self.client.close()
        if self.local is not None:
            self.local.close()

    @property
    def threads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))


def connect(address: str) -> Cluster:
    """`tcp://HOST:8786` (or any address Dask takes), or `local:N` for N worker processes on this computer."""
    distributed = _import_distributed()
    if address.startswith("local:"):
        count = address.removeprefix("local:")
        if not (count.isdigit() and 1 <= int(count) <= 256):
            raise InvalidInputError("scan.bad_cluster", address=address)
        local = local_cluster(int(count))
        return Cluster(distributed.Client(local), local)
    try:
        client = distributed.Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConflictError("scan.cluster_unreachable", address=address, reason=str(exc) or type(exc).__name__
                            ) from None
    return Cluster(client)


# Dask's settings for a reading cluster (the guides give the same as ~/.config/dask/zonepaper.yaml for
# workers started by hand). Without the MALLOC_TRIM_THRESHOLD_ Dask's nannies set by default: with it,
# glibc hands every page image's memory back and maps it again (30 ms more system time a page here, about
# 10 %). And without what only a dashboard shows (reading has none): the statistical profiler sampling
# every worker every 10 ms, the system monitor every 0.5 s, the event loop's health check every 20 ms and
# the memory check every 0.1 s. With Dask's defaults an idle 2-worker LocalCluster took 12.9-13.5 % of
# one core here, 1.5 % with these; reading, the writer's process spent 24-29 ms a page instead of 19-21.
READING_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def local_cluster(workers: int) -> Any:
    """A LocalCluster of single-threaded worker processes on this computer, with READING_CONFIG."""
    import dask

    distributed = _import_distributed()
    with dask.config.set(READING_CONFIG):
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.ERROR)


# --- on the workers ------------------------------------------------------------------------------
def warm() -> None:
    """Load what reading loads on its first page (the digit and letter networks): a worker that stays up
    between batches pays it once (the benchmark warms every side alike before its clock runs)."""
    import cv2

    from zonepaper.scan.digits import digit_nets
    from zonepaper.scan.letters import letter_nets

    cv2.setNumThreads(1)
    digit_nets()
    letter_nets()


def _worker_file(sha: str, suffix: str, data: bytes) -> Path:
    """The original as a file on the worker (its pages are rasterised from it), kept for its next pages."""
    if sha in _files and _files[sha].is_file():
        _files.move_to_end(sha)
        return _files[sha]
    if not _folder:
        _folder.append(tempfile.mkdtemp(prefix="zonepaper-worker-"))
        atexit.register(shutil.rmtree, _folder[0], True)
    path = Path(_folder[0]) / f"{sha}{suffix}"
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    _files[sha] = path
    while len(_files) > 4:
        _, old = _files.popitem(last=False)
        old.unlink(missing_ok=True)
    return path


def read_one_page(data: bytes, sha: str, suffix: str, index: int, pages: int, ctx: ReadContext) -> PageResult:
    """On a worker: page `index` of the original (`pages` pages), rasterised and read there."""
    import cv2

    from zonepaper.scan.ingest import _read_safely
    from zonepaper.scan.raster import UnreadableFile, read_pages

    cv2.setNumThreads(1)
    path = _worker_file(sha, suffix, data)
    try:
        for page in read_pages(path, skip={i for i in range(pages) if i != index}):
            return _read_safely(page, ctx)
    except UnreadableFile as exc:
        return PageResult(index, "quarantined", reason="unreadable_file", detail=str(exc))
    return PageResult(index, "quarantined", reason="unreadable_file", detail="page not in file")


def _where(client: Any, future: Any) -> str:
    """The worker that ran a task, as far as the scheduler remembers."""
    try:
        return ", ".join(str(w) for w in client.who_has([future]).get(future.key, ())) or "?"
    except Exception:  # only for the message
        return "?"


# --- here, the one writer --------------------------------------------------------------------------
def read_on_cluster(cluster: Cluster, ctx: ReadContext, work: Iterator[tuple[str, Path, int, int]]
                    ) -> Iterator[tuple[str, PageResult]]:
    """(file's hash, result) for each (hash, stored original, page index, its file's pages) of `work`, in
    that order, their tags checked here. The pages are read on the cluster in any order as workers come
    free, and handed on in the order of the files and pages, as one process reads them: which of two
    sheets with one number counts as the first never depends on which worker was quicker. At most
    PER_WORKER pages per worker thread are in flight, and WAITING times as many read and waiting for
    a slower earlier page (memory stays bounded; a slow page does not leave the workers idle)."""
    distributed = _import_distributed()
    assert ctx.secret is not None
    client = cluster.client
    public = client.scatter(replace(ctx, secret=None), broadcast=True, hash=False)
    limit = cluster.threads * PER_WORKER
    scattered: dict[str, Any] = {}  # file hash -> its bytes on the cluster
    left: dict[str, int] = {}  # file hash -> its pages not yet handed on
    running = distributed.as_completed()
    source = enumerate(work)
    meta: dict[str, tuple[int, str, int]] = {}  # future's key -> (order, file hash, page index)
    ready: dict[int, tuple[str, PageResult]] = {}
    handed = 0  # the order of the next result to hand on
    last: list[str | None] = [None]  # the file whose pages are being submitted (its bytes are still needed)

    def release_if_done(sha: str | None) -> None:
        if sha is not None and sha != last[0] and not left.get(sha):
            left.pop(sha, None)
            if sha in scattered:
                scattered.pop(sha).release()

    def submit() -> bool:
        order, item = next(source, (None, None))
        if item is None:
            done, last[0] = last[0], None
            release_if_done(done)
            return False
        sha, path, index, pages = item
        if sha != last[0]:
            previous, last[0] = last[0], sha
            release_if_done(previous)
        if sha not in scattered:
            scattered[sha] = client.scatter(path.read_bytes(), hash=False)
        left[sha] = left.get(sha, 0) + 1
        future = client.submit(read_one_page, scattered[sha], sha, path.suffix.lower(), index, pages, public,
                               pure=False, retries=0)
        meta[future.key] = (order, sha, index)
        running.add(future)
        return True

    try:
        while running.count() < limit and submit():
            pass
        for future in running:
            order, sha, index = meta.pop(future.key)
            try:
                result = future.result()
            except distributed.KilledWorker:  # this page killed the workers that tried it: a person looks
                result = quarantine(index, "read_error", "the page stopped the reader (a worker was killed)")
            except (OSError, distributed.TimeoutError, distributed.CancelledError) as exc:
                raise ConflictError("scan.cluster_lost", reason=str(exc) or type(exc).__name__) from None
            except Exception as exc:  # a page's own trouble is quarantined on the worker: this is the worker's
                raise MissingDependencyError("scan.cluster_worker_broken", worker=_where(client, future),
                                             reason=f"{type(exc).__name__}: {exc}"[:300]) from None
            ready[order] = (sha, settle_tag(result, ctx.secret, ctx.cycle_id))
            while handed in ready:
                sha, result = ready.pop(handed)
                handed += 1
                left[sha] -= 1
                release_if_done(sha)  # its last page handed on: its bytes leave the cluster
                yield sha, result
            while running.count() < limit and len(ready) < limit * WAITING and submit():
                pass
    finally:
        running.clear()  # stopped early (killed, an error): nothing more is read for this run
        for future in list(scattered.values()):
            future.release()
        public.release()
