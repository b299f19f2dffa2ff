"""MVTec AD 2's server submission: write it from a study's fitted models, check its format.

The private test sets of MVTec AD 2 (`test_private`, `test_private_mixed`) have no public
ground truth: MVTec's evaluation server scores uploaded anomaly maps. Modules:

- `layout`: the submission's folder structure, the private images of a tree;
- `geometry`: a map at the network input brought back to its image's original size;
- `check`: the format rules of MVTec's upload checker (and ours), each refusal naming the file;
- `export`: `export_submission`, the clean cells' fitted models scored on the private images;
- `model`: loading a fitted model and scoring images with it (imports torch).
"""
