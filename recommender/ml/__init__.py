"""The recommender's ML core: plain Python, NumPy, pandas and scikit-learn, never Django.

Everything that fits, evaluates, scores, serialises and reports on a model lives here, so it
can be run and tested without a settings module; the Django side of the app (registry,
datasets, services, views, admin, commands) imports from it, never the other way round.
`recommender/tests/test_boundary.py` keeps it so.
"""
