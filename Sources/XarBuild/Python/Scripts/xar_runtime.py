"""Facts about the running .xar image, written by xarbuild.

metadata() returns /.xar/metadata.json of the image: entry points, interpreter version, pinned
packages with their hashes, the lock's digest, the source revision, build time and builder.
"""
import json as _json
import os as _os

#: The directory the image is mounted at.
MOUNT = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))


def metadata():
    """The image's build metadata, as a dict."""
    with open(_os.path.join(MOUNT, '.xar', 'metadata.json'), encoding='utf-8') as f:
        return _json.load(f)

