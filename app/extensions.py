"""Flask extensions, created unbound; ``create_app`` binds them to an app."""

from __future__ import annotations

import ipaddress

from flask import current_app, request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so Alembic can alter and drop them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()


def source_address() -> str:
    """The caller's address as throttles count it: an IPv4 address, or an IPv6 /64.

    One host is routinely given a whole /64, so counting each IPv6 address apart would let it
    rotate through 2^64 addresses past every per-address limit.
    """
    address = request.remote_addr or "127.0.0.1"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return address


limiter = Limiter(source_address)


def _not_throttled() -> bool:
    """Skip flask-limiter's per-request work (about 0.1 ms) on endpoints that carry no limit.

    ``create_app`` lists the throttled endpoints in ``app.extensions["throttled_endpoints"]``.
    """
    return request.endpoint not in current_app.extensions.get("throttled_endpoints", ())


limiter.request_filter(_not_throttled)
