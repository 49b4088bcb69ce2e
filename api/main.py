"""ASGI entry point for uvicorn (``api.main:app``): builds the app from the environment's settings."""

from api.app import create_app

app = create_app()
