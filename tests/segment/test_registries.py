"""Reducers and clusterers by name: what each name builds, and the errors for unknown names."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from conftest import blobs
from segmint.agent.core.errors import UsageError
from segmint.agent.segment import CLUSTERERS, REDUCERS, make_reducer
from segmint.agent.segment.cluster import (
    HDBSCANClusterer,
    KMeansClusterer,
    SpectralKMeansClusterer,
    WardClusterer,
)
from segmint.agent.segment.reduce import IdentityReducer, PCAReducer, SpectralReducer
from segmint.agent.segment.reduce_autoencoder import AutoencoderReducer


def test_reducer_names_build_their_reducers_with_their_defaults() -> None:
    assert REDUCERS.names() == ("spectral", "pca", "none", "autoencoder")
    spectral = make_reducer("spectral", seed=4)
    assert isinstance(spectral, SpectralReducer)
    assert (spectral.n_components, spectral.n_neighbors, spectral.seed) == (24, 10, 4)
    pca = make_reducer("pca", n_components=3)
    assert isinstance(pca, PCAReducer) and pca.n_components == 3
    assert isinstance(make_reducer("none"), IdentityReducer)
    # The autoencoder's code is capped at 16 dimensions whatever width is asked for.
    auto = make_reducer("autoencoder", n_components=40)
    assert isinstance(auto, AutoencoderReducer) and auto.n_components == 16


def test_unknown_reducer_is_a_value_error_naming_the_choices() -> None:
    with pytest.raises(ValueError) as err:
        make_reducer("umap")
    assert str(err.value) == "unknown reducer 'umap'; use spectral, pca, none or autoencoder"


def test_clusterer_names_build_their_clusterers() -> None:
    assert CLUSTERERS.names() == ("hdbscan", "kmeans", "spectral-kmeans", "ward")
    built = [CLUSTERERS.create("hdbscan", min_cluster_size=12), CLUSTERERS.create("kmeans", k=3),
             CLUSTERERS.create("spectral-kmeans", k=3), CLUSTERERS.create("ward", k=3)]
    kinds = (HDBSCANClusterer, KMeansClusterer, SpectralKMeansClusterer, WardClusterer)
    assert [type(c) for c in built] == list(kinds)
    with pytest.raises(UsageError, match="hdbscan, kmeans, spectral-kmeans, ward"):
        CLUSTERERS.create("dbscan")


# Separated groups leave Ward's kNN graph in pieces; scikit-learn says so and joins them.
CONNECTED = pytest.mark.filterwarnings("ignore:the number of connected components")


@CONNECTED
@pytest.mark.parametrize("name", ["kmeans", "spectral-kmeans", "ward"])
def test_clusterers_given_k_recover_separated_groups(name: str) -> None:
    X, y = blobs([60, 80, 100], spread=0.3)
    labels = CLUSTERERS.create(name, k=3).fit_predict(X)
    assert labels.shape == (len(X),) and set(labels.tolist()) == {0, 1, 2}
    assert adjusted_rand_score(y, labels) == pytest.approx(1.0)


@CONNECTED
def test_ward_joins_rows_beyond_its_sample_to_the_nearest_group() -> None:
    X, y = blobs([150, 150, 150], spread=0.3, seed=2)
    whole = WardClusterer(k=3).fit_predict(X)
    sampled = WardClusterer(k=3, sample=120).fit_predict(X)
    np.testing.assert_array_equal(sampled[:120], WardClusterer(k=3).fit_predict(X[:120]))
    assert adjusted_rand_score(whole, sampled) == pytest.approx(1.0)
    assert adjusted_rand_score(y, sampled) == pytest.approx(1.0)
