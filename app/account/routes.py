"""Sign-in pages: /login, /logout and the home page."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_login import login_user

from app.account.forms import LoginForm
from app.account.principal import SignedInUser, sign_out
from app.extensions import limiter
from app.security import safe_next_path
from app.services import login_sessions, users

bp = Blueprint("account", __name__)

FAILED_LOGIN_MESSAGE = "Invalid username or password."
THROTTLED_MESSAGE = "Too many sign-in attempts. Wait a few minutes, then try again."


def _account_key() -> str:
    """Rate-limit key for the account being tried (case-insensitive)."""
    return "login-account:" + users.normalize_username(request.form.get("username", ""))[:64]


def _limit(setting: str) -> str:
    return str(current_app.config[setting])


@bp.get("/")
def index() -> ResponseReturnValue:
    """Home page."""
    return render_template("index.html")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: _limit("LOGIN_LIMIT_PER_IP"),
    methods=["POST"],
    scope="login-ip",
    error_message=THROTTLED_MESSAGE,
)
@limiter.limit(
    lambda: _limit("LOGIN_LIMIT_PER_ACCOUNT"),
    methods=["POST"],
    key_func=_account_key,
    error_message=THROTTLED_MESSAGE,
)
def login() -> ResponseReturnValue:
    """Sign in with username and password, then go back to ``next``."""
    next_path = safe_next_path(request.values.get("next"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = users.authenticate(form.username.data, form.password.data)
        if user is not None:
            session.clear()  # a fresh session: nothing from before sign-in survives it
            token, login_record = login_sessions.start(user)
            session.permanent = True
            login_user(SignedInUser(token, login_record))
            current_app.logger.info("sign-in ok user=%s", user.username)
            return redirect(next_path, code=303)
        current_app.logger.info("sign-in failed")
        error = FAILED_LOGIN_MESSAGE
    elif request.method == "POST":
        error = FAILED_LOGIN_MESSAGE
    return render_template("account/login.html", form=form, next=next_path, error=error)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out: the server forgets the sign-in, so a copied cookie stops working too."""
    sign_out()
    return redirect("/login", code=303)
