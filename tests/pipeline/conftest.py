"""The session's test videos (tests/video/media.py), written on first use."""

import pytest

from tests.video.media import Media
from va_gpt.synthetic.archive import generate_archive


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Media:
    return Media(tmp_path_factory.mktemp("decode_stage_media"))


@pytest.fixture(scope="session")
def tiny_archive(tmp_path_factory) -> str:
    """A local archive of 2 cameras x 2 videos of 6 s at 96x72 (test_stream, test_two_nodes)."""
    url = str(tmp_path_factory.mktemp("stream") / "archive")
    generate_archive(
        url, cameras=2, videos_per_camera=2, duration_s=6.0, width=96, height=72, seed=3, normal_fraction=0.25
    )
    return url
