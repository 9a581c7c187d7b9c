"""Dataset importers: importing this package registers each one in ``bench.data.catalog.IMPORTERS``.

One module per native layout; ``common`` holds what they share (reading, resizing, assembling, reporting).
"""

from bench.data.importers import ck48, ckplus, fer2013, folder, jaffe, kdef

__all__ = ["ck48", "ckplus", "fer2013", "folder", "jaffe", "kdef"]
