"""Convergio Core: durable multi-agent orchestration on Azure Functions."""

__version__ = "0.1.0"
