"""The session's test videos (tests/video/media.py), written on first use."""

import pytest

from tests.video.media import Media


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Media:
    return Media(tmp_path_factory.mktemp("decode_stage_media"))
