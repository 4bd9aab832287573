"""accounts: the only module that imports simplejwt (bearer token -> API key principal)."""

from rest_framework.authentication import BaseAuthentication


class ApiKeyJWTAuthentication(BaseAuthentication):
    pass
