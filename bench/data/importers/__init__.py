"""Dataset importers, one module per native layout, each registering itself in
``bench.data.catalog.IMPORTERS`` (the registry imports every module here: adding an importer is adding a file).
``common`` holds what they share (discovery, samples, assembly, the shared options and their report lines).
"""
