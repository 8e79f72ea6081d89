"""Exception types named as the e2e app names them (after .NET's)."""


class InvalidOperationException(Exception):
    pass


class OverflowException(Exception):
    pass
