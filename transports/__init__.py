"""Univac transports: one module per chat protocol, installed as ``univac.transports``."""
