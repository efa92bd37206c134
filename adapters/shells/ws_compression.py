"""permessage-deflate for text frames only: synthesized audio goes out uncompressed.

Browsers offer permessage-deflate, and ``websockets`` then compresses every
message on the event loop's thread. Raw PCM barely shrinks, yet deflating it
cost more than everything else the loop does: with speech on, 20 rooms of
listeners saw text held back by seconds while the loop compressed their
audio. RFC 7692 lets a sender leave any message uncompressed (RSV1 unset),
and a compliant receiver, browsers and ``websockets`` included, reads it as
is; text frames, which compress well, are still deflated.
"""

from __future__ import annotations

from collections.abc import Sequence

from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Frame, Opcode
from websockets.typing import ExtensionParameter


class TextOnlyDeflate(PerMessageDeflate):
    """Deflates text messages and passes binary ones (and their continuations) through."""

    _binary_message = False

    def encode(self, frame: Frame) -> Frame:
        """Leave binary messages as they are; deflate the rest as usual."""
        if frame.opcode is Opcode.BINARY:
            self._binary_message = not frame.fin
            return frame
        if frame.opcode is Opcode.CONT and self._binary_message:
            self._binary_message = not frame.fin
            return frame
        return super().encode(frame)


class TextOnlyDeflateFactory(ServerPerMessageDeflateFactory):
    """Negotiates permessage-deflate as `websockets` does by default; encodes text only."""

    def __init__(self) -> None:
        super().__init__(
            server_max_window_bits=12,
            client_max_window_bits=12,
            compress_settings={"memLevel": 5},
        )

    def process_request_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        """Accept the client's offer as the default factory would, with the text-only encoder."""
        response, agreed = super().process_request_params(params, accepted_extensions)
        return response, TextOnlyDeflate(
            agreed.remote_no_context_takeover,
            agreed.local_no_context_takeover,
            agreed.remote_max_window_bits,
            agreed.local_max_window_bits,
            agreed.compress_settings,
        )
