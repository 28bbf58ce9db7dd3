"""A plugin whose library is missing."""

import no_such_library_here  # noqa: F401
