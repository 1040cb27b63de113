"""Forms of the account pages (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):  # type: ignore[misc]
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    # The upper bound stops long-password hashing costs before argon2 runs.
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class UploadPhotoForm(FlaskForm):  # type: ignore[misc]
    photo = FileField("Photo", validators=[FileRequired()])
    title = StringField("Title", validators=[Length(max=200)])


class RenamePhotoForm(FlaskForm):  # type: ignore[misc]
    title = StringField("New title", validators=[Length(max=200)])
