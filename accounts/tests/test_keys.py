"""Keys are stored hashed: the raw key appears in no column, only its SHA-512 digest."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection

from accounts.models import ApiKey
from accounts.services import api_key_create

pytestmark = pytest.mark.django_db


def test_the_raw_key_is_stored_nowhere_in_its_row():
    api_key, raw = api_key_create(name="x")
    secret = raw.partition(".")[2]

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apikey WHERE id = %s", [api_key.pk])
        row = cursor.fetchone()

    assert all(secret not in str(value) for value in row)


def test_the_hash_is_the_sha512_of_the_key():
    api_key, raw = api_key_create(name="x")

    stored = ApiKey.objects.get(pk=api_key.pk)

    assert stored.hashed_key == "sha512$$" + hashlib.sha512(raw.encode()).hexdigest()
    assert stored.prefix == raw.partition(".")[0]


def test_every_key_is_different():
    raws = {api_key_create(name=f"k{n}")[1] for n in range(20)}
    prefixes = {raw.partition(".")[0] for raw in raws}

    assert len(raws) == len(prefixes) == 20


def test_primary_key_is_an_integer_not_the_hash():
    api_key, _ = api_key_create(name="x")

    assert isinstance(api_key.pk, int)
    assert api_key.hashed_key not in str(api_key.pk)


def test_key_verification_refuses_a_near_miss():
    api_key, raw = api_key_create(name="x")
    stored = ApiKey.objects.get(pk=api_key.pk)

    assert stored.is_valid(raw)
    assert not stored.is_valid(raw[:-1] + ("a" if raw[-1] != "a" else "b"))
