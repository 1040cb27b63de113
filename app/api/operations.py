"""Every API operation once: its route, the scope it needs, and its summary.

The views, the OpenAPI document and the usage counts all read this table, so the scope a
route enforces is the scope the documentation announces.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Operation:
    name: str  # operationId, and the usage counter's name
    method: str
    path: str  # OpenAPI path, under config.API_PATH
    scope: str
    summary: str


LIST = Operation("listPhotos", "get", "/photos", "photos.read", "List your photos, newest first")
UPLOAD = Operation("uploadPhoto", "post", "/photos", "photos.write", "Upload a photo")
GET = Operation("getPhoto", "get", "/photos/{photo_id}", "photos.read", "Read a photo's details")
UPDATE = Operation(
    "updatePhoto", "patch", "/photos/{photo_id}", "photos.write", "Rename or describe a photo"
)
DELETE = Operation("deletePhoto", "delete", "/photos/{photo_id}", "photos.write", "Delete a photo")
CONTENT = Operation(
    "getPhotoContent", "get", "/photos/{photo_id}/content", "photos.read", "Download the image"
)

OPERATIONS = (LIST, UPLOAD, GET, UPDATE, DELETE, CONTENT)
READS = (LIST, GET, CONTENT)  # what the account page counts as "read N photos"
