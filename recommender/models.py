"""recommender: models."""
