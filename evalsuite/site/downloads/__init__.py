"""Stage 5 of the site, downloads: the files beside the pages, under `downloads/`: CSV
(`metrics_csv`, `data_csv`), LaTeX (`latex`), the paired differences (`paired_exports`), the
figures for a paper (`figure_exports`), the shipped records (`shipped`), and the whole site as
one zip (`bundle`). The `Download` and `Figure` they list live in `evalsuite.site.catalogue`.
"""
