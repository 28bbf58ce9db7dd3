"""Univac transports, installed as ``univac.transports``: one package (or module) each."""
