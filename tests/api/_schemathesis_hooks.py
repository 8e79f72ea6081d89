"""Schemathesis hooks (``SCHEMATHESIS_HOOKS``): plugin archives are sent as the bytes generated."""

import schemathesis

schemathesis.serializer.alias("application/zip", "application/octet-stream")
