"""The Univac version string. Layer: core; read by packaging and the version plugin."""

__version__ = "0.1.0"
