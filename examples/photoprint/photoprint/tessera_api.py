"""Tessera's photo API as PhotoPrint uses it: list Bob's photos, fetch their images.

Revocation shows up as a 401 from the API (an access token that was alive a moment ago)
followed by a refresh that fails with ``invalid_grant``; or, when the access token was due
for renewal anyway, as that failed refresh alone. Either way: ``AccessRevoked``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError

from photoprint.oauth import DPoPSession, TesseraUnavailable

PAGE_SIZE = 100
MAX_PHOTOS = 240  # a contact sheet of 20 pages is plenty for a print shop's demo


class AccessRevoked(Exception):
    """Bob revoked PhotoPrint on Tessera's My apps (or its grant ended otherwise)."""


class APIError(Exception):
    """The API refused a call for a reason other than revocation."""


@dataclass(frozen=True)
class Photo:
    id: str
    title: str
    width: int
    height: int
    content_url: str


class TesseraAPI:
    def __init__(self, session: DPoPSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")

    def photos(self) -> list[Photo]:
        """Bob's photos, newest first, following ``links.next``."""
        found: list[Photo] = []
        url: str | None = f"{self.base_url}/photos?limit={PAGE_SIZE}"
        while url and len(found) < MAX_PHOTOS:
            page = self._get(url).json()
            for item in page["items"]:
                found.append(
                    Photo(
                        id=item["id"],
                        title=item.get("title") or "Untitled",
                        width=item["width"],
                        height=item["height"],
                        content_url=item["links"]["content"],
                    )
                )
            url = page.get("links", {}).get("next")
        return found[:MAX_PHOTOS]

    def content(self, photo: Photo) -> bytes:
        return self._get(photo.content_url).content

    def _get(self, url: str) -> requests.Response:
        answer = self._call(url)
        if answer.status_code == 401:
            # The access token died early: revoked, or Tessera's keys changed. A refresh tells.
            self._refresh()
            answer = self._call(url)
            if answer.status_code == 401:
                raise AccessRevoked(_description(answer))
        if answer.status_code != 200:
            raise APIError(f"{url} answered {answer.status_code}: {_description(answer)}")
        return answer

    def _call(self, url: str) -> requests.Response:
        try:
            response: requests.Response = self.session.get(url)
        except OAuthError as exc:  # the refresh before the call failed
            raise _refresh_error(exc) from exc
        except requests.RequestException as exc:
            raise TesseraUnavailable(str(exc)) from exc
        return response

    def _refresh(self) -> None:
        if not self.session.token.get("refresh_token"):
            raise AccessRevoked("PhotoPrint holds no refresh token (offline_access not granted).")
        try:
            self.session.refresh_token(self.session.provider.token_endpoint)
        except OAuthError as exc:
            raise _refresh_error(exc) from exc
        except requests.RequestException as exc:
            raise TesseraUnavailable(str(exc)) from exc


def _refresh_error(exc: OAuthError) -> Exception:
    if exc.error in ("invalid_grant", "token_invalid"):  # token_invalid: expired, no refresh token
        return AccessRevoked(exc.description or "")
    return APIError(f"the token endpoint refused a refresh: {exc.error}: {exc.description}")


def _description(answer: requests.Response) -> str:
    try:
        body: Any = answer.json()
    except ValueError:
        return answer.text[:200]
    return str(body.get("error_description") or body.get("error")) if isinstance(body, dict) else ""
