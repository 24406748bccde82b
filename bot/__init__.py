"""Vecinos: the resident-participation bot of Madrid Central District."""
