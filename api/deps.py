"""FastAPI dependencies: the service container and the caller's key, as ``Annotated`` types."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from api.container import Container
from api.keys import ApiKey


def get_container(request: Request) -> Container:
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(get_container)]


def authenticate(request: Request, container: ContainerDep,
                 authorization: Annotated[str | None, Header()] = None) -> ApiKey:
    if not authorization:
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'",
                            headers={"WWW-Authenticate": "Bearer"})
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "use 'Authorization: Bearer <key>'", headers={"WWW-Authenticate": "Bearer"})
    key = container.keys.authenticate(token.strip())
    if key is None:
        raise HTTPException(401, "unknown, revoked or expired API key", headers={"WWW-Authenticate": "Bearer"})
    request.state.key_id = key.id
    limiter = getattr(request.app.state, "limiter", None)
    if limiter is not None:
        allowed, retry = limiter.hit(key.id)
        if not allowed:
            raise HTTPException(429, f"rate limit of {limiter.per_minute} requests a minute reached for this key",
                                headers={"Retry-After": str(retry)})
    return key


Principal = Annotated[ApiKey, Depends(authenticate)]


def _require(*roles: str) -> Callable[[ApiKey], ApiKey]:
    def check(key: Principal) -> ApiKey:
        if key.role not in roles:
            raise HTTPException(403, f"this needs one of the roles: {', '.join(roles)}")
        return key

    return check


ManagerKey = Annotated[ApiKey, Depends(_require("manager", "admin"))]
AdminKey = Annotated[ApiKey, Depends(_require("admin"))]
