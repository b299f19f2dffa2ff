"""Stage 1 of the site, read: the results folder as typed `Results` (`records`, `load`),
anonymised for `--anonymous` (`anonymise`), and the published numbers shown beside ours
(`anchors`). Imports nothing of the later stages.
"""
