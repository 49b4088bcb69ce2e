"""ASGI entry point for uvicorn (``api.main:app``): the app built from the environment's settings.

Under ``replydesk serve`` every worker imports this with ``REPLYDESK_MIGRATE_ON_START=false``: serve
migrated the database once, before starting them, so a worker only checks that the schema is at
the code's revision. Started by uvicorn directly, the app migrates at start-up.
"""

from api.app import create_app

app = create_app()
