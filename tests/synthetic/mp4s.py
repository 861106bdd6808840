"""Decoding the mp4s the synthetic-footage tests write."""

from __future__ import annotations

import av


def decode(src):
    with av.open(src) as c:
        st = c.streams.video[0]
        frames, keys = [], []
        for k, fr in enumerate(c.decode(st)):
            frames.append(fr.to_ndarray(format="rgb24"))
            if fr.key_frame:
                keys.append(k)
        return st.codec_context.name, st.average_rate, st.codec_context.pix_fmt, frames, keys
