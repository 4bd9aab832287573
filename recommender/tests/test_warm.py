"""Pure tests of recommender.ml.warm: item models, reveal rule, blend and serving."""

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recommender.ml import warm as warm_module
from recommender.ml.scoring import Scorer, rank_positions
from recommender.ml.training import train
from recommender.ml.warm import (
    COMPONENTS,
    RankedBase,
    WarmParams,
    WarmScorer,
    blend_scores,
    cosine_neighbours,
    fit_warm,
    liked_matrix,
    liked_positions,
    rank_sparse,
    ranked_sample,
    reveal,
    reveal_order,
    reveal_orders,
    revealed_rows,
    rp3_neighbours,
    top_rows,
    top_rows_sparse,
)
from recommender.tests import _synthetic

# Raters x movies: r1 likes 0 and 1, r2 likes all three, r3 likes 1 and 2.
LIKES = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=np.float64))


def _weights(table: warm_module.Neighbours, row: int) -> dict[int, float]:
    return {
        int(i): float(w) for i, w in zip(table.index[row], table.weight[row], strict=True) if w > 0
    }


def _warm_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return _synthetic.warm_ratings(), _synthetic.warm_raters(), _synthetic.warm_movies()


def test_if_liked_matrix_is_built_then_only_ratings_at_threshold_count_once() -> None:
    ratings = pd.DataFrame(
        {"rater_id": [1, 1, 2, 2, 9], "movie_id": [10, 20, 10, 10, 10], "rating": [4, 3, 5, 5, 5]}
    )
    matrix = liked_matrix(ratings, np.array([1, 2]), np.array([10, 20]), threshold=4)
    assert matrix.toarray().tolist() == [[1.0, 0.0], [1.0, 0.0]]


def test_if_cosine_neighbours_then_hand_computed_similarities_without_self() -> None:
    table = cosine_neighbours(LIKES, shrinkage=0.0, neighbours=5)
    # co(0,1) = 2, co(0,2) = 1; like counts 2, 3, 2.
    assert _weights(table, 0) == pytest.approx({1: 2 / math.sqrt(6), 2: 0.5})
    assert _weights(table, 1) == pytest.approx({0: 2 / math.sqrt(6), 2: 2 / math.sqrt(6)})
    shrunk = cosine_neighbours(LIKES, shrinkage=1.0, neighbours=5)
    assert _weights(shrunk, 0) == pytest.approx({1: 2 / (math.sqrt(6) + 1), 2: 1 / 3})


def test_if_neighbours_are_pruned_then_the_best_ones_are_kept() -> None:
    table = cosine_neighbours(LIKES, shrinkage=0.0, neighbours=1)
    assert table.index.shape == (3, 1)
    assert _weights(table, 0) == pytest.approx({1: 2 / math.sqrt(6)})
    assert _weights(table, 2) == pytest.approx({1: 2 / math.sqrt(6)})


def test_if_rp3beta_then_hand_computed_walk_divided_by_popularity() -> None:
    # Rater degrees 2, 3, 2. From movie 0 (liked by r1, r2): to 1 via r1 (1/2 * 1/2) and
    # r2 (1/2 * 1/3); to 2 via r2 only (1/2 * 1/3).
    plain = rp3_neighbours(LIKES, alpha=1.0, beta=0.0, neighbours=5)
    assert _weights(plain, 0) == pytest.approx({1: 1 / 4 + 1 / 6, 2: 1 / 6})
    penalised = rp3_neighbours(LIKES, alpha=1.0, beta=0.5, neighbours=5)
    assert _weights(penalised, 0) == pytest.approx(
        {1: (1 / 4 + 1 / 6) / math.sqrt(3), 2: 1 / 6 / math.sqrt(2)}
    )


def test_if_fitted_in_tiny_blocks_then_tables_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    ratings, raters, movies = _warm_frames()
    likes = liked_matrix(
        ratings, raters["rater_id"].to_numpy(), movies["movie_id"].to_numpy(), threshold=4
    )
    whole = warm_module.fit_item_models(likes, WarmParams(neighbours=4))
    monkeypatch.setattr(warm_module, "_BLOCK_ENTRIES", 1)  # one movie per block
    blocked = warm_module.fit_item_models(likes, WarmParams(neighbours=4))
    for name in COMPONENTS:
        assert np.array_equal(whole[name].weight, blocked[name].weight)
        assert np.array_equal(whole[name].index, blocked[name].index)


def _random_likes(seed: int, raters: int = 60, movies: int = 25) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((raters, movies)) < 0.3).astype(np.float64))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_if_only_some_rows_are_fitted_then_they_equal_the_full_tables_and_the_rest_is_empty(
    seed: int,
) -> None:
    likes = _random_likes(seed)
    params = WarmParams(neighbours=5)
    whole = warm_module.fit_item_models(likes, params)
    rows = np.array([20, 3, 3, 11])  # any order, repeats allowed
    part = {
        "cosine": cosine_neighbours(
            likes, shrinkage=params.cosine_shrinkage, neighbours=params.neighbours, rows=rows
        ),
        "rp3beta": rp3_neighbours(
            likes,
            alpha=params.rp3_alpha,
            beta=params.rp3_beta,
            neighbours=params.neighbours,
            rows=rows,
        ),
    }
    for name in COMPONENTS:
        for row in range(likes.shape[1]):
            if row in rows:
                assert np.array_equal(part[name].index[row], whole[name].index[row])
                assert np.array_equal(part[name].weight[row], whole[name].weight[row])
            else:
                assert not part[name].weight[row].any()


def test_if_fitted_on_threads_then_tables_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    likes = _random_likes(3, raters=80, movies=40)
    params = WarmParams(neighbours=6)
    monkeypatch.setattr(warm_module, "_FIT_THREADS", 1)
    serial = warm_module.fit_item_models(likes, params)
    monkeypatch.setattr(warm_module, "_FIT_THREADS", 3)
    monkeypatch.setattr(warm_module, "_BLOCK_ENTRIES", 40 * 3)  # three movies per block
    threaded = warm_module.fit_item_models(likes, params)
    for name in COMPONENTS:
        assert np.array_equal(serial[name].index, threaded[name].index)
        assert np.array_equal(serial[name].weight, threaded[name].weight)


def test_if_views_take_some_movies_then_each_equals_the_tables_of_the_cut_matrix() -> None:
    likes = _random_likes(5, raters=70, movies=30)
    columns = np.array([0, 2, 3, 7, 8, 15, 21, 29])
    views = [
        warm_module.CosineView(rows=np.array([1, 4, 9]), shrinkages=(0.0, 20.0)),
        warm_module.CosineView(rows=np.array([0, 3, 5]), shrinkages=(5.0,), columns=columns),
    ]
    whole, cut = warm_module.cosine_views(likes, neighbours=4, views=views)
    expected_whole = warm_module.cosine_neighbours_grid(
        likes, shrinkages=(0.0, 20.0), neighbours=4, rows=np.array([1, 4, 9])
    )
    expected_cut = cosine_neighbours(
        sp.csr_matrix(likes[:, columns]), shrinkage=5.0, neighbours=4, rows=np.array([0, 3, 5])
    )
    for got, expected in ((whole[0.0], expected_whole[0]), (whole[20.0], expected_whole[1])):
        assert np.array_equal(got.index, expected.index)
        assert np.array_equal(got.weight, expected.weight)
    assert cut[5.0].index.shape == (len(columns), 4)
    assert np.array_equal(cut[5.0].index, expected_cut.index)
    assert np.array_equal(cut[5.0].weight, expected_cut.weight)


def test_if_counts_are_taken_in_float64_then_cosine_tables_are_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    likes = _random_likes(4)
    single = cosine_neighbours(likes, shrinkage=20.0, neighbours=5)
    monkeypatch.setattr(warm_module, "_FLOAT32_EXACT", 0)  # every matrix "too large"
    double = cosine_neighbours(likes, shrinkage=20.0, neighbours=5)
    assert np.array_equal(single.index, double.index)
    assert np.array_equal(single.weight, double.weight)


def test_if_liked_positions_then_each_rater_gets_the_known_liked_movies_only() -> None:
    ratings = pd.DataFrame(
        {
            "rater_id": [5, 2, 5, 2, 7, 5],
            "movie_id": [30, 10, 10, 99, 20, 20],
            "rating": [5, 4, 4, 5, 2, 3],
        }
    )
    positions = liked_positions(ratings, np.array([10, 20, 30]), threshold=4)
    # Rater 2's 99 is not a known movie; rater 7 likes nothing; 5's 20 got 3 stars.
    assert list(positions) == [2, 5]
    assert positions[2].tolist() == [0]
    assert sorted(positions[5].tolist()) == [0, 2]
    assert liked_positions(ratings.iloc[:0], np.array([10]), threshold=4) == {}
    orders = reveal_orders(ratings, np.array([10, 20, 30]), threshold=4)
    assert orders[5].tolist() == reveal_order([2, 0], 5).tolist()


def test_if_reveals_are_known_then_revealed_rows_are_the_union_of_their_first_k() -> None:
    orders = [np.array([4, 1, 7]), np.array([1, 9]), np.array([3])]
    assert revealed_rows(orders, 2).tolist() == [1, 3, 4, 9]
    assert revealed_rows(orders, 1).tolist() == [1, 3, 4]
    assert revealed_rows([], 5).tolist() == []


def test_if_more_raters_than_the_cap_then_a_seeded_sorted_sample_is_ranked() -> None:
    ids = np.arange(100, 200)
    assert ranked_sample(ids, 100, (1, 2)).tolist() == ids.tolist()
    sample = ranked_sample(ids, 10, (7, 0))
    assert len(sample) == 10
    assert len(set(sample.tolist())) == 10
    assert sample.tolist() == sorted(sample.tolist())
    assert set(sample.tolist()) <= set(ids.tolist())
    assert ranked_sample(ids, 10, (7, 0)).tolist() == sample.tolist()
    assert ranked_sample(ids, 10, (7, 1)).tolist() != sample.tolist()


def test_if_validation_ranks_a_sample_then_the_fit_still_chooses_a_grid_point() -> None:
    ratings, raters, movies = _warm_frames()
    demographic = train(ratings, raters, movies)
    params = WarmParams(neighbours=6, prior_grid=(0.3, 3.0), mix_grid=(0.5,))
    everyone = fit_warm(ratings, raters, movies, demographic=demographic, warm_params=params)
    # The synthetic folds hold 13-14 raters: a cap of 14 ranks them all, 4 ranks a sample.
    capped = WarmParams(**{**params.to_dict(), "validation_raters": 14})
    same = fit_warm(ratings, raters, movies, demographic=demographic, warm_params=capped)
    assert same.validation == everyone.validation
    few = WarmParams(**{**params.to_dict(), "validation_raters": 4})
    sampled = fit_warm(ratings, raters, movies, demographic=demographic, warm_params=few)
    assert sampled.validation != everyone.validation
    assert f"{sampled.prior_c:g}/{sampled.mix:g}" in sampled.validation
    for name in COMPONENTS:  # the served tables do not depend on the validation
        assert np.array_equal(sampled.components[name].index, everyone.components[name].index)


def test_if_feedback_people_are_train_only_then_no_split_holds_them_out() -> None:
    ratings, raters, movies = _warm_frames()
    # Feedback people carry minus their primary key: beyond 1,000 of them the reveal seed
    # (1000 + rater id) would be negative, so they must never be ranked.
    people = raters.head(6).assign(rater_id=lambda f: -5000 - f["rater_id"])
    theirs = ratings[ratings["rater_id"] <= 6].assign(rater_id=lambda f: -5000 - f["rater_id"])
    all_ratings = pd.concat([ratings, theirs], ignore_index=True)
    all_raters = pd.concat([raters, people], ignore_index=True)
    train_only = people["rater_id"].tolist()
    _, splits_of = warm_module.inner_splits(
        all_ratings,
        WarmParams(),
        movie_ids=np.sort(movies["movie_id"].to_numpy()),
        threshold=4,
        train_only=train_only,
    )
    splits = list(splits_of)
    assert sorted(np.concatenate([s.held_out for s in splits]).tolist()) == list(range(1, 41))
    for split in splits:
        assert set(train_only) <= set(split.inner["rater_id"].tolist())
        assert (split.ranked["rater_id"] > 0).all()
    demographic = train(all_ratings, all_raters, movies)
    params = WarmParams(neighbours=6, prior_grid=(0.3, 3.0), mix_grid=(0.5,))
    model = fit_warm(
        all_ratings,
        all_raters,
        movies,
        demographic=demographic,
        warm_params=params,
        train_only=train_only,
    )
    assert f"{model.prior_c:g}/{model.mix:g}" in model.validation


def test_if_a_validation_cap_is_below_two_then_params_refuse() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        WarmParams(validation_raters=1)
    with pytest.raises(ValueError, match="at least 2"):
        WarmParams(evaluated_raters=0)


def test_if_the_catalogue_holds_the_model_movies_then_the_table_is_served_as_it_is() -> None:
    table = cosine_neighbours(LIKES, shrinkage=0.0, neighbours=2)
    ids = np.array([10, 20, 30])
    rows, same = warm_module.to_catalogue(table, ids, ids.copy())
    assert rows.tolist() == [0, 1, 2]
    assert same is table
    # Another catalogue: movie 20 left out, 40 added; neighbours outside point one past.
    rows, moved = warm_module.to_catalogue(table, ids, np.array([10, 30, 40]))
    assert rows.tolist() == [0, 2, -1]
    position = {10: 0, 20: 3, 30: 1}
    assert moved.index.tolist() == [[position[ids[i]] for i in row] for row in table.index]


def test_if_likes_are_revealed_then_the_rule_is_seeded_by_1000_plus_the_rater_id() -> None:
    likes = [30, 10, 20, 50, 40]
    expected = np.random.default_rng(1007).permutation([10, 20, 30, 40, 50])
    assert reveal_order(likes, 7).tolist() == expected.tolist()
    shown, rest = reveal(likes, 7, 2)
    assert shown.tolist() == expected[:2].tolist()
    assert rest.tolist() == expected[2:].tolist()
    # Nested: the reveal of 3 extends the reveal of 1; another rater draws otherwise.
    assert reveal(likes, 7, 3)[0][:1].tolist() == reveal(likes, 7, 1)[0].tolist()
    assert reveal_order(likes, 8).tolist() != expected.tolist()


def test_if_a_rater_has_no_more_likes_than_k_then_reveal_refuses() -> None:
    with pytest.raises(ValueError, match="more than k=3"):
        reveal([1, 2, 3], 1, 3)


def test_if_no_likes_then_blend_is_the_prior_itself() -> None:
    prior = np.array([0.3, 0.1, 0.2])
    items = [np.array([0.0, 5.0, 1.0]), np.array([0.0, 1.0, 0.0])]
    assert blend_scores(prior, items, k=0, prior_c=0.5, mix=0.5) is prior


def test_if_scores_are_rescaled_then_the_blend_ranks_the_same() -> None:
    prior = np.array([0.3, 0.1, 0.2, 0.25])
    items = [np.array([0.0, 2.0, 1.0, 0.5]), np.array([0.1, 0.3, 0.0, 0.2])]
    blended = blend_scores(prior, items, k=2, prior_c=1.0, mix=0.5)
    rescaled = blend_scores(prior * 10, [items[0] / 7, items[1] * 3], k=2, prior_c=1.0, mix=0.5)
    assert np.argsort(blended).tolist() == np.argsort(rescaled).tolist()
    assert rescaled == pytest.approx(blended)


def test_if_more_movies_are_liked_then_the_item_evidence_weighs_more() -> None:
    prior = np.array([1.0, 0.0])
    items = [np.array([0.0, 1.0]), np.array([0.0, 1.0])]
    one = blend_scores(prior, items, k=1, prior_c=2.0, mix=0.5)
    ten = blend_scores(prior, items, k=10, prior_c=2.0, mix=0.5)
    assert one[0] > one[1]  # the prior (weight 2/3) still wins with one like
    assert ten[1] > ten[0]  # the items (weight 10/12) win with ten


def test_if_a_score_vector_is_constant_then_it_contributes_nothing() -> None:
    prior = np.array([0.2, 0.1, 0.3])
    flat = [np.zeros(3), np.ones(3)]
    blended = blend_scores(prior, flat, k=3, prior_c=1.0, mix=0.5)
    assert np.argsort(blended).tolist() == np.argsort(prior).tolist()


def test_if_top_rows_then_excluded_columns_never_come_back() -> None:
    scores = np.array([[0.9, 0.8, 0.1, 0.5], [0.1, 0.2, 0.3, 0.4]])
    assert top_rows(scores, np.array([0]), 2) == [[1, 3], [3, 2]]


def test_if_top_rows_tie_then_the_lower_column_comes_first() -> None:
    scores = np.array([[0.5, 0.7, 0.5, 0.7, 0.1]])
    assert top_rows(scores, np.array([], dtype=np.int64), 3) == [[1, 3, 0]]


@pytest.mark.parametrize("seed", range(6))
def test_if_ranked_on_candidates_then_the_answer_is_the_full_ranking(seed: int) -> None:
    # Scores equal a multiple of a base (with many ties) outside a random support: the
    # shortcut must give what ranking every column gives, ties and exclusions included.
    rng = np.random.default_rng(seed)
    for _ in range(150):
        n = int(rng.integers(20, 600))
        base = np.round(rng.normal(size=n), 1)
        support = np.sort(rng.choice(n, int(rng.integers(0, n // 3)), replace=False))
        items = np.zeros((2, n))
        items[:, support] = np.round(rng.random((2, len(support))), 2)
        parts = np.vstack([base, items])
        weights = np.abs(rng.normal(size=(4, 3))) + 0.01
        excluded = rng.choice(n, int(rng.integers(0, 6)), replace=False)
        k = int(rng.integers(1, 12))
        ranked = RankedBase(base, length=int(rng.choice([8, 64, 1024])))

        def grid(columns: np.ndarray) -> np.ndarray:
            return weights @ parts[:, columns]  # noqa: B023 (called before the next round)

        assert top_rows_sparse(grid, ranked, support, excluded, k) == top_rows(
            weights @ parts, excluded, k
        )
        movie_ids = rng.permutation(n) + 1
        full = weights[0] @ parts

        def one(columns: np.ndarray) -> np.ndarray:
            return full[columns]  # noqa: B023

        assert rank_sparse(one, ranked, support, excluded, movie_ids, k) == rank_positions(
            full, movie_ids, k, exclude_positions=excluded
        )


def test_if_fitted_then_the_blend_is_a_grid_point_chosen_by_validation() -> None:
    ratings, raters, movies = _warm_frames()
    params = WarmParams(neighbours=5, prior_grid=(0.2, 5.0), mix_grid=(0.0, 1.0))
    demographic = train(ratings, raters, movies)
    model = fit_warm(ratings, raters, movies, demographic=demographic, warm_params=params)
    assert set(model.validation) == {"0.2/0", "0.2/1", "5/0", "5/1"}
    best = max(model.validation.values())
    assert model.validation[f"{model.prior_c:g}/{model.mix:g}"] == best
    # Taste is not demographic here, so the validation prefers the item evidence.
    assert model.prior_c == 0.2
    assert np.array_equal(model.movie_ids, demographic.movie_ids)
    assert model.components["cosine"].index.shape == (len(demographic.movie_ids), 5)


def test_if_liked_movies_given_then_their_taste_ranks_first() -> None:
    ratings, raters, movies = _warm_frames()
    demographic = train(ratings, raters, movies)
    model = fit_warm(ratings, raters, movies, demographic=demographic)
    movie_ids = movies["movie_id"].to_numpy()
    scorer = Scorer(demographic, movie_ids, movies[["Action", "Drama", "Comedy"]].to_numpy())
    serving = WarmScorer(model, movie_ids)
    prior = scorer.scores_for_features(np.zeros((1, demographic.n_features)))[0]
    liked = np.searchsorted(movie_ids, [6, 7])
    ranked = scorer.rank(serving.scores(prior, liked), 3, exclude_positions=liked)
    assert {int(movie_ids[i]) for i in ranked} == {8, 9, 10}


def test_if_liked_movies_are_unknown_to_the_model_then_the_prior_is_served() -> None:
    ratings, raters, movies = _warm_frames()
    demographic = train(ratings[ratings["movie_id"] != 12], raters, movies)
    model = fit_warm(ratings[ratings["movie_id"] != 12], raters, movies, demographic=demographic)
    # The catalogue has a movie 99 the model never saw, and lacks the model's movie 3.
    catalogue = np.array([1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 99])
    serving = WarmScorer(model, catalogue)
    prior = np.linspace(0.0, 1.0, len(catalogue))
    assert serving.scores(prior, np.array([10, 11])) is prior
    blended = serving.scores(prior, np.array([0, 11]))
    assert blended.shape == (len(catalogue),)
    assert np.isfinite(blended).all()
