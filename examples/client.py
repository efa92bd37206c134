"""A first voicemode client: join a room, say something, read what comes back."""

import asyncio
import json
import os
import sys

from websockets.asyncio.client import connect


async def main(url: str, token: str, room: str) -> None:
    """Print each frame the server sends until our transcript is stored and comes back."""
    async with connect(f"{url}?token={token}") as ws:
        await ws.send(json.dumps({"event": "join-room", "data": {"roomCode": room}}))
        said = {"transcript": "The house is big.", "sourceLang": "en"}
        await ws.send(json.dumps({"event": "speech-transcript", "data": said, "ref": 1}))
        seen = set()
        async for message in ws:
            frame = json.loads(message)
            print(frame["event"], json.dumps(frame.get("data", {})))
            seen.add(frame["event"])
            if {"ack", "recognized-speech"} <= seen or "error" in seen:
                break


url = os.environ.get("VOICEMODE_URL", "ws://127.0.0.1:8765/ws")
asyncio.run(main(url, os.environ["VOICEMODE_TOKEN"], sys.argv[1] if sys.argv[1:] else "lobby"))
