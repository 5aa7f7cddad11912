"""The same scoring on a Dask cluster (``triage score --engine dask``).

dask.dataframe reads the input itself (so no pandas data travels inside the task graph), the
pipeline is shipped to every worker once (``Client.scatter(..., broadcast=True)``), each
partition is scored with :func:`triage.batch.score.score_chunk`, and the result is written as a
partitioned Parquet directory (an output path without a suffix) or as a single file of any
supported format, assembled partition by partition in input order.

Differences from the local engine, by design: CSV lines with the wrong number of fields stop
the run with an error naming the problem (dask's reader cannot keep them; the local engine
reports them line by line), and same-issue clusters and repeat contacts are computed within a
partition, not across the whole file.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputFileError
from ..pipeline import TriagePipeline, cycle_collector_paused
from .io import Chunk, TableWriter, detect_encoding, detect_text_column, format_of
from .score import METADATA_OPTIONS, BatchSummary, _frame_summary, _Plan, _triage_columns, chunk_summary, cluster_batch, score_chunk


_SHIPPED: list[tuple[Any, Any, Any]] = []  # weak references to (client, pipeline), the pipeline's future


def _ship(client: Any, pipeline: TriagePipeline) -> Any:
    """The pipeline scattered to every worker, once per client: the workers keep the copy they
    unpickled (and its warmed-up tokenizer) for the next file scored on the same cluster."""
    import weakref

    _SHIPPED[:] = [(c, p, f) for c, p, f in _SHIPPED
                   if c() is not None and p() is not None and c().status == "running" and f.status == "finished"]
    for c, p, future in _SHIPPED:
        if c() is client and p() is pipeline:
            return future
    future = client.scatter(pipeline, broadcast=True)
    _SHIPPED.append((weakref.ref(client), weakref.ref(pipeline), future))
    return future


def _partition_volume(frame: Any, pipeline: TriagePipeline, plan: _Plan, clusters: bool) -> dict[str, list] | None:
    from ..volume import repeat_contacts

    volume: dict[str, list] = {}
    if clusters and len(frame):
        meta = dict(plan.metadata_cols)
        customers = frame[meta["customer_id"]].tolist() if "customer_id" in meta else None
        volume["cluster"], volume["cluster_size"] = cluster_batch(pipeline, frame[plan.text_col].tolist(), customers)
        if customers is not None:
            received = frame[meta["received_at"]].tolist() if "received_at" in meta else None
            volume["repeat_contacts"] = repeat_contacts(customers, received)
    return volume or None


def _score_partition(frame: Any, pipeline: TriagePipeline, plan: _Plan, clusters: bool) -> Any:
    frame = frame.reset_index(drop=True)
    volume = _partition_volume(frame, pipeline, plan, clusters)
    return score_chunk(pipeline, Chunk(frame, list(range(len(frame)))), plan, volume)


def _score_and_write_part(frame: Any, pipeline: TriagePipeline, plan: _Plan, clusters: bool, path: str) -> dict[str, Any]:
    """Score one partition and write it as Parquet on the worker, straight from the result lists;
    return its summary."""
    import pyarrow.parquet as pq

    from .io import _arrow_table

    frame = frame.reset_index(drop=True)
    with cycle_collector_paused():
        volume = _partition_volume(frame, pipeline, plan, clusters)
        frame, added = _triage_columns(pipeline, Chunk(frame, list(range(len(frame)))), plan, volume)
        pq.write_table(_arrow_table(frame, added), path)
        return chunk_summary(added["triage_status"], added["triage_severity_level"], added["triage_categories"],
                             frame[plan.text_col].tolist())


def score_file_dask(
    pipeline: TriagePipeline,
    input_path: str | Path,
    output_path: str | Path,
    *,
    text_col: str | None = None,
    metadata_cols: Mapping[str, str] | None = None,
    encoding: str | None = None,
    output_format: str | None = None,
    errors_path: str | Path | None = None,
    force: bool = False,
    bom: bool = True,
    scheduler: str | Any | None = None,
    now: str | None = None,
    chunksize: int = 10_000,
    clusters: bool = True,
    blocksize: str | int | None = None,
) -> BatchSummary:
    """Score ``input_path`` on Dask; ``scheduler`` is an address, a ``Client``, or None for a
    local cluster of two worker processes."""
    import dask.dataframe as dd
    import pandas as pd
    from dask.distributed import Client, LocalCluster

    start = time.perf_counter()
    input_path, output_path = Path(input_path), Path(output_path)
    if not input_path.is_file():
        raise InputFileError(f"Input file {str(input_path)!r} does not exist.")
    in_fmt = format_of(input_path)
    partitioned = output_path.suffix == ""
    if output_path.exists() and not force:
        raise FileExistsError(f"{str(output_path)!r} already exists. Choose another output or pass --force to overwrite it.")
    if blocksize is None:  # enough partitions to keep every worker busy, at most 16 MB each
        blocksize = int(max(256 * 1024, min(16 * 1024 * 1024, input_path.stat().st_size // 16)))
    if in_fmt in ("csv", "tsv"):
        with input_path.open("rb") as fh:
            enc = encoding or detect_encoding(fh.read(1 << 20))
        ddf = dd.read_csv(input_path, sep="\t" if in_fmt == "tsv" else ",", dtype=str, encoding=enc, blocksize=blocksize,
                          keep_default_na=False, na_values=[], on_bad_lines="error")
    elif in_fmt == "parquet":
        ddf = dd.read_parquet(input_path)
    elif in_fmt == "jsonl":
        ddf = dd.read_json(input_path, lines=True, blocksize=blocksize, encoding=encoding or "utf-8")
    else:
        raise InputFileError("The dask engine reads CSV, TSV, JSON Lines and Parquet; convert Excel files or use --engine local.")
    ddf.columns = [str(c).strip() for c in ddf.columns]
    col = detect_text_column(list(ddf.columns), text_col)
    metadata_cols = dict(metadata_cols or {})
    for key, name in metadata_cols.items():
        if key not in METADATA_OPTIONS or name not in ddf.columns:
            raise InputFileError(f"Bad metadata column {key}={name!r}. Available columns: {', '.join(ddf.columns)}.")
    from datetime import datetime, timezone

    plan = _Plan(col, tuple(metadata_cols.items()), now or datetime.now(timezone.utc).isoformat(timespec="seconds"))

    own_client = scheduler is None or isinstance(scheduler, str)
    if scheduler is None:
        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None))
    elif isinstance(scheduler, str):
        client = Client(scheduler)
    else:
        client = scheduler
    try:
        shipped = _ship(client, pipeline)
        summary = BatchSummary()
        truncated = 0
        if partitioned:
            import shutil

            import dask

            if output_path.exists():
                shutil.rmtree(output_path)
            output_path.mkdir(parents=True)
            parts = ddf.to_delayed()
            writes = [dask.delayed(_score_and_write_part)(part, shipped, plan, clusters, str(output_path / f"part-{i:05d}.parquet"))
                      for i, part in enumerate(parts)]
            frames = dask.compute(*writes)
        else:
            sample = ddf.partitions[0].head(2, compute=True) if ddf.npartitions else pd.DataFrame(columns=ddf.columns)
            meta = _score_partition(sample, pipeline, plan, clusters).iloc[:0]
            scored = ddf.map_partitions(_score_partition, shipped, plan, clusters, meta=meta)
            fmt = format_of(output_path, output_format, write=True)
            tmp = output_path.parent / f".{output_path.name}.part"
            writer = TableWriter(tmp, fmt, bom=bom)
            frames = []
            futures = client.compute(scored.to_delayed())
            for future in futures:  # in partition order
                frame = future.result()
                writer.write(frame)
                frames.append(_frame_summary(frame, col))
            writer.close()
            truncated = writer.truncated_cells
            os.replace(tmp, output_path)
    finally:
        if own_client:
            cluster = client.cluster if scheduler is None else None
            client.close()
            if cluster is not None:
                cluster.close()
    failed = []
    position = 0
    for part in frames:  # in partition order
        summary.rows += part["rows"]
        summary.by_status.update(part["by_status"])
        summary.by_level.update(part["by_level"])
        summary.by_category.update(part["by_category"])
        failed += [{"line": position + i + 1, "status": status, "text": text} for i, status, text in part["failed"]]
        position += part["rows"]
    if errors_path is not None:
        tmp_err = Path(errors_path).parent / f".{Path(errors_path).name}.part"
        w = TableWriter(tmp_err, format_of(errors_path), bom=bom)
        w.write(pd.DataFrame(failed, columns=["line", "status", "text"]))
        w.close()
        os.replace(tmp_err, errors_path)
    summary.truncated_cells = truncated
    summary.seconds = time.perf_counter() - start
    return summary
