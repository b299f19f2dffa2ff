"""The dataset layouts beside MVTec AD's: MVTec AD 2 (`mvtec_ad2`) and VisA (`visa`), read into
the same `Dataset` and `Sample` rows the runner uses (`evalsuite.data.reader` reads MVTec AD).

A layout is named (`data.layout`, `evalsuite data check --layout`) or detected from the tree
(`detect.detect_layout`): VisA when the root holds `split_csv/1cls.csv` or a category holds
`Data/Images`, MVTec AD 2 when a category holds `test_public`, else MVTec.
"""
