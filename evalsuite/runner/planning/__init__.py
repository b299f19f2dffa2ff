"""Planning: what a study computes, before any model is loaded.

`plan` expands the matrix into fits, cells and units with their content-addressed ids;
`study_data` reads the datasets and draws the splits; `study` makes a study's plan without
torch (what `evalsuite plan` shows); `completeness` checks merged shards against the plan.
"""
