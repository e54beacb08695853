"""The settings, as the contract names them: ``config.py`` at the top of a checkout.

The code lives in ``outreach/config.py`` (so it travels inside the wheel); this file
re-exports it for scripts and tools that import ``config``.
"""

from outreach.config import ConfigError, load_config

__all__ = ["ConfigError", "load_config"]
