"""Sign-in pages: /login, /logout and the home page."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_login import login_user

from app.account.forms import LoginForm
from app.account.principal import SignedInUser, sign_out
from app.extensions import source_address
from app.request_log import note_subject
from app.route_policy import csrf_protected, declare, html_errors, no_rate_limit, rate_limited
from app.security import safe_next_path
from app.services import attempts, login_sessions, users
from app.settings import settings

bp = declare(Blueprint("account", __name__), html_errors, csrf_protected)

FAILED_LOGIN_MESSAGE = "Invalid username or password."
THROTTLED_MESSAGE = "Too many sign-in attempts. Wait a few minutes, then try again."


def _limit(setting: str) -> str:
    return settings().rate_limit(setting)


def _sign_in_guess(username: str) -> attempts.Guess:
    """Reserve this attempt under its address's and its account + address's failure budgets.

    The account alone is never a key: failures elsewhere must not stop its owner here.
    """
    address = source_address()
    account = users.normalize_username(username)[:64]
    budgets = [
        attempts.Budget(_limit("LOGIN_LIMIT_PER_IP"), f"sign-in-ip:{address}"),
        attempts.Budget(
            _limit("LOGIN_LIMIT_PER_ACCOUNT"),
            f"sign-in-account:{address}/{account}",
            cleared_by_success=True,
        ),
    ]
    return attempts.guess(budgets, THROTTLED_MESSAGE)


@bp.get("/")
@no_rate_limit("the home page")
def index() -> ResponseReturnValue:
    """Home page."""
    return render_template("index.html")


@bp.route("/login", methods=["GET", "POST"])
@rate_limited("failed sign-ins count against LOGIN_LIMIT_PER_IP and _PER_ACCOUNT (attempts)")
def login() -> ResponseReturnValue:
    """Sign in with username and password, then go back to ``next``."""
    next_path = safe_next_path(request.values.get("next"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        guess = _sign_in_guess(form.username.data)  # 429 here: not even checked
        user = users.authenticate(form.username.data, form.password.data)
        if user is not None:
            guess.succeeded()
            session.clear()  # a fresh session: nothing from before sign-in survives it
            token, login_record = login_sessions.start(user)
            session.permanent = True
            login_user(SignedInUser(token, login_record))
            note_subject(str(user.id))
            current_app.logger.info("sign-in ok user=%s", user.username)
            return redirect(next_path, code=303)
        current_app.logger.info("sign-in failed")
        error = FAILED_LOGIN_MESSAGE
    elif request.method == "POST":
        error = FAILED_LOGIN_MESSAGE
    return render_template("account/login.html", form=form, next=next_path, error=error)


@bp.post("/logout")
@no_rate_limit("signs the session out: nothing to guess")
def logout() -> ResponseReturnValue:
    """Sign out: the server forgets the sign-in, so a copied cookie stops working too."""
    sign_out()
    return redirect("/login", code=303)
