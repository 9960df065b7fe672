"""HTTP: Litestar controllers (HTML pages and the JSON API), grouped by area."""
