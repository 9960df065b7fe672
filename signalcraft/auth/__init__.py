"""Authentication and authorization: passwords, sessions, CSRF, API keys, roles."""
