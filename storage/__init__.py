"""Storage: models, unit of work, repositories and migrations; the only package that speaks SQL."""
