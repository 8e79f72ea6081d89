"""Every way a plugin can fail, as one tree of ``AppError`` subclasses with stable codes.

    PluginError(AppError)                                  500  plugin_error
    ├── InvalidPlugin(PluginError, ValueError)             422  invalid_plugin
    │   ├── InvalidManifest                                422  invalid_manifest
    │   ├── InvalidModule                                  422  invalid_module
    │   └── PluginTooLarge                                 413  plugin_too_large
    ├── UngrantedImport(PluginError, PermissionError)      403  ungranted_import
    ├── PluginNotFound(PluginError, LookupError)           404  plugin_not_found
    ├── PluginLimitExceeded(PluginError)                   422  limit_exceeded
    │   ├── OutOfFuel                                      422  out_of_fuel
    │   ├── WallTimeExceeded                               422  wall_time_exceeded
    │   ├── MemoryLimitExceeded                            422  memory_limit_exceeded
    │   ├── TableLimitExceeded                             422  table_limit_exceeded
    │   └── OutputTooLarge                                 422  output_too_large
    ├── PluginTrap                                         422  plugin_trap
    ├── InvalidOutput                                      422  invalid_output
    ├── PluginToolError(PluginError, ValueError)           422  plugin_tool_error
    └── SignatureError(PluginError, PermissionError)       403  signature_error
        ├── SignatureMissing                               403  signature_missing
        ├── PackageTampered                                403  package_tampered
        └── UnknownSigner                                  403  unknown_signer

Messages name the plugin and what went wrong in a sentence; they never carry guest memory
beyond a short preview, so they are safe to show to a client or to a model.
"""

from __future__ import annotations

from convergio.errors import AppError

__all__ = [
    "InvalidManifest",
    "InvalidModule",
    "InvalidOutput",
    "InvalidPlugin",
    "MemoryLimitExceeded",
    "OutOfFuel",
    "OutputTooLarge",
    "PackageTampered",
    "PluginError",
    "PluginLimitExceeded",
    "PluginNotFound",
    "PluginTooLarge",
    "PluginToolError",
    "PluginTrap",
    "SignatureError",
    "SignatureMissing",
    "TableLimitExceeded",
    "UngrantedImport",
    "UnknownSigner",
    "WallTimeExceeded",
]


class PluginError(AppError):
    """Base of every plugin failure."""

    code = "plugin_error"
    status_code = 500


class InvalidPlugin(PluginError, ValueError):
    """The package cannot be installed or loaded as it is."""

    code = "invalid_plugin"
    status_code = 422


class InvalidManifest(InvalidPlugin):
    """``plugin.json`` is missing, not JSON, or breaks the manifest schema."""

    code = "invalid_manifest"


class InvalidModule(InvalidPlugin):
    """The module does not compile, or does not export the ABI (``memory``, ``alloc``, ``call``)."""

    code = "invalid_module"


class PluginTooLarge(InvalidPlugin):
    """The package, its manifest or its module is over a size limit."""

    code = "plugin_too_large"
    status_code = 413


class UngrantedImport(PluginError, PermissionError):
    """The module imports something it was not granted (or did not request): refused at load.

    Attributes:
        import_name: The offending import, as ``module.name`` (e.g. ``wasi_snapshot_preview1.fd_write``).
    """

    code = "ungranted_import"
    status_code = 403

    def __init__(self, message: str, *, import_name: str) -> None:
        super().__init__(message)
        self.import_name = import_name


class PluginNotFound(PluginError, LookupError):
    """No plugin (or no plugin tool) of that name is installed for the tenant."""

    code = "plugin_not_found"
    status_code = 404


class PluginLimitExceeded(PluginError):
    """A call went over one of its limits and was stopped."""

    code = "limit_exceeded"
    status_code = 422


class OutOfFuel(PluginLimitExceeded):
    """The call used all its fuel (an endless or too long computation)."""

    code = "out_of_fuel"


class WallTimeExceeded(PluginLimitExceeded):
    """The call ran longer than its wall-time limit."""

    code = "wall_time_exceeded"


class MemoryLimitExceeded(PluginLimitExceeded):
    """The module needed more linear memory than its limit allows."""

    code = "memory_limit_exceeded"


class TableLimitExceeded(PluginLimitExceeded):
    """The module needed more (or larger) tables than a call's store allows."""

    code = "table_limit_exceeded"


class OutputTooLarge(PluginLimitExceeded):
    """The call returned more bytes than its output limit."""

    code = "output_too_large"


class PluginTrap(PluginError):
    """The module trapped (``unreachable``, out-of-bounds access, a panic...)."""

    code = "plugin_trap"
    status_code = 422


class InvalidOutput(PluginError):
    """The call returned something that is not a UTF-8 JSON result of the ABI."""

    code = "invalid_output"
    status_code = 422


class PluginToolError(PluginError, ValueError):
    """Arguments that break the tool's schema, or the plugin reported an error for the call."""

    code = "plugin_tool_error"
    status_code = 422


class SignatureError(PluginError, PermissionError):
    """A native plugin package is not signed by a trusted key: it must not load."""

    code = "signature_error"
    status_code = 403


class SignatureMissing(SignatureError):
    """The package has no signature file."""

    code = "signature_missing"


class PackageTampered(SignatureError):
    """The package's files, or its signature, do not match what was signed."""

    code = "package_tampered"


class UnknownSigner(SignatureError):
    """The signature was made by a key that is not in the trust store."""

    code = "unknown_signer"
