"""An autoencoder reducer (`reducer="autoencoder"`): a small PyTorch network that compresses each
customer's text vector, joined with their scaled behaviour features, into a few dimensions.

It is an option, not the default: on the datasets of bench/RESULTS.md ("Autoencoder reducer") it
does not beat the spectral embedding. Training is deterministic for a seed (seeded initialisation
and batch order, deterministic algorithms, a fixed number of CPU threads).

Behaviour features reach the reducer through `attach_behaviour(vectors, behaviour)` (pass the
customers the segment step clusters: those with text). The segment step hands the reducer its
sample rows centred on the sample's mean direction and renormalised, so each row is matched back
to its customer as the nearest attached vector after the same centring (FAISS inner product).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np

from segmint.agent.core.arrays import F32, FloatArray
from segmint.agent.segment._vectors import center_normalise, normalise_rows

THREADS = 2


def scale_behaviour(behaviour: FloatArray) -> F32:
    """log1p of non-negative counts and amounts, then z-scores; missing values become 0 (the mean)."""
    B = np.asarray(behaviour, dtype=np.float64)
    B = np.sign(B) * np.log1p(np.abs(B))
    mean = np.nanmean(np.where(np.isfinite(B), B, np.nan), axis=0) if len(B) else np.zeros(B.shape[1])
    std = np.nanstd(np.where(np.isfinite(B), B, np.nan), axis=0) if len(B) else np.ones(B.shape[1])
    mean, std = np.nan_to_num(mean), np.nan_to_num(std, nan=1.0)
    Z = (B - mean) / np.where(std > 1e-9, std, 1.0)
    return np.nan_to_num(Z, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


@dataclass
class AutoencoderReducer:
    """Autoencoder codes as the reduced space.

    Args:
        n_components: size of the code (the reduced space).
        hidden: width of the hidden layers.
        epochs: passes over the data.
        behaviour_weight: scale of the behaviour block relative to the text vector's (unit norm).
        seed: seeds initialisation and batch order.
    """

    n_components: int = 16
    hidden: int = 128
    epochs: int = 40
    batch_size: int = 256
    lr: float = 2e-3
    behaviour_weight: float = 0.5
    seed: int = 0
    side_: F32 | None = field(default=None, init=False, repr=False)
    anchors_: F32 | None = field(default=None, init=False, repr=False)
    model_: Any = field(default=None, init=False, repr=False)
    mean_: F32 = field(default_factory=lambda: np.zeros(0, np.float32), init=False, repr=False)
    std_: F32 = field(default_factory=lambda: np.ones(0, np.float32), init=False, repr=False)

    def attach_behaviour(self, vectors: FloatArray, behaviour: FloatArray) -> Self:
        """Remember each customer's scaled behaviour next to their (centred) text vector."""

        unit = normalise_rows(np.asarray(vectors, dtype=np.float32))
        self.anchors_ = center_normalise(unit, unit.astype(np.float64).mean(axis=0))
        self.side_ = scale_behaviour(behaviour)
        return self

    def _inputs(self, X: FloatArray) -> F32:
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        if self.side_ is None or self.anchors_ is None:
            return X32
        import faiss

        index = faiss.IndexFlatIP(self.anchors_.shape[1])
        index.add(np.ascontiguousarray(self.anchors_))
        _, nearest = index.search(np.ascontiguousarray(normalise_rows(X32)), 1)
        side = self.side_[nearest[:, 0]]
        width = side.shape[1]
        return np.hstack([X32, self.behaviour_weight * side / np.sqrt(width)]).astype(np.float32)

    def fit(self, X: FloatArray) -> Self:
        """Train the autoencoder on `X` (joined with behaviour when attached)."""
        import torch
        from torch import nn

        inputs = self._inputs(X)
        torch.set_num_threads(THREADS)
        torch.manual_seed(self.seed)
        d = inputs.shape[1]
        m = min(self.n_components, d)
        encoder = nn.Sequential(nn.Linear(d, self.hidden), nn.GELU(), nn.Linear(self.hidden, m))
        decoder = nn.Sequential(nn.Linear(m, self.hidden), nn.GELU(), nn.Linear(self.hidden, d))
        model = nn.Sequential(encoder, decoder)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr)
        data = torch.from_numpy(inputs)
        gen = torch.Generator().manual_seed(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.use_deterministic_algorithms(True)
            try:
                for _ in range(self.epochs):
                    order = torch.randperm(len(data), generator=gen)
                    for lo in range(0, len(data), self.batch_size):
                        batch = data[order[lo:lo + self.batch_size]]
                        opt.zero_grad()
                        loss = nn.functional.mse_loss(model(batch), batch)
                        loss.backward()
                        opt.step()
            finally:
                torch.use_deterministic_algorithms(False)
        self.model_ = encoder.eval()
        codes = self._encode(inputs)
        self.mean_, self.std_ = codes.mean(axis=0), codes.std(axis=0) + 1e-6
        return self

    def _encode(self, inputs: F32) -> F32:
        import torch

        with torch.no_grad():
            return np.asarray(self.model_(torch.from_numpy(inputs)).numpy(), dtype=np.float32)

    def transform(self, X: FloatArray) -> F32:
        """Standardised codes of new rows."""
        if self.model_ is None:
            raise ValueError("fit the reducer first")
        return ((self._encode(self._inputs(X)) - self.mean_) / self.std_).astype(np.float32)

    def fit_transform(self, X: FloatArray) -> F32:
        """Fit, then the codes of `X`."""
        return self.fit(X).transform(X)
