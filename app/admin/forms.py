"""Forms of the admin console (Flask-WTF: every form carries a CSRF token).

The forms only parse what was typed; the rules live in the services (``validate_metadata``
for clients, ``create_user`` for users), so the console, the CLI and dynamic registration
can never drift apart. A service error names its field; ``attach_error`` puts it there.
"""

from __future__ import annotations

import re
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.widgets import CheckboxInput, ListWidget

from app.models.client import AUTH_METHODS, CLIENT_SECRET_BASIC
from app.scopes import DEFAULT_CLIENT_SCOPE
from app.services.client_metadata import GRANT_TYPES
from app.services.users import NewUser

OPTIONAL_URIS = ("jwks_uri", "logo_uri", "client_uri")


class MultiCheckboxField(SelectMultipleField):  # type: ignore[misc]
    """One checkbox per choice, each labelled with its value's name."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ServiceErrorsMixin:
    """Shows a service's error message next to the field it names, else above the form."""

    def attach_error(self, message: str) -> None:
        field = self._field_named_in(message)
        if field is None:
            self.form_errors.append(message)  # type: ignore[attr-defined]
        else:
            field.errors = [*field.errors, message]

    def _field_named_in(self, message: str) -> Any:
        prefix = message.split(":", 1)[0].strip()
        fields: dict[str, Any] = dict(self._fields)  # type: ignore[attr-defined]
        if prefix in fields:
            return fields[prefix]
        for name, field in fields.items():
            if name != "csrf_token" and re.search(rf"\b{re.escape(name)}\b", message):
                return field
        return None


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class ClientForm(ServiceErrorsMixin, FlaskForm):  # type: ignore[misc]
    """The RFC 7591 fields that matter; field names are the metadata names."""

    client_name = StringField("Client name")
    redirect_uris = TextAreaField(
        "Redirect URIs", render_kw={"rows": 3, "aria-describedby": "redirect_uris-hint"}
    )
    grant_types = MultiCheckboxField(
        "Grant types", choices=list(GRANT_TYPES), validate_choice=False
    )
    scope = StringField("Scope", default=DEFAULT_CLIENT_SCOPE)
    token_endpoint_auth_method = SelectField(
        "Authentication method",
        choices=list(AUTH_METHODS),
        default=CLIENT_SECRET_BASIC,
        validate_choice=False,
    )
    jwks_uri = StringField("JWKS URI")
    logo_uri = StringField("Logo URI")
    client_uri = StringField("Client URI")
    post_logout_redirect_uris = TextAreaField(
        "Post-logout redirect URIs",
        render_kw={"rows": 2, "aria-describedby": "post_logout_redirect_uris-hint"},
    )
    require_pushed_authorization_requests = BooleanField(
        "Require pushed authorization requests (PAR)"
    )

    EDITABLE = (
        "client_name",
        "redirect_uris",
        "grant_types",
        "scope",
        "token_endpoint_auth_method",
        "post_logout_redirect_uris",
    )

    @classmethod
    def for_client(cls, metadata: dict[str, Any]) -> ClientForm:
        """The form filled in with a client's registered metadata (for editing)."""
        values = dict(metadata)
        for name in ("redirect_uris", "post_logout_redirect_uris"):
            values[name] = "\n".join(values.get(name, []))
        names = [*cls.EDITABLE, *OPTIONAL_URIS, "require_pushed_authorization_requests"]
        return cls(data={name: values[name] for name in names if name in values})

    def metadata(self) -> dict[str, Any]:
        """The typed values as RFC 7591 metadata for ``register_client``."""
        metadata: dict[str, Any] = {
            "client_name": (self.client_name.data or "").strip(),
            "redirect_uris": _lines(self.redirect_uris.data),
            "grant_types": list(self.grant_types.data or []),
            "scope": self.scope.data or "",
            "token_endpoint_auth_method": self.token_endpoint_auth_method.data,
            "post_logout_redirect_uris": _lines(self.post_logout_redirect_uris.data),
        }
        for name in OPTIONAL_URIS:
            value = (getattr(self, name).data or "").strip()
            if value:
                metadata[name] = value
        if self.require_pushed_authorization_requests.data:
            metadata["require_pushed_authorization_requests"] = True
        return metadata


class UserForm(ServiceErrorsMixin, FlaskForm):  # type: ignore[misc]
    """Create a user; ``services.users.create_user`` holds the rules."""

    username = StringField("Username")
    email = EmailField("Email")
    password = PasswordField("Password")
    is_admin = BooleanField("Admin")

    def new_user(self) -> NewUser:
        return NewUser(
            username=self.username.data or "",
            email=self.email.data or "",
            password=self.password.data or "",
            is_admin=bool(self.is_admin.data),
        )
