"""Typed decode failures: `DecodeError(uri, kind, message)` with `kind` one of `KINDS`.

Every failure of the video package is a `DecodeError` with `.uri`, `.kind` and a plain
message naming the object. A damaged or cut file that still decodes some frames is not
an error: the frames before the damage are yielded and the last clip says why (see
va_gpt.video.clips). `truncated` is raised only when not even one frame decodes. A
storage error in the middle of a video is raised as `storage` after the clips already
yielded (the video is not damaged, the read failed: a retry may succeed).
"""

from __future__ import annotations

KINDS = (
    "missing",  # the object does not exist
    "storage",  # the object store / network failed while reading it (transient: retried)
    "forbidden",  # the credentials may not read the object (HTTP 403): permanent
    "empty",  # zero bytes
    "not_video",  # not a media container at all
    "no_video_stream",  # a media file without video (e.g. audio only)
    "unsupported_codec",  # video stream whose codec has no decoder here
    "truncated",  # cut/damaged so that not one frame decodes
    "corrupt",  # any other decode failure
)


class DecodeError(Exception):
    """A video that could not be decoded. `kind` is one of KINDS; `message` names the object."""

    def __init__(self, uri: str, kind: str, message: str):
        if kind not in KINDS:
            raise ValueError(f"unknown DecodeError kind {kind!r}; known: {KINDS}")
        super().__init__(message)
        self.uri = uri
        self.kind = kind
        self.message = message

    def __reduce__(self):
        return (DecodeError, (self.uri, self.kind, self.message))

    def __str__(self) -> str:
        return self.message


def plain(exc: BaseException) -> str:
    """An exception's text for a message: never empty, `[Errno n]` shortened to `[n]`."""
    text = str(exc).strip() or type(exc).__name__
    return text.replace("[Errno ", "[").strip()
