"""Notebooks to reports: execute a parameterised notebook with Papermill, keep the executed
notebook for audit, and export it to one self-contained HTML file.

**Self-contained.** The page is JupyterLab's nbconvert template with every block that loads
from another host emptied (``resources/templates/report``): no require.js, MathJax, Mermaid
or widget script, code cells hidden, figures inline as data URIs, the stylesheet inline.
:func:`outside_references` finds anything that would still reach out, and the tests run it
on every report.

**Many at once.** :func:`render_all` runs jobs in worker processes (each executes its
notebook in its own Jupyter kernel); one job's failure is recorded in its result and does
not stop the others.

**Nothing half-written.** Each file is written beside its final name and renamed into place
when complete; a failed job leaves the last good report of that name untouched.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

#: Cell tag of notebook cells left out of a rendered report (a notebook's own notes).
REMOVE_TAG = "remove_cell"

#: What counts as a reference to another host in a page: a URL in an attribute, a CSS
#: ``url()`` or ``@import``, or a protocol-relative ``//host`` source.
_OUTSIDE = re.compile(
    r"""(?:src|href|action|data|poster)\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|url\(\s*["']?\s*(?:https?:)?//"""
    r"""|@import\s+(?:url\()?\s*["']?\s*(?:https?:)?//""",
    re.IGNORECASE,
)


@dataclass
class Job:
    """One report to render: the notebook, its parameters, where its files go."""

    name: str
    notebook: Path
    parameters: dict
    html: Path
    executed: Path
    cwd: Path | None = None


@dataclass
class Result:
    """How a job went: ``ok``, the seconds it took, the error's last line and the
    traceback when it failed, and the warnings the kernel printed (e.g. missing glyphs)."""

    name: str
    ok: bool
    seconds: float
    html: str
    error: str = ""
    detail: str = ""
    warnings: list[str] = field(default_factory=list)


def template_dir() -> Path:
    """The folder of the reports' nbconvert template."""
    return Path(str(files("analysis.resources") / "templates"))


def outside_references(page: str) -> list[str]:
    """Every place in an HTML page that would load something from another host (a
    ``src``/``href`` to ``http(s)://`` or ``//``, a CSS ``url()`` or ``@import`` of one).

    >>> outside_references('<img src="data:image/png;base64,AAA"><a href="#top">x</a>')
    []
    >>> outside_references('<script src="https://cdn.example.org/require.js"></script>')
    ['src="https://cdn.example.org/require.js"></script>']
    """
    return [page[m.start() : m.start() + 60].split("\n")[0] for m in _OUTSIDE.finditer(page)]


def to_html(executed: Path) -> str:
    """An executed notebook as one self-contained HTML page (code hidden)."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    from analysis.report.display import CSS

    c = Config()
    c.TagRemovePreprocessor.remove_cell_tags = {REMOVE_TAG, "injected-parameters", "parameters"}
    c.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(
        config=c,
        extra_template_basedirs=[str(template_dir())],
        template_name="report",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(TagRemovePreprocessor(config=c), enabled=True)
    nb = nbformat.read(str(executed), as_version=4)
    body, _ = exporter.from_notebook_node(nb, resources={"report_css": CSS})
    return body


def _write_aside(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _kernel_warnings(executed: Path) -> list[str]:
    """The lines a kernel wrote to stderr (warnings), from an executed notebook."""
    nb = json.loads(executed.read_text(encoding="utf-8"))
    out = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                text = "".join(o.get("text", ""))
                out += [line for line in text.splitlines() if line.strip()]
    return out


@contextmanager
def _kernel_stderr(path: Path):
    """Send this process's standard error (and so the Jupyter kernel's, which inherits it)
    to ``path`` while a job runs: the kernel's start-up chatter stays out of the terminal,
    and is kept for a failed job's detail."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "wb") as fh:
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def run_job(job: Job) -> Result:
    """Execute one notebook and export it (see the module docstring); never raises."""
    job.executed.parent.mkdir(parents=True, exist_ok=True)
    log = job.executed.with_name(job.executed.stem + ".kernel.log")
    with _kernel_stderr(log):
        result = _run_job(job)
    if result.ok:
        log.unlink(missing_ok=True)
    else:
        result.detail += "\nkernel's standard error:\n" + log.read_text(errors="replace")[-3000:]
    return result


def _run_job(job: Job) -> Result:
    import papermill as pm

    t0 = time.perf_counter()
    part = job.executed.with_name(job.executed.stem + ".part.ipynb")
    try:
        pm.execute_notebook(
            str(job.notebook),
            str(part),
            parameters=job.parameters,
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            cwd=str(job.cwd or job.notebook.parent),
        )
        warnings = _kernel_warnings(part)
        page = to_html(part)
        part.replace(job.executed)
        _write_aside(job.html, page)
        job.executed.with_name(job.executed.stem + ".failed.ipynb").unlink(missing_ok=True)
        return Result(job.name, True, time.perf_counter() - t0, str(job.html), warnings=warnings)
    except Exception as exc:  # one report's failure is reported, not raised
        detail = traceback.format_exc()
        last = str(exc).strip().splitlines()
        message = next((line for line in reversed(last) if line.strip()), type(exc).__name__)
        if part.exists():  # keep the failed execution for audit, beside the good one
            part.replace(job.executed.with_name(job.executed.stem + ".failed.ipynb"))
        return Result(
            job.name, False, time.perf_counter() - t0, "", error=message[:300], detail=detail
        )


#: Thread pools of the numeric libraries, one thread each in a worker's kernel: with several
#: kernels on the cores at once, OpenMP and OpenBLAS threads that spin while they wait made
#: the parallel run 1.3× faster than one after another instead of 1.9× (benchmarks/
#: bench_report.py). A value the user set is kept.
SINGLE_THREADED = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _worker_setup() -> None:
    for name in SINGLE_THREADED:
        os.environ.setdefault(name, "1")


def render_all(jobs: list[Job], workers: int = 2, progress=None) -> list[Result]:
    """Run ``jobs`` in ``workers`` processes (1: one after another in this process); results
    in the order of ``jobs``. ``progress``, if given, is called with each finished result.
    Each worker's kernels run their numeric libraries single-threaded
    (:data:`SINGLE_THREADED`): the parallelism is across reports."""
    if workers <= 1 or len(jobs) <= 1:
        results = []
        for job in jobs:
            results.append(run_job(job))
            if progress:
                progress(results[-1])
        return results
    ctx = multiprocessing.get_context("spawn")  # no forked DuckDB or kernel state
    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), mp_context=ctx, initializer=_worker_setup
    ) as pool:
        futures = [pool.submit(run_job, job) for job in jobs]
        results = []
        for job, fut in zip(jobs, futures, strict=True):
            try:
                r = fut.result()
            except Exception as exc:  # the worker died
                r = Result(job.name, False, 0.0, "", error=f"worker failed: {exc}")
            results.append(r)
            if progress:
                progress(r)
    return results
