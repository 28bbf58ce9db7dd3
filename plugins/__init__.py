"""Univac built-in plugins, installed as ``univac.plugins``: one module (or package) each."""
