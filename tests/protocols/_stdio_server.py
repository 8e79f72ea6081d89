"""A stdio MCP server for the local-mode test: ``python _stdio_server.py``."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("local")


@server.tool(description="Reverse a text.")
def reverse(text: str) -> str:
    return text[::-1]


if __name__ == "__main__":
    server.run()
