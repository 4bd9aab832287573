"""recommender: domain errors (mapped to HTTP in movierec.exception_handler)."""

from __future__ import annotations

from movierec.errors import ApplicationError


class ModelNotReady(ApplicationError):
    """No model version can serve: none is active, or the active one cannot be loaded."""

    status = 503
    code = "model_not_ready"


class ModelRejected(ApplicationError):
    """The gate refused to activate a model version; the active version keeps serving."""

    status = 409
    code = "model_rejected"


class TrainingDataMissing(ApplicationError):
    """There is nothing to train on: ingest ml-100k first."""

    status = 409
    code = "training_data_missing"


class FeedbackLimitReached(ApplicationError):
    """The API key already has as many feedback people as it may store."""

    status = 429
    code = "feedback_limit_reached"


class FeedbackPersonNotFound(ApplicationError):
    """This API key has sent no feedback under that client_ref."""

    status = 404
    code = "not_found"
