"""The Ray engine: text encoding, pooling and FAISS assignment spread over a Ray cluster.

- Encoding: a pool of actors, each holding its own copy of the encoder (loaded once per actor),
  encodes the distinct texts the vector cache lacks, batch by batch. The spec's long-tail options
  (``+normalise``, ``+static-queries``, ``+static-tail``: `segmint.embeddings.tail`) apply as in a
  local run: the texts the full model encodes are spread over the actors; the static model's
  texts are a table lookup, cheaper on the driver than shipped out and back. The cache itself, the
  customer documents (DuckDB) and the lookalike index stay with the driver.
- Pooling: the sparse (customers x texts) weights are cut into row blocks; each task multiplies
  its block by the text vectors, which are put in the object store once.
- Assignment: the stored segment model is put in the object store once; each task places a block
  of customers. Every customer's result depends on its own row only, so the blocks give exactly
  what the local engine gives.

Without ``--ray-address`` a Ray runtime is started on this machine for the run (all its CPUs);
with one, the run joins that cluster, whose workers need segmint (with the same model package)
installed. Actors and tasks import only segmint's library code.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import ray
import scipy.sparse as sp
from ray.util import ActorPool

from segmint.agent.run.engine import Prediction, SpaceAssignment
from segmint.embeddings import CustomerVectors, embed_customers, make_encoder, pool_users
from segmint.embeddings.encoders import clean_text
from segmint.embeddings.specs import split_spec

if TYPE_CHECKING:
    import duckdb

    from segmint.agent.segment.model import SegmentModel, SpaceModel

# Rows per pooling / assignment task: a multiple of the local assignment chunk, so FAISS sees the
# very same query blocks as in a local run.
ROWS_PER_TASK = 4 * 65_536
# Texts per encoding task: the block size of `encode_in_chunks`, so that actors see the same
# batches as a local run (a catalogue of a few thousand texts is one task; big ones spread).
ENCODE_CHUNK = 4096
WORKER_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
              "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error"}


@ray.remote
class EncoderActor:
    """Holds one encoder (built from its ``--embedder`` spec) and encodes batches of texts.

    Args:
        spec: the encoder's spec (without long-tail options).
        threads: cores its encoder uses: the CPUs the actor reserved, not the node's.
    """

    def __init__(self, spec: str, threads: int) -> None:
        for name, value in WORKER_ENV.items():
            os.environ.setdefault(name, value)
        self.encoder = make_encoder(spec, threads=threads)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit float32 vectors, one row per text."""
        return self.encoder.encode(texts)


@ray.remote
def _pool_block(weights: Any, text_vectors: np.ndarray) -> np.ndarray:
    return pool_users(weights, text_vectors)


@ray.remote
def _assign_block(space: SpaceModel, raw: np.ndarray) -> SpaceAssignment:
    return space.assign_clusters(raw)


@ray.remote
def _predict_block(model: SegmentModel, vectors: np.ndarray, has_text: np.ndarray,
                   behaviour: np.ndarray) -> Prediction:
    return model.predict(vectors, has_text, behaviour)


class RayPoolEncoder:
    """An `Encoder` whose ``encode`` runs on a pool of `EncoderActor`s.

    Fingerprint and dimension come from a local, never loaded, copy of the encoder, so the vector
    cache is shared with local runs. Actors start on the first ``encode`` that has work: a run whose
    texts are all cached starts none.

    Args:
        spec: the ``--embedder`` spec every actor builds.
        actors: pool size; default one per CPU of the cluster (``cpus_per_actor`` each).
        cpus_per_actor: CPUs reserved per actor (its encoder's thread count).
    """

    def __init__(self, spec: str, actors: int | None = None, cpus_per_actor: float = 1) -> None:
        self.spec = spec
        self._local = make_encoder(spec)
        self.cpus_per_actor = cpus_per_actor
        cpus = float(ray.cluster_resources().get("CPU", 1))
        self.max_actors = actors or max(1, int(cpus // cpus_per_actor))
        self._actors: list[Any] = []
        self.actors_started = 0

    @property
    def fingerprint(self) -> str:
        """The local encoder's fingerprint (same model, same vectors)."""
        return self._local.fingerprint

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._local.dim

    def _pool(self, n_batches: int) -> ActorPool:
        wanted = min(self.max_actors, max(1, n_batches))
        threads = max(1, int(self.cpus_per_actor))
        while len(self._actors) < wanted:
            self._actors.append(EncoderActor.options(  # type: ignore[attr-defined]
                num_cpus=self.cpus_per_actor,
                runtime_env={"env_vars": {**WORKER_ENV, "OMP_NUM_THREADS": str(threads)}},
            ).remote(self.spec, threads))
            self.actors_started += 1
        return ActorPool(self._actors[:wanted])

    def encode(self, texts: Any) -> np.ndarray:
        """Encode texts on the actor pool, in order.

        The texts are cut exactly where a local ``encode`` cuts them (cleaned, empty ones left
        out, blocks of ``ENCODE_CHUNK``), so every actor encodes the very batches a local run
        would, and the vectors are bit for bit the local ones.
        """
        cleaned = [clean_text(t) for t in texts]
        out = np.zeros((len(cleaned), self.dim), dtype=np.float32)
        idx = [i for i, t in enumerate(cleaned) if t]
        if not idx:
            return out
        blocks = [idx[i:i + ENCODE_CHUNK] for i in range(0, len(idx), ENCODE_CHUNK)]
        pool = self._pool(len(blocks))
        parts = pool.map(lambda actor, block: actor.encode.remote([cleaned[i] for i in block]),
                         blocks)
        for block, part in zip(blocks, parts, strict=True):
            out[block] = part
        return out

    def close(self) -> None:
        """Stop the actors (a later ``encode`` starts new ones)."""
        for actor in self._actors:
            ray.kill(actor)
        self._actors = []


class RayEngine:
    """Runs embedding, pooling and assignment on Ray (see the module docstring).

    Build it with `RayEngine.start`; `close` stops what it started.
    """

    name = "ray"

    def __init__(self, address: str | None, started: bool, rows_per_task: int = ROWS_PER_TASK
                 ) -> None:
        self.address = address
        self._started = started
        self.rows_per_task = rows_per_task
        self._encoders: dict[str, RayPoolEncoder] = {}

    @classmethod
    def start(cls, address: str | None = None, num_cpus: int | None = None,
              rows_per_task: int = ROWS_PER_TASK) -> RayEngine:
        """Join the cluster at ``address``, or start a Ray runtime here (reusing one already up).

        Args:
            address: ``auto``, ``HOST:PORT`` or ``ray://HOST:10001``; None starts a local runtime.
            num_cpus: CPUs of a local runtime (default: all).
            rows_per_task: customers per pooling / assignment task.

        Raises:
            ConnectionError: the cluster cannot be reached.
        """
        if ray.is_initialized():
            return cls(address, started=False, rows_per_task=rows_per_task)
        quiet: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                 "logging_level": logging.WARNING}
        if address:
            ray.init(address=address, **quiet)
        else:
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            ray.init(num_cpus=num_cpus, **quiet)
        return cls(address, started=True, rows_per_task=rows_per_task)

    def encoder(self, spec: str) -> RayPoolEncoder:
        """The pooled encoder for an encoder spec, without long-tail options (one pool per spec
        and engine)."""
        if spec not in self._encoders:
            self._encoders[spec] = RayPoolEncoder(spec)
        return self._encoders[spec]

    def embed(self, con: duckdb.DuckDBPyConnection, spec: str) -> CustomerVectors:
        """See `segmint.agent.run.engine.Engine.embed`."""
        base, tail = split_spec(spec)
        encoder = self.encoder(base)

        def pool(weights: sp.csr_matrix, text_vectors: np.ndarray) -> np.ndarray:
            # The actors hold CPUs; the pooling and assignment tasks need them (on a 2-CPU
            # runtime they would otherwise wait for ever).
            encoder.close()
            return self.pool(weights, text_vectors)

        try:
            return embed_customers(con, encoder, tail=tail, pool=pool)
        finally:
            encoder.close()

    def pool(self, weights: Any, text_vectors: np.ndarray) -> np.ndarray:
        """`segmint.embeddings.pool_users` in row blocks on the cluster."""
        matrix = sp.csr_matrix(weights, dtype=np.float32)
        n = matrix.shape[0]
        if n == 0:
            return np.zeros((0, text_vectors.shape[1]), dtype=np.float32)
        ref = ray.put(np.asarray(text_vectors, dtype=np.float32))
        step = self.rows_per_task
        refs = [_pool_block.remote(matrix[lo:lo + step], ref) for lo in range(0, n, step)]
        out = np.empty((n, text_vectors.shape[1]), dtype=np.float32)
        for lo, ref_block in zip(range(0, n, step), refs, strict=True):
            out[lo:lo + step] = ray.get(ref_block)
        return out

    def predict(self, model: SegmentModel, vectors: npt.NDArray[np.floating],
                has_text: npt.NDArray[np.bool_], behaviour: npt.NDArray[np.floating]) -> Prediction:
        """See `segmint.agent.run.engine.Engine.predict`."""
        n = len(has_text)
        model_ref = ray.put(model)
        step = self.rows_per_task
        starts = range(0, n, step)
        refs = [_predict_block.remote(model_ref, vectors[lo:lo + step], has_text[lo:lo + step],
                                      behaviour[lo:lo + step]) for lo in starts]
        labels = np.zeros(n, dtype=np.int64)
        member = np.zeros(n, dtype=np.float32)
        near = np.zeros(n, dtype=np.int64)
        for lo, ref in zip(starts, refs, strict=True):
            block = ray.get(ref)
            hi = lo + len(block[0])
            labels[lo:hi], member[lo:hi], near[lo:hi] = block
        return labels, member, near

    def assign(self, space: SpaceModel, raw: npt.NDArray[np.floating]) -> SpaceAssignment:
        """See `segmint.agent.run.engine.Engine.assign`: row blocks as Ray tasks, in order."""
        space_ref = ray.put(space)
        step = self.rows_per_task
        starts = range(0, len(raw), step)
        refs = [_assign_block.remote(space_ref, np.asarray(raw[lo:lo + step])) for lo in starts]
        blocks = [ray.get(ref) for ref in refs]
        if not blocks:
            return space.assign_clusters(raw)
        cluster, member, near, ok = (np.concatenate(parts) for parts in zip(*blocks, strict=True))
        return cluster, member, near, ok

    def describe(self) -> dict[str, Any]:
        """See `segmint.agent.run.engine.Engine.describe`."""
        resources = ray.cluster_resources()
        return {"engine": "ray", "address": self.address or "local",
                "cluster_cpus": resources.get("CPU", 0), "nodes": len(ray.nodes()),
                "encoder_actors": sum(e.actors_started for e in self._encoders.values())}

    def close(self) -> None:
        """Stop the actors; shut Ray down if this engine started it."""
        for encoder in self._encoders.values():
            encoder.close()
        self._encoders = {}
        if self._started:
            ray.shutdown()
