"""Browser sign-in: login, logout and the signed-in user."""
