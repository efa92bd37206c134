"""Synthesized audio goes out uncompressed even to a client offering deflate (no server).

Deflating raw PCM on the event loop held every listener's text back by
seconds under speech load; text frames are still compressed.
"""

from __future__ import annotations

import zlib

from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
)
from websockets.frames import Frame, Opcode

from adapters.shells.ws_compression import TextOnlyDeflate, TextOnlyDeflateFactory


def negotiated() -> tuple[TextOnlyDeflate, PerMessageDeflate]:
    """The server's and the client's extensions, as a browser's default offer agrees them."""
    client_factory = ClientPerMessageDeflateFactory(client_max_window_bits=True)
    _, server = TextOnlyDeflateFactory().process_request_params(
        client_factory.get_request_params(), []
    )
    assert isinstance(server, TextOnlyDeflate)
    client = client_factory.process_response_params(
        [("server_max_window_bits", "12"), ("client_max_window_bits", "12")], []
    )
    return server, client


def test_binary_audio_goes_out_uncompressed_and_text_compressed() -> None:
    server, client = negotiated()
    pcm = bytes(range(256)) * 64
    text = b'{"event":"translated-message","data":{"translatedText":"hola hola hola hola"}}'

    audio_frame = server.encode(Frame(Opcode.BINARY, pcm))
    text_frame = server.encode(Frame(Opcode.TEXT, text))

    assert not audio_frame.rsv1 and audio_frame.data == pcm
    assert text_frame.rsv1 and text_frame.data != text
    # The client reads both, in order, with one shared context.
    assert client.decode(audio_frame).data == pcm
    assert client.decode(text_frame).data == text
    again = server.encode(Frame(Opcode.TEXT, text))
    assert client.decode(again).data == text


def test_a_fragmented_binary_message_stays_uncompressed_to_its_end() -> None:
    server, _ = negotiated()
    first = server.encode(Frame(Opcode.BINARY, b"\x01\x02" * 100, fin=False))
    rest = server.encode(Frame(Opcode.CONT, b"\x03\x04" * 100))
    after = server.encode(Frame(Opcode.TEXT, b"x" * 200))
    assert (first.rsv1, first.data, rest.data) == (False, b"\x01\x02" * 100, b"\x03\x04" * 100)
    inflated = zlib.decompressobj(wbits=-12).decompress(bytes(after.data) + b"\x00\x00\xff\xff")
    assert after.rsv1 and inflated == b"x" * 200
