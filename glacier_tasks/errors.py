"""User-facing errors: each message is one line saying what happened and what to do,
the command to run spelled as the user runs this tool (`command`)."""

INVOKED = "doit"  # how the user runs this tool: the `glacier` command sets "glacier"


def command(words: str) -> str:
    """A command as the user would type it now: 'glacier backup' or 'doit backup'.
    (Here, on the lowest floor, so that every message can name one.)"""
    return f"{INVOKED} {words}"


class GlacierError(Exception):
    """Base of every error a user can cause or fix; str() is the message to print."""


class ConfigError(GlacierError):
    """glacier.toml, list.txt or an environment variable is wrong."""


class StateError(GlacierError):
    """A state file (inventory, plan, marker) is missing or unreadable."""


class LockError(GlacierError):
    """Another run holds the state folder."""


class StoreError(GlacierError):
    """S3 refused or could not be reached."""


class BagError(GlacierError):
    """One bag could not be packed or uploaded; the others go on."""


class UsageError(GlacierError):
    """A command-line value is wrong (a pattern, a tier, a destination)."""


class RestoreError(GlacierError):
    """A restore cannot go on with a bag (a file in the way, bytes that do not check
    out); the other bags go on."""


class ObjectExists(StoreError):
    """A write-once key is already taken in the bucket: what is there gets checked, and
    is never replaced."""
