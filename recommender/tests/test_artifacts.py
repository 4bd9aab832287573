"""Pure tests of recommender.ml.artifacts: round trip and every refusal."""

import dataclasses
import hashlib
import io
import json

import numpy as np
import pytest
import sklearn

from recommender.ml.artifacts import (
    FORMAT_VERSION,
    ArtifactCorrupt,
    ArtifactError,
    ArtifactForged,
    ArtifactIncompatible,
    ArtifactTampered,
    ArtifactUnsigned,
    derive_signing_key,
    dumps,
    hkdf_sha256,
    loads,
    read_meta,
    sign,
    verify,
)
from recommender.ml.training import RecommenderModel, TrainParams, train
from recommender.ml.warm import COMPONENTS, Neighbours, WarmParams, fit_warm
from recommender.tests import _synthetic


def _model() -> RecommenderModel:
    return train(
        _synthetic.ratings(),
        _synthetic.raters(),
        _synthetic.movies(),
        params=TrainParams(alpha=2.0),
    )


def _rewrite(data: bytes, **changes: object) -> tuple[bytes, str]:
    """The same archive with header fields or arrays replaced, correctly hashed."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(arrays["meta"].tobytes().decode("utf-8"))
    for key, value in changes.items():
        if key in arrays and key != "meta":
            arrays[key] = np.asarray(value)
        else:
            header[key] = value
    arrays["meta"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    rewritten = buffer.getvalue()
    return rewritten, hashlib.sha256(rewritten).hexdigest()


def test_if_model_is_dumped_and_loaded_then_it_is_equal() -> None:
    model = _model()
    data, digest = dumps(model, meta={"trained_on": "tiny"})
    loaded = loads(data, expected_sha256=digest)
    for name in (
        "movie_ids",
        "weights",
        "intercept",
        "genre_prior_coef",
        "genre_prior_bias",
    ):
        assert np.array_equal(getattr(loaded, name), getattr(model, name))
    assert loaded.feature_names == model.feature_names
    assert loaded.genre_names == model.genre_names
    assert loaded.params == model.params


def test_if_model_is_dumped_twice_then_bytes_and_hash_are_identical() -> None:
    model = _model()
    assert dumps(model, meta={"a": 1}) == dumps(model, meta={"a": 1})


def test_if_meta_is_read_then_it_records_versions_and_caller_meta() -> None:
    data, digest = dumps(_model(), meta={"trained_on": "tiny"})
    header = read_meta(data, expected_sha256=digest)
    assert header["format_version"] == FORMAT_VERSION
    assert header["sklearn_version"] == sklearn.__version__
    assert header["numpy_version"] == np.__version__
    assert header["meta"] == {"trained_on": "tiny"}
    assert header["params"]["alpha"] == 2.0


def test_if_one_byte_changes_then_artifact_is_tampered() -> None:
    data, digest = dumps(_model(), meta={})
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF
    with pytest.raises(ArtifactTampered):
        loads(bytes(flipped), expected_sha256=digest)


@pytest.mark.parametrize("cut", [0, 10, 200])
def test_if_artifact_is_truncated_then_it_is_corrupt(cut: int) -> None:
    data, _ = dumps(_model(), meta={})
    truncated = data[:cut]
    with pytest.raises(ArtifactCorrupt):
        loads(truncated, expected_sha256=hashlib.sha256(truncated).hexdigest())


def test_if_bytes_are_garbage_then_artifact_is_corrupt_and_nothing_unpickles() -> None:
    garbage = b"\x80\x04\x95 not a pickle we would ever load"
    with pytest.raises(ArtifactCorrupt):
        loads(garbage, expected_sha256=hashlib.sha256(garbage).hexdigest())


def test_if_an_array_is_missing_then_artifact_is_corrupt() -> None:
    data, _ = dumps(_model(), meta={})
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = {n: archive[n] for n in archive.files if n != "intercept"}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    broken = buffer.getvalue()
    with pytest.raises(ArtifactCorrupt, match="intercept"):
        loads(broken, expected_sha256=hashlib.sha256(broken).hexdigest())


def test_if_weights_hold_nan_then_artifact_is_corrupt() -> None:
    model = _model()
    data, _ = dumps(model, meta={})
    weights = model.weights.copy()
    weights[0, 0] = np.nan
    broken, digest = _rewrite(data, weights=weights)
    with pytest.raises(ArtifactCorrupt, match="NaN"):
        loads(broken, expected_sha256=digest)


def test_if_an_array_has_the_wrong_shape_then_artifact_is_corrupt() -> None:
    model = _model()
    data, _ = dumps(model, meta={})
    broken, digest = _rewrite(data, intercept=model.intercept[:-1])
    with pytest.raises(ArtifactCorrupt, match="shape"):
        loads(broken, expected_sha256=digest)


def test_if_sklearn_version_differs_then_artifact_is_incompatible() -> None:
    data, _ = dumps(_model(), meta={})
    major, minor = sklearn.__version__.split(".")[:2]
    other = f"{major}.{int(minor) + 1}.0"
    rewritten, digest = _rewrite(data, sklearn_version=other)
    with pytest.raises(ArtifactIncompatible, match=other):
        loads(rewritten, expected_sha256=digest)


def test_if_only_the_sklearn_patch_differs_then_artifact_loads() -> None:
    data, _ = dumps(_model(), meta={})
    major, minor = sklearn.__version__.split(".")[:2]
    rewritten, digest = _rewrite(data, sklearn_version=f"{major}.{minor}.99")
    assert loads(rewritten, expected_sha256=digest).movie_ids.tolist() == [1, 2, 3, 4]


def test_if_numpy_major_differs_then_artifact_is_incompatible() -> None:
    data, _ = dumps(_model(), meta={})
    rewritten, digest = _rewrite(data, numpy_version="1.26.4")
    with pytest.raises(ArtifactIncompatible, match="numpy"):
        loads(rewritten, expected_sha256=digest)


def test_if_format_version_differs_then_artifact_is_incompatible() -> None:
    data, _ = dumps(_model(), meta={})
    rewritten, digest = _rewrite(data, format_version=FORMAT_VERSION + 1)
    with pytest.raises(ArtifactIncompatible, match="format version"):
        loads(rewritten, expected_sha256=digest)


def test_if_errors_are_raised_then_they_share_a_plain_exception_base() -> None:
    for error in (ArtifactTampered, ArtifactCorrupt, ArtifactIncompatible):
        assert issubclass(error, ArtifactError)
    assert ArtifactError.__mro__[1] is Exception


# --- signatures ------------------------------------------------------------------------


def test_hkdf_matches_the_rfc_5869_test_vector() -> None:
    okm = hkdf_sha256(
        bytes([0x0B] * 22),
        salt=bytes(range(0x00, 0x0D)),
        info=bytes(range(0xF0, 0xFA)),
        length=42,
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_derived_key_is_stable_and_not_the_secret() -> None:
    key = derive_signing_key(b"server secret")
    assert key == derive_signing_key(b"server secret")
    assert len(key) == 32
    assert key != derive_signing_key(b"another secret")
    assert b"server secret" not in key


def test_if_signed_then_verified() -> None:
    data, _ = dumps(_model(), meta={})
    signature = sign(data, key=b"k" * 32, version=3)
    verify(data, signature=signature, key=b"k" * 32, version=3)  # no exception
    verify(data, signature=signature.upper(), key=b"k" * 32, version=3)


@pytest.mark.parametrize(
    ("change", "kwargs"),
    [
        ("bytes", {}),
        ("key", {"key": b"x" * 32}),
        ("version", {"version": 4}),
    ],
)
def test_if_bytes_key_or_version_differ_then_forged(change: str, kwargs: dict[str, object]) -> None:
    data, _ = dumps(_model(), meta={})
    signature = sign(data, key=b"k" * 32, version=3)
    other, _ = dumps(_model(), meta={"seed": 1})
    checked = {"key": b"k" * 32, "version": 3, **kwargs}
    with pytest.raises(ArtifactForged, match="signature does not match"):
        verify(other if change == "bytes" else data, signature=signature, **checked)  # type: ignore[arg-type]


def test_if_no_signature_then_unsigned_telling_to_retrain() -> None:
    data, _ = dumps(_model(), meta={})
    with pytest.raises(ArtifactUnsigned, match=r"retrain with `python manage.py train_model`"):
        verify(data, signature="", key=b"k" * 32, version=1)


def _warm_model() -> RecommenderModel:
    ratings, raters, movies = (
        _synthetic.warm_ratings(),
        _synthetic.warm_raters(),
        _synthetic.warm_movies(),
    )
    model = train(ratings, raters, movies)
    warm = fit_warm(
        ratings, raters, movies, demographic=model, warm_params=WarmParams(neighbours=4)
    )
    return dataclasses.replace(model, warm=warm)


def test_if_model_with_warm_start_is_dumped_and_loaded_then_it_is_equal() -> None:
    model = _warm_model()
    assert model.warm is not None
    data, digest = dumps(model, meta={})
    loaded = loads(data, expected_sha256=digest)
    assert loaded.warm is not None
    assert np.array_equal(loaded.warm.movie_ids, model.warm.movie_ids)
    for name in COMPONENTS:
        assert np.array_equal(loaded.warm.components[name].index, model.warm.components[name].index)
        assert np.array_equal(
            loaded.warm.components[name].weight, model.warm.components[name].weight
        )
    assert (loaded.warm.prior_c, loaded.warm.mix) == (model.warm.prior_c, model.warm.mix)
    assert loaded.warm.params == model.warm.params
    assert loaded.warm.validation == model.warm.validation
    assert dumps(loaded, meta={}) == (data, digest)


@pytest.mark.parametrize(("n_movies", "stored"), [(12, np.uint16), (2**16 + 1, np.int32)])
def test_if_warm_start_tables_are_stored_then_positions_take_the_smallest_exact_type(
    n_movies: int, stored: type
) -> None:
    model = _warm_model()
    assert model.warm is not None
    # A catalogue this large only changes the width of the stored positions.
    ids = np.arange(1, n_movies + 1, dtype=np.int64)
    rng = np.random.default_rng(0)
    tables = {
        name: Neighbours(
            index=rng.integers(0, n_movies, size=(n_movies, 2)).astype(np.int32),
            weight=rng.random((n_movies, 2)).astype(np.float32),
        )
        for name in COMPONENTS
    }
    big = dataclasses.replace(
        model, warm=dataclasses.replace(model.warm, movie_ids=ids, components=tables)
    )
    data, digest = dumps(big, meta={})
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        assert archive["warm_cosine_index"].dtype == stored
    loaded = loads(data, expected_sha256=digest)
    assert loaded.warm is not None
    for name in COMPONENTS:
        assert loaded.warm.components[name].index.dtype == np.int32
        assert np.array_equal(loaded.warm.components[name].index, tables[name].index)
        assert np.array_equal(loaded.warm.components[name].weight, tables[name].weight)


def test_if_artifact_is_format_1_then_it_loads_without_warm_start() -> None:
    data, _ = dumps(_model(), meta={})
    rewritten, digest = _rewrite(data, format_version=1)
    assert loads(rewritten, expected_sha256=digest).warm is None


def test_if_a_format_1_artifact_claims_warm_start_then_it_is_corrupt() -> None:
    data, _ = dumps(_warm_model(), meta={})
    rewritten, digest = _rewrite(data, format_version=1)
    with pytest.raises(ArtifactCorrupt, match="format-1"):
        loads(rewritten, expected_sha256=digest)


@pytest.mark.parametrize(
    ("array", "value", "message"),
    [
        ("warm_cosine_index", np.full((12, 4), 99, dtype=np.int32), "points outside"),
        ("warm_rp3beta_weight", np.full((12, 4), np.nan, dtype=np.float32), "NaN"),
        ("warm_cosine_weight", np.zeros((12, 3), dtype=np.float32), "wrong shape"),
        ("warm_movie_ids", np.arange(12, 0, -1), "strictly increasing"),
    ],
)
def test_if_a_warm_start_table_is_damaged_then_artifact_is_corrupt(
    array: str, value: np.ndarray, message: str
) -> None:
    data, _ = dumps(_warm_model(), meta={})
    rewritten, digest = _rewrite(data, **{array: value})
    with pytest.raises(ArtifactCorrupt, match=message):
        loads(rewritten, expected_sha256=digest)


def test_if_warm_start_blend_is_out_of_range_then_artifact_is_corrupt() -> None:
    data, _ = dumps(_warm_model(), meta={})
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        header = json.loads(archive["meta"].tobytes().decode("utf-8"))
    rewritten, digest = _rewrite(data, warm={**header["warm"], "mix": 1.5})
    with pytest.raises(ArtifactCorrupt, match="blend weights"):
        loads(rewritten, expected_sha256=digest)
