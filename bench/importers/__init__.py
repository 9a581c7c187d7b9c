"""Dataset importers: importing this package registers each one in ``bench.datasets.IMPORTERS``.

One module per native layout; ``common`` holds what they share (reading, resizing, assembling, reporting).
"""

from bench.importers import ck48, ckplus, fer2013, folder, jaffe, kdef

__all__ = ["ck48", "ckplus", "fer2013", "folder", "jaffe", "kdef"]
