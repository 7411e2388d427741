"""Where the expensive, parallel stages of a run execute: this process, or a Ray cluster.

`segmint run --engine local|ray [--ray-address ADDR]`. An engine does three things, all of them
row-parallel and deterministic, so the engines give the same results:

- ``embed``: customer documents (DuckDB, always local), the distinct texts the vector cache lacks
  encoded, and the customer vectors pooled from them;
- ``predict``: customers placed into existing segments with a stored model (FAISS nearest
  centroid), as incremental runs do.

The local engine is the library's plain code path. The Ray engine lives in
`segmint.agent.run.ray_engine`; `segmint.agent.run.engines` picks one by name and imports Ray only
when asked for (``ray`` is an optional extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from segmint.embeddings import CustomerVectors, embed_customers

if TYPE_CHECKING:
    import duckdb

    from segmint.agent.segment.model import SegmentModel, SpaceModel

Prediction = tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.int64]]
# What `SpaceModel.assign_clusters` returns: centroid index, membership, nearest, within reach.
SpaceAssignment = tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.int64],
                        npt.NDArray[np.bool_]]


class Engine(Protocol):
    """The stages an engine runs; see the module docstring."""

    name: str

    def embed(self, con: duckdb.DuckDBPyConnection, spec: str) -> CustomerVectors:
        """Customer vectors for every customer in ``events``, with the ``--embedder`` spec."""
        ...

    def predict(self, model: SegmentModel, vectors: npt.NDArray[np.floating],
                has_text: npt.NDArray[np.bool_], behaviour: npt.NDArray[np.floating]) -> Prediction:
        """Segment id, membership and nearest segment per customer with a stored model."""
        ...

    def assign(self, space: SpaceModel, raw: npt.NDArray[np.floating]) -> SpaceAssignment:
        """Every row's nearest centroid of a freshly fitted space (the segment step's FAISS pass)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What ran where (recorded with the run)."""
        ...

    def close(self) -> None:
        """Release what the engine started (workers, a cluster runtime)."""
        ...


class LocalEngine:
    """Everything in this process (the default)."""

    name = "local"

    def embed(self, con: duckdb.DuckDBPyConnection, spec: str) -> CustomerVectors:
        """See `Engine.embed`."""
        return embed_customers(con, spec)

    def predict(self, model: SegmentModel, vectors: npt.NDArray[np.floating],
                has_text: npt.NDArray[np.bool_], behaviour: npt.NDArray[np.floating]) -> Prediction:
        """See `Engine.predict`."""
        return model.predict(vectors, has_text, behaviour)

    def assign(self, space: SpaceModel, raw: npt.NDArray[np.floating]) -> SpaceAssignment:
        """See `Engine.assign`."""
        return space.assign_clusters(raw)

    def describe(self) -> dict[str, Any]:
        """See `Engine.describe`."""
        return {"engine": "local"}

    def close(self) -> None:
        """See `Engine.close`: nothing to release."""
