#!/bin/sh
# Container entry point: apply migrations (unless MIGRATE_ON_START=0), then run the command.
set -eu
if [ "${MIGRATE_ON_START:-1}" = "1" ]; then
  python manage.py migrate --no-input
fi
exec "$@"
