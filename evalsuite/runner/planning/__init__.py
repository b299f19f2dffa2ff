"""Planning: what a study computes, before any model is loaded.

`plan` expands the matrix into fits, cells and units with their content-addressed ids;
`study_data` reads the datasets and draws the splits; `study` makes a study's plan without
torch (what `evalsuite plan` shows); `planned` lists the study's cells for the manifest,
the one expansion of the matrix the site and `merge` read.
"""
