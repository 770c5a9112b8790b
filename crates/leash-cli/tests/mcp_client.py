"""Drive `leash mcp` from Python's official `mcp` client, as the README's
client configuration starts it: command `leash`, args `mcp --config …`,
token in LEASH_TOKEN. Prints one JSON summary for the Rust test to check."""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def structured(result):
    """The structured result, named in either spelling the SDK has used."""
    value = getattr(result, "structured_content", None)
    return value if value is not None else getattr(result, "structuredContent", None)


def is_error(result):
    value = getattr(result, "is_error", None)
    return value if value is not None else getattr(result, "isError", None)


async def main(leash: str, config: str) -> None:
    params = StdioServerParameters(
        command=leash,
        args=["mcp", "--config", config],
        env={"LEASH_TOKEN": os.environ["LEASH_TOKEN"], "PATH": os.environ.get("PATH", "")},
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = sorted(t.name for t in (await session.list_tools()).tools)
            applied = await session.call_tool("set_ticket_status", {"key": "1", "set": {"status": "needs_reply"}})
            review = await session.call_tool(
                "adjust_invoice", {"key": "3", "set": {"amount": 99}, "reason": "customer says 99"}
            )
            refused = await session.call_tool("set_ticket_status", {"key": "2", "set": {"status": "bogus"}})
            record = await session.call_tool("read_record", {"action": "set_ticket_status", "key": "1"})
            print(
                json.dumps(
                    {
                        "tools": tools,
                        "applied": structured(applied)["outcome"],
                        "review": structured(review)["outcome"],
                        "refused_is_error": is_error(refused),
                        "refused_code": structured(refused)["code"],
                        "record": structured(record)["record"],
                    }
                )
            )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
