"""The verification page of RFC 8628 §3.3: enter the code, sign in, consent, done.

``GET /device`` shows the form (filled from ``?user_code=``, §3.3.1); ``POST /device`` looks
the code up, sends a signed-out person to sign in and back, and shows the consent page;
``POST /device/decide`` approves or denies, then 303 to ``/device/done``. Consent is asked
every time, even when it was given before, and the page repeats the user code so the person
can compare it with the device's screen (§5.4 remote phishing). Typed codes that match
nothing are throttled per address (DEVICE_CODE_LIMIT_PER_IP, §5.1 brute forcing).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app.errors import ValidationError
from app.extensions import limiter
from app.features import Feature, requires_feature
from app.oauth import consent
from app.route_policy import csrf_protected, declare, html_errors, no_rate_limit
from app.scopes import describe
from app.services import clients, device_codes
from app.settings import settings

bp = declare(Blueprint("device", __name__), html_errors, csrf_protected)
NOTHING_TO_GUESS = "looks no code up: codes are guessed at POST /device, which is limited"

MAX_TYPED_LENGTH = 32
UNKNOWN_CODE_MESSAGE = (
    "That code is not valid, or it has expired. Check the code on your device and try again."
)
THROTTLED_MESSAGE = "Too many codes that did not match. Wait a few minutes, then try again."
GONE_MESSAGE = "This code is no longer waiting for approval. Start again on your device."


def _typed_code() -> str:
    return device_codes.normalize_user_code(request.values.get("user_code", "")[:MAX_TYPED_LENGTH])


def _code_missed(response: Response) -> bool:
    """Only entries that name no pending code count against the address."""
    return bool(g.get("device_code_missed"))


@bp.get("/device")
@requires_feature(Feature.DEVICE_FLOW)
@no_rate_limit(NOTHING_TO_GUESS)
def verify_form() -> ResponseReturnValue:
    """The form where the person types the code their device shows."""
    code = _typed_code()
    shown = device_codes.display_user_code(code) if device_codes.is_well_formed(code) else ""
    return render_template("oauth/device.html", user_code=shown, error=None)


@bp.post("/device")
@requires_feature(Feature.DEVICE_FLOW)
@limiter.limit(
    lambda: str(settings().device_code_limit_per_ip),
    scope="device-user-code",
    deduct_when=_code_missed,
    error_message=THROTTLED_MESSAGE,
)
def verify() -> ResponseReturnValue:
    """Look the code up; sign in first if needed, then show the consent page."""
    code = _typed_code()
    row = device_codes.find_pending(code)
    if row is None:
        g.device_code_missed = True
        html = render_template(
            "oauth/device.html", user_code=request.form.get("user_code", "")[:MAX_TYPED_LENGTH],
            error=UNKNOWN_CODE_MESSAGE,
        )  # fmt: skip
        return Response(html, status=400, mimetype="text/html")
    if not current_user.is_authenticated:
        back = "/device?" + urlencode({"user_code": code})
        return redirect("/login?" + urlencode({"next": back}), code=303)
    return render_template(
        "oauth/device_consent.html",
        client=clients.get_client(row.client_id),
        user_code=device_codes.display_user_code(code),
        scopes=describe(row.scope),
        ticket=consent.issue_ticket(current_user.id, _ticket_args(code)),
    )


@bp.post("/device/decide")
@requires_feature(Feature.DEVICE_FLOW)
@no_rate_limit("needs a consent ticket signed for the signed-in user")
def decide() -> ResponseReturnValue:
    """Allow or deny the device; a code is decided once."""
    code = _typed_code()
    ticket = request.form.get("consent_ticket")
    if not current_user.is_authenticated or not consent.ticket_is_valid(
        ticket, current_user.id, _ticket_args(code)
    ):
        raise ValidationError("This consent form has expired. Enter the code again.")
    row = device_codes.find_pending(code)
    if row is None:
        raise ValidationError(GONE_MESSAGE)
    approved = request.form.get("decision") == "allow"
    if not _record_decision(code, row.scope, approved):
        raise ValidationError(GONE_MESSAGE)
    client_name = clients.get_client(row.client_id).client_name
    session["device_decision"] = {"approved": approved, "client_name": client_name}
    return redirect(url_for("device.done"), code=303)


def _record_decision(code: str, requested_scope: str, approved: bool) -> bool:
    if not approved:
        return device_codes.deny(code, current_user.user)
    scope = consent.granted_scope(requested_scope, request.form.getlist("granted_scope"))
    if not scope:
        raise ValidationError("Leave at least one permission ticked, or choose Deny.")
    user, auth_time = current_user.user, current_user.authenticated_at
    return device_codes.approve(code, user, scope, auth_time)


@bp.get("/device/done")
@requires_feature(Feature.DEVICE_FLOW)
@no_rate_limit(NOTHING_TO_GUESS)
def done() -> ResponseReturnValue:
    """The "return to your device" page, shown once after a decision."""
    decision = session.pop("device_decision", None)
    if not isinstance(decision, dict):
        return redirect(url_for("device.verify_form"))
    return render_template("oauth/device_done.html", **decision)


def _ticket_args(code: str) -> MultiDict[str, str]:
    """What the consent ticket binds: this user code (and, via the ticket, this user)."""
    return MultiDict({"device_user_code": code})
